//! The PostgreSQL (and CockroachDB) executor on tokio-postgres (issue 24), behind the
//! `pg-pipeline` feature.
//!
//! sqlx's PostgreSQL driver pays a pool checkout future, a text-format round of type checks
//! and a serial round trip per statement. Here statements run on tokio-postgres clients:
//!
//! - **Binary protocol, prepared once.** Each connection keeps its prepared statements (at
//!   most `query_cache_size`, keyed by SQL text; the crate names bound types in the text, see
//!   `key_by_types`), declared with the types sqlx declares (`bind.rs`), so a cached statement
//!   runs in one round trip. Without a cache (`query_cache_size = 0`, and always with
//!   `transaction_pooling` behind pgbouncer) every statement is an unnamed one, parsed, bound
//!   and run in one round trip (`query_typed`).
//! - **No connection task.** A connection is driven by the callers waiting on it, not by a
//!   task of its own (`driver.rs`): no wake-up between tasks per statement (1 000 point reads
//!   one after another: 73 ms on a spawned connection, 48 ms driven by the caller).
//! - **Cancellation.** A dropped future never hands its result to the next caller: the
//!   connection reads every response in order and discards those nobody waits for. A connection given back inside a transaction (a session dropped mid-way, a future
//!   dropped during `BEGIN`/`COMMIT`) is rolled back by a task of its own, holding its pool
//!   slot, before anyone else may take it; if that fails it is closed.
//! - **Pipelining.** A connection's client takes requests from any number of tasks at once
//!   and writes them back to back. The library's own reads outside a transaction (the
//!   operations' `read_by_pk`, `read_query`, `count_query`, …) share a few connections, one
//!   per CPU core (*lanes*, at most `pool_size + max_overflow - 1`): 20 reads in flight go out
//!   in a few writes on two connections, as TechEmpower's tokio-postgres entry sends them, not
//!   on 20 connections nor one after another. A read takes the first lane no read is on, looking
//!   from its thread's own lane (reads one after another stay on one hot connection), else
//!   its thread's own lane, busy as it is (each runtime thread pipelines on a connection of
//!   its own, as TechEmpower's entry does with a client per thread); an empty lane is
//!   filled from an idle connection, or by one read at a time that opens a connection of its
//!   own (so two reads side by side run side by side on the server). A read cut short retires
//!   its lane (its statement may still run ahead of later ones): the lane takes no more reads
//!   and closes once those on it end. A session (`get_db_session`, a transaction, a
//!   write) holds its connection alone (`pg_backend_pid()` and `pool_timeout` say so). A lane
//!   holds a pool slot; a caller waiting for a connection takes a lane over as soon as no read
//!   is on it, so a pool of two still serves two sessions.
//!
//! The pool: at most `pool_size + max_overflow` connections, opened on demand (a refused or
//! silent server is tried again until `pool_timeout`), checked before use with
//! `pool_pre_ping`, replaced past `pool_recycle`, after 10 minutes idle and after an
//! invalidation of the host. sqlx's pool is built beside it, lazily, for
//! `AsyncDatabase::pg_pool()`.

pub(crate) mod bind;
pub(crate) mod copy;
mod driver;
pub(crate) mod error;
pub(crate) mod row;
pub(crate) mod tls;
#[cfg(feature = "tls-native-tls")]
mod tls_native;
#[cfg(all(feature = "tls-rustls", not(feature = "tls-native-tls")))]
mod tls_rustls;
mod tls_trust;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::TryStreamExt;
use sea_query::Values;
use tokio::sync::OwnedSemaphorePermit;
use tokio_postgres::{Client, RowStream, Statement};

use super::engine_pool::{self, EnginePool, Limits, ServerLink, Slot, lock};
use super::postgres::{self, ArrayKind};
use super::vocabulary::{Keeper, Outcome, RunError};
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::row::RowRef;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect::health::Staleness;
use crate::async_database_functions::dialect::row_channel::RowSender;
use bind::Params;
use error::to_sqlx;
use row::PgEngineRow;

/// How to open connections.
pub(crate) struct Target {
    pub config: tokio_postgres::Config,
    pub connector: tls::Connector,
    pub cache_capacity: usize,
}

