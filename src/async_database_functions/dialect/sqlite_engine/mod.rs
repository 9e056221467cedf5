//! The SQLite executor at engine speed (issue 12).
//!
//! sqlx's SQLite driver runs every statement on a worker thread per connection and waits for
//! the answer over channels: tens of microseconds per statement, many times the engine's own
//! work. Here statements run on `rusqlite` connections (the same `libsqlite3-sys`, so one
//! SQLite library is linked) with cached prepared statements:
//!
//! - **In place.** A statement with few bound values runs on the calling task, to completion,
//!   within one poll: no thread hop, and nothing is ever left half-run by a dropped future.
//!   Before it runs, the task yields to the runtime when its turn is over (128 statements,
//!   tokio's cooperative budget, or [`TIME_SLICE`] on the thread; see `take_turn`), so timers,
//!   `disconnect()` and other tasks keep running while many tasks loop on point operations.
//! - **Off the runtime.** A statement binding more than [`IN_PLACE_MAX_VALUES`] values (the
//!   chunks of `create_many`, large `IN` lists) and every streamed read (`read_stream`) run on
//!   tokio's blocking pool, the connection moved there and back, so the runtime's other tasks
//!   keep running. If the awaiting future is dropped meanwhile, the work finishes there and the
//!   connection goes back to the pool after rolling back any transaction it had open.
//! - **Waiting for locks without blocking.** Connections have no busy handler: a statement
//!   that finds the database locked (`SQLITE_BUSY`, or `SQLITE_LOCKED`) is reset and tried
//!   again after an async sleep, until the busy timeout (`connect_args.timeout`, default 5 s)
//!   has passed.
//!
//! The pool: at most [`MAX_CONNECTIONS`] connections, opened on demand, recycled after
//! `pool_recycle` and after an invalidation, `pool_timeout` to wait for one. A file database
//! is put in WAL mode with foreign keys on, as before; `:memory:` is a private temporary file
//! in WAL mode with `synchronous = OFF`, made by one connection held for the life of the
//! `AsyncDatabase` and removed with it (a shared-cache in-memory database made readers wait
//! for an open writer: issue 28). sqlx's pool is still built beside it (lazily, on the same
//! file), for `AsyncDatabase::sqlite_pool()`.

pub(crate) mod bind;
pub(crate) mod error;
pub(crate) mod row;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use sea_query::Values;
use tokio::sync::OwnedSemaphorePermit;

use super::engine_pool::{self, EnginePool, Entry, Limits};
use super::vocabulary::{Outcome, RunError};
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::row::RowRef;
use crate::async_database_functions::dialect::health::Staleness;
use crate::async_database_functions::dialect::row_channel::{BATCH_ROWS, RowSender};
use error::{is_busy, to_sqlx};
use row::SqliteEngineRow;

/// Statements binding more values than this run off the runtime.
pub(crate) const IN_PLACE_MAX_VALUES: usize = 1000;
/// Connections of a pool (the seed's SQLite pool takes no size keys).
pub(crate) const MAX_CONNECTIONS: u32 = 5;
/// How long a read-only statement may run in place before it is interrupted and run again off
/// the runtime.
pub(crate) const IN_PLACE_BUDGET: Duration = Duration::from_millis(10);
/// VM instructions between two looks of the progress handler at the clock.
const PROGRESS_OPS: i32 = 2000;

/// How long a task may run on a runtime thread before a statement in place yields first.
/// With 16 tasks looping on point operations, a current-thread runtime gets back to its timers
/// every 16 × 250 µs = 4 ms at most, a 4-worker runtime sooner.
pub(crate) const TIME_SLICE: Duration = Duration::from_micros(250);

