//! [`DatabaseOperations`]: the seed's operation set — count, paginate, read, execute, create,
//! update, delete, introspect — each returning `Result<T, DatabaseError>`.
//!
//! ```
//! use dsg_lib::Model;
//! use dsg_lib::async_database_functions::{
//!     async_database::AsyncDatabase, base_schema::SchemaBase, database_config::DBConfig,
//!     database_operations::DatabaseOperations, model::Model as _,
//! };
//! use dsg_lib::sea_query::ExprTrait;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "ops_doc_users")]
//! struct User {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(unique, index, size = 100)]
//!     name: String,
//!     color: Option<String>,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<User>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db.clone());
//!
//! let mike = ops.create_one(User { base: SchemaBase::default(), name: "Mike".into(), color: Some("red".into()) }).await?;
//! let red: Vec<User> = ops.read_query(User::select().and_where(User::col("color").eq("red"))).await?;
//! assert_eq!(red[0].base.pkid, mike.base.pkid);
//! assert_eq!(ops.count_query(&User::select()).await?, 1);
//!
//! let updated: User = ops.update_one::<User>(mike.base.pkid.clone(), serde_json::json!({"color": "blue"})).await?;
//! assert_eq!(updated.color.as_deref(), Some("blue"));
//! ops.delete_one::<User>(mike.base.pkid).await?;
//! assert_eq!(ops.count_query(&User::select()).await?, 0);
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! # }).unwrap();
//! ```

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Mutex;

use indexmap::IndexMap;
use sea_query::{Expr, ExprTrait, Query, SelectStatement, Value};

use super::async_database::AsyncDatabase;
use super::dialect;
use super::topology::retry::retrying;
use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::statements::kept::{self, Key, Purpose};
use crate::async_database_functions::statements::model::Model;
use crate::async_database_functions::statements::session::Session;
use crate::async_database_functions::statements::statement::{
    AsSelect, Rendered, Statement, StatementKind,
};
use crate::async_database_functions::statements::telemetry::{Rows, operation_span, traced};
use crate::async_database_functions::statements::writes::{self, single_key};

/// The page size [`DatabaseOperations::paginate`] uses, as the seed.
pub const DEFAULT_PAGE_SIZE: u64 = 100;

/// One page of results from [`DatabaseOperations::paginate_query`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// How many rows match in all.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// Rows per page.
    pub page_size: u64,
    /// How many pages there are (0 when nothing matches).
    pub pages: u64,
}

pub use super::statements::execute_result::ExecuteResult;

/// A column as [`DatabaseOperations::get_columns_details`] describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnDetails {
    /// The SQL type on this database's dialect, e.g. `VARCHAR(100)`.
    #[serde(rename = "type")]
    pub sql_type: String,
    /// NULL allowed.
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Has a unique constraint or index.
    pub unique: bool,
    /// Filled by the database.
    pub autoincrement: bool,
    /// The default, as SQL, if any.
    pub default: Option<String>,
}

/// The seed's operations over an [`AsyncDatabase`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DatabaseOperations {
    db: AsyncDatabase,
    /// Reads go to the primary even when there are read replicas.
    primary_reads: bool,
}

impl DatabaseOperations {
    /// Operations over `db`.
    pub fn new(db: AsyncDatabase) -> Self {
        DatabaseOperations {
            db,
            primary_reads: false,
        }
    }

    /// The same operations, with every read sent to the primary even where read replicas are
    /// configured (`read_replica_uris`); writes always go there. Cheap: a clone.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// let ops = DatabaseOperations::new(db);
    /// let n: Vec<i64> = ops.on_primary().read_query(&text("SELECT 1")).await?;
    /// assert_eq!(n, [1]);
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    pub fn on_primary(&self) -> DatabaseOperations {
        DatabaseOperations {
            db: self.db.clone(),
            primary_reads: true,
        }
    }

    /// The database these operations run on.
    pub fn database(&self) -> &AsyncDatabase {
        &self.db
    }

    fn dialect(&self) -> Dialect {
        self.db.config().dialect()
    }

