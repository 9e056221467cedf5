//! Declared models: the traits `#[derive(Model)]` implements, and the column metadata they carry.
//!
//! A model is a struct whose fields are columns. [`ColumnSet`] is a group of columns that can be
//! flattened into a model (like [`SchemaBase`](crate::async_database_functions::base_schema::SchemaBase)); [`Model`] is a
//! column set with a table. Both are normally derived:
//!
//! ```
//! use dsg_lib::Model;
//! use dsg_lib::async_database_functions::base_schema::SchemaBase;
//! use dsg_lib::async_database_functions::model::Model as _;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(unique, index, size = 100)]
//!     name: String,
//!     color: Option<String>,
//! }
//!
//! assert_eq!(User::TABLE, "users");
//! let names: Vec<&str> = User::columns().iter().map(|c| c.name).collect();
//! assert_eq!(names, ["pkid", "date_created", "date_updated", "name", "color"]);
//! ```

//!
//! # Typed columns
//!
//! The derive gives each column of a model's own fields an associated const of type
//! [`Col`], named after the field in upper case (`User::NAME` for `name`, also when the column
//! is renamed with `#[model(column = "...")]`); the columns of a flattened
//! [`SchemaBase`](crate::async_database_functions::base_schema::SchemaBase) come from the trait
//! [`SchemaBaseColumns`](crate::async_database_functions::base_schema::SchemaBaseColumns) (`User::PKID`,
//! `User::DATE_CREATED`, `User::DATE_UPDATED`). A `Col` goes wherever sea-query takes a
//! column, and has its own comparison methods (`eq`, `gt`, `like`, …); [`Model::col`], for
//! names known only at run time, gives a `Col` too. [`Model::insert`], [`Model::update`] and
//! [`Model::delete`] build statements on the model's table, with its defaults:
//!
//! ```
//! use dsg_lib::Model;
//! use dsg_lib::async_database_functions::async_database::AsyncDatabase;
//! use dsg_lib::async_database_functions::base_schema::{SchemaBase, SchemaBaseColumns};
//! use dsg_lib::async_database_functions::database_config::DBConfig;
//! use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
//! use dsg_lib::async_database_functions::error::DatabaseError;
//! use dsg_lib::async_database_functions::model::Model as _;
//! use dsg_lib::sea_query::{Expr, ExprTrait, Order};
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(unique, size = 100)]
//!     name: String,
//!     color: Option<String>,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({
//!     "database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
//! }))?);
//! db.register::<User>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db);
//!
//! // INSERT with a fresh pkid and date_created / date_updated stamped now.
//! ops.execute_one(User::insert().value(User::NAME, "Mike").value(User::COLOR, "red")).await?;
//! ops.execute_one(User::insert().values([(User::NAME, "Ann"), (User::COLOR, "blue")])).await?;
//!
//! let red: Vec<User> = ops
//!     .read_query(User::select().and_where(User::COLOR.eq("red")).order_by(User::NAME, Order::Asc))
//!     .await?;
//! assert_eq!(red[0].name, "Mike");
//!
//! // UPDATE … SET date_updated = now, color = 'green' WHERE pkid = …
//! let done = ops
//!     .execute_one(User::update().value(User::COLOR, "green").and_where(User::PKID.eq(red[0].base.pkid.clone())))
//!     .await?;
//! assert_eq!(done.rowcount, 1);
//!
//! let gone = ops.execute_one(User::delete().and_where(Expr::col(User::NAME).eq("Ann"))).await?;
//! assert_eq!(gone.rowcount, 1);
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! ```
//!
//! A misspelt column is a compile error:
//!
//! ```compile_fail,E0599
//! use dsg_lib::Model;
//! use dsg_lib::async_database_functions::model::Model as _;
//! use dsg_lib::sea_query::ExprTrait;
//!
//! #[derive(Model)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(primary_key)]
//!     id: i64,
//!     color: Option<String>,
//! }
//!
//! let mut select = User::select();
//! select.and_where(User::COLOUR.eq("red")); // error: no associated item named `COLOUR`
//! ```
//!
//! The consts are inherent items of the model, so a field whose const would shadow
//! `Model::TABLE` (a field named `table`) is a compile error that says to rename the field
//! and keep the column with `#[model(column = "table")]`; so are two fields with the same
//! upper-case name. Fields named like the trait's methods (`select`, `columns`) are fine:
//! methods are lower case.
//!
//! A field of a type that cannot be a column is a compile error at that field:
//!
//! ```compile_fail,E0277
//! use dsg_lib::Model;
//!
//! struct Money(u128);
//!
//! #[derive(Model)]
//! struct Invoice {
//!     #[model(primary_key)]
//!     id: i64,
//!     total: Money, // error: `Money` cannot be a model column
//! }
//! ```
//!
//! Table and column names must be plain SQL identifiers (ASCII letters, digits and `_`, not
//! starting with a digit, at most 63 bytes); anything else is a compile error naming the
//! attribute:
//!
//! ```compile_fail
//! use dsg_lib::Model;
//!
//! #[derive(Model)]
//! #[model(table = "users\"; DROP TABLE users; --")] // error: `table` ... is not a valid SQL name
//! struct User {
//!     #[model(primary_key)]
//!     id: i64,
//! }
//! ```
//!
//! ```compile_fail
//! use dsg_lib::Model;
//!
//! #[derive(Model)]
//! struct Account {
//!     #[model(primary_key)]
//!     id: i64,
//!     #[model(column = "o`wner")] // error: `column` ... is not a valid SQL name
//!     owner: String,
//! }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use sea_query::{
    DeleteStatement, Expr, ExprTrait, Iden, InsertStatement, IntoLikeExpr, Query, SelectStatement,
    UpdateStatement, Value,
};