thread_local! {
    /// When the task running on this thread last yielded here (or this thread first ran a
    /// statement in place since then).
    static SLICE_START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Gives the runtime a turn before a statement runs in place, when one is due: after 128
/// statements (tokio's cooperative budget, one unit per statement), or once the task has held
/// this thread for [`TIME_SLICE`] (time spent outside the engine counts too: decoding rows,
/// building SQL, the caller's own work between operations). A statement in place never waits
/// for anything, so without this a task looping on point operations would never give its
/// thread back: timers, `disconnect` and, on a current-thread runtime, every other task would
/// starve.
///
/// The slice is kept per thread, not per task: a task that starts after another task's wait
/// (not a yield here) may yield once early. That costs a yield (about a microsecond), never a
/// late one.
async fn take_turn() {
    let spent = !tokio::task::coop::has_budget_remaining();
    tokio::task::consume_budget().await;
    let now = Instant::now();
    if spent {
        // `consume_budget` yielded: a new slice begins.
        SLICE_START.set(Some(now));
        return;
    }
    match SLICE_START.get() {
        Some(start) if now.saturating_duration_since(start) >= TIME_SLICE => {
            tokio::task::yield_now().await;
            SLICE_START.set(Some(Instant::now()));
        }
        Some(_) => {}
        None => SLICE_START.set(Some(now)),
    }
}

/// How to open a connection.
pub(crate) struct Target {
    /// A file path (for `:memory:`, the private temporary file that stands for it).
    pub path: String,
    /// The database stands for `:memory:`: a private temporary file in WAL mode, made and put
    /// in WAL mode by the keeper connection, with `synchronous = OFF` (nothing of it outlives
    /// the process, so nothing is worth an `fsync`).
    pub memory: bool,
    pub read_uncommitted: bool,
    pub cache_capacity: usize,
    pub busy_timeout: Duration,
    pub acquire_timeout: Duration,
    pub recycle: Option<Duration>,
}

/// One open connection, with its progress handler's watch.
struct SqliteLink {
    conn: Connection,
    watch: Arc<Watch>,
}

impl engine_pool::Link for SqliteLink {
    type Extra = Opener;

    /// Never known closed: a file stays open.
    fn is_lost(&self) -> bool {
        false
    }

    /// Dropping it closes it.
    fn close_for_good(self) {
        drop(self);
    }
}

/// What a connection's progress handler looks at: the deadline of the read running in place,
/// and the job that a dropped future asked to stop.
#[derive(Default)]
struct Watch {
    /// Nanoseconds since [`epoch`]; 0 when no deadline is set.
    deadline: AtomicU64,
    /// The job running now, and the job to cancel (0: none).
    job: AtomicU64,
    cancel: AtomicU64,
}

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Watch {
    /// Whether the statement running now must stop.
    fn interrupt(&self) -> bool {
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline != 0 && now_nanos() > deadline {
            return true;
        }
        let cancel = self.cancel.load(Ordering::Relaxed);
        cancel != 0 && cancel == self.job.load(Ordering::Relaxed)
    }
}

/// Sets a deadline for the read-only statement run in place; clears it when dropped.
struct Armed<'a>(&'a Watch);

impl<'a> Armed<'a> {
    fn new(watch: &'a Watch) -> Self {
        let deadline = now_nanos()
            .saturating_add(u64::try_from(IN_PLACE_BUDGET.as_nanos()).unwrap_or(u64::MAX));
        watch.deadline.store(deadline.max(1), Ordering::Relaxed);
        Armed(watch)
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.0.deadline.store(0, Ordering::Relaxed);
    }
}

/// Cancels, when dropped before [`CancelOnDrop::done`], the job it names (a future awaiting
/// work on the blocking pool was dropped: the statement stops at its next progress check).
struct CancelOnDrop {
    watch: Arc<Watch>,
    job: u64,
    done: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.watch.cancel.store(self.job, Ordering::Relaxed);
        }
    }
}

static JOBS: AtomicU64 = AtomicU64::new(1);

/// What the engine keeps with its pool: how to open connections.
struct Opener {
    target: Target,
    /// The file database was put in WAL mode (see [`Engine::set_wal`]).
    wal_set: AtomicBool,
}

/// The engine's pool of rusqlite connections.
type Inner = EnginePool<SqliteLink>;