    /// How many rows `select` matches. A plain filtered select is counted with
    /// `SELECT COUNT(*) … WHERE …`; one with DISTINCT, GROUP BY, HAVING, LIMIT, OFFSET or UNION
    /// is counted as a subquery.
    pub async fn count_query(&self, select: impl AsSelect) -> Result<u64, DatabaseError> {
        let span = operation_span!("count_query", self.db.config(), None);
        traced!(span, self.count_query_untraced(select.as_select()), |_| {
            Rows::None
        })
    }

    async fn count_query_untraced(&self, select: &SelectStatement) -> Result<u64, DatabaseError> {
        self.read(|mut session| async move { count_in(&mut session, select).await })
            .await
    }

    /// Runs a read on a session of its own. A read that failed because its connection was
    /// gone (a restarted server, a killed connection: the pool is invalidated at once) is run
    /// once more on a fresh connection; reads change nothing, so running one twice is safe.
    pub(crate) async fn read<T, F, Fut>(&self, run: F) -> Result<T, DatabaseError>
    where
        F: Fn(Session) -> Fut,
        Fut: std::future::Future<Output = Result<T, DatabaseError>>,
    {
        // One loop, not a second call after the first: the read's future is held once in
        // this future (it was twice, as two await points), which every operation's caller
        // carries and moves.
        let mut retried = false;
        loop {
            let session = self.db.read_session(self.primary_reads).await?;
            match run(session).await {
                Err(e) if !retried && e.kind() == ErrorKind::ConnectionError => {
                    tracing::debug!(target: "dsg_lib", error = %e, "read retried on a fresh connection");
                    retried = true;
                }
                result => return result,
            }
        }
    }

    /// One page of `select`'s rows, with the total. On PostgreSQL and MySQL/MariaDB the page
    /// and the total are read on two pooled connections at once (the call takes as long as
    /// the slower of the two); on SQLite, or with a pool of one, one after the other.
    ///
    /// # Errors
    ///
    /// An invalid-input error when `page` or `page_size` is 0.
    pub async fn paginate_query<T: FromRow>(
        &self,
        select: impl AsSelect,
        page: u64,
        page_size: u64,
    ) -> Result<Page<T>, DatabaseError> {
        let span = operation_span!("paginate_query", self.db.config(), None);
        traced!(
            span,
            self.paginate_query_untraced::<T>(select.as_select(), page, page_size),
            |p| Rows::returned(p.items.len()),
        )
    }

    async fn paginate_query_untraced<T: FromRow>(
        &self,
        select: &SelectStatement,
        page: u64,
        page_size: u64,
    ) -> Result<Page<T>, DatabaseError> {
        if page < 1 {
            return Err(DatabaseError::invalid_pagination(format!(
                "page must be at least 1, got {page}"
            )));
        }
        if page_size < 1 {
            return Err(DatabaseError::invalid_pagination(format!(
                "page_size must be at least 1, got {page_size}"
            )));
        }
        // Past every possible row when it overflows: an empty page with the true total.
        let offset = (page - 1).saturating_mul(page_size);
        // SQLite and PostgreSQL take a signed LIMIT: a larger page size means "all".
        let limit = Ord::min(page_size, i64::MAX as u64);
        let config = self.db.config();
        // On a server the page and the total are two reads on two connections, side by side
        // (as two autocommit statements on one connection, they were never one snapshot).
        // An offset past `i64::MAX` is no valid OFFSET: only the total is read.
        let (total, items) = if dialect::concurrent_page(self.dialect())
            && dialect::max_connections(config) > 1
            && i64::try_from(offset).is_ok()
        {
            let mut paged = select.clone();
            paged.limit(limit).offset(offset);
            let paged = &paged;
            futures_util::future::try_join(
                self.read(|mut session| async move { count_in(&mut session, select).await }),
                self.read(|mut session| async move { session.fetch_all::<T>(paged).await }),
            )
            .await?
        } else {
            self.read(|mut session| async move {
                let total = count_in(&mut session, select).await?;
                let items = if offset >= total {
                    Vec::new()
                } else {
                    let mut paged = select.clone();
                    paged.limit(limit).offset(offset);
                    session.fetch_all(&paged).await?
                };
                Ok((total, items))
            })
            .await?
        };
        Ok(Page {
            items,
            total,
            page,
            page_size,
            pages: total.div_ceil(page_size),
        })
    }

