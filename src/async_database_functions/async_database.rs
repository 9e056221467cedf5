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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::OnceCell;

use super::database_config::DBConfig;
use super::dialect::{self, Keeper, Pool};
use super::error::{DatabaseError, ErrorKind};
use super::model::Model;
use super::schema::{self, TableDef};
use super::session::Session;
use super::statement::text;

/// A database: configuration, a lazily created connection pool, and the registered models.
///
/// Cheap to clone; clones share the pool and the models.
#[derive(Clone)]
pub struct AsyncDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<DBConfig>,
    pool: OnceCell<Pool>,
    /// Holds what keeps the pool's database alive (in-memory SQLite) until `disconnect`.
    keeper: Mutex<Option<Keeper>>,
    closed: AtomicBool,
    tables: RwLock<Vec<TableDef>>,
}

impl fmt::Debug for AsyncDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDatabase")
            .field("config", &self.inner.config)
            .field("tables", &self.table_names())
            .field("connected", &self.inner.pool.initialized())
            .field("closed", &self.inner.closed.load(Ordering::Acquire))
            .finish()
    }
}

impl AsyncDatabase {
    /// A database for `config`. No connection is made until first use.
    pub fn new(config: DBConfig) -> Self {
        AsyncDatabase {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                pool: OnceCell::new(),
                keeper: Mutex::new(None),
                closed: AtomicBool::new(false),
                tables: RwLock::new(Vec::new()),
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
        let mut tables = self.inner.tables.write().unwrap_or_else(|e| e.into_inner());
        if !tables.iter().any(|t| t.name == M::TABLE) {
            tables.push(TableDef {
                name: M::TABLE,
                columns: M::columns(),
            });
        }
        self
    }

    /// The names of the registered tables, in registration order.
    pub fn table_names(&self) -> Vec<&'static str> {
        self.tables().iter().map(|t| t.name).collect()
    }

    fn tables(&self) -> Vec<TableDef> {
        self.inner
            .tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn check_open(&self) -> Result<(), DatabaseError> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(DatabaseError::new(
                ErrorKind::Disconnected,
                "the database has been disconnected; create a new AsyncDatabase to reconnect",
            ))
        } else {
            Ok(())
        }
    }

    /// The pool, created on first use.
    async fn pool(&self) -> Result<&Pool, DatabaseError> {
        self.check_open()?;
        self.inner
            .pool
            .get_or_try_init(|| async {
                let (pool, keeper) = Pool::connect(&self.inner.config).await?;
                *self.inner.keeper.lock().unwrap_or_else(|e| e.into_inner()) = Some(keeper);
                Ok(pool)
            })
            .await
    }

    /// A session: one pooled connection inside one transaction.
    ///
    /// # Errors
    ///
    /// [`PoolTimeout`](ErrorKind::PoolTimeout) when no connection is free within
    /// `pool_timeout`, [`ConnectionError`](ErrorKind::ConnectionError) when the server cannot
    /// be reached, [`Disconnected`](ErrorKind::Disconnected) after [`disconnect`](Self::disconnect).
    pub async fn get_db_session(&self) -> Result<Session, DatabaseError> {
        self.session(true).await
    }

    /// A session with or without a transaction (single-statement reads need none).
    pub(crate) async fn session(&self, transaction: bool) -> Result<Session, DatabaseError> {
        let pool = self.pool().await?;
        let conn = match pool.acquire().await {
            Ok(conn) => conn,
            // Nothing is open, so nothing was in use: every attempt to connect failed.
            Err(sqlx::Error::PoolTimedOut) if pool.stats().0 == 0 => {
                return Err(DatabaseError::new(
                    ErrorKind::ConnectionError,
                    format!(
                        "could not connect to {} within {:?}",
                        self.inner.config.redacted_uri(),
                        self.inner.config.pool_timeout()
                    ),
                ));
            }
            Err(e) => return Err(dialect::map_error(&self.inner.config, e)),
        };
        Session::open(conn, self.inner.config.clone(), transaction).await
    }

    /// Creates every registered table that does not exist yet, with its indexes, unique
    /// constraints, foreign keys and comments, referenced tables first. Calling it again is a
    /// no-op.
    pub async fn create_tables(&self) -> Result<(), DatabaseError> {
        let dialect = self.inner.config.dialect();
        let mut session = self.session(false).await?;
        let existing: Vec<String> = session
            .fetch_all(&text(dialect::list_tables_sql(dialect)))
            .await?;
        for table in schema::dependency_order(&self.tables()) {
            if existing.iter().any(|e| e == table.name) {
                continue;
            }
            tracing::debug!(target: "dsg_lib", table = table.name, "creating table");
            for sql in table.create_statements(dialect) {
                session.execute_sql(&sql).await?;
            }
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
        Ok(())
    }

    /// Closes the pool gracefully: waits for sessions in use to end, then closes every
    /// connection. Any later call returns a [`Disconnected`](ErrorKind::Disconnected) error at
    /// once.
    pub async fn disconnect(&self) {
        self.inner.closed.store(true, Ordering::Release);
        if let Some(pool) = self.inner.pool.get() {
            pool.close().await;
        }
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
        self.inner.closed.load(Ordering::Acquire)
    }

    /// (open connections, idle connections) of the pool; `(0, 0)` before first use.
    pub fn pool_status(&self) -> (u32, usize) {
        self.inner.pool.get().map(Pool::stats).unwrap_or((0, 0))
    }
}