/// The engine's connection pool.
#[derive(Clone)]
pub(crate) struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEngine")
            .field("memory", &self.inner.extra.target.memory)
            .field("open", &self.inner.open_count())
            .finish_non_exhaustive()
    }
}

/// Sleeps between tries while the database is locked: short at first (a point write holds the
/// lock for microseconds), up to 2 ms.
struct Backoff {
    deadline: Instant,
    pause: Duration,
}

impl Backoff {
    fn new(timeout: Duration) -> Self {
        Backoff {
            deadline: Instant::now() + timeout,
            pause: Duration::from_micros(20),
        }
    }

    /// The pause before the next try, or `None` when the busy timeout has passed.
    fn next(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if now >= self.deadline {
            return None;
        }
        let pause = self.pause.min(self.deadline - now);
        self.pause = (self.pause * 2).min(Duration::from_millis(2));
        Some(pause)
    }
}

impl Engine {
    pub(crate) fn new(target: Target, stale: Arc<Staleness>) -> Self {
        // Freshness as a file's: recycled past `pool_recycle` and after an invalidation, never
        // pinged, kept idle for ever.
        let limits = Limits {
            max_connections: MAX_CONNECTIONS,
            acquire_timeout: target.acquire_timeout,
            recycle: target.recycle,
            pre_ping: false,
            idle_timeout: None,
        };
        let opener = Opener {
            target,
            wal_set: AtomicBool::new(false),
        };
        Engine {
            inner: Arc::new(EnginePool::new(opener, limits, stale)),
        }
    }

    /// [`open_watched`](Self::open_watched), tried again while the database is locked, up to
    /// the busy timeout: a connection opened while another is being closed may find the WAL
    /// index in recovery (SQLITE_BUSY_RECOVERY, "database is locked"), and its first
    /// statements (the `PRAGMA`s) read the schema. Seen with connections opened and closed by
    /// cancelled sessions (`tests/reliability_faults.rs` failed 2 to 4 runs in 6 before).
    async fn open_waiting(&self) -> rusqlite::Result<(Connection, Arc<Watch>)> {
        let mut backoff = Backoff::new(self.inner.extra.target.busy_timeout);
        loop {
            match self.open_watched() {
                Err(e) if is_busy(&e) => match backoff.next() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    /// Opens a connection with its progress handler.
    fn open_watched(&self) -> rusqlite::Result<(Connection, Arc<Watch>)> {
        let conn = self.open()?;
        let watch = Arc::new(Watch::default());
        let seen = watch.clone();
        conn.progress_handler(PROGRESS_OPS, Some(move || seen.interrupt()))?;
        Ok((conn, watch))
    }

    /// Opens a connection with the pool's settings (also the in-memory keeper).
    pub(crate) fn open(&self) -> rusqlite::Result<Connection> {
        let t = &self.inner.extra.target;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&t.path, flags)?;
        // Waiting for a lock is done by the executor, asynchronously.
        conn.busy_timeout(Duration::ZERO)?;
        conn.set_prepared_statement_cache_capacity(t.cache_capacity.max(1));
        conn.execute_batch(if t.memory {
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = OFF"
        } else {
            "PRAGMA foreign_keys = ON"
        })?;
        if t.read_uncommitted {
            conn.execute_batch("PRAGMA read_uncommitted = 1")?;
        }
        Ok(conn)
    }

    /// Puts a file database in WAL mode (once per pool; the mode is kept in the file). The
    /// keeper did it for `:memory:`'s file, before any other connection was opened.
    async fn set_wal(&self, conn: Connection) -> Result<Connection, sqlx::Error> {
        if self.inner.extra.target.memory || self.inner.extra.wal_set.load(Ordering::Acquire) {
            return Ok(conn);
        }
        let mut backoff = Backoff::new(self.inner.extra.target.busy_timeout);
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())) {
                Ok(()) => break,
                Err(e) if is_busy(&e) => match backoff.next() {
                    Some(p) => tokio::time::sleep(p).await,
                    None => return Err(to_sqlx(e)),
                },
                Err(e) => return Err(to_sqlx(e)),
            }
        }
        self.inner.extra.wal_set.store(true, Ordering::Release);
        Ok(conn)
    }

    /// Takes a connection, waiting at most `pool_timeout` for one to be free.
    pub(crate) async fn acquire(&self) -> Result<EngineConn, sqlx::Error> {
        let inner = &self.inner;
        if inner.is_closed() {
            return Err(sqlx::Error::PoolClosed);
        }
        // A free permit is taken at once: no timer is armed for the common case.
        let permit = match inner.try_permit()? {
            Some(permit) => permit,
            None => {
                let deadline = tokio::time::Instant::now() + inner.limits.acquire_timeout;
                inner.wait_permit(deadline).await?
            }
        };
        if let Some(Entry {
            conn: link, opened, ..
        }) = inner.take_idle()
        {
            return Ok(self.conn(link.conn, opened, link.watch, permit));
        }
        let opened = Instant::now();
        let link = inner
            .open_counted(async {
                let (conn, watch) = self.open_waiting().await.map_err(to_sqlx)?;
                let conn = self.set_wal(conn).await?;
                Ok(SqliteLink { conn, watch })
            })
            .await?;
        Ok(self.conn(link.conn, opened, link.watch, permit))
    }

    fn conn(
        &self,
        conn: Connection,
        opened: Instant,
        watch: Arc<Watch>,
        permit: OwnedSemaphorePermit,
    ) -> EngineConn {
        EngineConn {
            slot: Some(Box::new(Slot {
                conn: Some(conn),
                opened,
                watch,
                close: false,
                pool: self.inner.clone(),
                _permit: permit,
            })),
            busy_timeout: self.inner.extra.target.busy_timeout,
            heavy: false,
        }
    }

    /// Closes the idle connections and waits for those in use to come back; no connection is
    /// handed out afterwards.
    pub(crate) async fn close(&self) {
        self.inner.close(|| {}).await;
    }

    pub(crate) fn max_connections(&self) -> u32 {
        self.inner.max_connections()
    }

    /// (open connections, idle connections).
    pub(crate) fn stats(&self) -> (u32, usize) {
        self.inner.stats()
    }
}

