//! The connection pool of the library's own executors: SQLite on rusqlite (`sqlite_engine`),
//! PostgreSQL on tokio-postgres (`pg_engine`) and MySQL/MariaDB on mysql_async
//! (`mysql_engine`). Small and plain, as deadpool's pool is: a semaphore of pool slots, a list
//! of idle connections and a count of the open ones. Each executor says what the pool needs of
//! its connection through [`Link`] (and, for a server's, [`ServerLink`]); what is its own
//! (PostgreSQL's lanes, SQLite's connection moved to the blocking pool and back) stays with it,
//! built on the parts here.
//!
//! The rules:
//!
//! - **At most `max_connections`.** A connection is handed out with a pool slot (a permit of
//!   the semaphore), taken at once when one is free, else waited for until `pool_timeout`
//!   (`PoolTimedOut`); after [`close`](EnginePool::close), `PoolClosed`.
//! - **Opened on demand.** Nothing is opened until a caller holding a slot finds no idle
//!   connection; a server's connect is tried again while the server refuses it or is silent
//!   (10 ms, doubling up to 500 ms) until `pool_timeout`. The open count covers the connect
//!   under way, and is given back when it fails.
//! - **Fresh connections only.** Idle connections are handed out most recently used first. One
//!   known closed, older than `pool_recycle`, opened before an invalidation of the host
//!   ([`Staleness`]) or, on a server, idle for more than 10 minutes is closed instead; with
//!   `pool_pre_ping` a server's is pinged first.
//! - **Rolled back before reuse.** A server connection given back while a transaction may be
//!   open is rolled back by a task of its own that holds its pool slot, so that nobody takes it
//!   before; if the rollback fails (or takes 5 s) it is closed. A connection cut short (its
//!   place in the protocol unknown) is closed, never reused. SQLite rolls back at once, in its
//!   own drop (a rollback there only discards the journal).

// With SQLite's executor alone (PostgreSQL and MySQL/MariaDB on sqlx), the server parts
// ([`ServerLink`]) serve nobody.
#![cfg_attr(
    not(any(feature = "pg-pipeline", feature = "mysql-async")),
    allow(dead_code)
)]

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::async_database_functions::dialect::health::Staleness;

/// How long a server's idle connection is kept (sqlx's `idle_timeout` on the other executor).
const SERVER_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a connection given back inside a transaction may take to roll back before it is
/// closed instead.
const ROLLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool's limits.
pub(crate) struct Limits {
    /// The most connections open at once (at least one).
    pub max_connections: u32,
    /// How long a caller waits for a connection (`pool_timeout`).
    pub acquire_timeout: Duration,
    /// The age past which a connection is closed instead of handed out (`pool_recycle`).
    pub recycle: Option<Duration>,
    /// Whether an idle connection is pinged before it is handed out (`pool_pre_ping`).
    pub pre_ping: bool,
    /// How long a connection may stay idle (`None`: for ever).
    pub idle_timeout: Option<Duration>,
}

impl Limits {
    /// A server pool's limits: at most `max_connections` (at least one), `acquire_timeout` to
    /// wait, `pool_recycle` and `pool_pre_ping` as configured, [`SERVER_IDLE_TIMEOUT`].
    pub(crate) fn server(
        max_connections: u32,
        acquire_timeout: Duration,
        recycle: Option<Duration>,
        pre_ping: bool,
    ) -> Limits {
        Limits {
            max_connections: max_connections.max(1),
            acquire_timeout,
            recycle,
            pre_ping,
            idle_timeout: Some(SERVER_IDLE_TIMEOUT),
        }
    }
}

/// One executor's connection, as the pool sees it.
pub(crate) trait Link: Send + Sized + 'static {
    /// What the executor keeps with its pool: how to open its connections, and any state of
    /// its own.
    type Extra: Send + Sync + 'static;

    /// Whether the connection is known closed (without reading anything).
    fn is_lost(&self) -> bool;

    /// Reads what has arrived on the connection before it is handed out, for a driver that
    /// reads only while someone waits on it (a socket the server closed then ends the
    /// connection). Nothing by default.
    fn read_pending(&self) {}

    /// Closes the connection for good.
    fn close_for_good(self);

    /// A connection was put back on the idle list of the pool keeping `extra`.
    fn on_idle(extra: &Self::Extra) {
        let _ = extra;
    }
}

