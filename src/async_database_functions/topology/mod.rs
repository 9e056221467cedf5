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
//!   [`ConnectionError`](super::error::ErrorKind::ConnectionError) naming the host and
//!   "connection refused" within a few [`PROBE_EVERY`](hosts::PROBE_EVERY), whatever the pool's idle state and
//!   `pool_pre_ping`, instead of waiting out `pool_timeout` while the driver retries.
//! - **Closed**: once `disconnect()` begins no session is handed out; once it returns, every
//!   call, including those of sessions still held, fails at once with
//!   [`Disconnected`](super::error::ErrorKind::Disconnected).
//! - **In use**: how many connections are checked out, which tells a full pool (a pool
//!   timeout) from a server that does not answer (a connection error).
//! - **Waiting**: how many callers are waiting for a connection (for
//!   [`PoolStats`](super::telemetry::PoolStats)).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use url::{Host, Url};

use super::database_config::DBConfig;
use super::error::{DatabaseError, ErrorKind};

pub(crate) mod hosts;
pub(crate) mod replicas;
pub(crate) mod retry;

pub(crate) use hosts::{HostState, Hosts, Want};
pub(crate) use replicas::Replicas;

/// Which connections of one host's pool are stale: opened before the last time a connection
/// to that host was found lost. Shared by the host's pool (which closes stale connections
/// instead of handing them out) and its sessions (which invalidate).
#[derive(Debug)]
pub(crate) struct Staleness {
    /// The origin of the times below.
    epoch: Instant,
    /// Nanoseconds after `epoch` of the last invalidation, plus one; 0 for never.
    invalidated_at: AtomicU64,
    /// The `invalidated_at` whose idle connections were swept (closed); the idle fast path
    /// hands connections out unchecked only while this equals `invalidated_at`.
    swept: AtomicU64,
}

impl Staleness {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Staleness {
            epoch: Instant::now(),
            invalidated_at: AtomicU64::new(0),
            swept: AtomicU64::new(0),
        })
    }

    /// Marks every connection to the host opened until now as stale.
    pub(crate) fn invalidate(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.invalidated_at
            .fetch_max(now.saturating_add(1), Ordering::AcqRel);
    }

    /// Whether a connection of age `age` was opened before the last invalidation (also: whether
    /// a connection taken from the pool `age` ago was in use at it).
    pub(crate) fn is_stale(&self, age: Duration) -> bool {
        let at = self.invalidated_at.load(Ordering::Acquire);
        if at == 0 {
            return false;
        }
        let invalidated = self.epoch + Duration::from_nanos(at - 1);
        match Instant::now().checked_sub(age) {
            Some(opened) => opened <= invalidated,
            None => true,
        }
    }

    /// The invalidation in force now (0: none), for [`invalidated_since`](Self::invalidated_since).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn mark(&self) -> u64 {
        self.invalidated_at.load(Ordering::Acquire)
    }

    /// Whether the host was invalidated after [`mark`](Self::mark) gave `mark`: a connection
    /// taken from the pool then was in use at the invalidation (and opened before it).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn invalidated_since(&self, mark: u64) -> bool {
        self.invalidated_at.load(Ordering::Acquire) > mark
    }

    /// An invalidation whose idle connections have not been swept yet (the mark to pass to
    /// [`swept`](Self::swept) once they are).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn sweep_due(&self) -> Option<u64> {
        let at = self.invalidated_at.load(Ordering::Acquire);
        (at != self.swept.load(Ordering::Acquire)).then_some(at)
    }

    /// The idle connections of the invalidation `mark` were closed.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn swept(&self, mark: u64) {
        self.swept.fetch_max(mark, Ordering::AcqRel);
    }
}

/// Health of the servers of a database, shared by its pools and its sessions.
#[derive(Debug)]
pub(crate) struct Health {
    /// `disconnect` began: no new session.
    closed: AtomicBool,
    /// `disconnect` returned: sessions still held fail on their next call.
    ended: AtomicBool,
    in_use: AtomicU32,
    waiting: AtomicU32,
    /// Transactions run again after a retryable failure.
    retries: AtomicU64,
    /// Transactions between a retryable failure and their end (the contention the retry
    /// backoff widens with).
    contending: AtomicU32,
    /// Counts statements and commits on the primary, for read-your-writes on replicas.
    writes: AtomicU64,
}