/// One open connection: its client, the connection it drives, its prepared statements.
struct PgLink {
    client: Client,
    driver: driver::Driver,
    /// Locked only to look up or insert (never across an await): a lane's readers share it.
    /// Keyed by SQL text, hashed with foldhash (SipHash was 1.15 % of a `/db` request).
    cache: Mutex<HashMap<String, Statement, foldhash::fast::RandomState>>,
}

impl PgLink {
    fn new((client, driver): (Client, driver::Driver)) -> Self {
        PgLink {
            client,
            driver,
            cache: Mutex::new(HashMap::default()),
        }
    }
}

/// One open connection, with the times the pool keeps of it.
type Link = engine_pool::Entry<PgLink>;

impl engine_pool::Link for PgLink {
    type Extra = Shared;

    fn is_lost(&self) -> bool {
        self.client.is_closed()
    }

    /// Nobody else reads a connection no caller waits on.
    fn read_pending(&self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.driver.poll_now();
        }
    }

    /// Dropping it closes its socket.
    fn close_for_good(self) {
        drop(self);
    }

    /// A read may fill an empty lane again (see [`Shared::filling`]).
    fn on_idle(shared: &Shared) {
        shared.filling.store(false, Ordering::Release);
    }
}

impl ServerLink for PgLink {
    type ConnectError = tokio_postgres::Error;

    /// Opens one connection, driven by the callers that wait on it (see [`driver`]).
    async fn connect(shared: &Shared) -> Result<PgLink, tokio_postgres::Error> {
        let target = &shared.target;
        let opened = match &target.connector.make {
            tls::Make::Plain => {
                let (client, connection) = target.config.connect(tokio_postgres::NoTls).await?;
                (client, driver::Driver::new(connection))
            }
            #[cfg(all(feature = "tls-rustls", not(feature = "tls-native-tls")))]
            tls::Make::Rustls(make) => {
                let (client, connection) = target.config.connect(make.clone()).await?;
                (client, driver::Driver::new(connection))
            }
            #[cfg(feature = "tls-native-tls")]
            tls::Make::Native(make) => {
                let (client, connection) = target.config.connect(make.clone()).await?;
                (client, driver::Driver::new(connection))
            }
        };
        Ok(PgLink::new(opened))
    }

    /// As sqlx's pool retries: not for what the server answered (a wrong password, a missing
    /// database).
    fn retry_connect(e: &tokio_postgres::Error) -> bool {
        e.as_db_error().is_none() && !e.to_string().starts_with("invalid configuration")
    }

    fn connect_error(e: tokio_postgres::Error) -> sqlx::Error {
        to_sqlx(e)
    }

    /// Not bounded by `deadline`.
    async fn answers_ping(&mut self, deadline: tokio::time::Instant) -> bool {
        // A server that stopped answering does not hold the caller past its `pool_timeout`:
        // the connection is then given up as unusable.
        let pinged =
            tokio::time::timeout_at(deadline, self.driver.drive(self.client.simple_query("")))
                .await;
        matches!(pinged, Ok(Ok(_)))
    }

    async fn roll_back(&mut self) -> bool {
        self.driver
            .drive(self.client.batch_execute("ROLLBACK"))
            .await
            .is_ok()
    }

    /// A lane no read is on, taken over with its pool slot, before and while waiting for a
    /// slot (lanes give theirs up once their reads end, see [`Shared::waiters`]).
    async fn when_full(
        pool: &Inner,
        deadline: tokio::time::Instant,
    ) -> Result<Slot<PgLink>, sqlx::Error> {
        if let Some((link, permit)) = pool.reclaim_usable() {
            return Ok(Slot::Taken(link, permit));
        }
        // Counted while waiting: lanes give their slots up once their reads end.
        let _waiting = Waiting::new(&pool.extra.waiters);
        if let Some((link, permit)) = pool.reclaim_usable() {
            return Ok(Slot::Taken(link, permit));
        }
        pool.wait_permit(deadline).await.map(Slot::Free)
    }
}