    /// [`paginate_query`](Self::paginate_query) with the default page size of 100.
    pub async fn paginate<T: FromRow>(
        &self,
        select: impl AsSelect,
        page: u64,
    ) -> Result<Page<T>, DatabaseError> {
        let span = operation_span!("paginate", self.db.config(), None);
        traced!(
            span,
            self.paginate_untraced::<T>(select.as_select(), page),
            |p| { Rows::returned(p.items.len()) }
        )
    }

    async fn paginate_untraced<T: FromRow>(
        &self,
        select: &SelectStatement,
        page: u64,
    ) -> Result<Page<T>, DatabaseError> {
        self.paginate_query_untraced(select, page, DEFAULT_PAGE_SIZE)
            .await
    }

    /// The first row of `select`, or `None` when nothing matches.
    pub async fn read_one_record<T: FromRow>(
        &self,
        select: impl Statement,
    ) -> Result<Option<T>, DatabaseError> {
        let span = operation_span!("read_one_record", self.db.config(), None);
        traced!(span, self.read_one_record_untraced::<T>(&select), |r| {
            Rows::returned(usize::from(r.is_some()))
        })
    }

    async fn read_one_record_untraced<T: FromRow>(
        &self,
        select: &(impl Statement + ?Sized),
    ) -> Result<Option<T>, DatabaseError> {
        self.read(|mut session| async move { session.fetch_optional(select).await })
            .await
    }

    /// The row of `M` whose primary key is `record_id`, or `None` when there is none.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// #[derive(Model, Debug, Clone)]
    /// #[model(table = "read_by_pk_doc")]
    /// struct Color {
    ///     #[model(flatten)]
    ///     base: SchemaBase,
    ///     #[model(size = 50)]
    ///     name: String,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// db.register::<Color>();
    /// db.create_tables().await?;
    /// let ops = DatabaseOperations::new(db);
    /// let red = ops.create_one(Color { base: SchemaBase::default(), name: "red".into() }).await?;
    ///
    /// let found: Option<Color> = ops.read_by_pk::<Color>(red.base.pkid.clone()).await?;
    /// assert_eq!(found.map(|c| c.name).as_deref(), Some("red"));
    /// assert!(ops.read_by_pk::<Color>("no-such-id").await?.is_none());
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// Invalid input when `M` has no primary key or a composite one.
    pub async fn read_by_pk<M: Model>(
        &self,
        record_id: impl Into<Value>,
    ) -> Result<Option<M>, DatabaseError> {
        let span = operation_span!("read_by_pk", self.db.config(), Some(M::TABLE));
        traced!(span, self.read_by_pk_untraced::<M>(record_id), |r| {
            Rows::returned(usize::from(r.is_some()))
        })
    }

    async fn read_by_pk_untraced<M: Model>(
        &self,
        record_id: impl Into<Value>,
    ) -> Result<Option<M>, DatabaseError> {
        let (dialect, id) = (self.dialect(), &record_id.into());
        // Looked up per try (rendered once per model): the id copied, the SQL borrowed.
        self.read(|mut session| async move {
            let (sql, values) = by_key_select::<M>(dialect, id.clone())?;
            session.first_parts(sql, values).await
        })
        .await
    }

