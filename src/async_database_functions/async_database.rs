//! [`AsyncDatabase`]: the pooled database handle, its registered models and its sessions.
//!
//! ```
//! use dsg_lib::Model;
//! use dsg_lib::async_database_functions::{
//!     async_database::AsyncDatabase, base_schema::SchemaBase, database_config::DBConfig,
//!     model::Model as _,
//! };
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "colors")]
//! struct Color {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(unique, size = 50)]
//!     name: String,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = DBConfig::new(serde_json::json!({"database_uri": "sqlite+aiosqlite:///:memory:"}))?;
//! let db = AsyncDatabase::new(config);
//! db.register::<Color>();
//! db.create_tables().await?;
//! assert_eq!(db.table_names(), ["colors"]);
//!
//! let mut session = db.get_db_session().await?;
//! let colors: Vec<Color> = session.fetch_all(&Color::select()).await?;
//! assert!(colors.is_empty());
//! session.commit().await?;
//! db.disconnect().await;
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::database_config::DBConfig;
use super::dialect::{self, Backend, Keeper, Pool};
use super::topology::retry::Attempts;
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::dialect::health::Health;
use crate::async_database_functions::statements::catalog::{Catalog, TableDef};
use crate::async_database_functions::statements::model::Model;
use crate::async_database_functions::statements::schema;
use crate::async_database_functions::statements::session::{Begin, Session, Shared};
use crate::async_database_functions::statements::statement::text;
use crate::async_database_functions::statements::telemetry::PoolStats;
use crate::async_database_functions::topology::{Hosts, Replicas, Want};

/// The sqlx pool underneath an [`AsyncDatabase`], by backend: see
/// [`AsyncDatabase::sqlx_pool`]. Each variant exists when its backend's feature is on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlxPool {
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL and CockroachDB.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// MySQL and MariaDB.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// How long [`AsyncDatabase::disconnect`] waits for connections in use to come back.
pub const DISCONNECT_GRACE: Duration = Duration::from_secs(2);

/// A database: configuration, a lazily created connection pool, and the registered models.
///
/// Cheap to clone; clones share the pool and the models.
#[derive(Clone)]
pub struct AsyncDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<DBConfig>,
    /// One pool per host of the URI (one for SQLite).
    hosts: OnceCell<Hosts>,
    /// The read replicas' pools, if any (`read_replica_uris`).
    replicas: OnceCell<Option<Replicas>>,
    /// Holds what keeps the pool's database alive (in-memory SQLite) until `disconnect`.
    keeper: Mutex<Option<Vec<Keeper>>>,
    /// Closed flag, pool invalidation, connections in use: shared with sessions.
    health: Arc<Health>,
    /// The registered models, shared with sessions (they name violated unique indexes).
    catalog: Arc<Catalog>,
    /// The configuration, the models and the health, as every session holds them.
    shared: Arc<Shared>,
}

impl fmt::Debug for AsyncDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDatabase")
            .field("config", &self.inner.config)
            .field("tables", &self.table_names())
            .field("connected", &self.inner.hosts.initialized())
            .field("closed", &self.inner.health.is_closed())
            .finish()
    }
}

