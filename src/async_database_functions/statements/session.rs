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

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::record::Record;
use crate::async_database_functions::core::redact;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect::health::Health;
use crate::async_database_functions::dialect::{self, ColumnArrays, Conn, Outcome, RunError};
use crate::async_database_functions::statements::catalog::Catalog;
use crate::async_database_functions::statements::execute_result::ExecuteResult;
use crate::async_database_functions::statements::statement::{Statement, StatementKind};
use crate::async_database_functions::statements::telemetry::{self, SlowTimer};
use crate::async_database_functions::topology::Checkout;

/// How a session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    /// No transaction: each statement commits on its own.
    None,
    /// A transaction that takes locks as it goes (`get_db_session`).
    Deferred,
    /// A transaction that will write: on SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that it waits its turn rather than failing later.
    Write,
    /// A read-only transaction (`BEGIN READ ONLY`; plain on SQLite).
    ReadOnly,
}

/// Statements sent as one text query, in one round trip, with their values written in as
/// literals ([`dialect::push_literal`]): `update_one`'s update and read back on MySQL/MariaDB,
/// which have no `UPDATE … RETURNING`.
pub(crate) struct Script {
    /// The statements, separated by `; `, values as literals.
    pub(crate) sql: String,
    /// The same with `?` for each value: built only when it is logged (`echo`) or timed
    /// (`slow_statement_ms`).
    pub(crate) template: Option<String>,
    /// The values, in the order of the template's `?`: kept only to be logged, or kept out of
    /// error details (`hide_parameters`).
    pub(crate) values: Vec<sea_query::Value>,
    /// Its statements must see each other's work alone (an update and its read back): outside
    /// a transaction it runs in one of its own (`START TRANSACTION; …; COMMIT`).
    pub(crate) atomic: bool,
}

/// One pooled connection inside one transaction, from
/// [`AsyncDatabase::get_db_session`](crate::async_database_functions::async_database::AsyncDatabase::get_db_session).
///
/// End it with [`commit`](Session::commit) or [`rollback`](Session::rollback). Dropping it
/// uncommitted rolls the transaction back; dropping it while a statement is still running
/// (a cancelled future) closes the connection instead of returning it to the pool, so no
/// connection is handed out again in an unknown state.
pub struct Session {
    conn: Conn,
    /// The database's configuration, models and health, behind one reference count.
    shared: Arc<Shared>,
    /// The connection's host and its share of the connection limit.
    checkout: Checkout,
    /// A transaction is open on `conn`.
    in_transaction: bool,
    /// The transaction is read only on the server (`BEGIN READ ONLY`): it wrote nothing, so
    /// a connection lost during its COMMIT leaves no outcome unknown.
    read_only: bool,
    /// A driver call was started and has not finished: the connection's state is unknown.
    in_flight: bool,
}

/// What every session of a database shares: one reference count a session, not one for each
/// part (each is taken and given back by both cores' sessions, a cache line passed between
/// them each time).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<DBConfig>,
    /// The database's registered models: what a unique violation's index covers.
    pub(crate) catalog: Arc<Catalog>,
    /// Closed flag, connections in use, writes for read-your-writes.
    pub(crate) health: Arc<Health>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("dialect", &self.shared.config.dialect())
            .field("in_transaction", &self.in_transaction)
            .finish()
    }
}

impl Session {
    /// Whether a transaction is open on this session (not under `AUTOCOMMIT`, nor once it
    /// committed or rolled back).
    pub(crate) fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// A statement or a commit finished on this connection: when it is to the primary of a
    /// database with replicas, the reads that start from now on must see it.
    fn note_write(&self) {
        if self.checkout.tracks_writes() {
            self.shared.health.note_write();
        }
    }

    /// Wraps a connection, outside a transaction.
    pub(crate) fn new(conn: Conn, shared: Arc<Shared>, checkout: Checkout) -> Session {
        // Counted as in use while the session lives (see `Drop`).
        shared.health.checked_out();
        Session {
            conn,
            shared,
            checkout,
            in_transaction: false,
            read_only: false,
            in_flight: false,
        }
    }