/// A connection to a server: opened by the pool itself (tried again while the server refuses
/// it), pinged with `pool_pre_ping`, rolled back by a task of its own when given back inside a
/// transaction.
pub(crate) trait ServerLink: Link {
    /// What a failed connect reports.
    type ConnectError;

    /// Opens one connection, with the executor's settings.
    fn connect(
        extra: &Self::Extra,
    ) -> impl Future<Output = Result<Self, Self::ConnectError>> + Send;

    /// Whether a failed connect may succeed if tried again (the server not up yet).
    fn retry_connect(e: &Self::ConnectError) -> bool;

    /// A failed connect as the pool reports it.
    fn connect_error(e: Self::ConnectError) -> sqlx::Error;

    /// Whether the connection answers a ping (for `pool_pre_ping`); `deadline` is the
    /// caller's.
    fn answers_ping(&mut self, deadline: tokio::time::Instant)
    -> impl Future<Output = bool> + Send;

    /// Rolls back any transaction open on the connection: whether it did.
    fn roll_back(&mut self) -> impl Future<Output = bool> + Send;

    /// What a caller does when every pool slot is taken: by default, waits for one until
    /// `deadline`. An executor may hand over a connection it holds otherwise (PostgreSQL takes
    /// a lane over).
    fn when_full(
        pool: &EnginePool<Self>,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = Result<Slot<Self>, sqlx::Error>> + Send {
        async move { pool.wait_permit(deadline).await.map(Slot::Free) }
    }
}

/// What a caller waiting for a pool slot got.
pub(crate) enum Slot<L> {
    /// A free slot: the connection is yet to be taken or opened.
    Free(OwnedSemaphorePermit),
    /// A connection with its slot (only PostgreSQL hands one over).
    #[cfg_attr(not(feature = "pg-pipeline"), allow(dead_code))]
    Taken(Entry<L>, OwnedSemaphorePermit),
}

/// One open connection, with the times the pool keeps of it.
pub(crate) struct Entry<L> {
    pub(crate) conn: L,
    /// When it was opened.
    pub(crate) opened: Instant,
    /// When it was last put on the idle list (kept only with an idle timeout).
    idle_since: Instant,
}

impl<L> Entry<L> {
    /// A connection opened now.
    pub(crate) fn new(conn: L) -> Self {
        Self::opened_at(conn, Instant::now())
    }

    /// A connection opened at `opened`.
    pub(crate) fn opened_at(conn: L, opened: Instant) -> Self {
        Entry {
            conn,
            opened,
            idle_since: opened,
        }
    }
}

impl<L> Deref for Entry<L> {
    type Target = L;

