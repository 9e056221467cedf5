//! The MySQL and MariaDB executor on mysql_async (issue 24), behind the `mysql-async` feature.
//!
//! Measured beside sqlx-mysql in the service benchmark, mysql_async answered 1.4 times as many
//! requests at 0.7 times the CPU: sqlx pays a pool checkout future of 18 KB, a statement
//! logger and a result stream per statement. Here statements run on mysql_async connections:
//!
//! - **Binary protocol, prepared once.** Each connection keeps its prepared statements (at
//!   most `query_cache_size`, mysql_async's per-connection cache keyed by SQL text), so a cached
//!   statement runs in one round trip. Without a cache (`query_cache_size = 0`, or a statement
//!   the library runs unprepared) a statement is prepared, run and closed. Scripts (several
//!   statements in one text query, `run_script`) and transaction control go as text.
//! - **Rows decoded as sqlx decodes them** (`row.rs`): the same SQL types accepted for each
//!   Rust type, the same errors; server errors carry the same number, SQLSTATE and message
//!   (`error.rs`), so every error kind, constraint name and redaction is unchanged.
//! - **Cancellation.** A statement's future dropped half-way leaves its connection in an unknown
//!   place of the protocol: the connection is closed, never handed to the next caller. A
//!   connection given back inside a transaction (a session dropped mid-way) is rolled back by a
//!   task of its own, holding its pool slot, before anyone else may take it; if that fails it
//!   is closed.
//! - **Sessions as sqlx opens them**: `sql_mode` with `PIPES_AS_CONCAT` and
//!   `NO_ENGINE_SUBSTITUTION`, `time_zone = '+00:00'`, `NAMES` in the configured charset,
//!   found rows (not changed rows) as the rows an `UPDATE` affected, `isolation_level`.
//!
//! The pool: at most `pool_size + max_overflow` connections, opened on demand (a refused or
//! silent server is tried again until `pool_timeout`), checked before use with
//! `pool_pre_ping`, replaced past `pool_recycle`, after 10 minutes idle and after an
//! invalidation of the host; a connection that sent a statement larger than 128 KB is closed
//! when its session ends (see `mysql::RETIRE_ABOVE`). sqlx's pool is built beside it, lazily,
//! for `AsyncDatabase::mysql_pool()`.
//!
//! TLS (`tls.rs`) is rustls in every build with a TLS feature: mysql_async cannot be built with
//! both of its TLS backends, and `--all-features` turns on both of this crate's.

pub(crate) mod bind;
pub(crate) mod error;
pub(crate) mod row;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::{Protocol, Queryable};
use mysql_async::{Conn, QueryResult};
use sea_query::Values;
use tokio::sync::OwnedSemaphorePermit;

use super::engine_pool::{self, EnginePool, Limits, ServerLink};
use super::mysql;
use super::vocabulary::{Keeper, Outcome, RunError};
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::row::RowRef;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect::health::{Health, Staleness};
use crate::async_database_functions::dialect::row_channel::RowSender;
use error::to_sqlx;
use row::MyEngineRow;

/// How to open connections.
pub(crate) struct Target {
    pub opts: mysql_async::Opts,
    /// `sslmode=prefer`/`allow`: the options without TLS, tried when the server has none.
    pub plain_fallback: Option<mysql_async::Opts>,
    pub cache_capacity: usize,
}

/// The executor's pool of mysql_async connections.
type Inner = EnginePool<Conn>;

/// One open connection, with the times the pool keeps of it.
type Link = engine_pool::Entry<Conn>;

impl engine_pool::Link for Conn {
    type Extra = Target;

    fn is_lost(&self) -> bool {
        self.is_disconnected()
    }

    /// Says goodbye to the server in a task of its own (without reading anything first: its
    /// place in the protocol may be unknown), or is dropped, which closes its socket.
    fn close_for_good(self) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(1), self.disconnect()).await;
            });
        }
    }
}

impl ServerLink for Conn {
    type ConnectError = mysql_async::Error;

