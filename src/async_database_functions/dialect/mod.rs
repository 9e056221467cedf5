//! Everything that differs between backends, and the one internal executor that talks to the
//! drivers.
//!
//! Each dialect file (`sqlite.rs`, `postgres.rs`, `mysql.rs`) says how its backend connects,
//! names its column types, renders server defaults and classifies its error codes. This module
//! dispatches to them and holds the executor: run one statement on one connection and decode
//! the rows as they stream in. Nothing outside `dialect/` matches on the backend.

// SQLite runs on its own engine executor (`sqlite_engine`): with it alone, the sqlx executor
// below serves no backend.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports)
)]

pub(crate) mod binds;
pub(crate) mod connect;
#[cfg(any(feature = "sqlite", feature = "pg-pipeline", feature = "mysql-async"))]
pub(crate) mod engine_pool;
pub(crate) mod errors;
pub(crate) mod health;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) mod hot;
pub(crate) mod ident;
#[cfg(feature = "mysql")]
mod literal;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql-async")]
pub(crate) mod mysql_engine;
#[cfg(feature = "pg-pipeline")]
pub(crate) mod pg_engine;
#[cfg(feature = "postgres")]
mod postgres;
pub(crate) mod row;
pub(crate) mod row_channel;
pub(crate) mod scan;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite_engine;
pub(crate) mod vocabulary;

pub(crate) use connect::acquire_timeout;
pub(crate) use vocabulary::{CommentStyle, Keeper, Outcome, RunError};

use futures_util::TryStreamExt;
use sea_query::{QueryStatementWriter, SchemaStatementBuilder, Values};
use sea_query_sqlx::SqlxValues;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use hot::{Hot, Pooled};
use sqlx::{AssertSqlSafe, Database, Either, Executor, IntoArguments};

use crate::async_database_functions::core::column::{Column, ServerDefault, SqlType};
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::row::RowRef;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect::health::{Health, Staleness};
use crate::async_database_functions::dialect::row_channel::RowSender;
use std::sync::Arc;

/// The driver a dialect runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    MySql,
}

impl Backend {
    /// The backend of `dialect`. `DBConfig` refuses dialects whose feature is off, so the
    /// fallback arm is never reached with a validated config.
    pub(crate) fn of(dialect: Dialect) -> Backend {
        match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Dialect::Postgresql | Dialect::Cockroachdb => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Dialect::Mysql | Dialect::Mariadb => Backend::MySql,
            #[allow(unreachable_patterns)]
            _ => unreachable_backend(),
        }
    }
}

#[cfg(feature = "sqlite")]
fn unreachable_backend() -> Backend {
    Backend::Sqlite
}
#[cfg(all(not(feature = "sqlite"), feature = "postgres"))]
fn unreachable_backend() -> Backend {
    Backend::Postgres
}
#[cfg(all(not(feature = "sqlite"), not(feature = "postgres"), feature = "mysql"))]
fn unreachable_backend() -> Backend {
    Backend::MySql
}

/// Runs `$body` with `$b` bound to the dialect module of `$backend`.
macro_rules! per_backend {
    ($backend:expr, $b:ident => $body:expr) => {
        match $backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                use sqlite as $b;
                $body
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                use postgres as $b;
                $body
            }
            #[cfg(feature = "mysql")]
            Backend::MySql => {
                use mysql as $b;
                $body
            }
        }
    };
}

/// A connection pool of one backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::Pools),
    #[cfg(feature = "postgres")]
    #[cfg_attr(feature = "pg-pipeline", allow(dead_code))]
    Postgres(sqlx::PgPool, Arc<Hot<sqlx::Postgres>>),
    /// PostgreSQL on the tokio-postgres executor (`pg-pipeline`).
    #[cfg(feature = "pg-pipeline")]
    PgEngine(pg_engine::PgPools),
    #[cfg(feature = "mysql")]
    #[cfg_attr(feature = "mysql-async", allow(dead_code))]
    MySql(sqlx::MySqlPool, Arc<Hot<sqlx::MySql>>),
    /// MySQL/MariaDB on the mysql_async executor (`mysql-async`).
    #[cfg(feature = "mysql-async")]
    MyEngine(mysql_engine::MyPools),
}

/// A connection taken from the pool.
pub(crate) enum Conn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite_engine::EngineConn),
    #[cfg(feature = "postgres")]
    #[cfg_attr(feature = "pg-pipeline", allow(dead_code))]
    Postgres(Pooled<sqlx::Postgres>),
    /// A connection of the tokio-postgres executor (`pg-pipeline`).
    #[cfg(feature = "pg-pipeline")]
    PgEngine(pg_engine::PgConn),
    #[cfg(feature = "mysql")]
    #[cfg_attr(feature = "mysql-async", allow(dead_code))]
    MySql(Pooled<sqlx::MySql>),
    /// A connection of the mysql_async executor (`mysql-async`).
    #[cfg(feature = "mysql-async")]
    MyEngine(mysql_engine::MyConn),
}

/// Runs `$engine` with `$e` bound to a SQLite engine connection, or `$body` with `$c` bound to
/// a sqlx pooled connection.
macro_rules! per_conn {
    ($conn:expr, $e:ident => $engine:expr, $c:ident => $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite($e) => $engine,
            #[cfg(feature = "pg-pipeline")]
            Conn::PgEngine($e) => $engine,
            #[cfg(feature = "mysql-async")]
            Conn::MyEngine($e) => $engine,
            #[cfg(feature = "postgres")]
            Conn::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            Conn::MySql($c) => $body,
        }
    };
}