pub use crate::async_database_functions::core::column::{Column, OnDelete, ServerDefault, SqlType};
pub use crate::async_database_functions::core::column_set::{ColumnSet, Flattens};
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::statements::statement::{Rendered, Statement, StatementKind};

/// A model: a [`ColumnSet`] stored in a table. Derive it with `#[derive(Model)]`.
pub trait Model: ColumnSet + FromRow + Send + Sync + Unpin + 'static {
    /// The table name.
    const TABLE: &'static str;

    /// The columns, computed once per type.
    fn columns() -> &'static [Column];

    /// The names of the primary key columns.
    fn primary_keys() -> Vec<&'static str> {
        Self::columns()
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name)
            .collect()
    }

    /// `SELECT <every column> FROM <table>`, the statement to read whole models with.
    fn select() -> SelectStatement {
        plain_select::<Self>()
    }

    /// The column `name` of this model's table, for names known only at run time, in `where`
    /// clauses: `User::select().and_where(User::col("name").eq("Mike"))`. It is a [`Col`] as
    /// the derive's typed constants (`User::NAME`) are, with the same methods, but a misspelt
    /// name is found by the database, not by the compiler.
    fn col(name: &'static str) -> Col<Self> {
        Col::new(Self::TABLE, name)
    }

    /// The column with this name, if the model has it.
    fn column(name: &str) -> Option<&'static Column> {
        Self::columns().iter().find(|c| c.name == name)
    }

    /// `INSERT INTO <table>` as a [`ModelInsert`]: name the values with
    /// [`value`](ModelInsert::value) / [`values`](ModelInsert::values), or add whole models
    /// with [`model`](ModelInsert::model). Columns left out get the model's client-side
    /// defaults (with [`SchemaBase`](crate::async_database_functions::base_schema::SchemaBase): a fresh `pkid`,
    /// `date_created` and `date_updated` stamped now), as the Python library's
    /// `insert(User).values(...)` does; the rest are left to the database.
    fn insert() -> ModelInsert<Self> {
        ModelInsert::new()
    }

    /// `UPDATE <table> SET date_updated = <now>` for a model with
    /// [`SchemaBase`](crate::async_database_functions::base_schema::SchemaBase) (a plain `UPDATE <table>` otherwise): add
    /// the new values and a `where` clause, as with sea-query. Do not set `date_updated`
    /// again: it is already set.
    fn update() -> UpdateStatement {
        let mut stamps = Vec::new();
        Self::before_update(&mut stamps);
        let mut update = Query::update();
        update
            .table(Self::TABLE)
            .values(stamps.into_iter().map(|(c, v)| (c, Expr::val(v))));
        update
    }

    /// `DELETE FROM <table>`: add a `where` clause, as with sea-query (without one, every row
    /// is deleted).
    fn delete() -> DeleteStatement {
        let mut delete = Query::delete();
        delete.from_table(Self::TABLE);
        delete
    }
}