/// A connection shared by concurrent reads outside transactions (see the module doc), with
/// the pool slot it holds.
struct Lane {
    link: Link,
    permit: OwnedSemaphorePermit,
    /// Its place in [`Shared::lanes`].
    slot: usize,
    /// A read on it was cut short (its statement may still run on the server, ahead of any
    /// read sent after it): no read is sent on it any more, and it is closed, not reused,
    /// once the reads already on it end.
    retired: AtomicBool,
}

/// How many lanes a pool of `max` connections keeps: one per CPU core, always leaving one
/// connection for sessions; none for a pool of one.
fn lane_count(max: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(max.saturating_sub(1) as usize)
}

/// The lane this thread looks at first, of `count`: the runtime's worker threads are
/// numbered as they first read, so that two threads start on different lanes and a busy
/// thread's reads pipeline on its own lane instead of crossing to the others' (whose
/// connections their tasks drive).
fn home_lane(count: usize) -> usize {
    static THREADS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = THREADS.fetch_add(1, Ordering::Relaxed);
    }
    HOME.with(|home| *home) % count.max(1)
}

/// What the executor keeps with its pool: how to open connections, and the lanes.
struct Shared {
    target: Target,
    /// The lanes (shared connections), each slot empty until a read fills it.
    lanes: Vec<Mutex<Option<Arc<Lane>>>>,
    /// A read went on a connection of its own to fill an empty lane (one at a time): cleared
    /// when a connection comes back to the idle ones.
    filling: AtomicBool,
    /// Callers waiting for a pool slot: lanes give theirs up as soon as no read is on them.
    waiters: AtomicUsize,
}

/// The executor's pool of tokio-postgres connections, with its lanes.
type Inner = EnginePool<PgLink>;

/// Counts a caller waiting for a pool slot while it waits (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Inner {
    /// Ends a lane's life once its last holder lets it go (`Arc::into_inner` gives it to
    /// exactly one of them): its connection goes back to the idle ones (or is closed), its
    /// pool slot is freed after, so that a caller woken by it finds the connection.
    fn release_lane(&self, lane: Arc<Lane>) {
        if let Some(Lane {
            link,
            permit,
            retired,
            ..
        }) = Arc::into_inner(lane)
        {
            if retired.into_inner() {
                self.discard(link);
            } else {
                self.check_in(link);
            }
            drop(permit);
        }
    }

    /// Takes `lane` out of its slot if the slot holds it and `holders` are its only holders
    /// besides the slot; the caller then releases its own holds.
    fn unslot_if_unused(&self, lane: &Arc<Lane>, holders: usize) {
        let mut slot = lock(&self.extra.lanes[lane.slot]);
        if let Some(slotted) = slot.as_ref()
            && Arc::ptr_eq(slotted, lane)
            && Arc::strong_count(lane) == holders + 1
        {
            *slot = None;
        }
    }

    /// Takes a lane a read was cut short on out of its slot (whoever holds it), so that no
    /// read is sent after the cut-short statement; it closes once its last read ends.
    fn retire(&self, lane: &Arc<Lane>) {
        lane.retired.store(true, Ordering::Release);
        let mut slot = lock(&self.extra.lanes[lane.slot]);
        if slot
            .as_ref()
            .is_some_and(|slotted| Arc::ptr_eq(slotted, lane))
        {
            *slot = None;
        }
    }

    /// A lane no read is on, taken out of its slot as an exclusive connection with its pool
    /// slot (for a caller that found every slot taken).
    fn reclaim_lane(&self) -> Option<(Link, OwnedSemaphorePermit)> {
        for slot in &self.extra.lanes {
            let mut slot = lock(slot);
            if slot
                .as_ref()
                .is_some_and(|lane| Arc::strong_count(lane) == 1)
                && let Some(lane) = slot.take().and_then(Arc::into_inner)
            {
                return Some((lane.link, lane.permit));
            }
        }
        None
    }

    /// A lane no read is on, taken over as a connection of its own with its pool slot, if it is
    /// still usable (else closed, its pool slot freed).
    fn reclaim_usable(&self) -> Option<(Link, OwnedSemaphorePermit)> {
        let (link, permit) = self.reclaim_lane()?;
        if self.usable(&link) {
            return Some((link, permit));
        }
        self.discard(link);
        drop(permit);
        None
    }

    /// Every lane out of its slot (closing, or a host invalidated).
    fn drain_lanes(&self) {
        for slot in &self.extra.lanes {
            let lane = lock(slot).take();
            if let Some(lane) = lane {
                self.release_lane(lane);
            }
        }
    }
}