    /// Every row of `M`, in the database's order (none is promised): what
    /// `read_query(M::select())` reads, with the SQL rendered once per model and kept, as
    /// [`read_by_pk`](Self::read_by_pk)'s is (no statement built, cloned or rendered a call).
    /// For a small table read whole on every request (lookups, settings, TechEmpower's
    /// fortunes); a filtered or ordered read is [`read_query`](Self::read_query) of
    /// `M::select()` with its clauses.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// #[derive(Model, Debug, Clone)]
    /// #[model(table = "read_all_doc")]
    /// struct Color {
    ///     #[model(primary_key, auto_increment)]
    ///     id: i64,
    ///     name: String,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// db.register::<Color>();
    /// db.create_tables().await?;
    /// let ops = DatabaseOperations::new(db);
    /// assert!(ops.read_all::<Color>().await?.is_empty());
    /// for name in ["red", "green"] {
    ///     ops.create_one(Color { id: 0, name: name.into() }).await?;
    /// }
    /// let mut names: Vec<String> = ops.read_all::<Color>().await?.into_iter().map(|c| c.name).collect();
    /// names.sort();
    /// assert_eq!(names, ["green", "red"]);
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    pub async fn read_all<M: Model>(&self) -> Result<Vec<M>, DatabaseError> {
        let span = operation_span!("read_all", self.db.config(), Some(M::TABLE));
        traced!(span, self.read_all_untraced::<M>(), |rows| {
            Rows::returned(rows.len())
        })
    }

    async fn read_all_untraced<M: Model>(&self) -> Result<Vec<M>, DatabaseError> {
        let dialect = self.dialect();
        self.read(|mut session| async move {
            let (sql, values) = every_row_select::<M>(dialect)?;
            session.all_parts(sql, values).await
        })
        .await
    }

    /// Every row of `select` as `T`: a model, a scalar (single column), a tuple, or a
    /// [`Record`](crate::async_database_functions::record::Record).
    pub async fn read_query<T: FromRow>(
        &self,
        select: impl Statement,
    ) -> Result<Vec<T>, DatabaseError> {
        let span = operation_span!("read_query", self.db.config(), None);
        traced!(span, self.read_query_untraced::<T>(&select), |rows| {
            Rows::returned(rows.len())
        })
    }

    async fn read_query_untraced<T: FromRow>(
        &self,
        select: &(impl Statement + ?Sized),
    ) -> Result<Vec<T>, DatabaseError> {
        self.read(|mut session| async move { session.fetch_all(select).await })
            .await
    }

    /// Several named queries, all read on one connection; results keyed by name, in order.
    pub async fn read_multi_query<T: FromRow>(
        &self,
        queries: impl IntoIterator<Item = (impl Into<String>, impl Statement)>,
    ) -> Result<IndexMap<String, Vec<T>>, DatabaseError> {
        let span = operation_span!("read_multi_query", self.db.config(), None);
        traced!(
            span,
            self.read_multi_query_untraced::<T, _, _, _>(queries),
            |m| Rows::returned(m.values().map(Vec::len).sum()),
        )
    }

    async fn read_multi_query_untraced<T, K, S, I>(
        &self,
        queries: I,
    ) -> Result<IndexMap<String, Vec<T>>, DatabaseError>
    where
        T: FromRow,
        K: Into<String>,
        S: Statement,
        I: IntoIterator<Item = (K, S)>,
    {
        let queries: Vec<(String, S)> = queries.into_iter().map(|(k, s)| (k.into(), s)).collect();
        let queries = &queries;
        self.read(|mut session| async move {
            let mut results = IndexMap::with_capacity(queries.len());
            for (name, query) in queries {
                let rows = session.fetch_all(query).await?;
                results.insert(name.clone(), rows);
            }
            Ok(results)
        })
        .await
    }

    /// Runs one statement and commits it. SELECTs and RETURNING clauses give their rows.
    pub async fn execute_one(
        &self,
        statement: impl Statement,
    ) -> Result<ExecuteResult, DatabaseError> {
        let span = operation_span!("execute_one", self.db.config(), None);
        // The kind is read only when a subscriber listens: the closure runs only then.
        traced!(span, self.execute_one_untraced(&statement), |r| {
            statement_rows(r, statement.kind() == StatementKind::Select)
        })
    }

