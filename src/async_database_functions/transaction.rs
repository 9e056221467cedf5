//! Typed operations inside a caller's transaction, the closure helper
//! [`AsyncDatabase::transaction`], and savepoints.
//!
//! ```
//! use dsg_lib::prelude::*;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "tx_doc_accounts")]
//! struct Account {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(unique, size = 50)]
//!     name: String,
//!     balance: i64,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<Account>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db.clone());
//! let a = ops.create_one(Account { base: SchemaBase::default(), name: "a".into(), balance: 10 }).await?;
//! let b = ops.create_one(Account { base: SchemaBase::default(), name: "b".into(), balance: 0 }).await?;
//!
//! // Both updates commit together, or neither does.
//! let (a_id, b_id) = (a.base.pkid.clone(), b.base.pkid.clone());
//! db.transaction(|tx| {
//!     let (a_id, b_id) = (a_id.clone(), b_id.clone());
//!     Box::pin(async move {
//!         tx.update_one::<Account>(a_id, serde_json::json!({"balance": 5})).await?;
//!         tx.update_one::<Account>(b_id, serde_json::json!({"balance": 5})).await?;
//!         Ok(())
//!     })
//! })
//! .await?;
//! let b: Option<Account> = ops.read_by_pk::<Account>(b.base.pkid).await?;
//! assert_eq!(b.map(|b| b.balance), Some(5));
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_query::{LockType, Value};

use super::async_database::AsyncDatabase;
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::statements::model::Model;
use crate::async_database_functions::statements::session::Session;
use crate::async_database_functions::statements::writes;

/// What the closures of [`AsyncDatabase::transaction`] and [`Session::savepoint`] return: a
/// boxed future borrowing the session, `Box::pin(async move { … })`. Boxed (as in sqlx and
/// SeaORM) so that the whole call stays `Send` and can run in `tokio::spawn` or an axum
/// handler.
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, DatabaseError>> + Send + 'c>>;

static SAVEPOINTS: AtomicU64 = AtomicU64::new(0);

impl Session {
    /// Inserts `model` in this session's transaction and returns it as stored.
    pub async fn create_one<M: Model>(&mut self, model: M) -> Result<M, DatabaseError> {
        let mut stored = self.create_many(vec![model]).await?;
        stored.pop().ok_or_else(|| {
            DatabaseError::not_found(format!("the new {} row was not read back", M::TABLE))
        })
    }