impl Pool {
    /// Builds the pool for `config`; no connection is opened except SQLite's in-memory keeper.
    /// Builds the pool for `config`, to the server at `url` (one host of the URI; `None` for
    /// SQLite); no connection is opened except SQLite's in-memory keeper.
    /// `stale` is the host's own invalidation state (see [`Staleness`]).
    pub(crate) async fn connect(
        config: &DBConfig,
        url: Option<&url::Url>,
        health: Arc<Health>,
        stale: Arc<Staleness>,
    ) -> Result<(Pool, Keeper), DatabaseError> {
        Ok(match Backend::of(config.dialect()) {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let (pools, keeper) = sqlite::connect(config, url, health, stale).await?;
                (Pool::Sqlite(pools), keeper)
            }
            #[cfg(feature = "pg-pipeline")]
            Backend::Postgres => {
                let _ = health;
                let (pools, keeper) = pg_engine::connect(config, url, stale).await?;
                (Pool::PgEngine(pools), keeper)
            }
            #[cfg(all(feature = "postgres", not(feature = "pg-pipeline")))]
            Backend::Postgres => {
                let (pool, hot) = postgres::connect(config, url, health, stale).await?;
                (Pool::Postgres(pool, hot), Keeper::none())
            }
            #[cfg(feature = "mysql-async")]
            Backend::MySql => {
                let (pools, keeper) = mysql_engine::connect(config, url, health, stale).await?;
                (Pool::MyEngine(pools), keeper)
            }
            #[cfg(all(feature = "mysql", not(feature = "mysql-async")))]
            Backend::MySql => {
                let (pool, hot) = mysql::connect(config, url, health, stale).await?;
                (Pool::MySql(pool, hot), Keeper::none())
            }
        })
    }

    /// An idle connection of a server's pool taken at once, when handing it out needs no check
    /// (no `pool_pre_ping`, no `pool_recycle`, no stale connection left: sqlx's `try_acquire`
    /// skips the `before_acquire` and `test_before_acquire` hooks that do those checks). After
    /// an invalidation of the host, the first call closes every idle connection (all opened
    /// before it, or soon after) and returns `None`; from then on the fast path is back (the
    /// connections in use at the invalidation are closed as they come back: [`hot::Pooled`]).
    /// Without it every acquire builds sqlx's acquire future and copies its 14–18 KB into a
    /// box (callgrind: ~14 000 instructions of a PostgreSQL point read). `None`: acquire.
    ///
    /// A hot connection (see [`hot`]) comes first.
    pub(crate) fn try_acquire_idle(&self, config: &DBConfig) -> Option<Conn> {
        match self {
            #[cfg(feature = "sqlite")]
            // The engine's own acquire takes an idle connection without a future to copy.
            Pool::Sqlite(_) => {
                let _ = config;
                None
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(p, hot) => idle(p, hot, config).map(Conn::Postgres),
            #[cfg(feature = "pg-pipeline")]
            Pool::PgEngine(p) => p.engine.try_acquire().map(Conn::PgEngine),
            #[cfg(feature = "mysql")]
            Pool::MySql(p, hot) => idle(p, hot, config).map(Conn::MySql),
            #[cfg(feature = "mysql-async")]
            Pool::MyEngine(p) => p.engine.try_acquire().map(Conn::MyEngine),
        }
    }

    /// A connection shared with other reads outside transactions, taken at once, where the
    /// executor shares them (PostgreSQL on the tokio-postgres executor: its lanes, see
    /// `pg_engine`); `None` elsewhere (the caller acquires one of its own).
    #[cfg(feature = "pg-pipeline")]
    pub(crate) fn try_acquire_shared(&self) -> Option<Conn> {
        match self {
            Pool::PgEngine(p) => p.engine.try_shared().map(Conn::PgEngine),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Takes a connection, waiting at most `pool_timeout`.
    ///
    /// sqlx's acquire futures hold its connect future inline (14 KB for PostgreSQL, 18 KB for
    /// MySQL): boxed, they are copied once, not at every level of every caller's future.
    ///
    /// With `full` (the pool has every connection open, so only one coming back can serve the
    /// caller), a server pool's caller also takes a connection handed straight from the hot
    /// stack ([`Hot::handed`]), whichever comes first. Not while sqlx opens a connection for
    /// the caller: giving that up half-way would waste the connect.
    pub(crate) async fn acquire(&self, full: bool) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            #[cfg(feature = "sqlite")]
            // The engine's acquire future is small (no connect future inside): not boxed.
            Pool::Sqlite(p) => {
                let _ = full;
                Conn::Sqlite(p.engine.acquire().await?)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(p, hot) => Conn::Postgres(acquire_on(p, hot, full).await?),
            #[cfg(feature = "pg-pipeline")]
            Pool::PgEngine(p) => {
                let _ = full;
                Conn::PgEngine(p.engine.acquire().await?)
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(p, hot) => Conn::MySql(acquire_on(p, hot, full).await?),
            #[cfg(feature = "mysql-async")]
            Pool::MyEngine(p) => {
                let _ = full;
                Conn::MyEngine(p.engine.acquire().await?)
            }
        })
    }

    /// Closes every connection, waiting for those in use to come back.
    pub(crate) async fn close(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => {
                p.engine.close().await;
                p.sqlx.close().await;
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(p, hot) => {
                hot.turn_off();
                p.close().await
            }
            #[cfg(feature = "pg-pipeline")]
            Pool::PgEngine(p) => {
                p.engine.close().await;
                p.sqlx.close().await;
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(p, hot) => {
                hot.turn_off();
                p.close().await
            }
            #[cfg(feature = "mysql-async")]
            Pool::MyEngine(p) => {
                p.engine.close().await;
                p.sqlx.close().await;
            }
        }
    }

    /// The most connections this pool opens.
    pub(crate) fn max_connections(&self) -> u32 {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => p.engine.max_connections(),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p, _) => p.options().get_max_connections(),
            #[cfg(feature = "pg-pipeline")]
            Pool::PgEngine(p) => p.engine.max_connections(),
            #[cfg(feature = "mysql")]
            Pool::MySql(p, _) => p.options().get_max_connections(),
            #[cfg(feature = "mysql-async")]
            Pool::MyEngine(p) => p.engine.max_connections(),
        }
    }

    /// (open connections, idle connections); hot connections count as idle.
    pub(crate) fn stats(&self) -> (u32, usize) {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => p.engine.stats(),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p, hot) => (p.size(), p.num_idle() + hot.len()),
            #[cfg(feature = "pg-pipeline")]
            Pool::PgEngine(p) => p.engine.stats(),
            #[cfg(feature = "mysql")]
            Pool::MySql(p, hot) => (p.size(), p.num_idle() + hot.len()),
            #[cfg(feature = "mysql-async")]
            Pool::MyEngine(p) => p.engine.stats(),
        }
    }

    /// Turns hot connections off for good: the raw pool is handed out, and its users acquire
    /// from sqlx's pool alone.
    pub(crate) fn hand_out(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => {}
            #[cfg(feature = "postgres")]
            Pool::Postgres(_, hot) => hot.turn_off(),
            #[cfg(feature = "pg-pipeline")]
            Pool::PgEngine(_) => {}
            #[cfg(feature = "mysql")]
            Pool::MySql(_, hot) => hot.turn_off(),
            #[cfg(feature = "mysql-async")]
            Pool::MyEngine(_) => {}
        }
    }
}

