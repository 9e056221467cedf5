//! The `retry` key: how transactions that failed with a serialization failure, a deadlock or a
//! cluster's certification conflict are run again.

use std::time::Duration;

use serde_json::Value;

use super::{DatabaseError, bad_value, bounded};

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
    /// Runs in all, the first included (1: never re-run). Default 3.
    pub max_attempts: u32,
    /// The pause before the second run; it doubles for each further run, plus up to as much
    /// again of random jitter. Default 5 ms.
    pub base_delay: Duration,
    /// The longest pause between two runs. Default 1 s.
    pub max_delay: Duration,
}

/// The most runs `retry.max_attempts` allows.
const MAX_ATTEMPTS: usize = 100;
/// The longest `retry.base_delay_ms` / `retry.max_delay_ms`.
const MAX_DELAY_MS: usize = 60_000;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Reads the `retry` key: `true`/`false`, or a map of `max_attempts`, `base_delay_ms`,
    /// `max_delay_ms`.
    pub(crate) fn parse(value: &Value) -> Result<Self, DatabaseError> {
        let mut policy = RetryPolicy::default();
        match value {
            Value::Bool(true) => {}
            Value::Bool(false) => policy.max_attempts = 1,
            Value::Object(map) => {
                for (key, v) in map {
                    match key.as_str() {
                        "max_attempts" => {
                            policy.max_attempts = bounded("retry.max_attempts", v, MAX_ATTEMPTS)?;
                            if policy.max_attempts == 0 {
                                return Err(DatabaseError::config(
                                    "retry.max_attempts must be at least 1 (1: never re-run)",
                                ));
                            }
                        }
                        "base_delay_ms" => {
                            policy.base_delay = millis("retry.base_delay_ms", v)?;
                        }
                        "max_delay_ms" => policy.max_delay = millis("retry.max_delay_ms", v)?,
                        other => {
                            return Err(DatabaseError::config(format!(
                                "retry: unsupported option {other:?} (supported: max_attempts, \
                                 base_delay_ms, max_delay_ms)"
                            )));
                        }
                    }
                }
            }
            other => return Err(bad_value("retry", other, "true, false or a map")),
        }
        if policy.max_delay < policy.base_delay {
            policy.max_delay = policy.base_delay;
        }
        Ok(policy)
    }

    /// The pause before run `attempt + 1`: the base doubled per run, capped, plus up to as
    /// much again of random jitter, so that conflicting transactions do not meet again in step.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let base = self.base_delay.saturating_mul(doubling).min(self.max_delay);
        let jitter = (uuid::Uuid::new_v4().as_u128() % 1_000) as u32;
        base + base * jitter / 1_000
    }
}

fn millis(key: &str, value: &Value) -> Result<Duration, DatabaseError> {
    let ms: u64 = bounded(key, value, MAX_DELAY_MS)?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let p = RetryPolicy::parse(&serde_json::json!({"max_attempts": 5, "base_delay_ms": 2}))
            .unwrap();
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
            let e = RetryPolicy::parse(&bad).unwrap_err();
            assert!(e.details().contains("retry"), "{e}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        };
        let first = p.backoff(1);
        assert!(first >= Duration::from_millis(10) && first <= Duration::from_millis(20));
        let third = p.backoff(3);
        assert!(third >= Duration::from_millis(40) && third <= Duration::from_millis(80));
        let late = p.backoff(30);
        assert!(late >= Duration::from_millis(50) && late <= Duration::from_millis(100));
    }
}