/// The executor's connection pool.
#[derive(Clone)]
pub(crate) struct PgEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PgEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEngine")
            .field("open", &self.inner.open_count())
            .field("max", &self.inner.max_connections())
            .finish_non_exhaustive()
    }
}

impl PgEngine {
    pub(crate) fn new(mut target: Target, limits: Limits, stale: Arc<Staleness>) -> Self {
        target.config.ssl_mode(target.connector.mode);
        let shared = Shared {
            target,
            lanes: (0..lane_count(limits.max_connections))
                .map(|_| Mutex::new(None))
                .collect(),
            filling: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
        };
        PgEngine {
            inner: Arc::new(EnginePool::new(shared, limits, stale)),
        }
    }

    /// An idle connection taken at once, when handing it out needs no check (no
    /// `pool_pre_ping`): `None` otherwise.
    pub(crate) fn try_acquire(&self) -> Option<PgConn> {
        let (link, permit) = self.inner.try_take()?;
        Some(self.conn(link, permit))
    }

    /// A lane for a read outside a transaction, taken at once: the first lane no read is on,
    /// from this thread's own (so that reads one after another stay on one hot connection),
    /// else a new lane made from the most recently used idle connection and a free pool slot,
    /// else this thread's own busy lane (or the next one that is filled). `None` when there are no lanes (a pool of one, `pool_pre_ping`), a
    /// caller waits for a slot, or no lane, idle connection and free slot are at hand (the
    /// read then takes a connection of its own, which a later read makes a lane of).
    pub(crate) fn try_shared(&self) -> Option<PgConn> {
        let inner = &self.inner;
        let lanes = &inner.extra.lanes;
        if lanes.is_empty()
            || inner.limits.pre_ping
            || inner.is_closed()
            || inner.extra.waiters.load(Ordering::Acquire) > 0
        {
            return None;
        }
        let count = lanes.len();
        let home = home_lane(count);
        let mut empty = None;
        let mut busy = false;
        // From this thread's own lane: the runtime's threads look at different lanes first,
        // and each ends on its own when every lane is busy.
        for i in (home..count).chain(0..home) {
            let mut slot = lock(&lanes[i]);
            let Some(lane) = slot.as_ref() else {
                empty.get_or_insert(i);
                continue;
            };
            // A lane with reads on it is read by them; one without is read here first.
            let free = Arc::strong_count(lane) == 1;
            let open = if free {
                inner.usable(&lane.link)
            } else {
                inner.fresh(&lane.link)
            };
            if !open {
                if let Some(old) = slot.take() {
                    drop(slot);
                    inner.release_lane(old);
                }
                empty.get_or_insert(i);
            } else if free {
                return Some(self.shared(lane.clone()));
            } else {
                busy = true;
            }
        }
        if let Some(i) = empty
            && let Some(permit) = inner.free_permit()
        {
            let mut slot = lock(&lanes[i]);
            if slot.is_none() {
                if let Some(link) = inner.take_idle() {
                    let lane = Arc::new(Lane {
                        link,
                        permit,
                        slot: i,
                        retired: AtomicBool::new(false),
                    });
                    *slot = Some(lane.clone());
                    return Some(self.shared(lane));
                }
                // No idle connection to make the lane of: one read at a time opens one (on a
                // connection of its own, which a later read makes a lane of once it is back),
                // so that reads side by side run side by side on the server; the others share
                // the busy lanes meanwhile.
                if !busy || !inner.extra.filling.swap(true, Ordering::AcqRel) {
                    return None;
                }
            }
        }
        // Every lane has reads on it: this thread's own, else the next one that has a lane.
        (0..count)
            .find_map(|k| lock(&lanes[(home + k) % count]).clone())
            .map(|lane| self.shared(lane))
    }

    fn shared(&self, lane: Arc<Lane>) -> PgConn {
        PgConn {
            held: Some(Held::Shared(lane)),
            pool: self.inner.clone(),
            permit: None,
            in_tx: false,
            close: false,
        }
    }