    /// Wraps a connection and begins a transaction as `begin` says.
    pub(crate) async fn open(
        conn: Conn,
        shared: Arc<Shared>,
        checkout: Checkout,
        begin: Begin,
    ) -> Result<Session, DatabaseError> {
        let mut session = Session::new(conn, shared, checkout);
        if begin != Begin::None {
            session.begin(begin).await?;
        }
        Ok(session)
    }

    /// Begins a transaction (`begin` is not [`Begin::None`]).
    async fn begin(&mut self, begin: Begin) -> Result<(), DatabaseError> {
        self.in_flight = true;
        // Boxed: the drivers' BEGIN futures stay out of every session's future.
        let begun = Box::pin(
            self.conn
                .begin(begin == Begin::Write, begin == Begin::ReadOnly),
        )
        .await;
        self.in_flight = false;
        begun.map_err(|e| self.error_at(e, false))?;
        self.in_transaction = true;
        self.read_only = begin == Begin::ReadOnly
            && dialect::read_only_transactions(self.shared.config.dialect());
        Ok(())
    }

    /// Begins a write transaction if none is open (under `AUTOCOMMIT` sessions open none):
    /// for an operation of several statements that promises all or none (a batch update).
    /// Whether it began one; the caller then commits or rolls it back.
    pub(crate) async fn ensure_transaction(&mut self) -> Result<bool, DatabaseError> {
        if self.in_transaction {
            return Ok(false);
        }
        self.check_open()?;
        self.begin(Begin::Write).await?;
        Ok(true)
    }

    /// Ends a transaction [`ensure_transaction`](Self::ensure_transaction) began: committed
    /// after `result` succeeded, else rolled back (and `result`'s error returned).
    pub(crate) async fn end_own<T>(
        &mut self,
        result: Result<T, DatabaseError>,
    ) -> Result<T, DatabaseError> {
        match result {
            Ok(value) => self.end(true).await.map(|()| value),
            Err(error) => {
                // The rollback's own failure leaves the connection closed (see `end`); the
                // caller hears of the batch's error.
                let _ = self.end(false).await;
                Err(error)
            }
        }
    }

    /// The configuration this session runs under.
    pub fn config(&self) -> &DBConfig {
        &self.shared.config
    }

    /// Maps a driver error; one showing that the connection is gone invalidates the host's
    /// pool, so that the other connections to it opened before it are not handed out again,
    /// and marks the host down. `may_commit`: the statement under way could have committed (a
    /// `COMMIT`, or a statement outside a transaction), so a lost connection leaves its outcome
    /// unknown — but for a read-only transaction, which wrote nothing: its lost COMMIT is a
    /// plain connection error.
    fn error_at(&self, e: sqlx::Error, may_commit: bool) -> DatabaseError {
        let may_commit = may_commit && !self.read_only;
        let committing = may_commit && self.in_transaction;
        let error = self
            .shared
            .catalog
            .complete(dialect::map_error(&self.shared.config, e));
        if error.kind() == ErrorKind::ConnectionError {
            self.checkout.host().invalidate();
            self.checkout.host().mark_down();
            if may_commit {
                return error.with_outcome_unknown(committing);
            }
        } else if error
            .code()
            .is_some_and(|code| dialect::is_read_only_error(self.shared.config.dialect(), code))
        {
            // A write refused by a server taken for a primary (demoted by a failover).
            self.checkout.host().forget_role();
        }
        error
    }

    /// [`error_at`](Self::error_at) for a statement of this session.
    fn error(&self, e: sqlx::Error) -> DatabaseError {
        self.error_at(e, !self.in_transaction)
    }

    /// Fails once `disconnect` has returned (while it waits, sessions finish their work).
    fn check_open(&self) -> Result<(), DatabaseError> {
        self.shared.health.check_not_ended()
    }

