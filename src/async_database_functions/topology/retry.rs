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

use super::super::database_config::RetryPolicy;
use super::super::error::{DatabaseError, ErrorKind};
use super::Health;

/// The runs of one transaction: call [`again`](Attempts::again) with each failure.
pub(crate) struct Attempts<'a> {
    policy: RetryPolicy,
    attempt: u32,
    health: &'a Health,
    /// Counted in [`Health::contending`] (from the first retryable failure until dropped).
    contending: bool,
}

impl<'a> Attempts<'a> {
    pub(crate) fn new(policy: RetryPolicy, health: &'a Health) -> Self {
        Attempts {
            policy,
            attempt: 1,
            health,
            contending: false,
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
        self.health.count_retry();
        tracing::debug!(
            target: "dsg_lib",
            attempt = self.attempt,
            error = %error,
            "transaction failed retryably; running it again"
        );
        if !self.contending {
            self.contending = true;
            self.health.contend();
        }
        let pause = self.policy.backoff(self.attempt, self.health.contending());
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
