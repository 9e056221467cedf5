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

use std::sync::Arc;

use url::{Host, Url};

use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::core::redact;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect;
pub(crate) use crate::async_database_functions::dialect::health::{Health, Staleness};

pub(crate) mod hosts;
pub(crate) mod replicas;
pub(crate) mod retry;

pub(crate) use hosts::{HostState, Hosts, Want};
pub(crate) use replicas::Replicas;

/// A checked-out connection, counted in [`Health::in_use`] while it lives.
#[derive(Debug)]
pub(crate) struct Checkout {
    health: Arc<Health>,
    host: Arc<HostState>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// On the primary of a database with replicas: statements count as writes.
    track_writes: bool,
}

impl Checkout {
    /// Counts a connection to `host` as checked out of `health`'s database until the guard is
    /// dropped; `permit` is its share of the connection limit across hosts.
    pub(crate) fn new(
        health: &Arc<Health>,
        host: Arc<HostState>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        track_writes: bool,
    ) -> Checkout {
        health.checked_out();
        Checkout {
            health: health.clone(),
            host,
            _permit: permit,
            track_writes,
        }
    }

    /// A statement or a commit finished on this connection: when it is to the primary of a
    /// database with replicas, the reads that start from now on must see it.
    pub(crate) fn note_write(&self) {
        if self.track_writes {
            self.health.note_write();
        }
    }

    pub(crate) fn health(&self) -> &Health {
        &self.health
    }

    /// The server the connection is to.
    pub(crate) fn host(&self) -> &HostState {
        &self.host
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        self.health.checked_in();
    }
}

/// The error for a server at `url` that refuses connections: a `ConnectionError` naming the
/// host and the cause.
fn refused_error(url: &Url, cause: impl std::fmt::Display) -> DatabaseError {
    DatabaseError::new(
        ErrorKind::ConnectionError,
        format!("could not connect to {}: {cause}", redact::redact_url(url)),
    )
}

/// The error to report when the server's port refuses connections (one TCP connect); `None`
/// when it accepts them, does not answer, or cannot be probed (a Unix socket).
async fn probe(config: &DBConfig, url: &Url) -> Option<DatabaseError> {
    let port = url
        .port()
        .unwrap_or(dialect::default_port(config.dialect())?);
    if uses_socket(url) {
        return None;
    }
    let result = match url.host()? {
        Host::Domain(name) => tokio::net::TcpStream::connect((name, port)).await,
        Host::Ipv4(ip) => tokio::net::TcpStream::connect((ip, port)).await,
        Host::Ipv6(ip) => tokio::net::TcpStream::connect((ip, port)).await,
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Some(refused_error(url, format_args!("connection refused ({e})")))
        }
        _ => None,
    }
}

/// A Unix socket named in the URI (`?host=/run/postgresql`, `?socket=…`).
fn uses_socket(url: &Url) -> bool {
    url.query_pairs()
        .any(|(k, v)| (k == "host" && v.starts_with('/')) || k == "socket")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn checkouts_are_counted() {
        let health = Health::new();
        let host = HostState::new("h".into());
        let a = Checkout::new(&health, host.clone(), None, false);
        let b = Checkout::new(&health, host, None, false);
        assert_eq!(health.in_use(), 2);
        drop(a);
        drop(b);
        assert_eq!(health.in_use(), 0);
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