    fn deref(&self) -> &L {
        &self.conn
    }
}

impl<L> DerefMut for Entry<L> {
    fn deref_mut(&mut self) -> &mut L {
        &mut self.conn
    }
}

/// Locks `mutex`, whether or not a holder panicked (nothing kept under these locks is left
/// half-changed).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The connection pool of one executor (see the module doc).
pub(crate) struct EnginePool<L: Link> {
    /// The executor's own part.
    pub(crate) extra: L::Extra,
    pub(crate) limits: Limits,
    stale: Arc<Staleness>,
    /// One permit per pool slot: held by every connection handed out (or on its way back).
    permits: Arc<Semaphore>,
    /// Idle connections, the most recently used last.
    idle: Mutex<Vec<Entry<L>>>,
    /// Connections open, or being opened.
    open: AtomicU32,
    closed: AtomicBool,
}

impl<L: Link> EnginePool<L> {
    /// An empty pool: no connection is opened until one is asked for.
    pub(crate) fn new(extra: L::Extra, limits: Limits, stale: Arc<Staleness>) -> Self {
        let max = limits.max_connections as usize;
        EnginePool {
            extra,
            limits,
            stale,
            permits: Arc::new(Semaphore::new(max)),
            idle: Mutex::new(Vec::new()),
            open: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Whether [`close`](Self::close) was called.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The most connections this pool opens.
    pub(crate) fn max_connections(&self) -> u32 {
        self.limits.max_connections
    }

    /// Connections open now (for `Debug`).
    pub(crate) fn open_count(&self) -> u32 {
        self.open.load(Ordering::Relaxed)
    }

    /// Whether `link` may be handed out: what has arrived on it read first (see
    /// [`Link::read_pending`]), then [`fresh`](Self::fresh).
    #[inline]
    pub(crate) fn usable(&self, link: &Entry<L>) -> bool {
        link.conn.read_pending();
        self.fresh(link)
    }

    /// Whether `link` may be kept, without reading it: open as far as is known, young enough,
    /// not stale.
    #[inline]
    pub(crate) fn fresh(&self, link: &Entry<L>) -> bool {
        if link.conn.is_lost() {
            return false;
        }
        // No age limit and no invalidation yet: no clock to read (PostgreSQL's every read
        // checks its lane).
        if self.limits.recycle.is_none() && self.stale.mark() == 0 {
            return true;
        }
        let age = link.opened.elapsed();
        self.limits.recycle.is_none_or(|max| age <= max) && !self.stale.is_stale(age)
    }

    /// Forgets a connection for good (see [`Link::close_for_good`]).
    pub(crate) fn discard(&self, link: Entry<L>) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        link.conn.close_for_good();
    }

    /// Puts a connection back for the next caller, or closes it.
    pub(crate) fn check_in(&self, link: Entry<L>) {
        // Read again before it is handed out (`take_idle`), not here.
        if self.is_closed() || !self.fresh(&link) {
            self.discard(link);
            return;
        }
        self.park(link);
    }

    /// Puts a connection on the idle list as it is: its freshness is looked at when it is
    /// taken (SQLite's, which the pool only closes then).
    pub(crate) fn park(&self, mut link: Entry<L>) {
        if self.limits.idle_timeout.is_some() {
            link.idle_since = Instant::now();
        }
        lock(&self.idle).push(link);
        L::on_idle(&self.extra);
    }

    /// The most recently used idle connection that is still usable.
    pub(crate) fn take_idle(&self) -> Option<Entry<L>> {
        loop {
            let link = lock(&self.idle).pop()?;
            if self.usable(&link)
                && self
                    .limits
                    .idle_timeout
                    .is_none_or(|max| link.idle_since.elapsed() <= max)
            {
                return Some(link);
            }
            self.discard(link);
        }
    }

    /// A pool slot taken at once, if one is free.
    #[inline]
    pub(crate) fn free_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// A pool slot taken at once: `Ok(None)` when none is free (no timer is armed for the
    /// common case).
    pub(crate) fn try_permit(&self) -> Result<Option<OwnedSemaphorePermit>, sqlx::Error> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(Some(permit)),
            Err(TryAcquireError::Closed) => Err(sqlx::Error::PoolClosed),
            Err(TryAcquireError::NoPermits) => Ok(None),
        }
    }

    /// A pool slot, waited for until `deadline`.
    pub(crate) async fn wait_permit(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<OwnedSemaphorePermit, sqlx::Error> {
        match tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(sqlx::Error::PoolClosed),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// Runs `opening`, a connect, counted among the open connections while it runs (so that
    /// `stats` and the slots agree); uncounted if it fails, or if the caller drops the future
    /// before it ends (an operation cancelled while its connection is being opened).
    pub(crate) async fn open_counted<F>(&self, opening: F) -> Result<L, sqlx::Error>
    where
        F: Future<Output = Result<L, sqlx::Error>>,
    {
        self.open.fetch_add(1, Ordering::AcqRel);
        let counted = Opening(&self.open);
        let opened = opening.await;
        if opened.is_ok() {
            std::mem::forget(counted);
        }
        opened
    }

    /// Closes the idle connections and waits for those in use to come back; no connection is
    /// handed out afterwards. `before_drain` runs once the pool is marked closed, before its
    /// idle connections are closed.
    pub(crate) async fn close(&self, before_drain: impl FnOnce()) {
        self.closed.store(true, Ordering::Release);
        before_drain();
        let drained: Vec<Entry<L>> = std::mem::take(&mut *lock(&self.idle));
        for link in drained {
            self.discard(link);
        }
        if let Ok(all) = self.permits.acquire_many(self.limits.max_connections).await {
            all.forget();
        }
        self.permits.close();
    }

    /// (open connections, idle connections).
    pub(crate) fn stats(&self) -> (u32, usize) {
        (self.open.load(Ordering::Acquire), lock(&self.idle).len())
    }
}

/// A connection being opened, counted in the pool's open count: uncounted when dropped, that
/// is unless the connect succeeded (then it is forgotten and the connection keeps the count).
struct Opening<'a>(&'a AtomicU32);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<L: ServerLink> EnginePool<L> {
    /// An idle connection and its pool slot taken at once, when handing it out needs no check
    /// (no `pool_pre_ping`): `None` otherwise.
    #[inline]
    pub(crate) fn try_take(&self) -> Option<(Entry<L>, OwnedSemaphorePermit)> {
        if self.is_closed() || self.limits.pre_ping {
            return None;
        }
        let permit = self.free_permit()?;
        let link = self.take_idle()?;
        Some((link, permit))
    }

