//! Re-running whole transactions that failed in a way running them again may fix, bounded by
//! the `retry` key ([`RetryPolicy`]) with exponential backoff, full jitter, and a window that
//! widens with the number of the database's transactions being re-run at the time.
//!
//! What is run again:
//! - a serialization failure or deadlock (PostgreSQL 40001/40P01, MySQL/MariaDB 1213/1205,
//!   which is also how MariaDB Galera reports a certification conflict, at `COMMIT`; SQLite
//!   busy): the server rolled the transaction back;
//! - a lost connection, or a host that could not be reached, **only where the transaction
//!   surely did not commit**: the connection was lost before `COMMIT` was sent, inside an
//!   open transaction (`BEGIN` had run, so nothing of it is visible until a `COMMIT` that
//!   never left), or no connection was made at all. A connection lost while `COMMIT` (or a
//!   statement outside a transaction, which commits by itself) was under way leaves the
//!   outcome unknown: that error is returned as it is, marked
//!   [`is_outcome_unknown`](DatabaseError::is_outcome_unknown), never re-run.
//!
//! The next run takes a new connection, which the topology takes from a live host, so a run
//! cut off by a dead node goes on on another one.

use std::time::{Duration, Instant};

use super::super::database_config::RetryPolicy;
use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::dialect::health::Health;

/// The most runs of a transaction whose runs fail with a `ConnectionError` (whatever
/// `max_attempts` says).
const CONNECTION_RUNS: u32 = 3;

/// The runs of one transaction: call [`again`](Attempts::again) with each failure.
pub(crate) struct Attempts<'a> {
    policy: RetryPolicy,
    attempt: u32,
    health: &'a Health,
    /// Counted in [`Health::contending`] (from the first retryable failure until dropped).
    contending: bool,
    /// When the first run began.
    started: Instant,
    /// No run begins after this long from the first (the database's `pool_timeout`): with
    /// up to 15 runs, a server that keeps failing slowly (SQLite busy for its busy timeout,
    /// each run) must not hold the caller for 15 times as long.
    budget: Duration,
}

impl<'a> Attempts<'a> {
    pub(crate) fn new(policy: RetryPolicy, health: &'a Health, budget: Duration) -> Self {
        Attempts {
            policy,
            attempt: 1,
            health,
            contending: false,
            started: Instant::now(),
            budget,
        }
    }

    /// After a failed run: `Ok(())` once the pause before the next run is over, or the error
    /// to return (with the number of runs in its details when there was more than one).
    pub(crate) async fn again(&mut self, error: DatabaseError) -> Result<(), DatabaseError> {
        if !should_rerun(&error) {
            return Err(self.give_up(error));
        }
        if self.attempt >= self.policy.max_attempts {
            return Err(self.give_up(error));
        }
        // A lost connection or an unreachable host: at most CONNECTION_RUNS runs. The many
        // runs are for conflicts; a failover is waited out where the host is chosen, and a
        // server that refuses must fail fast.
        if error.kind() == ErrorKind::ConnectionError && self.attempt >= CONNECTION_RUNS {
            return Err(self.give_up(error));
        }
        if !self.contending {
            self.contending = true;
            self.health.contend();
        }
        let pause = self.policy.backoff(self.attempt, self.health.contending());
        let spent = self.started.elapsed();
        if spent.saturating_add(pause) >= self.budget {
            let attempts = self.attempt;
            return Err(error.scrubbed(|details| {
                format!(
                    "{details} (gave up after {attempts} attempts in {spent:.1?}: no run begins \
                     after pool_timeout)"
                )
            }));
        }
        self.health.count_retry();
        tracing::debug!(
            target: "dsg_lib",
            attempt = self.attempt,
            error = %error,
            "transaction failed retryably; running it again"
        );
        tokio::time::sleep(pause).await;
        self.attempt += 1;
        Ok(())
    }