    /// Takes a connection, waiting at most `pool_timeout` for a free one (or for the server to
    /// accept a new one). With every pool slot taken, a lane no read is on is taken over (see
    /// [`PgLink::when_full`]).
    pub(crate) async fn acquire(&self) -> Result<PgConn, sqlx::Error> {
        let (link, permit) = self.inner.acquire().await?;
        Ok(self.conn(link, permit))
    }

    fn conn(&self, link: Link, permit: OwnedSemaphorePermit) -> PgConn {
        PgConn {
            held: Some(Held::Own(Box::new(link))),
            pool: self.inner.clone(),
            permit: Some(permit),
            in_tx: false,
            close: false,
        }
    }

    /// Closes the lanes and the idle connections and waits for those in use to come back; no
    /// connection is handed out afterwards.
    pub(crate) async fn close(&self) {
        let inner = &self.inner;
        inner.close(|| inner.drain_lanes()).await;
    }

    pub(crate) fn max_connections(&self) -> u32 {
        self.inner.max_connections()
    }

    /// (open connections, idle connections); a lane no read is on counts as idle.
    pub(crate) fn stats(&self) -> (u32, usize) {
        let inner = &self.inner;
        let unused_lanes = inner
            .extra
            .lanes
            .iter()
            .filter(|slot| {
                lock(slot)
                    .as_ref()
                    .is_some_and(|lane| Arc::strong_count(lane) == 1)
            })
            .count();
        let (open, idle) = inner.stats();
        (open, idle + unused_lanes)
    }
}

/// How a [`PgConn`] holds its connection.
enum Held {
    /// Alone, with a pool slot of its own.
    Own(Box<Link>),
    /// A lane, beside other reads.
    Shared(Arc<Lane>),
}

/// A connection taken from the pool, back to it when dropped (after a rollback if it may be
/// inside a transaction).
pub(crate) struct PgConn {
    held: Option<Held>,
    pool: Arc<Inner>,
    permit: Option<OwnedSemaphorePermit>,
    /// A transaction may be open: set before `BEGIN` is sent, cleared only once `COMMIT` or
    /// `ROLLBACK` has answered.
    in_tx: bool,
    close: bool,
}

fn lost() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the connection was closed",
    ))
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let link = match self.held.take() {
            None => return,
            // A read dropped half-way leaves no bytes on the lane (the connection reads every
            // response in order and discards those nobody waits for), but its
            // statement may still run on the server, ahead of any read sent after it: the lane
            // is retired. A lane that a waiting caller may take over leaves its slot once no
            // read is on it.
            Some(Held::Shared(lane)) => {
                if self.close {
                    self.pool.retire(&lane);
                } else if self.pool.extra.waiters.load(Ordering::Acquire) > 0
                    || self.pool.is_closed()
                {
                    self.pool.unslot_if_unused(&lane, 1);
                }
                self.pool.release_lane(lane);
                return;
            }
            Some(Held::Own(link)) => link,
        };
        let permit = self.permit.take();
        self.pool.give_back(*link, permit, self.close, self.in_tx);
    }
}

impl PgConn {
    fn link(&self) -> Result<&Link, sqlx::Error> {
        match &self.held {
            Some(Held::Own(link)) => Ok(link),
            Some(Held::Shared(lane)) => Ok(&lane.link),
            None => Err(lost()),
        }
    }

    /// The connection held alone: transactions never run on a lane.
    fn own_link(&self) -> Result<&Link, sqlx::Error> {
        match &self.held {
            Some(Held::Own(link)) => Ok(link),
            Some(Held::Shared(_)) => Err(sqlx::Error::Protocol(
                "a transaction on a shared connection".into(),
            )),
            None => Err(lost()),
        }
    }