    async fn execute_one_untraced(
        &self,
        statement: &(impl Statement + ?Sized),
    ) -> Result<ExecuteResult, DatabaseError> {
        retrying!(self.db, async {
            let mut session = self.db.write_session(false).await?;
            let result = execute_in(&mut session, statement).await?;
            // Commits only where a session is a transaction (`transaction_pooling`).
            session.commit().await?;
            Ok(result)
        })
    }

    /// Runs every statement in order in one transaction. If one fails, none takes effect and
    /// the error's [`statement_index`](DatabaseError::statement_index) says which.
    pub async fn execute_many<S, I>(
        &self,
        statements: I,
    ) -> Result<Vec<ExecuteResult>, DatabaseError>
    where
        S: Statement,
        I: IntoIterator<Item = S>,
    {
        let span = operation_span!("execute_many", self.db.config(), None);
        traced!(
            span,
            self.execute_many_untraced::<S, I>(statements),
            |results| batch_rows(results),
        )
    }

    async fn execute_many_untraced<S, I>(
        &self,
        statements: I,
    ) -> Result<Vec<ExecuteResult>, DatabaseError>
    where
        S: Statement,
        I: IntoIterator<Item = S>,
    {
        let statements: Vec<S> = statements.into_iter().collect();
        retrying!(self.db, async {
            let mut session = self.db.write_session(true).await?;
            let mut results = Vec::with_capacity(statements.len());
            for (index, statement) in statements.iter().enumerate() {
                let result = execute_in(&mut session, statement)
                    .await
                    .map_err(|e| e.at_statement(index))?;
                results.push(result);
            }
            session.commit().await?;
            Ok(results)
        })
    }

    /// Inserts `model` and returns it as stored (defaults and auto-increment id filled in).
    pub async fn create_one<M: Model>(&self, model: M) -> Result<M, DatabaseError> {
        let span = operation_span!("create_one", self.db.config(), Some(M::TABLE));
        traced!(span, self.create_one_untraced::<M>(model), |_| {
            Rows::affected(1)
        })
    }

    async fn create_one_untraced<M: Model>(&self, model: M) -> Result<M, DatabaseError> {
        let mut stored = self.create_many_untraced(vec![model]).await?;
        stored.pop().ok_or_else(|| {
            DatabaseError::not_found(format!("the new {} row was not read back", M::TABLE))
        })
    }

    /// Inserts every model in one transaction, as multi-row inserts kept under the backend's
    /// bind-parameter limit (on MySQL/MariaDB, also under 128 KiB of values each: a larger
    /// statement would leave the server's buffer for the connection that large), and returns
    /// them as stored. One bad row stores none.
    pub async fn create_many<M: Model>(&self, models: Vec<M>) -> Result<Vec<M>, DatabaseError> {
        let span = operation_span!("create_many", self.db.config(), Some(M::TABLE));
        traced!(span, self.create_many_untraced::<M>(models), |stored| {
            Rows::affected(stored.len())
        })
    }