/// A statement rendered for one dialect: SQL text and the values to bind.
pub(crate) struct Built {
    pub sql: String,
    pub values: Values,
}

/// Renders a sea-query statement for `dialect`.
pub(crate) fn build_query<S: QueryStatementWriter>(dialect: Dialect, statement: &S) -> Built {
    let (sql, values) = per_backend!(Backend::of(dialect), b => statement.build(b::QUERY_BUILDER));
    Built { sql, values }
}

/// Renders a sea-query schema statement for `dialect`.
pub(crate) fn build_schema<S: SchemaStatementBuilder>(dialect: Dialect, statement: &S) -> String {
    per_backend!(Backend::of(dialect), b => statement.build(b::QUERY_BUILDER))
}

/// The SQL type of a column on `dialect`.
pub(crate) fn column_type_sql(dialect: Dialect, column: &Column) -> String {
    per_backend!(Backend::of(dialect), b => b::type_sql(column))
}

/// The SQL of a server-side default on `dialect`, if it has one.
pub(crate) fn server_default_sql(
    dialect: Dialect,
    default: ServerDefault,
    ty: SqlType,
) -> Option<&'static str> {
    per_backend!(Backend::of(dialect), b => b::server_default_sql(default, ty))
}

/// Whether the dialect keeps column comments, and how: `true` for inline `COMMENT '...'`.
pub(crate) fn comment_style(dialect: Dialect) -> CommentStyle {
    per_backend!(Backend::of(dialect), b => b::COMMENT_STYLE)
}

/// A query listing the base tables of the current database/schema, one name per row.
pub(crate) fn list_tables_sql(dialect: Dialect) -> &'static str {
    per_backend!(Backend::of(dialect), b => b::LIST_TABLES)
}

/// A bulk insert's values bound as one array per column (PostgreSQL's `UNNEST` insert): the
/// element type of each column's array. Only [`unnest_insert`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct ColumnArrays(#[cfg(feature = "postgres")] Vec<postgres::ArrayKind>);

/// The dialect's faster form of a multi-row insert, if it has one: its SQL, and how the
/// values (row after row, as given) are bound to it.
pub(crate) fn unnest_insert(
    dialect: Dialect,
    table: &str,
    columns: &[&Column],
    values: &[sea_query::Value],
    upsert: Option<(&[&str], &[&str])>,
    returning: &[&str],
) -> Option<(String, ColumnArrays)> {
    match Backend::of(dialect) {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            postgres::unnest_insert(dialect, table, columns, values, upsert, returning)
                .map(|(sql, kinds)| (sql, ColumnArrays(kinds)))
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (table, columns, values, upsert, returning);
            None
        }
    }
}

/// A bulk insert's COPY form: the table and columns of `COPY … FROM STDIN (FORMAT binary)`.
/// Only [`bulk_copy`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BulkCopy {
    /// `COPY "t" ("a", …) FROM STDIN (FORMAT binary)`.
    pub sql: String,
    /// `SELECT "a", … FROM "t" LIMIT 0`: the columns' types.
    pub probe: String,
    pub width: usize,
}

/// The COPY form of a plain multi-row insert of `rows` rows (no upsert, nothing returned),
/// where it is faster than the dialect's insert: PostgreSQL on the tokio-postgres executor
/// (`pg-pipeline`), from `COPY_MIN_ROWS` rows (see `pg_engine/copy.rs` for the measurements).
/// The executor decides at run time whether the values allow it ([`Conn::copy_in`]).
pub(crate) fn bulk_copy(
    dialect: Dialect,
    table: &'static str,
    columns: &[&'static Column],
    rows: usize,
) -> Option<BulkCopy> {
    #[cfg(feature = "pg-pipeline")]
    if dialect == Dialect::Postgresql && rows >= pg_engine::copy::COPY_MIN_ROWS {
        let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
        let (sql, probe) = pg_engine::copy::statements(table, &names);
        return Some(BulkCopy {
            sql,
            probe,
            width: names.len(),
        });
    }
    let _ = (dialect, table, columns, rows);
    None
}

/// The clause that selects the rows of many `keys` with one array parameter, where the dialect
/// binds arrays (PostgreSQL: ` WHERE t.key = ANY($1::text[])`), and how the keys are bound.
/// `None` elsewhere: the keys then go in `IN (…)` lists, chunked under the bind limit.
pub(crate) fn any_key_clause(
    dialect: Dialect,
    table: &str,
    key: &Column,
    keys: &[sea_query::Value],
) -> Option<(String, ColumnArrays)> {
    match Backend::of(dialect) {
        #[cfg(feature = "postgres")]
        Backend::Postgres => postgres::any_key_clause(table, key, keys)
            .map(|(sql, kinds)| (sql, ColumnArrays(kinds))),
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (table, key, keys);
            None
        }
    }
}

/// The dialect's one-statement update of many rows, each with its own values (PostgreSQL:
/// `UPDATE … FROM unnest(…)`), and how the values (row after row: the key, then one per
/// column) are bound. `None` elsewhere. With `alone`, the statement is to run outside a
/// transaction: on PostgreSQL it then updates every row or none by itself.
pub(crate) fn unnest_update(
    dialect: Dialect,
    table: &str,
    key: &Column,
    columns: &[&Column],
    values: &[sea_query::Value],
    alone: bool,
) -> Option<(String, ColumnArrays)> {
    match Backend::of(dialect) {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            // The guarded form on PostgreSQL; CockroachDB's is left as it was, untested with it.
            let guarded = alone && dialect == Dialect::Postgresql;
            postgres::unnest_update(table, key, columns, values, guarded)
                .map(|(sql, kinds)| (sql, ColumnArrays(kinds)))
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (table, key, columns, values, alone);
            None
        }
    }
}