/// A pooled connection with its pool permit: back to the pool when dropped, after rolling back
/// any open transaction.
struct Slot {
    conn: Option<Connection>,
    opened: Instant,
    watch: Arc<Watch>,
    close: bool,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    fn conn(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("the connection is present until drop")
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let pool = &self.pool;
        let link = Entry::opened_at(
            SqliteLink {
                conn,
                watch: self.watch.clone(),
            },
            self.opened,
        );
        if self.close || !link.conn.conn.is_autocommit() || pool.is_closed() {
            pool.discard(link);
        } else {
            // Checked for freshness when next taken, not here.
            pool.park(link);
        }
    }
}

/// A connection taken from the engine's pool.
pub(crate) struct EngineConn {
    /// `None` while the connection is on the blocking pool, or after a future running there
    /// was dropped (the connection then went back to the pool from there).
    slot: Option<Box<Slot>>,
    busy_timeout: Duration,
    /// Whether work ran off the runtime since the transaction began.
    heavy: bool,
}

/// What a statement run on the engine failed with.
enum Fail {
    Engine(rusqlite::Error),
    Decode(crate::async_database_functions::core::error::DatabaseError),
    /// A read-only statement ran past [`IN_PLACE_BUDGET`] in place: run it off the runtime.
    TooLong,
    Driver(sqlx::Error),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Engine(e)
    }
}

impl From<Fail> for RunError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Engine(e) => RunError::Driver(to_sqlx(e)),
            Fail::Decode(e) => RunError::Decode(e),
            Fail::TooLong => RunError::Driver(to_sqlx(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
                Some("interrupted".into()),
            ))),
            Fail::Driver(e) => RunError::Driver(e),
        }
    }
}

fn lost() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(
        "the connection was released when an earlier call on it was cancelled",
    ))
}

