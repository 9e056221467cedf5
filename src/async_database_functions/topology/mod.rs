//! Topology: the servers behind an [`AsyncDatabase`](super::async_database::AsyncDatabase),
//! what the crate knows of their health, which one a session goes to, and the re-running of
//! transactions that failed retryably.
//!
//! - [`hosts`]: the servers of a multi-host URI, one pool each; which one a new session goes
//!   to (`target_session_attrs`, round robin over a multi-primary cluster), dead hosts
//!   skipped and tried again later.
//! - [`replicas`]: read replicas, with read-your-writes by the primary's WAL position.
//! - [`retry`]: the bounded, jittered re-running of whole transactions.
//!
//! What is tracked for the whole database:
//! - **Pool invalidation** (SQLAlchemy's "invalidate on disconnect"), per host
//!   ([`Staleness`]): the first error showing that a connection to a server is gone marks
//!   every connection to that server opened before it as stale; its idle connections are
//!   closed at the next checkout and those in use when they come back, so a restarted server
//!   or a mass kill of connections costs at most the one operation that was in flight. The
//!   other hosts' pools (replicas, cluster nodes) are left alone, and the idle fast path comes
//!   back once the stale connections are gone.
//! - **Fail fast when refused**: while a caller waits for a connection from a server that
//!   refuses connections (RST), it gets a
//!   [`ConnectionError`](crate::async_database_functions::core::error::ErrorKind::ConnectionError) naming the host and
//!   "connection refused" within a few [`PROBE_EVERY`](hosts::PROBE_EVERY), whatever the pool's idle state and
//!   `pool_pre_ping`, instead of waiting out `pool_timeout` while the driver retries.
//! - **Closed**: once `disconnect()` begins no session is handed out; once it returns, every
//!   call, including those of sessions still held, fails at once with
//!   [`Disconnected`](crate::async_database_functions::core::error::ErrorKind::Disconnected).
//! - **In use**: how many connections are checked out, which tells a full pool (a pool
//!   timeout) from a server that does not answer (a connection error).
//! - **Waiting**: how many callers are waiting for a connection (for
//!   [`PoolStats`](crate::async_database_functions::statements::telemetry::PoolStats)).

pub(crate) mod checkout;
pub(crate) mod host_state;
pub(crate) mod hosts;
mod refused;
pub(crate) mod replicas;
pub(crate) mod retry;

pub(crate) use checkout::Checkout;
pub(crate) use hosts::{Hosts, Want};
pub(crate) use replicas::Replicas;

#[cfg(test)]
mod tests {
    use crate::async_database_functions::dialect::health::{Health, Staleness};

    use std::time::Duration;

    #[test]
    fn connections_opened_before_an_invalidation_are_stale() {
        let stale = Staleness::new();
        assert!(!stale.is_stale(Duration::from_secs(3600)));
        assert_eq!(stale.sweep_due(), None);
        std::thread::sleep(Duration::from_millis(5));
        stale.invalidate();
        assert!(stale.is_stale(Duration::from_millis(2)));
        std::thread::sleep(Duration::from_millis(5));
        assert!(!stale.is_stale(Duration::from_millis(1)));
        let mark = stale.sweep_due().unwrap();
        stale.swept(mark);
        assert_eq!(stale.sweep_due(), None);
    }

    #[test]
    fn waiters_are_counted() {
        let health = Health::new();
        let a = health.wait();
        assert_eq!(health.waiting(), 1);
        drop(a);
        assert_eq!(health.waiting(), 0);
    }
}
