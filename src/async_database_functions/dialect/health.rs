//! Pool health, shared by a database's pools and its sessions: whether it is closed, how many
//! connections are in use and how many callers wait, the retries and writes counted, and per
//! host which connections are stale (pool invalidation). The executors read it; `topology/`
//! decides with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};

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

    /// A connection was checked out (see `topology::Checkout`): counted in
    /// [`in_use`](Self::in_use) until [`checked_in`](Self::checked_in).
    pub(crate) fn checked_out(&self) {
        self.in_use.fetch_add(1, Ordering::AcqRel);
    }

    /// A connection counted by [`checked_out`](Self::checked_out) came back.
    pub(crate) fn checked_in(&self) {
        self.in_use.fetch_sub(1, Ordering::AcqRel);
    }

    /// A write went through a connection of this database (for read-your-writes).
    pub(crate) fn note_write(&self) {
        self.writes.fetch_add(1, Ordering::AcqRel);
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

pub(crate) fn disconnected() -> DatabaseError {
    DatabaseError::new(
        ErrorKind::Disconnected,
        "the database has been disconnected; create a new AsyncDatabase to reconnect",
    )
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