    /// Opens one connection: with TLS when asked, in plain text when TLS is only preferred
    /// and the server has none.
    async fn connect(target: &Target) -> Result<Conn, mysql_async::Error> {
        match Conn::new(target.opts.clone()).await {
            Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            )) if target.plain_fallback.is_some() => {
                let plain = target.plain_fallback.clone().unwrap_or_default();
                Conn::new(plain).await
            }
            opened => opened,
        }
    }

    /// As sqlx's pool retries: not for what the server answered (a wrong password, a missing
    /// database), nor for TLS or a bad URL.
    fn retry_connect(e: &mysql_async::Error) -> bool {
        matches!(e, mysql_async::Error::Io(mysql_async::IoError::Io(_)))
    }

    fn connect_error(e: mysql_async::Error) -> sqlx::Error {
        to_sqlx(e)
    }

    /// Boxed: mysql_async's ping is a future every acquire's would otherwise carry.
    async fn answers_ping(&mut self, deadline: tokio::time::Instant) -> bool {
        let pinged = tokio::time::timeout_at(deadline, Box::pin(Conn::ping(self))).await;
        matches!(pinged, Ok(Ok(())))
    }

    async fn roll_back(&mut self) -> bool {
        self.query_drop("ROLLBACK").await.is_ok()
    }
}

/// The executor's connection pool.
#[derive(Clone)]
pub(crate) struct MyEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyEngine")
            .field("open", &self.inner.open_count())
            .field("max", &self.inner.max_connections())
            .finish_non_exhaustive()
    }
}

impl MyEngine {
    pub(crate) fn new(target: Target, limits: Limits, stale: Arc<Staleness>) -> Self {
        MyEngine {
            inner: Arc::new(EnginePool::new(target, limits, stale)),
        }
    }

    /// An idle connection taken at once, when handing it out needs no check (no
    /// `pool_pre_ping`): `None` otherwise.
    pub(crate) fn try_acquire(&self) -> Option<MyConn> {
        let (link, permit) = self.inner.try_take()?;
        Some(self.conn(link, permit))
    }

    /// Takes a connection, waiting at most `pool_timeout` for a free one (or for the server to
    /// accept a new one).
    pub(crate) async fn acquire(&self) -> Result<MyConn, sqlx::Error> {
        let (link, permit) = self.inner.acquire().await?;
        Ok(self.conn(link, permit))
    }

    fn conn(&self, link: Link, permit: OwnedSemaphorePermit) -> MyConn {
        MyConn {
            link: Some(link),
            pool: self.inner.clone(),
            permit: Some(permit),
            in_tx: false,
            busy: false,
            close: false,
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

/// A connection taken from the pool, back to it when dropped (after a rollback if it may be
/// inside a transaction; closed if a statement was cut short on it).
pub(crate) struct MyConn {
    link: Option<Link>,
    pool: Arc<Inner>,
    permit: Option<OwnedSemaphorePermit>,
    /// A transaction may be open: set before `START TRANSACTION` is sent, cleared only once
    /// `COMMIT` or `ROLLBACK` has answered.
    in_tx: bool,
    /// A statement is on the wire or its result is being read: set before anything is sent,
    /// cleared once the whole response has been read. A connection dropped while busy is
    /// closed.
    busy: bool,
    close: bool,
}

fn lost() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the connection was closed",
    ))
}

impl Drop for MyConn {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let permit = self.permit.take();
            self.pool
                .give_back(link, permit, self.busy || self.close, self.in_tx);
        }
    }
}

/// A connection whose send is under way (see [`MyConn::busy`]).
macro_rules! on_wire {
    ($self:ident, $conn:ident => $body:expr) => {{
        $self.busy = true;
        let $conn = match $self.link.as_mut() {
            Some(link) => &mut link.conn,
            None => return Err(lost().into()),
        };
        let result = $body;
        // A lost connection is not reused; any other error left it ready for the next
        // statement (a server error ends the response; rows are read to the end).
        $self.busy = false;
        if $self.link.as_ref().is_none_or(|l| l.conn.is_disconnected()) {
            $self.close = true;
        }
        result
    }};
}