impl Health {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Health {
            closed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            in_use: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            retries: AtomicU64::new(0),
            contending: AtomicU32::new(0),
            writes: AtomicU64::new(0),
        })
    }

    /// `disconnect` began: no new session.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// `disconnect` returned: the sessions still held fail on their next call.
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// `Err(Disconnected)` once `disconnect` has returned (for sessions already held).
    pub(crate) fn check_not_ended(&self) -> Result<(), DatabaseError> {
        if self.ended.load(Ordering::Acquire) {
            Err(disconnected())
        } else {
            Ok(())
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// `Err(Disconnected)` once the database is closed.
    pub(crate) fn check_open(&self) -> Result<(), DatabaseError> {
        if self.is_closed() {
            Err(disconnected())
        } else {
            Ok(())
        }
    }

    /// How many connections are checked out now.
    pub(crate) fn in_use(&self) -> u32 {
        self.in_use.load(Ordering::Acquire)
    }

    /// How many callers are waiting for a connection now.
    pub(crate) fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Acquire)
    }

    /// Counts the caller as waiting for a connection until the guard is dropped.
    pub(crate) fn wait(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(self)
    }

    /// Counts a connection to `host` as checked out until the guard is dropped; `permit` is
    /// its share of the connection limit across hosts.
    pub(crate) fn checkout(
        self: &Arc<Self>,
        host: Arc<HostState>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        track_writes: bool,
    ) -> Checkout {
        self.in_use.fetch_add(1, Ordering::AcqRel);
        Checkout {
            health: self.clone(),
            host,
            _permit: permit,
            track_writes,
        }
    }

    /// How many statements and commits ran on the primary so far.
    pub(crate) fn writes(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// Counts one transaction run again.
    pub(crate) fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A transaction failed retryably and is being re-run.
    pub(crate) fn contend(&self) {
        self.contending.fetch_add(1, Ordering::AcqRel);
    }

    /// A transaction counted by [`Health::contend`] ended.
    pub(crate) fn stop_contending(&self) {
        self.contending.fetch_sub(1, Ordering::AcqRel);
    }

    /// How many transactions are being re-run now.
    pub(crate) fn contending(&self) -> u32 {
        self.contending.load(Ordering::Acquire)
    }

    /// How many transactions were run again since the database was created.
    pub(crate) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

fn disconnected() -> DatabaseError {
    DatabaseError::new(
        ErrorKind::Disconnected,
        "the database has been disconnected; create a new AsyncDatabase to reconnect",
    )
}

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
    /// A statement or a commit finished on this connection: when it is to the primary of a
    /// database with replicas, the reads that start from now on must see it.
    pub(crate) fn note_write(&self) {
        if self.track_writes {
            self.health.writes.fetch_add(1, Ordering::AcqRel);
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
        self.health.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A caller waiting for a connection, counted in [`Health::waiting`] while it lives (also when
/// the wait is cancelled).
#[derive(Debug)]
pub(crate) struct Waiting<'a>(&'a Health);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The error for a server at `url` that refuses connections: a `ConnectionError` naming the
/// host and the cause.
fn refused_error(url: &Url, cause: impl std::fmt::Display) -> DatabaseError {
    DatabaseError::new(
        ErrorKind::ConnectionError,
        format!(
            "could not connect to {}: {cause}",
            super::redact::redact_url(url)
        ),
    )
}

/// The error to report when the server's port refuses connections (one TCP connect); `None`
/// when it accepts them, does not answer, or cannot be probed (a Unix socket).
async fn probe(config: &DBConfig, url: &Url) -> Option<DatabaseError> {
    let port = url
        .port()
        .unwrap_or(super::dialect::default_port(config.dialect())?);
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
        let a = health.checkout(host.clone(), None, false);
        let b = health.checkout(host, None, false);
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