/// Whether `error` may be the guard of [`unnest_update`]'s all-or-none statement refusing a
/// batch with a key that has no row (SQLSTATE 22P02). The caller counts the rows to be sure:
/// under `hide_parameters` the message that says so is scrubbed.
pub(crate) fn update_guard_refused(error: &DatabaseError) -> bool {
    error.code() == Some("22P02")
}

/// Whether many rows, each with its own values, are updated in one statement of `CASE key
/// WHEN … THEN … END` per column (MySQL/MariaDB, which have no `UPDATE … FROM` of a list of
/// rows); elsewhere without [`unnest_update`] (SQLite), one prepared update per row, in one
/// transaction, which the engine runs as fast as it parses a `CASE`.
pub(crate) fn update_case_batches(dialect: Dialect) -> bool {
    match Backend::of(dialect) {
        #[cfg(feature = "mysql")]
        Backend::MySql => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Appends the clause that turns a multi-row insert into an upsert: on a conflict on `keys`,
/// the row's `updated` columns take the inserted values.
pub(crate) fn push_upsert(dialect: Dialect, sql: &mut String, keys: &[&str], updated: &[&str]) {
    per_backend!(Backend::of(dialect), b => b::push_upsert(sql, keys, updated))
}

/// Appends `name` quoted as an identifier of `dialect` (quotes inside doubled).
pub(crate) fn push_ident(dialect: Dialect, sql: &mut String, name: &str) {
    ident::push_quoted(
        per_backend!(Backend::of(dialect), b => b::IDENT_QUOTE),
        sql,
        name,
    )
}

/// Appends `names` as quoted identifiers of `dialect` separated by `", "` (a column list).
pub(crate) fn push_ident_list<'a>(
    dialect: Dialect,
    sql: &mut String,
    names: impl IntoIterator<Item = &'a str>,
) {
    let quote = per_backend!(Backend::of(dialect), b => b::IDENT_QUOTE);
    ident::push_quoted_list(quote, sql, names)
}

/// Appends the placeholder of the `n`th (1-based) bound value, without allocating.
pub(crate) fn push_placeholder(dialect: Dialect, sql: &mut String, n: usize) {
    per_backend!(Backend::of(dialect), b => b::push_placeholder(sql, n))
}

/// The most values one statement may bind.
pub(crate) fn max_bind_parameters(dialect: Dialect) -> usize {
    per_backend!(Backend::of(dialect), b => b::MAX_BIND_PARAMETERS)
}

/// How many rows one multi-row statement of `columns` columns carries: as many as the bind
/// limit allows and, on a backend that retires a connection after a large statement (MySQL,
/// see [`hot`]), a power of two of rows whose values stay under that size (`row_bytes`: the
/// values of the largest row, asked only there). A power of two, so that inserts of similar
/// rows render the same SQL and reuse its prepared statement.
pub(crate) fn rows_per_statement(
    dialect: Dialect,
    columns: usize,
    row_bytes: impl FnOnce() -> usize,
) -> usize {
    let by_binds = (max_bind_parameters(dialect) / columns.max(1)).max(1);
    match per_backend!(Backend::of(dialect), b => b::RETIRE_ABOVE) {
        Some(budget) => {
            let fit = (budget / row_bytes().max(1)).max(1);
            by_binds.min(1 << fit.ilog2())
        }
        None => by_binds,
    }
}

/// Whether `INSERT … RETURNING` is understood (MySQL has none; MariaDB's is not assumed, as
/// `mysql://` may be either).
pub(crate) fn insert_returning(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::INSERT_RETURNING)
}

/// Whether `UPDATE … RETURNING` is understood (not by MySQL/MariaDB).
pub(crate) fn update_returning(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::INSERT_RETURNING)
}

/// Appends `value` as a literal for a script (several statements sent as one text query, in
/// one round trip: see [`Conn::run_script`]); `false`, with `sql` unchanged, where the dialect
/// sends no scripts (only MySQL/MariaDB do: the others have `UPDATE … RETURNING`) or the value
/// has no literal that is safe in every SQL mode (see `literal.rs`).
pub(crate) fn push_literal(dialect: Dialect, sql: &mut String, value: &sea_query::Value) -> bool {
    match Backend::of(dialect) {
        #[cfg(feature = "mysql")]
        Backend::MySql => literal::push(sql, value),
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (sql, value);
            false
        }
    }
}

/// Appends `column` to the `SELECT` list of a script, read back as exactly as a bound
/// statement reads it (see `literal.rs`); elsewhere the quoted name.
pub(crate) fn push_script_column(dialect: Dialect, sql: &mut String, column: &Column) {
    let ident = |sql: &mut String, name: &str| push_ident(dialect, sql, name);
    match Backend::of(dialect) {
        #[cfg(feature = "mysql")]
        Backend::MySql => literal::push_column(sql, column.name, column.sql_type, ident),
        #[allow(unreachable_patterns)]
        _ => ident(sql, column.name),
    }
}

/// Adjusts bound values to what the backend's driver handles uniformly (see
/// `postgres::normalize_values`).
///
/// # Errors
///
/// Invalid input for a value the backend cannot bind: an unsigned integer above `i64::MAX`
/// on SQLite and PostgreSQL, whose integers are signed (the driver would panic).
pub(crate) fn normalize_values(dialect: Dialect, values: &mut Values) -> Result<(), DatabaseError> {
    if !per_backend!(Backend::of(dialect), b => b::UNSIGNED_64) {
        for (n, value) in values.0.iter_mut().enumerate() {
            if let sea_query::Value::BigUnsigned(Some(v)) = value {
                let signed = i64::try_from(*v).map_err(|_| {
                    DatabaseError::invalid_input(format!(
                        "bound value {} is an unsigned integer above {}, which {dialect} cannot \
                         store",
                        n + 1,
                        i64::MAX
                    ))
                })?;
                *value = sea_query::Value::BigInt(Some(signed));
            }
        }
    }
    per_backend!(Backend::of(dialect), b => b::normalize_values(values))
}