/// The columns of the result's next set (empty for a statement without rows), `None` once
/// every set has been read. A later statement of a script that failed is reported here: the
/// driver keeps its error as the pending result.
async fn next_set<P: Protocol>(
    result: &mut QueryResult<'_, 'static, P>,
) -> Result<Option<Arc<[mysql_async::Column]>>, sqlx::Error> {
    match result.columns() {
        Some(columns) => Ok(Some(columns)),
        None => {
            // Nothing pending, or an error: `next` returns it.
            result.next().await.map_err(to_sqlx)?;
            Ok(None)
        }
    }
}

/// Reads every result of a statement or script: each row decoded as `T` (the rest read past
/// a row that does not decode, so the connection is ready for the next statement), the rows
/// affected and the inserted id of every statement.
async fn outcome_of<P: Protocol, T: FromRow>(
    result: &mut QueryResult<'_, 'static, P>,
) -> Result<Outcome<T>, RunError> {
    let mut outcome = Outcome {
        rows: Vec::new(),
        rows_affected: 0,
        last_insert_id: None,
    };
    let mut undecoded = None;
    while let Some(columns) = next_set(result).await? {
        if columns.is_empty() {
            // An OK packet: the statement's counts are the connection's now.
            outcome.rows_affected += result.affected_rows();
            if let Some(id) = result
                .last_insert_id()
                .and_then(|id| i64::try_from(id).ok())
                .filter(|id| *id != 0)
            {
                outcome.last_insert_id = Some(id);
            }
        }
        while let Some(row) = result.next().await.map_err(to_sqlx)? {
            if undecoded.is_none() {
                match T::from_row(RowRef::new(&MyEngineRow(&row))) {
                    Ok(value) => outcome.rows.push(value),
                    Err(e) => undecoded = Some(e),
                }
            }
        }
    }
    match undecoded {
        Some(e) => Err(RunError::Decode(e)),
        None => Ok(outcome),
    }
}

/// Reads a result's first row decoded as `T`, and the rest of the result to its end.
async fn first_of<P: Protocol, T: FromRow>(
    result: &mut QueryResult<'_, 'static, P>,
) -> Result<Option<T>, RunError> {
    let mut first = None;
    let mut undecoded = None;
    while next_set(result).await?.is_some() {
        while let Some(row) = result.next().await.map_err(to_sqlx)? {
            if first.is_none() && undecoded.is_none() {
                match T::from_row(RowRef::new(&MyEngineRow(&row))) {
                    Ok(value) => first = Some(value),
                    Err(e) => undecoded = Some(e),
                }
            }
        }
    }
    match undecoded {
        Some(e) => Err(RunError::Decode(e)),
        None => Ok(first),
    }
}