    /// Takes a connection and its pool slot, waiting at most `pool_timeout` for a free one (or
    /// for the server to accept a new one; see [`ServerLink::when_full`]).
    pub(crate) async fn acquire(&self) -> Result<(Entry<L>, OwnedSemaphorePermit), sqlx::Error> {
        if self.is_closed() {
            return Err(sqlx::Error::PoolClosed);
        }
        let deadline = tokio::time::Instant::now() + self.limits.acquire_timeout;
        let permit = match self.try_permit()? {
            Some(permit) => permit,
            None => match L::when_full(self, deadline).await? {
                Slot::Free(permit) => permit,
                Slot::Taken(link, permit) => return Ok((link, permit)),
            },
        };
        let link = self.take_or_open(deadline).await?;
        Ok((link, permit))
    }

    /// A connection for a caller that holds a pool slot: the most recently used idle one
    /// (answering a ping first with `pool_pre_ping`), else a new one, opened before
    /// `deadline`.
    pub(crate) async fn take_or_open(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<Entry<L>, sqlx::Error> {
        while let Some(mut link) = self.take_idle() {
            if self.limits.pre_ping && !link.conn.answers_ping(deadline).await {
                self.discard(link);
                continue;
            }
            return Ok(link);
        }
        let opened = self
            .open_counted(async {
                // Boxed: opening a connection (TLS included) is a future of kilobytes that
                // every statement's future would otherwise carry and move.
                match tokio::time::timeout_at(deadline, Box::pin(self.open_retrying(deadline)))
                    .await
                {
                    Ok(opened) => opened,
                    Err(_) => Err(sqlx::Error::PoolTimedOut),
                }
            })
            .await?;
        Ok(Entry::new(opened))
    }

    /// Opens a connection, trying again after a refusal until `deadline` (the caller's timeout
    /// ends the tries).
    async fn open_retrying(&self, deadline: tokio::time::Instant) -> Result<L, sqlx::Error> {
        let mut pause = Duration::from_millis(10);
        loop {
            match L::connect(&self.extra).await {
                Ok(conn) => return Ok(conn),
                Err(e)
                    if L::retry_connect(&e) && tokio::time::Instant::now() + pause < deadline =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(e) => return Err(L::connect_error(e)),
            }
        }
    }

    /// Takes back a connection its holder let go of, with the holder's pool slot: closed if
    /// `close` (cut short, or asked to) or the pool is closed; else back for the next caller
    /// if no transaction may be open on it (`in_tx`); else rolled back first by a task of its
    /// own that holds the pool slot until then, so that nobody takes it before (closed if
    /// the rollback fails, or if there is no runtime to run it).
    pub(crate) fn give_back(
        self: &Arc<Self>,
        link: Entry<L>,
        permit: Option<OwnedSemaphorePermit>,
        close: bool,
        in_tx: bool,
    ) {
        if close || self.is_closed() {
            self.discard(link);
        } else if !in_tx {
            self.check_in(link);
        } else {
            self.roll_back_then_check_in(link, permit);
        }
    }

    /// Rolls `link` back in a task of its own holding `permit` (the pool slot goes with the
    /// task), then checks it in, or closes it if that fails.
    fn roll_back_then_check_in(
        self: &Arc<Self>,
        mut link: Entry<L>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.discard(link);
            return;
        };
        let pool = self.clone();
        handle.spawn(async move {
            let rolled_back = tokio::time::timeout(ROLLBACK_TIMEOUT, link.conn.roll_back()).await;
            if matches!(rolled_back, Ok(true)) {
                pool.check_in(link);
            } else {
                pool.discard(link);
            }
            drop(permit);
        });
    }
}