/// Prepares (from the cache when `persistent`), binds and runs `sql`, handing each row to
/// `each` until it returns `false`. Returns (rows affected, last insert rowid) when the
/// statement ran to its end.
fn execute(
    conn: &Connection,
    budget: Option<&Watch>,
    sql: &str,
    values: &Values,
    persistent: bool,
    mut each: impl FnMut(SqliteEngineRow<'_>) -> Result<bool, Fail>,
) -> Result<Option<(u64, i64)>, Fail> {
    let mut cached;
    let mut plain;
    let stmt: &mut rusqlite::Statement<'_> = if persistent {
        cached = conn.prepare_cached(sql)?;
        &mut cached
    } else {
        plain = conn.prepare(sql)?;
        &mut plain
    };
    let expected = stmt.parameter_count();
    if expected != values.0.len() {
        return Err(Fail::Engine(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_RANGE),
            Some(format!(
                "the statement has {expected} parameters, but {} values were bound",
                values.0.len()
            )),
        )));
    }
    for (n, value) in values.0.iter().enumerate() {
        stmt.raw_bind_parameter(n + 1, bind::Bind(value))?;
    }
    let armed = budget.filter(|_| stmt.readonly()).map(Armed::new);
    let mut rows = stmt.raw_query();
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                if !each(SqliteEngineRow::new(row))? {
                    return Ok(None);
                }
            }
            Ok(None) => break,
            Err(e) if armed.is_some() && error::primary_code(&e) == Some(9) => {
                return Err(Fail::TooLong);
            }
            Err(e) => return Err(e.into()),
        }
    }
    drop(rows);
    drop(armed);
    Ok(Some((conn.changes(), conn.last_insert_rowid())))
}

/// How one statement is run on a connection (`run_sync`, `first_sync`): the connection, the
/// in-place budget (none off the runtime), the SQL, its values, whether to cache it.
type Step<R> = fn(&Connection, Option<&Watch>, &str, &Values, bool) -> Result<R, Fail>;

fn run_sync<T: FromRow>(
    conn: &Connection,
    budget: Option<&Watch>,
    sql: &str,
    values: &Values,
    persistent: bool,
) -> Result<Outcome<T>, Fail> {
    let mut rows = Vec::new();
    let done = execute(conn, budget, sql, values, persistent, |row| {
        rows.push(T::from_row(RowRef::new(&row)).map_err(Fail::Decode)?);
        Ok(true)
    })?;
    let (rows_affected, last) = done.unwrap_or((0, 0));
    Ok(Outcome {
        rows,
        rows_affected,
        last_insert_id: Some(last).filter(|id| *id != 0),
    })
}

fn first_sync<T: FromRow>(
    conn: &Connection,
    budget: Option<&Watch>,
    sql: &str,
    values: &Values,
    persistent: bool,
) -> Result<Option<T>, Fail> {
    let mut first = None;
    execute(conn, budget, sql, values, persistent, |row| {
        first = Some(T::from_row(RowRef::new(&row)).map_err(Fail::Decode)?);
        Ok(false)
    })?;
    Ok(first)
}

impl EngineConn {
    fn slot(&self) -> Result<&Slot, sqlx::Error> {
        self.slot.as_deref().ok_or_else(lost)
    }

