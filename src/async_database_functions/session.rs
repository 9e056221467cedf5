//! [`Session`]: one pooled connection inside one transaction.
//!
//! ```
//! use dsg_lib::async_database_functions::{
//!     async_database::AsyncDatabase, database_config::DBConfig, statement::text,
//! };
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! let mut session = db.get_db_session().await?;
//! session.execute(&text("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")).await?;
//! session.execute(&text("INSERT INTO kv VALUES (:k, :v)").bind("k", "a").bind("v", "1")).await?;
//! let v: Option<String> = session.fetch_optional(&text("SELECT v FROM kv WHERE k = 'a'")).await?;
//! assert_eq!(v.as_deref(), Some("1"));
//! session.commit().await?;
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;

use super::database_config::DBConfig;
use super::dialect::{self, Conn, Outcome, RunError};
use super::error::DatabaseError;
use super::row::FromRow;
use super::statement::Statement;

/// One pooled connection inside one transaction, from
/// [`AsyncDatabase::get_db_session`](super::async_database::AsyncDatabase::get_db_session).
///
/// End it with [`commit`](Session::commit) or [`rollback`](Session::rollback). Dropping it
/// uncommitted rolls the transaction back; dropping it while a statement is still running
/// (a cancelled future) closes the connection instead of returning it to the pool, so no
/// connection is handed out again in an unknown state.
pub struct Session {
    conn: Conn,
    config: Arc<DBConfig>,
    /// A transaction is open on `conn`.
    in_transaction: bool,
    /// A driver call was started and has not finished: the connection's state is unknown.
    in_flight: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("dialect", &self.config.dialect())
            .field("in_transaction", &self.in_transaction)
            .finish()
    }
}

impl Session {
    /// Wraps a connection; `transaction` begins one at once.
    pub(crate) async fn open(
        conn: Conn,
        config: Arc<DBConfig>,
        transaction: bool,
    ) -> Result<Session, DatabaseError> {
        let mut session = Session {
            conn,
            config,
            in_transaction: false,
            in_flight: false,
        };
        if transaction {
            session.in_flight = true;
            let begun = session.conn.begin().await;
            session.in_flight = false;
            begun.map_err(|e| session.error(e))?;
            session.in_transaction = true;
        }
        Ok(session)
    }

    /// The configuration this session runs under.
    pub fn config(&self) -> &DBConfig {
        &self.config
    }

    fn error(&self, e: sqlx::Error) -> DatabaseError {
        dialect::map_error(&self.config, e)
    }

    /// Runs one statement, decoding the rows it returns (if any) as `T`.
    pub(crate) async fn run<T: FromRow>(
        &mut self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<Outcome<T>, DatabaseError> {
        let (sql, values, persistent) = self.prepare(statement)?;
        self.in_flight = true;
        let result = self.conn.run(sql, values, persistent).await;
        self.finish(result)
    }

    /// Runs a query and decodes only its first row.
    async fn first<T: FromRow>(
        &mut self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<Option<T>, DatabaseError> {
        let (sql, values, persistent) = self.prepare(statement)?;
        self.in_flight = true;
        let result = self.conn.first(sql, values, persistent).await;
        self.finish(result)
    }

    /// Renders `statement` for this dialect and logs it when `echo` is on.
    fn prepare(
        &self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<(String, sea_query::Values, bool), DatabaseError> {
        let mut rendered = statement.render(self.config.dialect())?;
        dialect::normalize_values(self.config.dialect(), &mut rendered.values);
        dialect::echo(&self.config, &rendered.sql, &rendered.values);
        let persistent = self.config.query_cache_size() > 0;
        Ok((rendered.sql, rendered.values, persistent))
    }

    /// Ends a driver call: the connection is in a known state again.
    fn finish<T>(&mut self, result: Result<T, RunError>) -> Result<T, DatabaseError> {
        self.in_flight = false;
        result.map_err(|e| match e {
            RunError::Driver(e) => self.error(e),
            RunError::Decode(e) => e,
        })
    }

    /// Runs a statement and returns the number of rows it affected.
    pub async fn execute(
        &mut self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<u64, DatabaseError> {
        self.run::<()>(statement).await.map(|o| o.rows_affected)
    }

    /// Runs a query and decodes every row as `T` (a model, a scalar, a tuple or a `Record`).
    pub async fn fetch_all<T: FromRow>(
        &mut self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<Vec<T>, DatabaseError> {
        self.run(statement).await.map(|o| o.rows)
    }

    /// Runs a query and decodes its first row, if any.
    pub async fn fetch_optional<T: FromRow>(
        &mut self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<Option<T>, DatabaseError> {
        self.first(statement).await
    }

    /// Runs SQL that takes no parameters (DDL, pragmas) and returns nothing.
    pub async fn execute_sql(&mut self, sql: &str) -> Result<(), DatabaseError> {
        dialect::echo(&self.config, sql, &sea_query::Values(Vec::new()));
        self.in_flight = true;
        let result = self.conn.run_raw(sql.to_string()).await;
        self.in_flight = false;
        result.map_err(|e| self.error(e))
    }

    /// Commits the transaction and returns the connection to the pool.
    pub async fn commit(mut self) -> Result<(), DatabaseError> {
        self.end(true).await
    }

    /// Rolls the transaction back and returns the connection to the pool.
    pub async fn rollback(mut self) -> Result<(), DatabaseError> {
        self.end(false).await
    }

    async fn end(&mut self, commit: bool) -> Result<(), DatabaseError> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_flight = true;
        let result = if commit {
            self.conn.commit().await
        } else {
            self.conn.rollback().await
        };
        self.in_flight = false;
        self.in_transaction = false;
        result.map_err(|e| self.error(e))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.in_flight {
            // Cancelled mid-statement (sqlx #4393): the connection may be inside a half-sent
            // BEGIN or query. Never reuse it.
            self.conn.close_on_drop();
        } else if self.in_transaction {
            // Sent before the connection is reused, when the pool tests it on release.
            self.conn.start_rollback();
        }
    }
}