/// Makes `sql` name the types of `values` where the backend caches a prepared statement's
/// parameter types with it (PostgreSQL): the same `text()` bound once with a string and once
/// with bytes must not meet the other's cached statement.
pub(crate) fn key_by_types(dialect: Dialect, sql: &mut String, values: &Values) {
    per_backend!(Backend::of(dialect), b => b::key_by_types(sql, values))
}

/// Whether a read of one row needs `LIMIT 1` for the server to stop producing rows (not on
/// SQLite, whose driver stops stepping after the first row).
/// A query whose one `BIGINT` column is 1 when the server refuses writes (a standby, a
/// read-only server), else 0; `None` where there is one server only (SQLite).
pub(crate) fn role_sql(dialect: Dialect) -> Option<&'static str> {
    per_backend!(Backend::of(dialect), b => b::ROLE_SQL)
}

/// A query whose one text column is the WAL position a replica has replayed
/// (`pg_last_wal_replay_lsn()`), and one for the primary's current position; `None` where
/// the dialect has no replicas here.
pub(crate) fn replay_position_sql(dialect: Dialect) -> Option<&'static str> {
    per_backend!(Backend::of(dialect), b => b::REPLAY_POSITION_SQL)
}

/// See [`replay_position_sql`]: the primary's current WAL position.
pub(crate) fn write_position_sql(dialect: Dialect) -> Option<&'static str> {
    per_backend!(Backend::of(dialect), b => b::WRITE_POSITION_SQL)
}

/// Whether `code` (SQLSTATE or error number) says the server refused a write because it is
/// read-only (a standby, or a primary demoted since the session began).
pub(crate) fn is_read_only_error(dialect: Dialect, code: &str) -> bool {
    per_backend!(Backend::of(dialect), b => b::READ_ONLY_CODES.contains(&code))
}

pub(crate) fn limit_first_row(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::LIMIT_FIRST_ROW)
}

/// The server's port when the URI names none (`None` for SQLite).
pub(crate) fn default_port(dialect: Dialect) -> Option<u16> {
    match Backend::of(dialect) {
        #[cfg(feature = "postgres")]
        Backend::Postgres if dialect == Dialect::Cockroachdb => Some(26257),
        #[allow(unreachable_patterns)]
        backend => per_backend!(backend, b => b::DEFAULT_PORT),
    }
}

/// Which lexical rules `text()`'s `:name` scanner follows for `dialect`.
pub(crate) fn text_syntax(
    dialect: Dialect,
) -> crate::async_database_functions::dialect::scan::Syntax {
    per_backend!(Backend::of(dialect), b => b::TEXT_SYNTAX)
}

/// Whether DDL runs inside a transaction (MySQL/MariaDB commit each DDL statement).
pub(crate) fn transactional_ddl(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::TRANSACTIONAL_DDL)
}

/// Whether a `Begin::ReadOnly` session's transaction is read only on the server (so it never
/// wrote anything, and a connection lost during its COMMIT lost nothing).
pub(crate) fn read_only_transactions(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::READ_ONLY_TRANSACTIONS)
}

/// Whether `paginate_query` reads the page and the total on two connections at once: a
/// server runs the two statements side by side, so the call takes as long as the slower one
/// instead of both (SQLite runs them one after the other).
pub(crate) fn concurrent_page(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::CONCURRENT_PAGE)
}

/// Whether `CREATE INDEX IF NOT EXISTS` is understood.
pub(crate) fn index_if_not_exists(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::INDEX_IF_NOT_EXISTS)
}

/// A bound value as a SQL literal of `dialect` (`'red'`, `42`, `NULL`), for statement logs.
pub(crate) fn value_sql(dialect: Dialect, value: &sea_query::Value) -> String {
    use sea_query::QueryBuilder;
    per_backend!(Backend::of(dialect), b => b::QUERY_BUILDER.value_to_string(value))
}

/// Turns a driver error into a [`DatabaseError`] by the rules of `config`'s backend (see
/// [`errors::map_with`]).
pub(crate) fn map_error(config: &DBConfig, error: sqlx::Error) -> DatabaseError {
    per_backend!(Backend::of(config.dialect()), b => errors::map_with::<b::Errors>(config, error))
}

/// The most connections a pool of `config` opens.
pub(crate) fn max_connections(config: &DBConfig) -> u32 {
    per_backend!(Backend::of(config.dialect()), b => b::max_connections(config))
}

impl Conn {
    /// Runs one statement, decoding any rows it returns as `T`.
    pub(crate) async fn run<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Outcome<T>, RunError> {
        // Only sqlx's connections (the tokio-postgres executor binds arrays itself): not
        // compiled with it, whose futures would otherwise carry this branch's.
        #[cfg(all(feature = "postgres", not(feature = "pg-pipeline")))]
        if let Conn::Postgres(c) = self
            && postgres::has_array(&values)
        {
            c.sending(|| longest_part(&sql, &values));
            let arguments = postgres::arguments_with_arrays(values);
            return run_on(&mut **c, sql.into_owned(), arguments, persistent).await;
        }
        per_conn!(self, e => e.run(sql, values, persistent).await, c => {
            c.sending(|| longest_part(&sql, &values));
            run_on(&mut **c, sql.into_owned(), Ok(SqlxValues(values)), persistent).await
        })
    }