    /// Sends a statement with its parameters: a cached prepared statement when `persistent`,
    /// else an unnamed one (parse, bind and execute in one round trip).
    async fn query(
        &mut self,
        sql: &str,
        params: &Params<'_>,
        persistent: bool,
    ) -> Result<RowStream, sqlx::Error> {
        let capacity = self.pool.extra.target.cache_capacity;
        let link = self.link()?;
        if !persistent || capacity == 0 {
            let typed = params.values.iter().zip(params.types.iter().cloned());
            return link
                .driver
                .drive(link.client.query_typed_raw(sql, typed))
                .await
                .map_err(to_sqlx);
        }
        // A cached statement without a future of its own (every point read).
        let cached = lock(&link.cache).get(sql).cloned();
        let statement = match cached {
            Some(statement) => statement,
            None => Box::pin(self.prepare(sql, &params.types)).await?,
        };
        link.driver
            .drive(link.client.query_raw(&statement, params.values.iter()))
            .await
            .map_err(to_sqlx)
    }

    /// The next row of a query's `stream`, the connection driven meanwhile.
    async fn next_row(
        &self,
        stream: &mut std::pin::Pin<&mut RowStream>,
    ) -> Result<Option<tokio_postgres::Row>, sqlx::Error> {
        self.link()?
            .driver
            .drive(stream.try_next())
            .await
            .map_err(to_sqlx)
    }

    /// The connection's prepared statement for `sql`, prepared (and cached) on first use.
    async fn statement(
        &self,
        sql: &str,
        types: &[tokio_postgres::types::Type],
    ) -> Result<Statement, sqlx::Error> {
        let link = self.link()?;
        if let Some(statement) = lock(&link.cache).get(sql).cloned() {
            return Ok(statement);
        }
        // Boxed: preparing is a future of kilobytes that every statement's future would
        // otherwise carry (and axum move) for the rare statement not prepared yet.
        Box::pin(self.prepare(sql, types)).await
    }