    /// Inserts `models` in this session's transaction (multi-row inserts, split as
    /// [`DatabaseOperations::create_many`](super::database_operations::DatabaseOperations::create_many)
    /// splits them) and returns them as stored.
    pub async fn create_many<M: Model>(
        &mut self,
        mut models: Vec<M>,
    ) -> Result<Vec<M>, DatabaseError> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let plan = writes::InsertPlan::new::<M>(self.config().dialect(), &mut models);
        Ok(writes::insert_in(self, &plan, &models)
            .await?
            .unwrap_or(models))
    }

    /// Updates the row of `M` whose key is `record_id` in this session's transaction, as
    /// [`DatabaseOperations::update_one`](super::database_operations::DatabaseOperations::update_one)
    /// does (never the key or `date_created`; `date_updated` stamped), and returns it.
    pub async fn update_one<M: Model>(
        &mut self,
        record_id: impl Into<Value>,
        new_values: serde_json::Value,
    ) -> Result<M, DatabaseError> {
        let plan = writes::UpdatePlan::new::<M>(self.config(), record_id.into(), new_values)?;
        writes::update_in::<M>(self, &plan).await
    }

    /// Deletes the row of `M` whose key is `record_id` in this session's transaction.
    ///
    /// # Errors
    ///
    /// Not found when no row has that id.
    pub async fn delete_one<M: Model>(
        &mut self,
        record_id: impl Into<Value>,
    ) -> Result<(), DatabaseError> {
        writes::delete_in::<M>(self, &record_id.into()).await
    }

    /// The row of `M` whose key is `record_id`, read in this session's transaction.
    pub async fn read_by_pk<M: Model>(
        &mut self,
        record_id: impl Into<Value>,
    ) -> Result<Option<M>, DatabaseError> {
        let key = writes::single_key::<M>()?;
        let mut select = M::select();
        select.and_where(M::col(key.name).eq(record_id.into()));
        self.fetch_optional(&select).await
    }

    /// The row of `M` whose key is `record_id`, read in this session's transaction with a
    /// lock on it that holds until the transaction ends (`SELECT … FOR UPDATE` on PostgreSQL
    /// and MySQL/MariaDB): another transaction that reads the row this way waits for this one
    /// to commit and then reads what it wrote. The way to read a value and write it back
    /// changed (a counter, a balance) without losing a concurrent update, which a plain read
    /// at the servers' default isolation does:
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// #[derive(Model, Debug, Clone)]
    /// #[model(table = "for_update_doc")]
    /// struct Counter {
    ///     #[model(primary_key, size = 20)]
    ///     name: String,
    ///     value: i64,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// db.register::<Counter>();
    /// db.create_tables().await?;
    /// DatabaseOperations::new(db.clone()).create_one(Counter { name: "hits".into(), value: 0 }).await?;
    /// db.transaction(|tx| {
    ///     Box::pin(async move {
    ///         let counter = tx.read_by_pk_for_update::<Counter>("hits").await?;
    ///         let value = counter.map_or(0, |c| c.value);
    ///         tx.update_one::<Counter>("hits", serde_json::json!({"value": value + 1})).await?;
    ///         Ok(())
    ///     })
    /// })
    /// .await?;
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// SQLite has no row locks and no `FOR UPDATE` (none is sent): there a transaction that
    /// will write holds the database's write lock from its start — [`AsyncDatabase::transaction`]
    /// begins with `BEGIN IMMEDIATE` — so its reads already see no concurrent writer. A session
    /// from `get_db_session()` begins a deferred transaction on SQLite (see the guide's
    /// [Guarantees](crate::guide::guarantees)): use `transaction` for read-then-write there.
    /// The same lock on any typed select: `M::select().lock(LockType::Update)` (sea-query's
    /// [`lock`](sea_query::SelectStatement::lock)).
    pub async fn read_by_pk_for_update<M: Model>(
        &mut self,
        record_id: impl Into<Value>,
    ) -> Result<Option<M>, DatabaseError> {
        let key = writes::single_key::<M>()?;
        let mut select = M::select();
        select
            .and_where(M::col(key.name).eq(record_id.into()))
            .lock(LockType::Update);
        self.fetch_optional(&select).await
    }

    /// Runs `f` inside a savepoint of this session's transaction: released when `f` returns
    /// `Ok`, rolled back to when it returns `Err` (the error is returned, and the rest of the
    /// transaction goes on). Savepoints nest.
    pub async fn savepoint<T, F>(&mut self, f: F) -> Result<T, DatabaseError>
    where
        F: for<'c> FnOnce(&'c mut Session) -> TxFuture<'c, T>,
    {
        let name = format!("dsg_sp_{}", SAVEPOINTS.fetch_add(1, Ordering::Relaxed));
        self.execute_sql(&format!("SAVEPOINT {name}")).await?;
        match f(self).await {
            Ok(value) => {
                self.execute_sql(&format!("RELEASE SAVEPOINT {name}"))
                    .await?;
                Ok(value)
            }
            Err(error) => {
                self.execute_sql(&format!("ROLLBACK TO SAVEPOINT {name}"))
                    .await?;
                self.execute_sql(&format!("RELEASE SAVEPOINT {name}"))
                    .await?;
                Err(error)
            }
        }
    }
}