    /// Runs a bulk insert from [`unnest_insert`]: its row-major `values` are bound as one
    /// typed array per column, as `arrays` says.
    pub(crate) async fn run_arrays<T: FromRow>(
        &mut self,
        sql: String,
        values: Values,
        arrays: &ColumnArrays,
        persistent: bool,
    ) -> Result<Outcome<T>, RunError> {
        match self {
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                let arguments = postgres::array_arguments(values, &arrays.0);
                run_on(&mut **c, sql, arguments, persistent).await
            }
            #[cfg(feature = "pg-pipeline")]
            Conn::PgEngine(e) => e.run_arrays(sql, values, &arrays.0, persistent).await,
            // Only PostgreSQL's dialect makes `ColumnArrays`.
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (sql, values, arrays, persistent);
                Err(RunError::Driver(sqlx::Error::Encode(
                    "column arrays are bound on PostgreSQL only".into(),
                )))
            }
        }
    }

    /// Runs `copy` (a bulk insert's COPY form, see [`bulk_copy`]) with its row-major `values`,
    /// where the executor sends COPY (the tokio-postgres one), calling `sending` just before it
    /// is sent: `Ok(None)` when it does not, or a value does not fit its column's binary type;
    /// the caller then runs the insert.
    pub(crate) async fn copy_in(
        &mut self,
        copy: &BulkCopy,
        values: &Values,
        persistent: bool,
        sending: impl FnOnce(),
    ) -> Result<Option<u64>, RunError> {
        match self {
            #[cfg(feature = "pg-pipeline")]
            Conn::PgEngine(e) => {
                e.copy_in(
                    &copy.sql,
                    &copy.probe,
                    copy.width,
                    values,
                    persistent,
                    sending,
                )
                .await
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (copy, values, persistent, sending);
                Ok(None)
            }
        }
    }

    /// Runs a query and decodes only its first row (the driver stops after it).
    pub(crate) async fn first<T: FromRow>(
        &mut self,
        sql: std::borrow::Cow<'static, str>,
        values: Values,
        persistent: bool,
    ) -> Result<Option<T>, RunError> {
        // Only sqlx's connections (the tokio-postgres executor binds arrays itself): not
        // compiled with it, whose futures would otherwise carry this branch's.
        #[cfg(all(feature = "postgres", not(feature = "pg-pipeline")))]
        if matches!(self, Conn::Postgres(_)) && postgres::has_array(&values) {
            // Bound as `run` binds arrays; the statement's rows past the first are not decoded
            // into anything kept.
            let outcome = self.run::<T>(sql, values, persistent).await?;
            return Ok(outcome.rows.into_iter().next());
        }
        per_conn!(self, e => e.first(sql, values, persistent).await, c => {
            c.sending(|| longest_part(&sql, &values));
            first_on(&mut **c, sql.into_owned(), values, persistent).await
        })
    }

    /// The first row of a parameterless query the library itself asks (a server's role, a
    /// WAL position), with the driver's error mapped.
    pub(crate) async fn probe<T: FromRow>(
        &mut self,
        config: &DBConfig,
        sql: &str,
    ) -> Result<Option<T>, DatabaseError> {
        self.first::<T>(sql.to_string().into(), Values(Vec::new()), false)
            .await
            .map_err(|e| match e {
                RunError::Driver(e) => map_error(config, e),
                RunError::Decode(e) => e,
            })
    }

    /// Runs a script: several statements in one text query, sent in one round trip, whose
    /// values are literals from [`push_literal`]. The rows of every statement are decoded as
    /// `T`; the server stops at the first statement that fails, and so does this.
    pub(crate) async fn run_script<T: FromRow>(
        &mut self,
        sql: String,
    ) -> Result<Outcome<T>, RunError> {
        #[cfg(feature = "mysql-async")]
        if let Conn::MyEngine(e) = self {
            return e.run_script(sql).await;
        }
        per_conn!(self, e => {
            let _ = (e, sql);
            Err(RunError::Driver(sqlx::Error::Protocol(
                "scripts are sent on MySQL/MariaDB only".into(),
            )))
        }, c => {
            c.sending(|| sql.len());
            outcome_of((&mut **c).fetch_many(sqlx::raw_sql(AssertSqlSafe(sql)))).await
        })
    }

    /// Runs SQL without parameters (DDL, transaction control).
    pub(crate) async fn run_raw(&mut self, sql: String) -> Result<(), sqlx::Error> {
        per_conn!(self, e => e.run_raw(sql).await, c => {
            c.sending(|| sql.len());
            c.execute(AssertSqlSafe(sql)).await.map(|_| ())
        })
    }

    /// Starts a transaction. With `write` on SQLite, `BEGIN IMMEDIATE`: a transaction that will write takes
    /// the write lock up front and waits its turn (busy timeout), instead of failing later
    /// with "database is locked" when a deferred read lock cannot be upgraded.
    /// With `read_only`, a read-only transaction (`BEGIN READ ONLY`) where the server has
    /// them.
    pub(crate) async fn begin(&mut self, write: bool, read_only: bool) -> Result<(), sqlx::Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(e) => {
                let _ = read_only;
                e.begin(write).await
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                let _ = write;
                tx_begin(&mut **c, read_only.then_some("BEGIN READ ONLY")).await
            }
            #[cfg(feature = "pg-pipeline")]
            Conn::PgEngine(e) => {
                let _ = write;
                e.begin(read_only).await
            }
            #[cfg(feature = "mysql")]
            Conn::MySql(c) => {
                let _ = write;
                tx_begin(&mut **c, read_only.then_some("START TRANSACTION READ ONLY")).await
            }
            #[cfg(feature = "mysql-async")]
            Conn::MyEngine(e) => {
                let _ = write;
                e.begin(read_only).await
            }
        }
    }

    /// Commits the open transaction.
    pub(crate) async fn commit(&mut self) -> Result<(), sqlx::Error> {
        per_conn!(self, e => e.commit().await, c => tx_commit(&mut **c).await)
    }

    /// Rolls the open transaction back.
    pub(crate) async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        per_conn!(self, e => e.rollback().await, c => tx_rollback(&mut **c).await)
    }

    /// Queues a rollback, sent before the connection is reused (for `Drop`).
    pub(crate) fn start_rollback(&mut self) {
        per_conn!(self, e => e.start_rollback(), c => tx_start_rollback(&mut **c))
    }

    /// Makes the pool close this connection instead of reusing it.
    pub(crate) fn close_on_drop(&mut self) {
        per_conn!(self, e => e.close_on_drop(), c => c.close_on_drop())
    }

    /// The session on this connection ended cleanly (every statement run to its end, no
    /// transaction open): a server connection goes back on the hot stack (see [`hot`]).
    pub(crate) fn reusable(&mut self) {
        per_conn!(self, e => { let _ = e; }, c => c.reusable())
    }
}