    fn give_up(&self, error: DatabaseError) -> DatabaseError {
        if self.attempt > 1 {
            let attempts = self.attempt;
            error.scrubbed(|details| format!("{details} (gave up after {attempts} attempts)"))
        } else {
            error
        }
    }
}

impl Drop for Attempts<'_> {
    fn drop(&mut self) {
        if self.contending {
            self.health.stop_contending();
        }
    }
}

/// Whether running the transaction again is safe and may succeed.
pub(crate) fn should_rerun(error: &DatabaseError) -> bool {
    if error.is_waited_out() {
        return false;
    }
    error.is_retryable()
        || (error.kind() == ErrorKind::ConnectionError && !error.is_outcome_unknown())
}

/// Runs `$body` (an `async` block or expression giving `Result<T, DatabaseError>`) as one
/// transaction, again while it fails retryably, as the database's `retry` policy says.
macro_rules! retrying {
    ($db:expr, $body:expr) => {{
        let mut attempts = $db.attempts();
        loop {
            match $body.await {
                Ok(value) => break Ok(value),
                Err(error) => {
                    if let Err(error) = attempts.again(error).await {
                        break Err(error);
                    }
                }
            }
        }
    }};
}
pub(crate) use retrying;

#[cfg(test)]
mod tests {
    use super::*;

    /// The `retry` key as `DBConfig::new` reads it.
    fn parse(value: &serde_json::Value) -> Result<RetryPolicy, DatabaseError> {
        let map = serde_json::json!({"database_uri": "sqlite::memory:", "retry": value});
        crate::async_database_functions::database_config::DBConfig::new(map)
            .map(|config| config.retry())
    }

    fn conflict() -> DatabaseError {
        DatabaseError::new(ErrorKind::SerializationFailure, "conflict")
    }

    #[tokio::test]
    async fn runs_stop_at_max_attempts() {
        let health = Health::new();
        let policy = parse(&serde_json::json!({"max_attempts": 4, "base_delay_ms": 0})).unwrap();
        let mut attempts = Attempts::new(policy, &health, Duration::from_secs(30));
        let mut runs = 1;
        let error = loop {
            match attempts.again(conflict()).await {
                Ok(()) => runs += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(runs, 4);
        assert!(
            error.details().contains("gave up after 4 attempts"),
            "{error}"
        );
        assert_eq!(health.contending(), 1);
        drop(attempts);
        assert_eq!(health.contending(), 0);
    }

    #[tokio::test]
    async fn no_run_begins_after_the_budget() {
        let health = Health::new();
        let policy =
            parse(&serde_json::json!({"max_attempts": 100, "base_delay_ms": 5, "max_delay_ms": 5}))
                .unwrap();
        let budget = Duration::from_millis(100);
        let started = Instant::now();
        let mut attempts = Attempts::new(policy, &health, budget);
        let mut runs = 1;
        let error = loop {
            // Each run takes 20 ms, as a slow failure would.
            tokio::time::sleep(Duration::from_millis(20)).await;
            match attempts.again(conflict()).await {
                Ok(()) => runs += 1,
                Err(e) => break e,
            }
        };
        assert!(started.elapsed() < budget + Duration::from_millis(50));
        assert!((2..100).contains(&runs), "{runs} runs");
        assert!(
            error.details().contains("no run begins after pool_timeout"),
            "{error}"
        );
        assert_eq!(error.kind(), ErrorKind::SerializationFailure);
    }

    #[tokio::test]
    async fn a_connection_error_is_run_at_most_three_times() {
        let health = Health::new();
        let mut attempts = Attempts::new(RetryPolicy::default(), &health, Duration::from_secs(30));
        let mut runs = 1;
        let error = loop {
            let refused = DatabaseError::new(ErrorKind::ConnectionError, "connection refused");
            match attempts.again(refused).await {
                Ok(()) => runs += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(runs, 3);
        assert!(
            error.details().contains("gave up after 3 attempts"),
            "{error}"
        );
    }
}