    /// Runs `f` on the connection, in place, trying again while the database is locked.
    async fn in_place<R>(
        &mut self,
        mut f: impl FnMut(&Connection, &Watch) -> Result<R, Fail>,
    ) -> Result<R, Fail> {
        take_turn().await;
        let mut backoff = Backoff::new(self.busy_timeout);
        loop {
            // No borrow of the connection lives across the sleep (it is not `Sync`).
            let busy = {
                let slot = self.slot().map_err(Fail::Driver)?;
                match f(slot.conn(), &slot.watch) {
                    Err(Fail::Engine(e)) if is_busy(&e) && retryable(&e) => e,
                    other => return other,
                }
            };
            match backoff.next() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(Fail::Engine(busy)),
            }
        }
    }

    /// Runs `f` on the connection on tokio's blocking pool (see the module docs).
    async fn off_runtime<R: Send + 'static>(
        &mut self,
        f: impl FnMut(&Connection) -> Result<R, Fail> + Send + 'static,
    ) -> Result<R, RunError> {
        let slot = self.slot.take().ok_or_else(lost)?;
        let busy = self.busy_timeout;
        self.heavy = true;
        let mut guard = job(&slot.watch);
        let handle = tokio::task::spawn_blocking(move || {
            let result = blocking_retry(slot.conn(), busy, f);
            (slot, result)
        });
        let joined = handle.await;
        guard.done = true;
        match joined {
            Ok((slot, result)) => {
                self.slot = Some(slot);
                result.map_err(RunError::from)
            }
            Err(_) => Err(RunError::Driver(sqlx::Error::WorkerCrashed)),
        }
    }

    /// Runs one statement through `step`: in place when it binds few values and (if read-only)
    /// ends within the budget, else off the runtime (see the module docs).
    async fn statement<R: Send + 'static>(
        &mut self,
        sql: String,
        values: Values,
        persistent: bool,
        step: Step<R>,
    ) -> Result<R, RunError> {
        if values.0.len() <= IN_PLACE_MAX_VALUES {
            match self
                .in_place(|conn, watch| step(conn, Some(watch), &sql, &values, persistent))
                .await
            {
                Err(Fail::TooLong) => {}
                done => return done.map_err(RunError::from),
            }
        }
        self.off_runtime(move |conn| step(conn, None, &sql, &values, persistent))
            .await
    }

    /// Runs one statement, decoding any rows it returns as `T`.
    pub(crate) async fn run<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Outcome<T>, RunError> {
        self.statement(sql.into_owned(), values, persistent, run_sync::<T>)
            .await
    }

    /// Runs a query and decodes only its first row.
    pub(crate) async fn first<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Option<T>, RunError> {
        self.statement(sql.into_owned(), values, persistent, first_sync::<T>)
            .await
    }

    /// Runs SQL without parameters, possibly several statements (DDL, transaction control).
    pub(crate) async fn run_raw(&mut self, sql: String) -> Result<(), sqlx::Error> {
        self.in_place(|conn, _| conn.execute_batch(&sql).map_err(Fail::Engine))
            .await
            .map_err(|f| driver(f.into()))
    }

    /// Starts a transaction; `BEGIN IMMEDIATE` with `write` (see `Conn::begin`).
    pub(crate) async fn begin(&mut self, write: bool) -> Result<(), sqlx::Error> {
        let sql = if write { "BEGIN IMMEDIATE" } else { "BEGIN" };
        self.heavy = false;
        self.in_place(|conn, _| control(conn, sql))
            .await
            .map_err(|f| driver(f.into()))
    }

    /// Commits the open transaction (none open: nothing to do).
    pub(crate) async fn commit(&mut self) -> Result<(), sqlx::Error> {
        if std::mem::take(&mut self.heavy) {
            // The transaction did bulk work: its commit writes much, off the runtime.
            return self
                .off_runtime(|conn| {
                    if conn.is_autocommit() {
                        Ok(())
                    } else {
                        control(conn, "COMMIT")
                    }
                })
                .await
                .map_err(driver);
        }
        self.in_place(|conn, _| {
            if conn.is_autocommit() {
                Ok(())
            } else {
                control(conn, "COMMIT")
            }
        })
        .await
        .map_err(|f| driver(f.into()))
    }

    /// Rolls the open transaction back (none open: nothing to do).
    pub(crate) async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        let conn = self.slot.as_deref().ok_or_else(lost)?.conn();
        if conn.is_autocommit() {
            return Ok(());
        }
        self.heavy = false;
        control(conn, "ROLLBACK").map_err(|f| driver(f.into()))
    }

    /// Rolls back now (a rollback on SQLite only discards the journal: it never waits).
    pub(crate) fn start_rollback(&mut self) {
        if let Some(slot) = &self.slot {
            let conn = slot.conn();
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }

    /// Makes the pool close this connection instead of reusing it.
    pub(crate) fn close_on_drop(&mut self) {
        if let Some(slot) = &mut self.slot {
            slot.close = true;
        }
    }

    /// Streams a query's rows into `rows`, the engine running on the blocking pool and
    /// sending each decoded row into the stream's own bounded channel: it runs ahead of the
    /// consumer by at most the channel's room, and waits only when that is full. `sent`
    /// counts the rows handed over; `Ok(false)` when the consumer went away first.
    pub(crate) async fn stream_into<T: FromRow>(
        &mut self,
        sql: String,
        values: Values,
        persistent: bool,
        rows: &RowSender<T>,
        sent: &mut u64,
    ) -> Result<bool, RunError> {
        let slot = self.slot.take().ok_or_else(lost)?;
        let busy = self.busy_timeout;
        let mut guard = job(&slot.watch);
        let tx = rows.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let mut handed = 0u64;
            let mut open = true;
            let mut batch = tx.batch();
            let result = blocking_retry(slot.conn(), busy, |conn| {
                if handed > 0 {
                    // Rows were handed over already: a retry would repeat them.
                    return Err(Fail::Engine(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        Some("database is locked".into()),
                    )));
                }
                // Rows decoded but not handed over are decoded again.
                batch.clear();
                execute(conn, None, &sql, &values, persistent, |row| {
                    batch.push_back(T::from_row(RowRef::new(&row)).map_err(Fail::Decode)?);
                    // A full batch goes; so does any batch when the consumer has nothing left.
                    if batch.len() == BATCH_ROWS || tx.drained() {
                        // Blocks this (blocking-pool) thread while the stream's buffer is
                        // full; fails once the stream is gone, which stops the statement.
                        open = tx.blocking_send(&mut batch, &mut handed);
                    }
                    Ok(open)
                })
                .map(|_| ())
            });
            // What was decoded (before an error too) reaches the consumer.
            if open {
                open = tx.blocking_send(&mut batch, &mut handed);
            }
            (slot, result, handed, open)
        });
        let joined = handle.await;
        guard.done = true;
        match joined {
            Ok((slot, result, handed, open)) => {
                self.slot = Some(slot);
                *sent += handed;
                result.map_err(RunError::from)?;
                Ok(open)
            }
            Err(_) => Err(RunError::Driver(sqlx::Error::WorkerCrashed)),
        }
    }
}