/// A typed column of model `M`, generated by `#[derive(Model)]` as an associated const
/// (`User::NAME`) so that a misspelt column is a compile error.
///
/// It is a sea-query identifier ([`Iden`]), usable wherever sea-query takes a column
/// (`Expr::col(User::NAME)`, `.order_by(User::NAME, Order::Asc)`, `.column(User::NAME)`,
/// `.value(User::NAME, ..)`), where it renders unqualified (`"name"`); and it converts into
/// an [`Expr`] of the table-qualified column (`"users"."name"`).
///
/// Its comparison methods are its own (`User::NAME.eq("Mike")`, `.gt(..)`, `.like(..)`,
/// `.is_in(..)`, `.is_null()`, …), each giving a sea-query [`Expr`] for `and_where`, so the
/// prelude needs no expression trait in scope: one that it brought would give every number,
/// string and date a second `eq` and `max`. To combine conditions, use sea-query's
/// [`Cond`](sea_query::Cond) or import [`sea_query::ExprTrait`] for `.and(..)` / `.or(..)`
/// on the `Expr`s; every other `ExprTrait` method (`.add(..)`, `.max()`, `.count()`, …)
/// applies to a `Col` once that trait is imported.
///
/// ```
/// use dsg_lib::prelude::*;
/// use dsg_lib::sea_query::Cond;
///
/// #[derive(Model, Debug, Clone)]
/// #[model(table = "col_doc_users")]
/// struct User {
///     #[model(flatten)]
///     base: SchemaBase,
///     #[model(size = 100)]
///     name: String,
///     age: i32,
///     color: Option<String>,
/// }
///
/// let mut select = User::select();
/// select
///     .and_where(User::NAME.like("M%"))
///     .and_where(User::AGE.between(18, 65))
///     .and_where(User::col("color").is_not_null())
///     .cond_where(Cond::any().add(User::AGE.lt(30)).add(User::NAME.eq("Ann")))
///     .order_by(User::NAME, Order::Asc);
/// ```
pub struct Col<M> {
    table: &'static str,
    name: &'static str,
    model: PhantomData<fn() -> M>,
}

impl<M> Col<M> {
    /// The column `name` of `table`; the derive makes these, with `M::TABLE`.
    #[doc(hidden)]
    pub const fn new(table: &'static str, name: &'static str) -> Self {
        Col {
            table,
            name,
            model: PhantomData,
        }
    }