    async fn create_many_untraced<M: Model>(
        &self,
        mut models: Vec<M>,
    ) -> Result<Vec<M>, DatabaseError> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let plan = writes::InsertPlan::new::<M>(self.dialect(), &mut models);
        let stored = retrying!(self.db, async {
            let mut session = self
                .db
                .write_session(plan.needs_transaction(models.len()))
                .await?;
            let stored = writes::insert_in(&mut session, &plan, &models).await?;
            session.commit().await?;
            Ok(stored)
        })?;
        Ok(stored.unwrap_or(models))
    }

    /// Updates the row of `M` whose primary key is `record_id` with `new_values` (a JSON map
    /// of column → value) and returns it. Never changes the primary key or `date_created`;
    /// stamps `date_updated`.
    ///
    /// One statement (`UPDATE … RETURNING`) on SQLite and PostgreSQL. MySQL/MariaDB have no
    /// `UPDATE … RETURNING`: there the update and the read back run in one transaction, so the
    /// row returned is always the one this call wrote, sent as one text query in one round trip
    /// (`START TRANSACTION; UPDATE …; SELECT …; COMMIT`, every value written as a literal that
    /// is safe in any SQL mode: text and bytes in hex). A value with no such literal (a value
    /// of a custom column type the library cannot write, such as a date with an offset), or a
    /// query over 64 KiB, is bound instead, in four round trips.
    ///
    /// # Errors
    ///
    /// Invalid input for an unknown column or a value of the wrong type; not found when no
    /// row has that id.
    pub async fn update_one<M: Model>(
        &self,
        record_id: impl Into<Value>,
        new_values: serde_json::Value,
    ) -> Result<M, DatabaseError> {
        let span = operation_span!("update_one", self.db.config(), Some(M::TABLE));
        traced!(
            span,
            self.update_one_untraced::<M>(record_id, new_values),
            |_| Rows::affected(1),
        )
    }

    async fn update_one_untraced<M: Model>(
        &self,
        record_id: impl Into<Value>,
        new_values: serde_json::Value,
    ) -> Result<M, DatabaseError> {
        let update = writes::UpdatePlan::new::<M>(self.db.config(), record_id.into(), new_values)?;
        // With UPDATE … RETURNING one statement is atomic by itself; without it (MySQL/MariaDB)
        // the update and the read back run in one transaction, so that the row returned is the
        // one this call wrote, even when other clients write the same row at the same time
        // (sent as one script, in one round trip, when every value has a literal).
        let transaction = update.needs_transaction();
        retrying!(self.db, async {
            let mut session = self.db.write_session(transaction).await?;
            let updated = writes::update_in::<M>(&mut session, &update).await?;
            session.commit().await?;
            Ok(updated)
        })
    }

    /// Deletes the row of `M` whose primary key is `record_id`.
    ///
    /// # Errors
    ///
    /// Not found when no row has that id.
    pub async fn delete_one<M: Model>(
        &self,
        record_id: impl Into<Value>,
    ) -> Result<(), DatabaseError> {
        let span = operation_span!("delete_one", self.db.config(), Some(M::TABLE));
        traced!(span, self.delete_one_untraced::<M>(record_id), |_| {
            Rows::affected(1)
        })
    }

    async fn delete_one_untraced<M: Model>(
        &self,
        record_id: impl Into<Value>,
    ) -> Result<(), DatabaseError> {
        let record_id = record_id.into();
        retrying!(self.db, async {
            let mut session = self.db.write_session(false).await?;
            writes::delete_in::<M>(&mut session, &record_id).await?;
            session.commit().await
        })
    }

    /// Deletes the rows of `M` whose `id_column` is one of `ids`, in one transaction; returns
    /// how many were deleted.
    pub async fn delete_many<M: Model>(
        &self,
        id_column: &str,
        ids: impl IntoIterator<Item = impl Into<Value>>,
    ) -> Result<u64, DatabaseError> {
        let span = operation_span!("delete_many", self.db.config(), Some(M::TABLE));
        traced!(
            span,
            self.delete_many_untraced::<M, _, _>(id_column, ids),
            |n| Rows::Affected(*n),
        )
    }

    async fn delete_many_untraced<M, V, I>(
        &self,
        id_column: &str,
        ids: I,
    ) -> Result<u64, DatabaseError>
    where
        M: Model,
        V: Into<Value>,
        I: IntoIterator<Item = V>,
    {
        let column = M::column(id_column).ok_or_else(|| {
            DatabaseError::invalid_input(format!("{} has no column {id_column:?}", M::TABLE))
        })?;
        let ids: Vec<Value> = ids.into_iter().map(Into::into).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let per_chunk = dialect::rows_per_statement(self.dialect(), 1, || {
            ids.iter().map(dialect::value_len).max().unwrap_or(0)
        });
        // One statement is atomic by itself; several need a transaction.
        retrying!(self.db, async {
            let mut session = self.db.write_session(ids.len() > per_chunk).await?;
            let mut deleted = 0;
            for chunk in ids.chunks(per_chunk) {
                let mut delete = Query::delete();
                delete
                    .from_table(M::TABLE)
                    .and_where(Expr::col(column.name).is_in(chunk.iter().cloned()));
                deleted += session.execute(&delete).await?;
            }
            session.commit().await?;
            Ok(deleted)
        })
    }

    /// Each column of `M`: type on this dialect, nullable, primary key, unique, autoincrement,
    /// default.
    pub async fn get_columns_details<M: Model>(
        &self,
    ) -> Result<IndexMap<String, ColumnDetails>, DatabaseError> {
        let span = operation_span!("get_columns_details", self.db.config(), Some(M::TABLE));
        traced!(span, self.get_columns_details_untraced::<M>(), |_| {
            Rows::None
        })
    }

    async fn get_columns_details_untraced<M: Model>(
        &self,
    ) -> Result<IndexMap<String, ColumnDetails>, DatabaseError> {
        let dialect = self.dialect();
        Ok(M::columns()
            .iter()
            .map(|c| {
                let default = c.default.map(str::to_string).or_else(|| {
                    c.server_default
                        .and_then(|d| dialect::server_default_sql(dialect, d, c.sql_type))
                        .map(str::to_string)
                });
                let details = ColumnDetails {
                    sql_type: dialect::column_type_sql(dialect, c),
                    nullable: c.nullable,
                    primary_key: c.primary_key,
                    unique: c.unique,
                    autoincrement: c.auto_increment,
                    default,
                };
                (c.name.to_string(), details)
            })
            .collect())
    }

    /// The names of `M`'s primary key columns.
    pub async fn get_primary_keys<M: Model>(&self) -> Result<Vec<String>, DatabaseError> {
        let span = operation_span!("get_primary_keys", self.db.config(), Some(M::TABLE));
        traced!(span, self.get_primary_keys_untraced::<M>(), |_| Rows::None)
    }

    async fn get_primary_keys_untraced<M: Model>(&self) -> Result<Vec<String>, DatabaseError> {
        Ok(M::primary_keys().into_iter().map(str::to_string).collect())
    }

    /// The names of the registered tables.
    pub async fn get_table_names(&self) -> Result<Vec<String>, DatabaseError> {
        let span = operation_span!("get_table_names", self.db.config(), None);
        traced!(span, self.get_table_names_untraced(), |_| Rows::None)
    }

    async fn get_table_names_untraced(&self) -> Result<Vec<String>, DatabaseError> {
        Ok(self
            .db
            .table_names()
            .into_iter()
            .map(str::to_string)
            .collect())
    }
}