/// Starts a job on the blocking pool: a new job id for the connection's watch, and the guard
/// that cancels it if the awaiting future is dropped.
fn job(watch: &Arc<Watch>) -> CancelOnDrop {
    let job = JOBS.fetch_add(1, Ordering::Relaxed);
    watch.job.store(job, Ordering::Relaxed);
    CancelOnDrop {
        watch: watch.clone(),
        job,
        done: false,
    }
}

/// Runs a transaction control statement, prepared once per connection.
fn control(conn: &Connection, sql: &str) -> Result<(), Fail> {
    conn.prepare_cached(sql)?.raw_execute()?;
    Ok(())
}

fn driver(e: RunError) -> sqlx::Error {
    match e {
        RunError::Driver(e) => e,
        RunError::Decode(e) => sqlx::Error::Decode(Box::new(e)),
    }
}

/// Whether trying again may succeed: not when the transaction's snapshot is stale
/// (`SQLITE_BUSY_SNAPSHOT`), which only a new transaction clears.
fn retryable(e: &rusqlite::Error) -> bool {
    !matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == 517)
}

/// [`EngineConn::in_place`] for the blocking pool: sleeps the thread between tries.
fn blocking_retry<R>(
    conn: &Connection,
    busy: Duration,
    mut f: impl FnMut(&Connection) -> Result<R, Fail>,
) -> Result<R, Fail> {
    let mut backoff = Backoff::new(busy);
    loop {
        match f(conn) {
            Err(Fail::Engine(e)) if is_busy(&e) && retryable(&e) => match backoff.next() {
                Some(pause) => std::thread::sleep(pause),
                None => return Err(Fail::Engine(e)),
            },
            other => return other,
        }
    }
}