    /// Runs one statement, decoding the rows it returns (if any) as `T`.
    pub(crate) async fn run<T: FromRow>(
        &mut self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<Outcome<T>, DatabaseError> {
        let prepared = self.prepare(statement)?;
        self.run_prepared(prepared, None).await
    }

    /// Runs a bulk insert already rendered for this dialect, taking its values (tens of
    /// thousands of values are not copied), bound one by one or as column arrays.
    pub(crate) async fn run_bulk<T: FromRow>(
        &mut self,
        bulk: crate::async_database_functions::statements::bulk_insert::BulkRendered,
    ) -> Result<Outcome<T>, DatabaseError> {
        self.check_open()?;
        if let Some(copy) = &bulk.copy {
            // Logged once it is known which statement is sent: the COPY or the insert.
            let mut values = bulk.rendered.values;
            dialect::normalize_values(self.shared.config.dialect(), &mut values)?;
            let persistent = self.persistent();
            let hidden = self.hidden(&values);
            let timer = SlowTimer::start(&self.shared.config);
            self.in_flight = true;
            let config = &self.shared.config;
            let result = self
                .conn
                .copy_in(copy, &values, persistent, || {
                    telemetry::echo(config, &copy.sql, &values.0)
                })
                .await;
            timer.finish(Some(&copy.sql));
            if let Some(rows) = self.finish(result, hidden)? {
                return Ok(Outcome {
                    rows: Vec::new(),
                    rows_affected: rows,
                    last_insert_id: None,
                });
            }
            telemetry::echo(&self.shared.config, &bulk.rendered.sql, &values.0);
            let prepared = (Cow::Owned(bulk.rendered.sql), values, persistent);
            return self.run_prepared(prepared, bulk.arrays.as_ref()).await;
        }
        let prepared = self.prepared(bulk.rendered, false)?;
        self.run_prepared(prepared, bulk.arrays.as_ref()).await
    }

    /// Runs a statement already rendered for this dialect, decoding only its first row.
    pub(crate) async fn first_rendered<T: FromRow>(
        &mut self,
        rendered: crate::async_database_functions::statements::statement::Rendered,
    ) -> Result<Option<T>, DatabaseError> {
        self.first_parts(Cow::Owned(rendered.sql), rendered.values)
            .await
    }

    /// [`first_rendered`](Self::first_rendered) with the SQL borrowed when it is rendered once
    /// and kept (a point read's `SELECT … WHERE key = $1`): no copy of it a call.
    pub(crate) async fn first_parts<T: FromRow>(
        &mut self,
        sql: Cow<'static, str>,
        values: sea_query::Values,
    ) -> Result<Option<T>, DatabaseError> {
        self.check_open()?;
        let (sql, values, persistent) = self.prepared_parts(sql, values, false)?;
        self.first_prepared(sql, values, persistent).await
    }

    /// [`first_parts`](Self::first_parts) for every row: the SQL borrowed when it is kept (a
    /// model's every-row `SELECT …`).
    pub(crate) async fn all_parts<T: FromRow>(
        &mut self,
        sql: Cow<'static, str>,
        values: sea_query::Values,
    ) -> Result<Vec<T>, DatabaseError> {
        self.check_open()?;
        let prepared = self.prepared_parts(sql, values, false)?;
        self.run_prepared(prepared, None).await.map(|o| o.rows)
    }

    /// Runs a prepared statement; with `arrays`, its values are bound as column arrays.
    async fn run_prepared<T: FromRow>(
        &mut self,
        (sql, values, persistent): (Cow<'static, str>, sea_query::Values, bool),
        arrays: Option<&ColumnArrays>,
    ) -> Result<Outcome<T>, DatabaseError> {
        let hidden = self.hidden(&values);
        let timer = SlowTimer::start(&self.shared.config);
        let timed_sql = timer.is_on().then(|| sql.to_string());
        self.in_flight = true;
        let result = match arrays {
            Some(arrays) => {
                (self.conn)
                    .run_arrays(sql.into_owned(), values, arrays, persistent)
                    .await
            }
            None => self.conn.run(sql, values, persistent).await,
        };
        timer.finish(timed_sql.as_deref());
        self.finish(result, hidden)
    }

    /// Runs a query and decodes only its first row.
    async fn first<T: FromRow>(
        &mut self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<Option<T>, DatabaseError> {
        let (sql, values, persistent) = self.prepare_first(statement)?;
        self.first_prepared(sql, values, persistent).await
    }

    async fn first_prepared<T: FromRow>(
        &mut self,
        sql: Cow<'static, str>,
        values: sea_query::Values,
        persistent: bool,
    ) -> Result<Option<T>, DatabaseError> {
        let hidden = self.hidden(&values);
        let timer = SlowTimer::start(&self.shared.config);
        let timed_sql = timer.is_on().then(|| sql.to_string());
        self.in_flight = true;
        let result = self.conn.first(sql, values, persistent).await;
        timer.finish(timed_sql.as_deref());
        self.finish(result, hidden)
    }

    /// Runs `script` in one round trip and decodes the rows of its statements as `T`. The server
    /// stops at the first statement that fails; a transaction the script opened is then rolled
    /// back, so the connection goes back to the pool clean (if even that fails, it is closed).
    pub(crate) async fn run_script<T: FromRow>(
        &mut self,
        script: &Script,
    ) -> Result<Outcome<T>, DatabaseError> {
        self.check_open()?;
        let template = script.template.as_deref().unwrap_or_default();
        telemetry::echo(&self.shared.config, template, &script.values);
        let own_transaction =
            script.atomic && !self.in_transaction && !self.shared.config.autocommit();
        let sql = if own_transaction {
            format!("START TRANSACTION; {}; COMMIT", script.sql)
        } else {
            script.sql.clone()
        };
        let timer = SlowTimer::start(&self.shared.config);
        self.in_flight = true;
        let result = self.conn.run_script(sql).await;
        timer.finish(Some(template));
        let clean = match &result {
            Err(_) if own_transaction => self.conn.run_raw("ROLLBACK".to_string()).await.is_ok(),
            _ => true,
        };
        let result = self.finish(result, None);
        self.in_flight = !clean;
        result.map_err(|error| {
            if self.shared.config.hide_parameters() {
                error.scrubbed(|text| {
                    redact::scrub_values(
                        text,
                        &with_literals(self.shared.config.dialect(), &script.values),
                    )
                })
            } else {
                error
            }
        })
    }

    /// Renders `statement` for this dialect and logs it when `echo` is on.
    fn prepare(
        &self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<(Cow<'static, str>, sea_query::Values, bool), DatabaseError> {
        self.check_open()?;
        self.prepared(
            statement.render(self.shared.config.dialect())?,
            statement.types_vary(),
        )
    }

    /// [`prepare`](Self::prepare) for reading the first row only (`LIMIT 1` added).
    fn prepare_first(
        &self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<(Cow<'static, str>, sea_query::Values, bool), DatabaseError> {
        self.check_open()?;
        self.prepared(
            statement.render_first(self.shared.config.dialect())?,
            statement.types_vary(),
        )
    }

    fn prepared(
        &self,
        rendered: crate::async_database_functions::statements::statement::Rendered,
        types_vary: bool,
    ) -> Result<(Cow<'static, str>, sea_query::Values, bool), DatabaseError> {
        self.prepared_parts(Cow::Owned(rendered.sql), rendered.values, types_vary)
    }

    /// [`prepared`](Self::prepared) with the SQL borrowed when it is kept (it is copied only
    /// when `types_vary` names the value types in it).
    fn prepared_parts(
        &self,
        mut sql: Cow<'static, str>,
        mut values: sea_query::Values,
        types_vary: bool,
    ) -> Result<(Cow<'static, str>, sea_query::Values, bool), DatabaseError> {
        let dialect = self.shared.config.dialect();
        dialect::normalize_values(dialect, &mut values)?;
        // Logged as written: without the type key below.
        telemetry::echo(&self.shared.config, &sql, &values.0);
        if types_vary {
            dialect::key_by_types(dialect, sql.to_mut(), &values);
        }
        Ok((sql, values, self.persistent()))
    }

    /// Whether statements are prepared and kept on the connection (`query_cache_size`).
    fn persistent(&self) -> bool {
        self.shared.config.query_cache_size() > 0
    }

    /// With `hide_parameters`, the values to keep out of error details.
    fn hidden(&self, values: &sea_query::Values) -> Option<sea_query::Values> {
        self.shared.config.hide_parameters().then(|| values.clone())
    }

    /// Ends a driver call: the connection is in a known state again.
    fn finish<T>(
        &mut self,
        result: Result<T, RunError>,
        hidden: Option<sea_query::Values>,
    ) -> Result<T, DatabaseError> {
        self.in_flight = false;
        self.note_write();
        result.map_err(|e| {
            let error = match e {
                RunError::Driver(e) => self.error(e),
                RunError::Decode(e) => e,
            };
            match hidden {
                Some(values) => error.scrubbed(|text| redact::scrub_values(text, &values.0)),
                None => error,
            }
        })
    }

    /// Runs one statement and reports what
    /// [`DatabaseOperations::execute_one`](crate::async_database_functions::database_operations::DatabaseOperations::execute_one)
    /// reports: the rows of a SELECT or of a RETURNING clause (as [`Record`]s), the row count,
    /// and the primary key the backend reports for an INSERT. Unlike `execute_one` it does
    /// not commit: the statement is part of this session's transaction.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// let mut session = db.get_db_session().await?;
    /// session.execute_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT)").await?;
    /// let inserted = session.execute_one(&text("INSERT INTO notes (body) VALUES (:b)").bind("b", "hi")).await?;
    /// assert_eq!((inserted.rowcount, inserted.inserted_primary_key), (1, Some(1)));
    /// let read = session.execute_one(&text("SELECT id, body FROM notes")).await?;
    /// assert_eq!(read.rowcount, 1);
    /// assert_eq!(read.rows[0].get("body"), Some(&serde_json::json!("hi")));
    /// session.commit().await?;
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As `execute_one`: the statement's error (integrity, invalid input, …); the
    /// transaction is left for the caller to roll back or drop.
    pub async fn execute_one(
        &mut self,
        statement: impl Statement,
    ) -> Result<ExecuteResult, DatabaseError> {
        let outcome = self.run::<Record>(&statement).await?;
        let rowcount = match statement.kind() {
            StatementKind::Select => outcome.rows.len() as u64,
            // A RETURNING clause gives one row per row written; MariaDB reports no affected
            // rows for a statement that returns a result set.
            _ => Ord::max(outcome.rows_affected, outcome.rows.len() as u64),
        };
        Ok(ExecuteResult {
            rowcount,
            inserted_primary_key: match statement.kind() {
                StatementKind::Insert => outcome.last_insert_id,
                _ => None,
            },
            rows: outcome.rows,
        })
    }

    /// Runs a statement and returns the number of rows it affected.
    pub async fn execute(&mut self, statement: impl Statement) -> Result<u64, DatabaseError> {
        self.run::<()>(&statement).await.map(|o| o.rows_affected)
    }

    /// Runs a query and decodes every row as `T` (a model, a scalar, a tuple or a `Record`).
    pub async fn fetch_all<T: FromRow>(
        &mut self,
        statement: impl Statement,
    ) -> Result<Vec<T>, DatabaseError> {
        self.run(&statement).await.map(|o| o.rows)
    }

    /// Runs a query and decodes its first row, if any.
    pub async fn fetch_optional<T: FromRow>(
        &mut self,
        statement: impl Statement,
    ) -> Result<Option<T>, DatabaseError> {
        self.first(&statement).await
    }

    /// Runs SQL that takes no parameters (DDL, pragmas) and returns nothing.
    pub async fn execute_sql(&mut self, sql: &str) -> Result<(), DatabaseError> {
        self.check_open()?;
        telemetry::echo(&self.shared.config, sql, &[]);
        let timer = SlowTimer::start(&self.shared.config);
        self.in_flight = true;
        let result = self.conn.run_raw(sql.to_string()).await;
        self.in_flight = false;
        self.note_write();
        timer.finish(Some(sql));
        result.map_err(|e| self.error(e))
    }

    /// Commits the transaction and returns the connection to the pool. Once
    /// [`disconnect`](crate::async_database_functions::async_database::AsyncDatabase::disconnect) has returned it fails
    /// with a `Disconnected` error and the transaction is rolled back. Under
    /// `isolation_level = "AUTOCOMMIT"` every statement has already committed: it only returns
    /// the connection.
    pub async fn commit(mut self) -> Result<(), DatabaseError> {
        if self.in_transaction {
            self.check_open()?;
        }
        self.end(true).await
    }

    /// Rolls the transaction back and returns the connection to the pool (under
    /// `AUTOCOMMIT`, there is nothing to roll back).
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
        self.note_write();
        let result = result.map_err(|e| self.error_at(e, commit));
        if result.is_err() {
            // A failed COMMIT (a serialization failure or certification conflict reported at
            // commit) leaves the driver counting an open transaction: end it, so the connection
            // goes back to the pool clean; if even that fails, close the connection instead.
            self.in_flight = true;
            let cleared = self.conn.rollback().await;
            self.in_flight = cleared.is_err();
        }
        self.in_transaction = false;
        result
    }
}

/// `values`, and each as the literal a script writes (a server error quoting the script's text
/// would quote those).
fn with_literals(
    dialect: crate::async_database_functions::core::sql_dialect::Dialect,
    values: &[sea_query::Value],
) -> Vec<sea_query::Value> {
    let mut all = values.to_vec();
    for value in values {
        let mut literal = String::new();
        if dialect::push_literal(dialect, &mut literal, value) {
            all.push(sea_query::Value::String(Some(literal)));
        }
    }
    all
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.health.checked_in();
        if !self.in_flight && !self.in_transaction {
            // Every statement ran to its end, no transaction is open: nothing to flush.
            self.conn.reusable();
        } else if self.in_flight {
            // Cancelled mid-statement (sqlx #4393): the connection may be inside a half-sent
            // BEGIN or query. Never reuse it.
            self.conn.close_on_drop();
        } else if self.in_transaction {
            // Sent before the connection is reused, when the pool tests it on release.
            self.conn.start_rollback();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming reads (`DatabaseOperations::read_stream`, see `stream.rs`).

impl Session {
    /// Runs an already rendered query and sends each decoded row into `rows` as it arrives
    /// (echo logged like every statement), counting them in `sent`. When the receiver goes
    /// away the rest of the result is left unread (so too after an error): the connection is
    /// then closed when the session is dropped instead of being returned to the pool with a
    /// half-read result on it.
    pub(crate) async fn stream_rendered<T: FromRow>(
        &mut self,
        rendered: crate::async_database_functions::statements::statement::Rendered,
        types_vary: bool,
        rows: &crate::async_database_functions::dialect::row_channel::RowSender<T>,
        sent: &mut u64,
    ) -> Result<(), DatabaseError> {
        self.check_open()?;
        let (sql, values, persistent) = self.prepared(rendered, types_vary)?;
        let hidden = self.hidden(&values);
        self.in_flight = true;
        let result = self
            .conn
            .stream_into(sql.into_owned(), values, persistent, rows, sent)
            .await;
        let complete = matches!(result, Ok(true));
        let result = self.finish(result.map(|_| ()), hidden);
        // Stopped early or failed part way: the rest of the result may be unread, so `Drop`
        // closes the connection rather than returning it to the pool.
        self.in_flight = !complete;
        result
    }
}