    /// The column's name in the database.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// The table of the column.
    pub const fn table(self) -> &'static str {
        self.table
    }

    /// `(table, column)`, a sea-query column reference qualified with the table, for joins:
    /// `Expr::col(User::NAME.qualified())`.
    pub const fn qualified(self) -> (&'static str, &'static str) {
        (self.table, self.name)
    }

    /// The table-qualified column as an [`Expr`].
    pub fn expr(self) -> Expr {
        Expr::col(self.qualified())
    }

    /// `column = value` (a value, or another column or expression).
    pub fn eq(self, value: impl Into<Expr>) -> Expr {
        ExprTrait::eq(self.expr(), value)
    }

    /// `column <> value`.
    pub fn ne(self, value: impl Into<Expr>) -> Expr {
        ExprTrait::ne(self.expr(), value)
    }

    /// `column < value`.
    pub fn lt(self, value: impl Into<Expr>) -> Expr {
        ExprTrait::lt(self.expr(), value)
    }

    /// `column <= value`.
    pub fn lte(self, value: impl Into<Expr>) -> Expr {
        ExprTrait::lte(self.expr(), value)
    }

    /// `column > value`.
    pub fn gt(self, value: impl Into<Expr>) -> Expr {
        ExprTrait::gt(self.expr(), value)
    }

    /// `column >= value`.
    pub fn gte(self, value: impl Into<Expr>) -> Expr {
        ExprTrait::gte(self.expr(), value)
    }

    /// `column BETWEEN low AND high`.
    pub fn between(self, low: impl Into<Expr>, high: impl Into<Expr>) -> Expr {
        ExprTrait::between(self.expr(), low, high)
    }

    /// `column NOT BETWEEN low AND high`.
    pub fn not_between(self, low: impl Into<Expr>, high: impl Into<Expr>) -> Expr {
        ExprTrait::not_between(self.expr(), low, high)
    }

    /// `column LIKE pattern`.
    pub fn like(self, pattern: impl IntoLikeExpr) -> Expr {
        ExprTrait::like(self.expr(), pattern)
    }

    /// `column NOT LIKE pattern`.
    pub fn not_like(self, pattern: impl IntoLikeExpr) -> Expr {
        ExprTrait::not_like(self.expr(), pattern)
    }

    /// `column IN (values…)`; an empty list matches no row.
    pub fn is_in<V: Into<Expr>>(self, values: impl IntoIterator<Item = V>) -> Expr {
        ExprTrait::is_in(self.expr(), values)
    }

    /// `column NOT IN (values…)`; an empty list matches every row.
    pub fn is_not_in<V: Into<Expr>>(self, values: impl IntoIterator<Item = V>) -> Expr {
        ExprTrait::is_not_in(self.expr(), values)
    }

    /// `column IS NULL`.
    pub fn is_null(self) -> Expr {
        ExprTrait::is_null(self.expr())
    }

    /// `column IS NOT NULL`.
    pub fn is_not_null(self) -> Expr {
        ExprTrait::is_not_null(self.expr())
    }
}

impl<M> Clone for Col<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Col<M> {}

impl<M> PartialEq for Col<M> {
    fn eq(&self, other: &Self) -> bool {
        self.table == other.table && self.name == other.name
    }
}

impl<M> Eq for Col<M> {}

impl<M> std::hash::Hash for Col<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.table.hash(state);
        self.name.hash(state);
    }
}

impl<M> fmt::Debug for Col<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Col({}.{})", self.table, self.name)
    }
}

impl<M> Iden for Col<M> {
    fn quoted(&self) -> Cow<'static, str> {
        // The derive only accepts plain identifiers: nothing to escape.
        Iden::quoted(&self.name)
    }

    fn unquoted(&self) -> &str {
        self.name
    }
}

impl<M> From<Col<M>> for Expr {
    fn from(col: Col<M>) -> Self {
        col.expr()
    }
}