/// What to do with a prepared statement's result.
enum Read<'a, T> {
    All(&'a mut Option<Outcome<T>>),
    First(&'a mut Option<Option<T>>),
    Stream(&'a RowSender<T>, &'a mut u64),
}

/// Reads a result as `read` says.
async fn read_into<P: Protocol, T: FromRow>(
    result: &mut QueryResult<'_, 'static, P>,
    read: Read<'_, T>,
) -> Result<(), RunError> {
    match read {
        Read::All(out) => *out = Some(outcome_of(result).await?),
        Read::First(out) => *out = Some(first_of(result).await?),
        Read::Stream(rows, sent) => {
            let mut undecoded = None;
            while next_set(result).await?.is_some() {
                while let Some(row) = result.next().await.map_err(to_sqlx)? {
                    if undecoded.is_none() {
                        match T::from_row(RowRef::new(&MyEngineRow(&row))) {
                            Ok(value) => rows.yield_row(value, sent).await,
                            Err(e) => undecoded = Some(e),
                        }
                    }
                }
            }
            if let Some(e) = undecoded {
                return Err(RunError::Decode(e));
            }
        }
    }
    Ok(())
}

/// Runs `sql` with `params` as a prepared statement: from the connection's cache with `cached`,
/// else prepared, run and closed.
async fn execute<T: FromRow>(
    conn: &mut Conn,
    sql: &str,
    params: mysql_async::Params,
    cached: bool,
    read: Read<'_, T>,
) -> Result<(), RunError> {
    if cached {
        let mut result = conn.exec_iter(sql, params).await.map_err(to_sqlx)?;
        return read_into(&mut result, read).await;
    }
    let statement = conn.prep(sql).await.map_err(to_sqlx)?;
    let read = match conn.exec_iter(&statement, params).await {
        Ok(mut result) => read_into(&mut result, read).await,
        Err(e) => Err(RunError::Driver(to_sqlx(e))),
    };
    // Closed on the server whatever the statement did (a refused insert too), unless the
    // connection is gone.
    if !conn.is_disconnected() {
        conn.close(statement).await.map_err(to_sqlx)?;
    }
    read
}

impl MyConn {
    fn cached(&self, persistent: bool) -> bool {
        persistent && self.pool.extra.cache_capacity > 0
    }

    /// Notes a statement's size: a connection that sent a large one (its SQL or, about, its
    /// bound values, sent in a packet of their own) is closed when its session ends (see
    /// `mysql::RETIRE_ABOVE`).
    fn sending(&mut self, sql: &str, params: &mysql_async::Params) {
        let values = match params {
            mysql_async::Params::Positional(values) => values
                .iter()
                .map(|v| match v {
                    mysql_async::Value::Bytes(b) => b.len(),
                    _ => 8,
                })
                .sum(),
            _ => 0,
        };
        if let Some(max) = mysql::RETIRE_ABOVE
            && sql.len().max(values) > max
        {
            self.close = true;
        }
    }

    /// Runs one statement, decoding any rows it returns as `T`.
    pub(crate) async fn run<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Outcome<T>, RunError> {
        let params = bind::params(values.0).map_err(encode)?;
        self.sending(&sql, &params);
        let cached = self.cached(persistent);
        let mut out = None;
        on_wire!(self, conn => execute(conn, &sql, params, cached, Read::All(&mut out)).await)?;
        out.ok_or_else(|| RunError::Driver(lost()))
    }

    /// Runs a query and decodes only its first row (the rest is read to its end).
    pub(crate) async fn first<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Option<T>, RunError> {
        let params = bind::params(values.0).map_err(encode)?;
        self.sending(&sql, &params);
        let cached = self.cached(persistent);
        let mut out = None;
        on_wire!(self, conn => execute(conn, &sql, params, cached, Read::First(&mut out)).await)?;
        out.ok_or_else(|| RunError::Driver(lost()))
    }

    /// Runs a script: several statements in one text query, every statement's rows decoded as
    /// `T`; the server stops at the first statement that fails, and so does this.
    pub(crate) async fn run_script<T: FromRow>(
        &mut self,
        sql: String,
    ) -> Result<Outcome<T>, RunError> {
        self.sending(&sql, &mysql_async::Params::Empty);
        on_wire!(self, conn => {
            match conn.query_iter(sql.as_str()).await {
                Ok(mut result) => outcome_of(&mut result).await,
                Err(e) => Err(RunError::Driver(to_sqlx(e))),
            }
        })
    }

    /// Runs SQL without parameters, possibly several statements (DDL, transaction control).
    pub(crate) async fn run_raw(&mut self, sql: String) -> Result<(), sqlx::Error> {
        self.sending(&sql, &mysql_async::Params::Empty);
        on_wire!(self, conn => conn.query_drop(sql.as_str()).await.map_err(to_sqlx))
    }

    /// Starts a transaction (`START TRANSACTION READ ONLY` with `read_only`).
    pub(crate) async fn begin(&mut self, read_only: bool) -> Result<(), sqlx::Error> {
        self.in_tx = true;
        let sql = if read_only {
            "START TRANSACTION READ ONLY"
        } else {
            "START TRANSACTION"
        };
        on_wire!(self, conn => conn.query_drop(sql).await.map_err(to_sqlx))
    }

    /// Commits the open transaction.
    pub(crate) async fn commit(&mut self) -> Result<(), sqlx::Error> {
        on_wire!(self, conn => conn.query_drop("COMMIT").await.map_err(to_sqlx))?;
        self.in_tx = false;
        Ok(())
    }

    /// Rolls the open transaction back.
    pub(crate) async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        on_wire!(self, conn => conn.query_drop("ROLLBACK").await.map_err(to_sqlx))?;
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
        let params = bind::params(values.0).map_err(encode)?;
        self.sending(&sql, &params);
        let cached = self.cached(persistent);
        on_wire!(self, conn => execute(conn, &sql, params, cached, Read::Stream(rows, sent)).await)?;
        Ok(true)
    }
}