impl AsyncDatabase {
    /// A database for `config`. No connection is made until first use.
    pub fn new(config: DBConfig) -> Self {
        let shared = Arc::new(Shared {
            config: Arc::new(config),
            catalog: Arc::default(),
            health: Health::new(),
        });
        AsyncDatabase {
            inner: Arc::new(Inner {
                config: shared.config.clone(),
                hosts: OnceCell::new(),
                replicas: OnceCell::new(),
                keeper: Mutex::new(None),
                health: shared.health.clone(),
                catalog: shared.catalog.clone(),
                shared,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DBConfig {
        &self.inner.config
    }

    /// Adds model `M` to the metadata, so that [`create_tables`](Self::create_tables) creates
    /// its table. Registering a model twice has no further effect.
    pub fn register<M: Model>(&self) -> &Self {
        self.inner.catalog.register(TableDef {
            name: M::TABLE,
            columns: M::columns(),
        });
        self
    }

    /// The names of the registered tables, in registration order.
    pub fn table_names(&self) -> Vec<&'static str> {
        self.tables().iter().map(|t| t.name).collect()
    }

    pub(crate) fn tables(&self) -> Vec<TableDef> {
        self.inner.catalog.tables()
    }

    /// The pools, created on first use.
    async fn hosts(&self) -> Result<&Hosts, DatabaseError> {
        self.inner.health.check_open()?;
        self.inner
            .hosts
            .get_or_try_init(|| {
                // Boxed: the pools' construction stays out of every session's future.
                Box::pin(self.connect_hosts())
            })
            .await
    }

    async fn connect_hosts(&self) -> Result<Hosts, DatabaseError> {
        {
            let config = &self.inner.config;
            let (hosts, keepers) =
                Hosts::connect(config, config.server_urls(), &self.inner.health).await?;
            *self.inner.keeper.lock().unwrap_or_else(|e| e.into_inner()) = Some(keepers);
            Ok(hosts)
        }
    }

    /// The replicas' pools, created on first use; `None` without replicas.
    async fn replicas(&self) -> Result<Option<&Replicas>, DatabaseError> {
        self.inner.health.check_open()?;
        let replicas = self
            .inner
            .replicas
            .get_or_try_init(|| {
                // Boxed, as in `open_session`: kept out of every read's future.
                Box::pin(async {
                    Ok::<_, DatabaseError>(
                        Replicas::connect(&self.inner.config, &self.inner.health)
                            .await?
                            .map(|(replicas, _)| replicas),
                    )
                })
            })
            .await?;
        Ok(replicas.as_ref())
    }

    /// A session for a read: on a replica that has replayed every write that returned before
    /// (see `topology::replicas`), else on the primary. `primary` forces the primary.
    pub(crate) async fn read_session(&self, primary: bool) -> Result<Session, DatabaseError> {
        // Known to have no replicas (the common case once connected): no future to poll.
        let no_replicas = matches!(self.inner.replicas.get(), Some(None));
        if !primary
            && !no_replicas
            && let Some(replicas) = self.replicas().await?
            && let Some(session) = Box::pin(self.replica_session(replicas, Begin::None)).await
        {
            return Ok(session);
        }
        // Only the tokio-postgres executor shares connections: no extra look on other builds.
        #[cfg(feature = "pg-pipeline")]
        if !self.inner.config.transaction_pooling()
            && self.inner.health.check_open().is_ok()
            // Not yet connected: the session below connects.
            && let Some(hosts) = self.inner.hosts.get()
            && let Some((conn, checkout)) = hosts.try_acquire_shared(
                &self.inner.config,
                !self.inner.config.replica_urls().is_empty(),
            )
        {
            // A read outside a transaction, on a connection it shares with other reads.
            return Ok(Session::new(conn, self.inner.shared.clone(), checkout));
        }
        self.open_session(Begin::None).await
    }

    /// A session on a ready replica, or `None` (the caller falls back to the primary).
    async fn replica_session(&self, replicas: &Replicas, begin: Begin) -> Option<Session> {
        let config = &self.inner.config;
        let hosts = self.hosts().await.ok()?;
        match replicas.acquire(config, &self.inner.health, hosts).await {
            Ok((conn, checkout)) => {
                match Session::open(conn, self.inner.shared.clone(), checkout, begin).await {
                    Ok(session) => Some(session),
                    Err(e) => {
                        tracing::debug!(target: "dsg_lib", error = %e, "replica session failed; reading on the primary");
                        None
                    }
                }
            }
            Err(e) => {
                tracing::debug!(target: "dsg_lib", error = %e, "no replica ready; reading on the primary");
                None
            }
        }
    }

    /// A read-only session for a caller's own multi-statement reads: on a read replica that
    /// has replayed every write that returned before this call (with `read_replica_uris`),
    /// else on the primary; either way inside a `READ ONLY` transaction. The replica is chosen
    /// as reads choose one: one that is down or behind is skipped. A connection lost during
    /// its `COMMIT` is a plain `ConnectionError`, never
    /// [`is_outcome_unknown`](DatabaseError::is_outcome_unknown): it wrote nothing.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// let mut session = db.get_replica_session().await?; // no replicas: the primary
    /// let one: Option<i64> = session.fetch_optional(&text("SELECT 1")).await?;
    /// assert_eq!(one, Some(1));
    /// session.commit().await?;
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_db_session`](Self::get_db_session) (on the primary: a replica that fails is
    /// skipped).
    pub async fn get_replica_session(&self) -> Result<Session, DatabaseError> {
        if let Some(replicas) = self.replicas().await?
            && let Some(session) = Box::pin(self.replica_session(replicas, Begin::ReadOnly)).await
        {
            return Ok(session);
        }
        self.open_session(Begin::ReadOnly).await
    }

    /// The pool of the first host (the only one but for multi-host URIs).
    async fn pool(&self) -> Result<&Pool, DatabaseError> {
        self.hosts()
            .await?
            .first()
            .ok_or_else(|| DatabaseError::config("database_uri: no host"))
    }

    /// The runs of one transaction under the `retry` policy (see `topology::retry`).
    pub(crate) fn attempts(&self) -> Attempts<'_> {
        Attempts::new(
            self.inner.config.retry(),
            &self.inner.health,
            self.inner.config.pool_timeout(),
        )
    }

    /// How many transactions were run again after a retryable failure (a serialization
    /// failure, a deadlock, a cluster's certification conflict, a connection lost before the
    /// commit), by the operations and by [`transaction`](Self::transaction), since this
    /// database was created. See the `retry` configuration key.
    pub fn retries(&self) -> u64 {
        self.inner.health.retries()
    }

    /// How many times the primary was asked its WAL position (`pg_current_wal_lsn()`) for
    /// read-your-writes on the read replicas (`read_replica_uris`) since this database was
    /// created: at most once per batch of writes, however many reads start after it at once
    /// (they share the answer). 0 without replicas.
    pub fn wal_position_queries(&self) -> u64 {
        match self.inner.replicas.get() {
            Some(Some(replicas)) => replicas.positions_asked(),
            _ => 0,
        }
    }

    /// A session: one pooled connection inside one transaction.
    ///
    /// # Errors
    ///
    /// [`PoolTimeout`](crate::async_database_functions::core::error::ErrorKind::PoolTimeout) when no connection is free within
    /// `pool_timeout`, [`ConnectionError`](crate::async_database_functions::core::error::ErrorKind::ConnectionError) when the server cannot
    /// be reached, [`Disconnected`](crate::async_database_functions::core::error::ErrorKind::Disconnected) after [`disconnect`](Self::disconnect).
    pub async fn get_db_session(&self) -> Result<Session, DatabaseError> {
        self.session(true).await
    }

    /// A session with or without a transaction (single-statement reads need none). With
    /// `isolation_level = "AUTOCOMMIT"` no session opens a transaction.
    pub(crate) async fn session(&self, transaction: bool) -> Result<Session, DatabaseError> {
        let begin = if transaction {
            Begin::Deferred
        } else {
            Begin::None
        };
        self.open_session(begin).await
    }

    /// A session for the library's own writes: when `transaction`, one that takes the write
    /// lock up front on SQLite (`BEGIN IMMEDIATE`), so concurrent read-then-write
    /// transactions wait their turn instead of failing with "database is locked".
    pub(crate) async fn write_session(&self, transaction: bool) -> Result<Session, DatabaseError> {
        let begin = if transaction {
            Begin::Write
        } else {
            Begin::None
        };
        self.open_session(begin).await
    }

    async fn open_session(&self, begin: Begin) -> Result<Session, DatabaseError> {
        // Awaited inline: the large parts of this future (sqlx's acquire futures, the
        // refused-port probe, role and replay checks, BEGIN) are boxed where they are built, so
        // it stays small for every caller to hold (unboxed, they made it tens of kilobytes and a
        // callgrind profile showed ~20k instructions of memcpy per point read).
        self.open_session_inline(begin).await
    }

    async fn open_session_inline(&self, begin: Begin) -> Result<Session, DatabaseError> {
        let hosts = self.hosts().await?;
        let config = &self.inner.config;
        let want = Want::Attrs(config.target_session_attrs());
        let track_writes = !config.replica_urls().is_empty();
        let (conn, checkout) = hosts
            .acquire(config, &self.inner.health, want, track_writes)
            .await?;
        let begin = if config.autocommit() {
            Begin::None
        } else if config.transaction_pooling() && begin == Begin::None {
            // Behind a transaction-pooling proxy a statement's parse and its execution reach
            // the same server connection only inside a transaction.
            Begin::Deferred
        } else {
            begin
        };
        Session::open(conn, self.inner.shared.clone(), checkout, begin).await
    }

    /// Creates every registered table that does not exist yet, with its indexes, unique
    /// constraints, foreign keys and comments, referenced tables first. Calling it again is a
    /// no-op.
    ///
    /// Each table is created whole or not at all: if one of its statements fails (say a
    /// `CREATE INDEX`), the table is not left behind without its indexes, and the next call
    /// creates it again from the start. Tables created before the failing one stay.
    pub async fn create_tables(&self) -> Result<(), DatabaseError> {
        let dialect = self.inner.config.dialect();
        // The listing's connection goes back to the pool before any table is created.
        let existing: Vec<String> = self
            .session(false)
            .await?
            .fetch_all(&text(dialect::list_tables_sql(dialect)))
            .await?;
        for table in schema::dependency_order(&self.tables()) {
            if existing.iter().any(|e| e == table.name) {
                continue;
            }
            tracing::debug!(target: "dsg_lib", table = table.name, "creating table");
            // Each table with its indexes all or nothing: in one transaction where DDL is
            // transactional, else undone on failure (see `TableDef::create`).
            let session = self.session(schema::transactional_ddl(dialect)).await?;
            table.create(session).await?;
        }
        Ok(())
    }

    /// Drops every registered table that exists, referencing tables first.
    pub async fn drop_tables(&self) -> Result<(), DatabaseError> {
        let dialect = self.inner.config.dialect();
        let mut session = self.session(false).await?;
        for table in schema::dependency_order(&self.tables()).iter().rev() {
            session.execute_sql(&table.drop_statement(dialect)).await?;
        }
        // Commits only where every session is a transaction (`transaction_pooling`).
        session.commit().await
    }

    /// Closes the pool gracefully and within a bound: at once, no new session is handed out
    /// (those calls fail with [`Disconnected`](crate::async_database_functions::core::error::ErrorKind::Disconnected)) and every idle
    /// connection is closed; then it waits at most [`DISCONNECT_GRACE`] for sessions in use to
    /// finish their work (each connection is closed as it comes back). It returns within that
    /// bound, even while the calling task itself holds a [`Session`].
    ///
    /// Once it has returned, sessions still held fail on their next call with `Disconnected`
    /// (their transaction is rolled back and their connection closed when they are dropped).
    pub async fn disconnect(&self) {
        self.inner.health.close();
        // The pools are marked closed at once; the wait is only for connections in use.
        let close = async {
            if let Some(hosts) = self.inner.hosts.get() {
                hosts.close().await;
            }
            if let Some(Some(replicas)) = self.inner.replicas.get() {
                replicas.close().await;
            }
        };
        let _ = tokio::time::timeout(DISCONNECT_GRACE, close).await;
        self.inner.health.end();
        let keeper = self
            .inner
            .keeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(keeper);
    }

    /// Whether [`disconnect`](Self::disconnect) has been called.
    pub fn is_disconnected(&self) -> bool {
        self.inner.health.is_closed()
    }

    /// The sqlx pool underneath, for going down to [`sqlx`] when this crate runs out (e.g.
    /// `sqlx::query_as!`), created on first use like every other call. The per-backend
    /// accessors (`sqlite_pool`, `pg_pool`, `mysql_pool`) give the concrete pool directly.
    ///
    /// The pool is the same one the library uses (same connections, same in-memory SQLite
    /// database), but statements run on it directly bypass this crate: no `echo` logging, no
    /// `hide_parameters` redaction, no tracing spans, no `isolation_level`, no
    /// [`DatabaseError`] mapping, and the connections taken are not counted in
    /// [`pool_stats`](Self::pool_stats)' `in_use`. Once [`disconnect`](Self::disconnect) has
    /// run, the pool is closed for these handles too. On PostgreSQL and MySQL/MariaDB, taking
    /// the pool turns the library's hot connections off for this database (a connection whose
    /// session ended cleanly otherwise waits for the library's next session instead of going
    /// back to sqlx's pool), so that every connection the library returns is there for the
    /// pool's own users.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    /// use dsg_lib::async_database_functions::async_database::SqlxPool;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// match db.sqlx_pool().await? {
    ///     SqlxPool::Sqlite(pool) => {
    ///         let one: i64 = dsg_lib::sqlx::query_scalar("SELECT 1").fetch_one(&pool).await?;
    ///         assert_eq!(one, 1);
    ///     }
    ///     _ => unreachable!("a SQLite URI"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// sqlx 0.9 takes only a `&'static str` as SQL: a query built with `format!` is refused
    /// ("dynamic SQL strings should be audited for possible injections", `SqlSafeStr` not
    /// implemented for `String`) until it is wrapped in [`sqlx::AssertSqlSafe`], which says
    /// that whoever wrote it checked that nothing a user typed is spliced in. Values still go
    /// through binds:
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    /// use dsg_lib::sqlx::{self, AssertSqlSafe};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// let pool = db.sqlite_pool().await?.expect("a SQLite URI");
    /// let table = "audit_log"; // a name from the code, never from a request
    /// sqlx::query(AssertSqlSafe(format!("CREATE TABLE {table} (what TEXT)"))).execute(&pool).await?;
    /// sqlx::query(AssertSqlSafe(format!("INSERT INTO {table} (what) VALUES (?)")))
    ///     .bind("login")
    ///     .execute(&pool)
    ///     .await?;
    /// let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
    ///     .fetch_one(&pool)
    ///     .await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// Without the wrapper it does not compile:
    ///
    /// ```compile_fail
    /// # async fn f(pool: dsg_lib::sqlx::SqlitePool) {
    /// let table = "audit_log";
    /// dsg_lib::sqlx::query(format!("SELECT * FROM {table}")).execute(&pool).await;
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_db_session`](Self::get_db_session): the pool cannot be built, or
    /// [`Disconnected`](crate::async_database_functions::core::error::ErrorKind::Disconnected).
    pub async fn sqlx_pool(&self) -> Result<SqlxPool, DatabaseError> {
        let pool = self.pool().await?;
        // Its users acquire from sqlx's pool alone: no connection may wait on the hot stack.
        pool.hand_out();
        Ok(match pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => SqlxPool::Sqlite(p.sqlx.clone()),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p, _) => SqlxPool::Postgres(p.clone()),
            #[cfg(feature = "pg-pipeline")]
            Pool::PgEngine(p) => SqlxPool::Postgres(p.sqlx.clone()),
            #[cfg(feature = "mysql")]
            Pool::MySql(p, _) => SqlxPool::MySql(p.clone()),
            #[cfg(feature = "mysql-async")]
            Pool::MyEngine(p) => SqlxPool::MySql(p.sqlx.clone()),
        })
    }

    /// The SQLite pool underneath, or `None` when this database is not SQLite; see
    /// [`sqlx_pool`](Self::sqlx_pool) for what running statements on it bypasses.
    ///
    /// # Errors
    ///
    /// As [`sqlx_pool`](Self::sqlx_pool).
    #[cfg(feature = "sqlite")]
    #[allow(unreachable_patterns)] // `_` is unreachable when this is the one backend built
    pub async fn sqlite_pool(&self) -> Result<Option<sqlx::SqlitePool>, DatabaseError> {
        if Backend::of(self.config().dialect()) != Backend::Sqlite {
            return Ok(None);
        }
        Ok(match self.sqlx_pool().await? {
            SqlxPool::Sqlite(p) => Some(p),
            _ => None,
        })
    }

    /// The PostgreSQL (or CockroachDB) pool underneath, or `None` on another backend; see
    /// [`sqlx_pool`](Self::sqlx_pool) for what running statements on it bypasses.
    ///
    /// # Errors
    ///
    /// As [`sqlx_pool`](Self::sqlx_pool).
    #[cfg(feature = "postgres")]
    #[allow(unreachable_patterns)] // `_` is unreachable when this is the one backend built
    pub async fn pg_pool(&self) -> Result<Option<sqlx::PgPool>, DatabaseError> {
        if Backend::of(self.config().dialect()) != Backend::Postgres {
            return Ok(None);
        }
        Ok(match self.sqlx_pool().await? {
            SqlxPool::Postgres(p) => Some(p),
            _ => None,
        })
    }

    /// The MySQL/MariaDB pool underneath, or `None` on another backend; see
    /// [`sqlx_pool`](Self::sqlx_pool) for what running statements on it bypasses.
    ///
    /// # Errors
    ///
    /// As [`sqlx_pool`](Self::sqlx_pool).
    #[cfg(feature = "mysql")]
    #[allow(unreachable_patterns)] // `_` is unreachable when this is the one backend built
    pub async fn mysql_pool(&self) -> Result<Option<sqlx::MySqlPool>, DatabaseError> {
        if Backend::of(self.config().dialect()) != Backend::MySql {
            return Ok(None);
        }
        Ok(match self.sqlx_pool().await? {
            SqlxPool::MySql(p) => Some(p),
            _ => None,
        })
    }

    /// (open connections, idle connections) of the pool; `(0, 0)` before first use. See
    /// [`pool_stats`](Self::pool_stats) for the whole picture.
    pub fn pool_status(&self) -> (u32, usize) {
        let (open, idle) = self.inner.hosts.get().map(Hosts::stats).unwrap_or((0, 0));
        match self.inner.replicas.get() {
            Some(Some(replicas)) => {
                let (o, i) = replicas.stats();
                (open.saturating_add(o), idle.saturating_add(i))
            }
            _ => (open, idle),
        }
    }

    /// The pool's state now: connections open, idle, in use, callers waiting, and the most
    /// it opens. Cheap (a few atomic reads), for a metrics exporter or a readiness endpoint;
    /// all zero but `max` before first use.
    ///
    /// The numbers are read one after the other while other tasks use the pool, so they may
    /// disagree by the connections that changed hands in between.
    pub fn pool_stats(&self) -> PoolStats {
        let health = &self.inner.health;
        let (size, idle, max) = match self.inner.hosts.get() {
            Some(hosts) => {
                let (size, idle) = self.pool_status();
                (size, idle, hosts.max_connections(&self.inner.config))
            }
            None => (0, 0, dialect::max_connections(&self.inner.config)),
        };
        PoolStats {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            in_use: health.in_use(),
            waiting: health.waiting(),
            max,
        }
    }
}
