//! The `retry` key: how transactions that failed with a serialization failure, a deadlock or a
//! cluster's certification conflict are run again.

use std::time::Duration;

/// How the library re-runs a transaction that failed in a way that running it again may fix:
/// a serialization failure or deadlock (PostgreSQL 40001/40P01, MySQL/MariaDB 1213/1205, a
/// Galera certification conflict, SQLite busy), or a connection lost before the commit was
/// sent. Set with the `retry` key:
///
/// ```
/// use std::time::Duration;
/// use dsg_lib::async_database_functions::database_config::DBConfig;
///
/// let config = DBConfig::new(serde_json::json!({
///     "database_uri": "sqlite::memory:",
///     "retry": {"max_attempts": 5, "base_delay_ms": 5},
/// }))?;
/// assert_eq!(config.retry().max_attempts, 5);
/// assert_eq!(config.retry().base_delay, Duration::from_millis(5));
///
/// // `false` (or max_attempts 1) runs every transaction once.
/// let once = DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:", "retry": false}))?;
/// assert_eq!(once.retry().max_attempts, 1);
/// # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Runs in all, the first included (1: never re-run). Default 15.
    pub max_attempts: u32,
    /// The scale of the pause before the second run. Each pause is drawn at random between
    /// zero and a window (full jitter); the window is `base_delay`, doubled for each run
    /// already made, times the number of this database's transactions being re-run at that
    /// moment (the contention), capped at `max_delay`. Default 2 ms.
    pub base_delay: Duration,
    /// The widest window a pause is drawn from. Default 1 s.
    ///
    /// Whatever `max_attempts` says, no run begins once the database's `pool_timeout` has
    /// passed since the first run began.
    pub max_delay: Duration,
}

/// Runs in all by default: with the default delays, 8 tasks incrementing one row land
/// ≥ 99 % of their increments on a Galera cluster and under PostgreSQL `SERIALIZABLE`
/// (`tests/scale_galera.rs`, `tests/scale_retry.rs`).
const DEFAULT_MAX_ATTEMPTS: u32 = 15;
/// The most runs `retry.max_attempts` allows.
pub(super) const MAX_ATTEMPTS: usize = 100;
/// The longest `retry.base_delay_ms` / `retry.max_delay_ms`.
pub(super) const MAX_DELAY_MS: usize = 60_000;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The pause before run `attempt + 1` when `contenders` transactions of the database
    /// (this one included) are being re-run: drawn at random between zero and the window
    /// `base_delay × 2^(attempt − 1) × contenders`, capped at `max_delay` (full jitter), so
    /// that conflicting transactions spread out more the more of them there are.
    pub(crate) fn backoff(&self, attempt: u32, contenders: u32) -> Duration {
        let window = self.window(attempt, contenders);
        let fraction = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u32;
        let nanos = window.as_nanos().saturating_mul(u128::from(fraction)) / 1_000_000;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The widest pause before run `attempt + 1` with `contenders` transactions re-run.
    pub(crate) fn window(&self, attempt: u32, contenders: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_delay
            .saturating_mul(doubling)
            .saturating_mul(contenders.max(1))
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    /// The `retry` key as `DBConfig::new` reads it.
    fn parse(
        value: &serde_json::Value,
    ) -> Result<RetryPolicy, crate::async_database_functions::error::DatabaseError> {
        let map = serde_json::json!({"database_uri": "sqlite::memory:", "retry": value});
        super::super::config::DBConfig::new(map).map(|config| config.retry())
    }
    use super::*;

    #[test]
    fn keys_are_checked() {
        let p = parse(&serde_json::json!({"max_attempts": 5, "base_delay_ms": 2})).unwrap();
        assert_eq!(
            (p.max_attempts, p.base_delay),
            (5, Duration::from_millis(2))
        );
        for bad in [
            serde_json::json!({"max_attempts": 0}),
            serde_json::json!({"max_attempts": 101}),
            serde_json::json!({"attempts": 3}),
            serde_json::json!({"base_delay_ms": -1}),
            serde_json::json!("often"),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(e.details().contains("retry"), "{e}");
        }
    }

    #[test]
    fn backoff_doubles_grows_with_contention_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        };
        assert_eq!(p.window(1, 1), Duration::from_millis(10));
        assert_eq!(p.window(2, 1), Duration::from_millis(20));
        assert_eq!(p.window(1, 3), Duration::from_millis(30));
        assert_eq!(p.window(3, 1), Duration::from_millis(40));
        assert_eq!(p.window(30, 8), Duration::from_millis(50));
        // Full jitter: anywhere from zero to the window.
        let pauses: Vec<Duration> = (0..200).map(|_| p.backoff(2, 1)).collect();
        assert!(pauses.iter().all(|d| *d <= Duration::from_millis(20)));
        assert!(pauses.iter().any(|d| *d < Duration::from_millis(5)));
        assert!(pauses.iter().any(|d| *d > Duration::from_millis(15)));
    }

    #[test]
    fn defaults() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts, 15);
        assert_eq!(p.base_delay, Duration::from_millis(2));
        assert_eq!(p.max_delay, Duration::from_secs(1));
    }
}