    /// Prepares `sql` on this connection and keeps it in the connection's cache.
    async fn prepare(
        &self,
        sql: &str,
        types: &[tokio_postgres::types::Type],
    ) -> Result<Statement, sqlx::Error> {
        let capacity = self.pool.extra.target.cache_capacity;
        let link = self.link()?;
        let statement = link
            .driver
            .drive(link.client.prepare_typed(sql, types))
            .await
            .map_err(to_sqlx)?;
        let mut cache = lock(&link.cache);
        if cache.len() >= capacity {
            // Dropping them closes them on the server.
            cache.clear();
        }
        cache.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Runs `sql` with `params` and decodes its rows as `T`. The parameters are borrowed: taken
    /// by value they were held twice in this future (argument and local), which every
    /// statement's future carries.
    async fn outcome<T: FromRow>(
        &mut self,
        sql: &str,
        params: &Params<'_>,
        persistent: bool,
    ) -> Result<Outcome<T>, RunError> {
        let stream = self.query(sql, params, persistent).await?;
        let mut stream = std::pin::pin!(stream);
        let mut rows = Vec::new();
        self.each_row(stream.as_mut(), |row| {
            rows.push(T::from_row(RowRef::new(&PgEngineRow(&row)))?);
            Ok(())
        })
        .await?;
        Ok(Outcome {
            rows,
            rows_affected: stream.rows_affected().unwrap_or(0),
            last_insert_id: None,
        })
    }

    /// Hands every row of a query's `stream` to `each`, in order, the connection driven
    /// meanwhile: one wait for the whole result, not one per row (the rows that came in one
    /// read are decoded without going back to the connection). Stops at the first error,
    /// `each`'s or the driver's; the rest of the result is then discarded by the connection.
    async fn each_row(
        &self,
        mut stream: std::pin::Pin<&mut RowStream>,
        mut each: impl FnMut(tokio_postgres::Row) -> Result<(), DatabaseError>,
    ) -> Result<(), RunError> {
        let link = self.link()?;
        link.driver
            .drive(async {
                while let Some(row) = stream.try_next().await.map_err(to_sqlx)? {
                    each(row).map_err(RunError::Decode)?;
                }
                Ok(())
            })
            .await
    }

    /// Runs one statement, decoding any rows it returns as `T`.
    pub(crate) async fn run<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Outcome<T>, RunError> {
        let params = bind::params(&values.0).map_err(encode)?;
        self.outcome(&sql, &params, persistent).await
    }

    /// Runs a bulk statement whose row-major `values` are bound as one typed array per column.
    pub(crate) async fn run_arrays<T: FromRow>(
        &mut self,
        sql: String,
        values: Values,
        kinds: &[ArrayKind],
        persistent: bool,
    ) -> Result<Outcome<T>, RunError> {
        let params = bind::array_params(values.0, kinds).map_err(encode)?;
        self.outcome(&sql, &params, persistent).await
    }

    /// Inserts row-major `values`, `width` a row, with the binary COPY `copy_sql`, if every
    /// value fits the type of its column (read by `probe_sql`; see [`copy`]), calling `sending`
    /// just before the COPY is sent: `Ok(None)`, with
    /// nothing sent but the probe, when one does not, or when statements are not cached
    /// (`query_cache_size = 0`, `transaction_pooling`: the probe would be a named statement).
    pub(crate) async fn copy_in(
        &mut self,
        copy_sql: &str,
        probe_sql: &str,
        width: usize,
        values: &Values,
        persistent: bool,
        sending: impl FnOnce(),
    ) -> Result<Option<u64>, RunError> {
        if !persistent
            || self.pool.extra.target.cache_capacity == 0
            || width == 0
            || !values.0.len().is_multiple_of(width)
        {
            return Ok(None);
        }
        let probe = self.statement(probe_sql, &[]).await?;
        let types: Vec<tokio_postgres::types::Type> =
            probe.columns().iter().map(|c| c.type_().clone()).collect();
        if types.len() != width
            || !values
                .0
                .chunks_exact(width)
                .all(|row| row.iter().zip(&types).all(|(v, ty)| copy::fits(v, ty)))
        {
            return Ok(None);
        }
        sending();
        let link = self.link()?;
        let sink = link
            .driver
            .drive(link.client.copy_in::<_, bytes::Bytes>(copy_sql))
            .await
            .map_err(to_sqlx)?;
        let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        // Every field wrapped once, one row's references reused: no allocation a row.
        let fields: Vec<copy::Field<'_>> = values.0.iter().map(copy::Field).collect();
        let mut refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::with_capacity(width);
        for row in fields.chunks_exact(width) {
            refs.clear();
            refs.extend(
                row.iter()
                    .map(|f| f as &(dyn tokio_postgres::types::ToSql + Sync)),
            );
            link.driver
                .drive(writer.as_mut().write(&refs))
                .await
                .map_err(to_sqlx)?;
        }
        let rows = link
            .driver
            .drive(writer.as_mut().finish())
            .await
            .map_err(to_sqlx)?;
        Ok(Some(rows))
    }

    /// Runs a query and decodes only its first row (the rest is read to its end).
    pub(crate) async fn first<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Option<T>, RunError> {
        let params = bind::params(&values.0).map_err(encode)?;
        let stream = self.query(&sql, &params, persistent).await?;
        let stream = std::pin::pin!(stream);
        let mut first = None;
        // Read to its end, so that an error after the first row (a failing cast further on)
        // is reported as sqlx reports it; only the first row is decoded.
        self.each_row(stream, |row| {
            if first.is_none() {
                first = Some(T::from_row(RowRef::new(&PgEngineRow(&row)))?);
            }
            Ok(())
        })
        .await?;
        Ok(first)
    }

    /// Runs SQL without parameters, possibly several statements (DDL, transaction control).
    pub(crate) async fn run_raw(&mut self, sql: String) -> Result<(), sqlx::Error> {
        let link = self.link()?;
        link.driver
            .drive(link.client.batch_execute(&sql))
            .await
            .map_err(to_sqlx)
    }

    /// Starts a transaction (`BEGIN READ ONLY` with `read_only`).
    pub(crate) async fn begin(&mut self, read_only: bool) -> Result<(), sqlx::Error> {
        self.in_tx = true;
        let sql = if read_only {
            "BEGIN READ ONLY"
        } else {
            "BEGIN"
        };
        let link = self.own_link()?;
        link.driver
            .drive(link.client.batch_execute(sql))
            .await
            .map_err(to_sqlx)
    }

    /// Commits the open transaction.
    pub(crate) async fn commit(&mut self) -> Result<(), sqlx::Error> {
        let link = self.own_link()?;
        link.driver
            .drive(link.client.batch_execute("COMMIT"))
            .await
            .map_err(to_sqlx)?;
        self.in_tx = false;
        Ok(())
    }

    /// Rolls the open transaction back.
    pub(crate) async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        let link = self.own_link()?;
        link.driver
            .drive(link.client.batch_execute("ROLLBACK"))
            .await
            .map_err(to_sqlx)?;
        self.in_tx = false;
        Ok(())
    }