fn encode(e: bind::BindError) -> RunError {
    RunError::Driver(sqlx::Error::Encode(e))
}

/// The two pools of a MySQL/MariaDB database on this executor: the engine's, which runs the
/// library's statements, and sqlx's (lazy: it opens nothing until used), which
/// `AsyncDatabase::mysql_pool()` hands out.
#[derive(Clone, Debug)]
pub(crate) struct MyPools {
    pub(crate) sqlx: sqlx::MySqlPool,
    pub(crate) engine: MyEngine,
}

/// Builds the pools for `config`, to the server at `url` (one host of the URI); no connection
/// is opened. sqlx's options, TLS checks and pool settings are the sqlx executor's own.
pub(crate) async fn connect(
    config: &DBConfig,
    url: Option<&url::Url>,
    health: Arc<Health>,
    stale: Arc<Staleness>,
) -> Result<(MyPools, Keeper), DatabaseError> {
    let _ = health;
    let (options, native) = mysql::connect_options(config, url)?;
    let tls = super::connect::tls(config)?;
    let builder = builder(config, &options, &native);
    let (opts, plain_fallback) = tls::opts(builder, &tls)?;
    let engine = MyEngine::new(
        Target {
            opts,
            plain_fallback,
            cache_capacity: config.query_cache_size(),
        },
        Limits::server(
            mysql::max_connections(config),
            super::connect::acquire_timeout(config),
            config.pool_recycle(),
            config.pool_pre_ping(),
        ),
        stale.clone(),
    );
    let sqlx = mysql::sqlx_pool(config, options, stale);
    Ok((MyPools { sqlx, engine }, Keeper::none()))
}

/// `%XX` escapes of a URI part decoded (a password with `@` or `/` in it).
fn percent_decode(text: &str) -> String {
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
    String::from_utf8_lossy(&out).into_owned()
}

/// mysql_async's settings for the server sqlx's `options` name (host, port or socket, user,
/// database, charset), with the URI's password, and the session sqlx sets up on connect.
fn builder(
    config: &DBConfig,
    options: &sqlx::mysql::MySqlConnectOptions,
    url: &url::Url,
) -> mysql_async::OptsBuilder {
    let mut init = vec![format!(
        "SET sql_mode=(SELECT CONCAT(@@sql_mode, ',PIPES_AS_CONCAT,NO_ENGINE_SUBSTITUTION')),\
         time_zone='+00:00',NAMES {}{}",
        options.get_charset(),
        options
            .get_collation()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default()
    )];
    if let Some(level) = config.isolation_level() {
        init.push(format!(
            "SET SESSION TRANSACTION ISOLATION LEVEL {}",
            level.as_sql()
        ));
    }
    let mut builder = mysql_async::OptsBuilder::default()
        .ip_or_hostname(options.get_host())
        .tcp_port(options.get_port())
        .user(Some(options.get_username()))
        .pass(url.password().map(percent_decode))
        .db_name(options.get_database())
        .prefer_socket(false)
        .client_found_rows(true)
        .stmt_cache_size(config.query_cache_size())
        .init(init);
    if let Some(socket) = options.get_socket() {
        builder = builder.socket(Some(socket.to_string_lossy().into_owned()));
    }
    builder
}