impl AsyncDatabase {
    /// Runs `f` in one transaction: committed when `f` returns `Ok`, rolled back when it returns
    /// `Err` (or panics, or the future is dropped).
    ///
    /// A run that fails retryably is run again from the start, on a new connection, as the
    /// `retry` key says (by default 15 runs in all, each pause drawn at random below a window
    /// of 2 ms that doubles each time and widens with the number of transactions re-run,
    /// at most 1 s): a serialization failure or deadlock (PostgreSQL 40001/40P01, MySQL/MariaDB
    /// 1213/1205, a Galera certification conflict, SQLite busy), or a connection lost before
    /// the commit was sent (on a multi-host URI, the next run goes to a live host). So `f`
    /// must be safe to run more than once: keep side effects outside the database after it.
    /// A connection lost during the commit is never re-run: see
    /// [`DatabaseError::is_outcome_unknown`]. This is the pattern CockroachDB's clients call
    /// `ExecuteTx`. On SQLite the transaction takes the write lock up front (`BEGIN IMMEDIATE`).
    ///
    /// # Values from outside the closure
    ///
    /// Because a retry runs `f` again, `f` is an `FnMut`: it may not give away what it
    /// captured. Moving a captured value into the `async move` block is refused with E0507
    /// ("cannot move out of `name`, a captured variable in an `FnMut` closure"):
    ///
    /// ```compile_fail,E0507
    /// # use dsg_lib::prelude::*;
    /// # #[derive(Model, Debug, Clone)]
    /// # #[model(table = "tx_e0507")]
    /// # struct Color { #[model(flatten)] base: SchemaBase, name: String }
    /// # async fn f(db: AsyncDatabase) -> Result<(), DatabaseError> {
    /// let name = String::from("red");
    /// db.transaction(|tx| {
    ///     Box::pin(async move {
    ///         tx.create_one(Color { base: SchemaBase::default(), name }).await?; // E0507
    ///         Ok(())
    ///     })
    /// })
    /// .await
    /// # }
    /// ```
    ///
    /// A borrowed local is refused too, with E0597 ("`name` does not live long enough …
    /// argument requires that `name` is borrowed for `'static`"): the future may hold the
    /// session for as long as the caller likes, so it may borrow nothing shorter-lived:
    ///
    /// ```compile_fail,E0597
    /// # use dsg_lib::prelude::*;
    /// # #[derive(Model, Debug, Clone)]
    /// # #[model(table = "tx_e0597")]
    /// # struct Color { #[model(flatten)] base: SchemaBase, name: String }
    /// # async fn f(db: AsyncDatabase) -> Result<(), DatabaseError> {
    /// let name = String::from("red");
    /// let name: &str = &name;
    /// db.transaction(|tx| {
    ///     Box::pin(async move {
    ///         tx.create_one(Color { base: SchemaBase::default(), name: name.to_string() }).await?;
    ///         Ok(())
    ///     })
    /// })
    /// .await
    /// # }
    /// ```
    ///
    /// The fix for both is one owned copy per run: clone inside the closure, before the
    /// `async move` block, or let [`transaction_with`](Self::transaction_with) clone for you:
    ///
    /// ```
    /// # use dsg_lib::prelude::*;
    /// # #[derive(Model, Debug, Clone)]
    /// # #[model(table = "tx_clone")]
    /// # struct Color { #[model(flatten)] base: SchemaBase, name: String }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// # db.register::<Color>();
    /// # db.create_tables().await?;
    /// let name = String::from("red");
    /// db.transaction(|tx| {
    ///     let name = name.clone(); // one copy per run
    ///     Box::pin(async move {
    ///         tx.create_one(Color { base: SchemaBase::default(), name }).await?;
    ///         Ok(())
    ///     })
    /// })
    /// .await?;
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// The error `f` returned, or the commit's; after the last run, the retryable error with
    /// the number of runs in its details.
    pub async fn transaction<T, F>(&self, mut f: F) -> Result<T, DatabaseError>
    where
        F: for<'c> FnMut(&'c mut Session) -> TxFuture<'c, T>,
    {
        let mut attempts = self.attempts();
        loop {
            let result: Result<T, DatabaseError> = async {
                let mut session = self.write_session(true).await?;
                let value = f(&mut session).await?;
                session.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Ok(value) => return Ok(value),
                Err(error) => attempts.again(error).await?,
            }
        }
    }

    /// [`transaction`](Self::transaction) with data of the caller's: each run gets its own
    /// clone of `data`, to move into its future as it likes, so the closure captures nothing
    /// (the E0507 and E0597 errors `transaction` explains cannot arise).
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// #[derive(Model, Debug, Clone)]
    /// #[model(table = "tx_with_doc")]
    /// struct Account {
    ///     #[model(flatten)]
    ///     base: SchemaBase,
    ///     #[model(size = 50)]
    ///     name: String,
    ///     balance: i64,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// db.register::<Account>();
    /// db.create_tables().await?;
    /// let name = String::from("alice");
    /// let stored: Account = db
    ///     .transaction_with(name, |tx, name| {
    ///         Box::pin(async move {
    ///             tx.create_one(Account { base: SchemaBase::default(), name, balance: 10 }).await
    ///         })
    ///     })
    ///     .await?;
    /// assert_eq!(stored.name, "alice");
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`transaction`](Self::transaction).
    pub async fn transaction_with<D, T, F>(&self, data: D, f: F) -> Result<T, DatabaseError>
    where
        D: Clone,
        F: for<'c> Fn(&'c mut Session, D) -> TxFuture<'c, T>,
    {
        self.transaction(|session| f(session, data.clone())).await
    }
}