/// The longer of a statement's two parts as sent, in bytes: its SQL (prepared or sent as text)
/// and, about, its bound values (sent in a packet of their own).
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn longest_part(sql: &str, values: &Values) -> usize {
    sql.len().max(values.0.iter().map(value_len).sum())
}

/// About how many bytes `value` takes as a bound value: its length for text, bytes and JSON,
/// 8 for the rest.
pub(crate) fn value_len(value: &sea_query::Value) -> usize {
    fn json_len(json: &serde_json::Value) -> usize {
        use serde_json::Value as J;
        match json {
            J::String(s) => s.len() + 2,
            J::Array(items) => items.iter().map(|v| json_len(v) + 1).sum::<usize>() + 2,
            J::Object(fields) => {
                let fields = fields.iter().map(|(k, v)| k.len() + 4 + json_len(v));
                fields.sum::<usize>() + 2
            }
            _ => 8,
        }
    }
    match value {
        sea_query::Value::String(Some(s)) => s.len(),
        sea_query::Value::Bytes(Some(b)) => b.len(),
        sea_query::Value::Json(Some(j)) => json_len(j),
        _ => 8,
    }
}

/// A hot connection, else an idle connection of sqlx's pool taken at once when checkout needs
/// no check. After an invalidation of the host, first sweeps: see
/// [`Pool::try_acquire_idle`].
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn idle<DB: Database>(
    pool: &sqlx::Pool<DB>,
    hot: &Arc<Hot<DB>>,
    config: &DBConfig,
) -> Option<Pooled<DB>> {
    if let Some(mark) = hot.stale().sweep_due() {
        hot.close_parked();
        // Every idle connection now was opened before the invalidation or in the moments
        // since: closing the few of the latter costs less than telling them apart.
        for _ in 0..pool.num_idle() {
            match pool.try_acquire() {
                Some(mut conn) => conn.close_on_drop(),
                None => break,
            }
        }
        hot.stale().swept(mark);
        return None;
    }
    if let Some(conn) = hot.take() {
        return Some(conn);
    }
    if config.pool_pre_ping() || config.pool_recycle().is_some() {
        return None;
    }
    pool.try_acquire().map(|c| Pooled::new(c, hot.clone()))
}

/// A connection of sqlx's pool, or, with `full`, one handed from the hot stack if it comes
/// first.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn acquire_on<DB: Database>(
    pool: &sqlx::Pool<DB>,
    hot: &Arc<Hot<DB>>,
    full: bool,
) -> Result<Pooled<DB>, sqlx::Error> {
    if !full {
        return Ok(Pooled::new(Box::pin(pool.acquire()).await?, hot.clone()));
    }
    let _listening = hot.listen();
    // Listening now, look once more: a connection parked just before went to sqlx's pool (the
    // acquire below gets it) or is still on the stack.
    if let Some(conn) = hot.take() {
        return Ok(conn);
    }
    tokio::select! {
        acquired = Box::pin(pool.acquire()) => Ok(Pooled::new(acquired?, hot.clone())),
        handed = hot.handed() => Ok(handed),
    }
}

/// The backend row types, and how to decode them through a [`RowRef`].
pub(crate) trait BackendRow: sqlx::Row {
    /// Decodes the row as `T`, with what earlier rows of its result showed of the column types
    /// (`None`: one row read alone, its types checked as sqlx checks them).
    fn decode<T: FromRow>(&self, verified: Option<&row::Verified>) -> Result<T, DatabaseError>;
}

#[cfg(feature = "postgres")]
impl BackendRow for sqlx::postgres::PgRow {
    fn decode<T: FromRow>(&self, verified: Option<&row::Verified>) -> Result<T, DatabaseError> {
        T::from_row(RowRef::new(&row::SqlxRow::new(self, verified)))
    }
}
#[cfg(feature = "mysql")]
impl BackendRow for sqlx::mysql::MySqlRow {
    fn decode<T: FromRow>(&self, verified: Option<&row::Verified>) -> Result<T, DatabaseError> {
        T::from_row(RowRef::new(&row::SqlxRow::new(self, verified)))
    }
}

/// The backend query results, and the inserted id each reports.
pub(crate) trait BackendResult {
    fn rows_affected(&self) -> u64;
    fn last_insert_id(&self) -> Option<i64>;
}

#[cfg(feature = "postgres")]
impl BackendResult for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
    fn last_insert_id(&self) -> Option<i64> {
        None
    }
}
#[cfg(feature = "mysql")]
impl BackendResult for sqlx::mysql::MySqlQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
    fn last_insert_id(&self) -> Option<i64> {
        i64::try_from(self.last_insert_id())
            .ok()
            .filter(|id| *id != 0)
    }
}

/// The one place runtime-built SQL is handed to sqlx: statements come from sea-query or from
/// `text()` with bound parameters, never from spliced values (a script's values are literals
/// from [`push_literal`], hex for every text and byte string).
async fn first_on<C, T>(
    conn: &mut C,
    sql: String,
    values: Values,
    persistent: bool,
) -> Result<Option<T>, RunError>
where
    C: sqlx::Connection,
    C::Database: sqlx_core::database::HasStatementCache,
    <C::Database as Database>::Row: BackendRow,
    SqlxValues: IntoArguments<C::Database>,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
    T: FromRow,
{
    let query = sqlx::query_with::<C::Database, _>(AssertSqlSafe(sql), SqlxValues(values))
        .persistent(persistent);
    match conn.fetch_optional(query).await? {
        Some(row) => row.decode::<T>(None).map(Some).map_err(RunError::Decode),
        None => Ok(None),
    }
}

/// Runs one statement with `arguments` (the bound values, or why they could not be encoded).
async fn run_on<C, A, T>(
    conn: &mut C,
    sql: String,
    arguments: Result<A, sqlx::error::BoxDynError>,
    persistent: bool,
) -> Result<Outcome<T>, RunError>
where
    C: sqlx::Connection,
    C::Database: sqlx_core::database::HasStatementCache,
    <C::Database as Database>::Row: BackendRow,
    <C::Database as Database>::QueryResult: BackendResult,
    A: IntoArguments<C::Database>,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
    T: FromRow,
{
    // Without a statement cache, prepare unnamed statements: sqlx's PostgreSQL driver would
    // otherwise leave one named statement per query open on the server.
    let query =
        sqlx_core::query::query_with_result::<C::Database, _>(AssertSqlSafe(sql), arguments)
            .persistent(persistent);
    outcome_of(conn.fetch_many(query)).await
}