/// One row of a [`ModelInsert`].
enum InsertRow<M> {
    /// Named values; the rest get the defaults drawn when the row was started.
    Values {
        given: Vec<(&'static str, Expr)>,
        defaults: Vec<(&'static str, Value)>,
    },
    /// A whole model, stamped by `before_insert`.
    Model(Box<M>),
}

/// `INSERT INTO <M's table>` with the model's defaults applied, made by [`Model::insert`].
/// It is a [`Statement`]: run it with `execute_one` / `execute_many` or in a session.
///
/// Every row must name the same columns. [`statement`](ModelInsert::statement) gives the
/// sea-query [`InsertStatement`] for one dialect, to add what this builder does not
/// (`on_conflict`, `returning`).
pub struct ModelInsert<M> {
    rows: Vec<InsertRow<M>>,
}

impl<M> fmt::Debug for ModelInsert<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelInsert")
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl<M: Model> Default for ModelInsert<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> ModelInsert<M> {
    /// An insert of no rows yet.
    pub fn new() -> Self {
        ModelInsert { rows: Vec::new() }
    }

    /// Sets `column` to `value` in the current row (the last one started by
    /// [`values`](Self::values), or a new row).
    pub fn value(&mut self, column: Col<M>, value: impl Into<Expr>) -> &mut Self {
        match self.rows.last_mut() {
            Some(InsertRow::Values { given, .. }) => given.push((column.name, value.into())),
            _ => self.start_row(vec![(column.name, value.into())]),
        }
        self
    }

    /// Adds a row of `(column, value)` pairs.
    pub fn values<V: Into<Expr>>(
        &mut self,
        values: impl IntoIterator<Item = (Col<M>, V)>,
    ) -> &mut Self {
        self.start_row(
            values
                .into_iter()
                .map(|(c, v)| (c.name, v.into()))
                .collect(),
        );
        self
    }

    /// A new row of named values, with the model's defaults drawn now.
    fn start_row(&mut self, given: Vec<(&'static str, Expr)>) {
        let mut defaults = Vec::new();
        M::insert_defaults(&mut defaults);
        self.rows.push(InsertRow::Values { given, defaults });
    }

    /// The value that row `row` (from 0) inserts into `column`, known before the insert runs:
    /// the value given, or the one the model's defaults drew when the row was started (a
    /// fresh `pkid`, the `date_created` / `date_updated` stamps), or a model row's field. The
    /// same values are inserted however often the statement is rendered or retried.
    ///
    /// `None` when there is no such row, when the column is given as an expression rather
    /// than a value, when the database fills it (an auto-increment key, a server default), or
    /// when the value is not a `T`.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// #[derive(Model, Debug, Clone)]
    /// #[model(table = "value_of_doc")]
    /// struct User {
    ///     #[model(flatten)]
    ///     base: SchemaBase,
    ///     #[model(size = 100)]
    ///     name: String,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// db.register::<User>();
    /// db.create_tables().await?;
    /// let ops = DatabaseOperations::new(db);
    ///
    /// let mut insert = User::insert();
    /// insert.value(User::NAME, "Mike");
    /// let pkid: String = insert.value_of(0, User::PKID).expect("a generated pkid");
    /// ops.execute_one(&insert).await?;
    /// let mike: Option<User> = ops.read_by_pk::<User>(pkid).await?;
    /// assert_eq!(mike.map(|u| u.name).as_deref(), Some("Mike"));
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    pub fn value_of<T: sea_query::ValueType>(&self, row: usize, column: Col<M>) -> Option<T> {
        let value = match self.rows.get(row)? {
            InsertRow::Values { given, defaults } => {
                match given.iter().rev().find(|(c, _)| *c == column.name) {
                    Some((_, Expr::Value(value))) => value.clone(),
                    Some(_) => return None,
                    None => defaults.iter().find(|(c, _)| *c == column.name)?.1.clone(),
                }
            }
            InsertRow::Model(model) => {
                let position = M::columns().iter().position(|c| c.name == column.name)?;
                let mut values = Vec::with_capacity(M::columns().len());
                // String, integer, uuid and date-time fields bind alike on every dialect.
                model.push_values(Dialect::Postgresql, &mut values);
                let value = values.into_iter().nth(position)?;
                if M::columns()[position].auto_increment && is_unset(&value) {
                    return None;
                }
                value
            }
        };
        T::try_from(value).ok()
    }

    /// Adds `model` as a row, stamped as `create_one` stamps it (`date_created` and
    /// `date_updated` now).
    pub fn model(&mut self, mut model: M) -> &mut Self {
        model.before_insert();
        self.rows.push(InsertRow::Model(Box::new(model)));
        self
    }

    /// Adds every model as a row; see [`model`](Self::model).
    pub fn models(&mut self, models: impl IntoIterator<Item = M>) -> &mut Self {
        for model in models {
            self.model(model);
        }
        self
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The sea-query statement for `dialect`, defaults applied.
    ///
    /// # Errors
    ///
    /// Invalid input when there is no row, a row names a column twice, or rows name
    /// different columns.
    pub fn statement(&self, dialect: Dialect) -> Result<InsertStatement, DatabaseError> {
        let mut rows: Vec<Vec<(&'static str, Expr)>> = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            match row {
                InsertRow::Values { given, defaults } => {
                    let mut row = given.clone();
                    let given: Vec<&'static str> = row.iter().map(|(c, _)| *c).collect();
                    for (i, name) in given.iter().enumerate() {
                        if given[..i].contains(name) {
                            return Err(DatabaseError::invalid_input(format!(
                                "insert into {}: column {name:?} is given twice",
                                M::TABLE
                            )));
                        }
                    }
                    row.extend(
                        defaults
                            .iter()
                            .filter(|(c, _)| !given.contains(c))
                            .map(|(c, v)| (*c, Expr::val(v.clone()))),
                    );
                    rows.push(row);
                }
                InsertRow::Model(model) => {
                    let mut values = Vec::with_capacity(M::columns().len());
                    model.push_values(dialect, &mut values);
                    rows.push(
                        M::columns()
                            .iter()
                            .zip(values)
                            // An auto-increment column left unset is left to the database.
                            .filter(|(c, v)| !(c.auto_increment && is_unset(v)))
                            .map(|(c, v)| (c.name, Expr::val(v)))
                            .collect(),
                    );
                }
            }
        }
        let Some(first) = rows.first() else {
            return Err(DatabaseError::invalid_input(format!(
                "insert into {}: no row to insert",
                M::TABLE
            )));
        };
        // The model's column order, then any other name (the database reports it).
        let mut columns: Vec<&'static str> = M::columns()
            .iter()
            .map(|c| c.name)
            .filter(|n| first.iter().any(|(c, _)| c == n))
            .collect();
        for (c, _) in first {
            if !columns.contains(c) {
                columns.push(c);
            }
        }
        let mut insert = Query::insert();
        insert.into_table(M::TABLE).columns(columns.iter().copied());
        for mut row in rows {
            if row.len() != columns.len() || row.iter().any(|(c, _)| !columns.contains(c)) {
                return Err(DatabaseError::invalid_input(format!(
                    "insert into {}: every row must give the same columns",
                    M::TABLE
                )));
            }
            row.sort_by_key(|(c, _)| columns.iter().position(|n| n == c));
            insert
                .values(row.into_iter().map(|(_, v)| v))
                .map_err(|e| DatabaseError::invalid_input(e.to_string()))?;
        }
        Ok(insert)
    }
}

/// `M`'s `SELECT <every column> FROM <table>`, built once per model and cloned after:
/// sea-query checks every character of each identifier as a statement takes it (three names a
/// column, qualified), which was about 1 % of a request reading a 2-column model's 13 rows.
fn plain_select<M: Model>() -> SelectStatement {
    use super::kept::{self, Key, List, Purpose};
    use std::cell::RefCell;
    use std::sync::Mutex;
    thread_local! {
        static LOCAL: RefCell<List<SelectStatement>> = const { RefCell::new(Vec::new()) };
    }
    static GLOBAL: Mutex<List<SelectStatement>> = Mutex::new(Vec::new());
    let key = Key::of::<M>(Purpose::Select, None);
    if let Some(select) = kept::find(&LOCAL, key) {
        return select.clone();
    }
    let mut select = Query::select();
    select
        .columns(M::columns().iter().map(|c| (M::TABLE, c.name)))
        .from(M::TABLE);
    kept::keep(&LOCAL, &GLOBAL, key, Box::new(select)).clone()
}

/// NULL or zero: an auto-increment key the database is to fill.
pub(crate) fn is_unset(value: &Value) -> bool {
    matches!(
        value,
        Value::Int(None | Some(0)) | Value::BigInt(None | Some(0))
    )
}

impl<M: Model> Statement for ModelInsert<M> {
    fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        self.statement(dialect)?.render(dialect)
    }

    fn kind(&self) -> StatementKind {
        StatementKind::Insert
    }
}