/// The rows [`DatabaseOperations::execute_one`] reports to its span.
fn statement_rows(result: &ExecuteResult, select: bool) -> Rows {
    if select {
        Rows::returned(result.rows.len())
    } else {
        Rows::Both {
            affected: result.rowcount,
            returned: result.rows.len() as u64,
        }
    }
}

/// The rows [`DatabaseOperations::execute_many`] reports to its span: rows returned by every
/// statement, rows affected by those that return none.
fn batch_rows(results: &[ExecuteResult]) -> Rows {
    let returned = results.iter().map(|r| r.rows.len() as u64).sum();
    let affected = results
        .iter()
        .filter(|r| r.rows.is_empty())
        .map(|r| r.rowcount)
        .sum();
    Rows::Both { affected, returned }
}

/// Counts `select`'s rows on `session`.
async fn count_in(session: &mut Session, select: &SelectStatement) -> Result<u64, DatabaseError> {
    let mut plain = select.clone();
    // Only plain columns keep one output row per matching row: an aggregate (`MAX(x)`) or a
    // window function in the select list changes the row count, so it needs the subquery.
    let mut only_columns = true;
    plain.exprs_mut_for_each(|e| {
        only_columns &= e.window.is_none() && matches!(e.expr, Expr::Column(_));
    });
    plain
        .distinct_on(Vec::<&str>::new())
        .reset_limit()
        .reset_offset()
        .clear_group_by()
        .clear_having();
    let dialect = session.config().dialect();
    if only_columns && plain == *select {
        plain
            .clear_selects()
            .clear_order_by()
            .expr(Expr::cust("COUNT(*)"));
        let rendered = plain.render(dialect)?;
        // UNIONs cannot be cleared from a statement; those are counted as a subquery.
        if !rendered.sql.contains(" UNION ") {
            return read_count(session, &Prerendered(rendered)).await;
        }
    }
    read_count(session, &subquery_count(select)).await
}