/// Reads a result stream to its end: every row decoded as `T`, the rows affected and the
/// inserted id of every statement.
async fn outcome_of<'s, Q, R, T>(
    mut stream: futures_util::stream::BoxStream<'s, Result<Either<Q, R>, sqlx::Error>>,
) -> Result<Outcome<T>, RunError>
where
    Q: BackendResult,
    R: BackendRow,
    T: FromRow,
{
    let mut outcome = Outcome {
        rows: Vec::new(),
        rows_affected: 0,
        last_insert_id: None,
    };
    let mut verified = row::Verified::default();
    while let Some(item) = stream.try_next().await? {
        match item {
            Either::Left(done) => {
                verified.reset();
                outcome.rows_affected += done.rows_affected();
                if let Some(id) = done.last_insert_id() {
                    outcome.last_insert_id = Some(id);
                }
            }
            Either::Right(row) => {
                verified.start(sqlx::Row::columns(&row));
                outcome
                    .rows
                    .push(row.decode::<T>(Some(&verified)).map_err(RunError::Decode)?);
            }
        }
    }
    Ok(outcome)
}

async fn tx_begin<C: sqlx::Connection>(
    conn: &mut C,
    statement: Option<&'static str>,
) -> Result<(), sqlx::Error> {
    use sqlx::SqlSafeStr;
    let statement = statement.map(SqlSafeStr::into_sql_str);
    <<C::Database as Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::begin(conn, statement).await
}

async fn tx_commit<C: sqlx::Connection>(conn: &mut C) -> Result<(), sqlx::Error> {
    <<C::Database as Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::commit(conn).await
}

async fn tx_rollback<C: sqlx::Connection>(conn: &mut C) -> Result<(), sqlx::Error> {
    <<C::Database as Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::rollback(conn).await
}

fn tx_start_rollback<C: sqlx::Connection>(conn: &mut C) {
    <<C::Database as Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::start_rollback(conn)
}

/// Whether a column's auto-increment is the keyword sea-query adds (SQLite, MySQL) rather than
/// part of the type (PostgreSQL identity columns).
pub(crate) fn auto_increment_keyword(dialect: Dialect) -> bool {
    per_backend!(Backend::of(dialect), b => b::AUTO_INCREMENT_KEYWORD)
}

// ---------------------------------------------------------------------------------------------
// Streaming reads (`DatabaseOperations::read_stream`, see `stream.rs`).

impl Conn {
    /// Runs a query and hands each row, decoded as `T`, to a stream's consumer through `rows`
    /// (see [`RowSender`]). `sent` counts the rows handed over. `Ok(false)` when the consumer
    /// went away first: the rest of the result is then left unread on the connection.
    pub(crate) async fn stream_into<T: FromRow>(
        &mut self,
        sql: String,
        values: Values,
        persistent: bool,
        rows: &RowSender<T>,
        sent: &mut u64,
    ) -> Result<bool, RunError> {
        // Only sqlx's connections (the tokio-postgres executor binds arrays itself): not
        // compiled with it, whose futures would otherwise carry this branch's.
        #[cfg(all(feature = "postgres", not(feature = "pg-pipeline")))]
        if let Conn::Postgres(c) = self
            && postgres::has_array(&values)
        {
            c.sending(|| longest_part(&sql, &values));
            let arguments = postgres::arguments_with_arrays(values);
            return stream_on(&mut **c, sql, arguments, persistent, rows, sent).await;
        }
        per_conn!(self, e => e.stream_into(sql, values, persistent, rows, sent).await, c => {
            c.sending(|| longest_part(&sql, &values));
            stream_on(&mut **c, sql, Ok(SqlxValues(values)), persistent, rows, sent).await
        })
    }
}

/// Runs a query on a sqlx connection, in the consumer's task, handing each row over as the
/// consumer asks for it. Always `Ok(true)`: the consumer cannot go away while its own task
/// runs the query.
async fn stream_on<C, A, T>(
    conn: &mut C,
    sql: String,
    arguments: Result<A, sqlx::error::BoxDynError>,
    persistent: bool,
    rows: &RowSender<T>,
    sent: &mut u64,
) -> Result<bool, RunError>
where
    C: sqlx::Connection,
    C::Database: sqlx_core::database::HasStatementCache,
    <C::Database as Database>::Row: BackendRow,
    A: IntoArguments<C::Database>,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
    T: FromRow,
{
    let query =
        sqlx_core::query::query_with_result::<C::Database, _>(AssertSqlSafe(sql), arguments)
            .persistent(persistent);
    let mut stream = conn.fetch(query);
    let mut verified = row::Verified::default();
    while let Some(row) = stream.try_next().await? {
        verified.start(sqlx::Row::columns(&row));
        let value = row.decode::<T>(Some(&verified)).map_err(RunError::Decode)?;
        rows.yield_row(value, sent).await;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        let quoted = |dialect, name| {
            let mut sql = String::new();
            push_ident(dialect, &mut sql, name);
            sql
        };
        #[cfg(feature = "sqlite")]
        {
            assert_eq!(quoted(Dialect::Sqlite, "name"), r#""name""#);
            assert_eq!(quoted(Dialect::Sqlite, r#"a"b""#), r#""a""b""""#);
            assert_eq!(quoted(Dialect::Sqlite, "dé`jà"), "\"dé`jà\"");
        }
        #[cfg(feature = "mysql")]
        {
            assert_eq!(quoted(Dialect::Mysql, "a`b"), "`a``b`");
            assert_eq!(quoted(Dialect::Mysql, r#"a"b"#), r#"`a"b`"#);
        }
        #[cfg(feature = "postgres")]
        assert_eq!(quoted(Dialect::Postgresql, r#""""#), r#""""""""#);
    }
}