    /// A rollback before the connection is reused (for `Drop`): the connection goes back to the
    /// pool through a rollback of its own (see [`Drop`]).
    pub(crate) fn start_rollback(&mut self) {
        self.in_tx = true;
    }

    /// Makes the pool close this connection instead of reusing it.
    pub(crate) fn close_on_drop(&mut self) {
        self.close = true;
    }

    /// Streams a query's rows into `rows` as the consumer asks for them, in the consumer's
    /// task. Always `Ok(true)`: the consumer cannot go away while its own task runs the query.
    pub(crate) async fn stream_into<T: FromRow>(
        &mut self,
        sql: String,
        values: Values,
        persistent: bool,
        rows: &RowSender<T>,
        sent: &mut u64,
    ) -> Result<bool, RunError> {
        let params = bind::params(&values.0).map_err(encode)?;
        let stream = self.query(&sql, &params, persistent).await?;
        let mut stream = std::pin::pin!(stream);
        while let Some(row) = self.next_row(&mut stream).await? {
            let value = T::from_row(RowRef::new(&PgEngineRow(&row))).map_err(RunError::Decode)?;
            rows.yield_row(value, sent).await;
        }
        Ok(true)
    }
}

fn encode(e: bind::BindError) -> RunError {
    RunError::Driver(sqlx::Error::Encode(e))
}

/// The two pools of a PostgreSQL database on this executor: the engine's, which runs the
/// library's statements, and sqlx's (lazy: it opens nothing until used), which
/// `AsyncDatabase::pg_pool()` hands out.
#[derive(Clone, Debug)]
pub(crate) struct PgPools {
    pub(crate) sqlx: sqlx::PgPool,
    pub(crate) engine: PgEngine,
}

/// Builds the pools for `config`, to the server at `url` (one host of the URI); no connection
/// is opened. sqlx's options, TLS checks and pool settings are the sqlx executor's own.
pub(crate) async fn connect(
    config: &DBConfig,
    url: Option<&url::Url>,
    stale: Arc<Staleness>,
) -> Result<(PgPools, Keeper), DatabaseError> {
    let (options, native) = postgres::connect_options(config, url)?;
    let tls = super::connect::tls(config)?;
    let timeout = super::connect::acquire_timeout(config);
    let engine = PgEngine::new(
        Target {
            config: client_config(&options, &native, timeout),
            connector: tls::connector(&tls)?,
            cache_capacity: config.query_cache_size(),
        },
        Limits::server(
            postgres::max_connections(config),
            timeout,
            config.pool_recycle(),
            config.pool_pre_ping(),
        ),
        stale.clone(),
    );
    let sqlx = postgres::sqlx_pool(config, options, stale);
    Ok((PgPools { sqlx, engine }, Keeper::none()))
}

/// `%XX` escapes of a URI part decoded (a password with `@` or `/` in it).
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// tokio-postgres's settings for the server sqlx's `options` name (host, port or socket, user,
/// database, `application_name`, `server_settings`), with the URI's password.
pub(crate) fn client_config(
    options: &sqlx::postgres::PgConnectOptions,
    url: &url::Url,
    connect_timeout: Duration,
) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    match options.get_socket() {
        Some(socket) => {
            config.host_path(socket);
        }
        None => {
            config.host(options.get_host());
        }
    }
    config
        .port(options.get_port())
        .user(options.get_username())
        .connect_timeout(connect_timeout);
    if let Some(password) = url.password() {
        config.password(percent_decode(password));
    }
    if let Some(database) = options.get_database() {
        config.dbname(database);
    }
    if let Some(name) = options.get_application_name() {
        config.application_name(name);
    }
    if let Some(settings) = options.get_options() {
        config.options(settings);
    }
    config
}