async fn read_count(session: &mut Session, count: &impl Statement) -> Result<u64, DatabaseError> {
    let total: Option<i64> = session.fetch_optional(count).await?;
    Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0))
}

/// A statement already rendered for the session's dialect, so it is not built twice.
struct Prerendered(Rendered);

impl Statement for Prerendered {
    fn render(&self, _: Dialect) -> Result<Rendered, DatabaseError> {
        Ok(self.0.clone())
    }
    fn kind(&self) -> StatementKind {
        StatementKind::Select
    }
}

fn subquery_count(select: &SelectStatement) -> SelectStatement {
    let mut count = Query::select();
    count
        .expr(Expr::cust("COUNT(*)"))
        .from_subquery(select.clone(), "dsg_count");
    count
}

/// Runs one statement for [`DatabaseOperations::execute_one`]/`execute_many`: what
/// [`Session::execute_one`] gives.
async fn execute_in(
    session: &mut Session,
    statement: &(impl Statement + ?Sized),
) -> Result<ExecuteResult, DatabaseError> {
    session.execute_one(statement).await
}

thread_local! {
    static KEPT_SQL: RefCell<kept::List<str>> = const { RefCell::new(Vec::new()) };
}
static KEPT_SQL_ALL: Mutex<kept::List<str>> = Mutex::new(Vec::new());

/// `M::select()` of the row whose key is `id`, rendered to read its first row: its SQL and
/// its values. The SQL depends only on the model and the dialect: it is rendered once per pair
/// and kept (see [`kept`]): rendering a sea-query statement costs about as much as SQLite's
/// own work for a point read, and a copy of the SQL per read was 2 % of a PostgreSQL point
/// read's instructions.
fn by_key_select<M: Model>(
    dialect: Dialect,
    id: Value,
) -> Result<(Cow<'static, str>, sea_query::Values), DatabaseError> {
    let slot = Key::of::<M>(Purpose::ByKey, Some(dialect));
    if let Some(sql) = kept::find(&KEPT_SQL, slot) {
        return Ok((Cow::Borrowed(sql), sea_query::Values(vec![id])));
    }
    let key = single_key::<M>()?;
    let mut select = M::select();
    select.and_where(M::col(key.name).eq(id));
    let rendered = select.render_first(dialect)?;
    // Kept only when the id is its one bound value (never for a select that binds its own).
    if rendered.values.0.len() != 1 {
        return Ok((Cow::Owned(rendered.sql), rendered.values));
    }
    let sql = kept::keep(&KEPT_SQL, &KEPT_SQL_ALL, slot, rendered.sql.into());
    Ok((Cow::Borrowed(sql), rendered.values))
}

/// `M::select()` rendered: the SQL reading every row of `M`, rendered once per model and
/// dialect and kept (see [`kept`]) when it binds no value, as [`by_key_select`]'s.
fn every_row_select<M: Model>(
    dialect: Dialect,
) -> Result<(Cow<'static, str>, sea_query::Values), DatabaseError> {
    let slot = Key::of::<M>(Purpose::Every, Some(dialect));
    if let Some(sql) = kept::find(&KEPT_SQL, slot) {
        return Ok((Cow::Borrowed(sql), sea_query::Values(Vec::new())));
    }
    let rendered = M::select().render(dialect)?;
    // A `select()` of the model's own that binds values is rendered each time.
    if !rendered.values.0.is_empty() {
        return Ok((Cow::Owned(rendered.sql), rendered.values));
    }
    let sql = kept::keep(&KEPT_SQL, &KEPT_SQL_ALL, slot, rendered.sql.into());
    Ok((Cow::Borrowed(sql), rendered.values))
}
