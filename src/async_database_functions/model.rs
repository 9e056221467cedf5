//! Declared models: the traits `#[derive(Model)]` implements, and the column metadata they carry.
//!
//! A model is a struct whose fields are columns. [`ColumnSet`] is a group of columns that can be
//! flattened into a model (like [`SchemaBase`](super::base_schema::SchemaBase)); [`Model`] is a
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

use sea_query::{Expr, Query, SelectStatement, Value};

use super::database_config::Dialect;
use super::error::DatabaseError;
use super::row::{FromRow, RowReader};

/// The portable SQL type of a column; each dialect renders it (see `dialect/`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `VARCHAR(n)` when sized, else `TEXT`.
    String(Option<u32>),
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    BigInteger,
    /// Double precision float.
    Double,
    /// Boolean (`TINYINT(1)` on MySQL).
    Boolean,
    /// A UTC timestamp, stored without zone as UTC (as the Python seed does).
    TimestampUtc,
    /// A timestamp without time zone.
    Timestamp,
    /// A calendar date.
    Date,
    /// A UUID (native on PostgreSQL, `CHAR(36)` text elsewhere).
    Uuid,
    /// A JSON document.
    Json,
    /// Binary data.
    Bytes,
}

impl SqlType {
    /// The portable name of the type, as `get_columns_details` reports it.
    pub fn name(self) -> String {
        match self {
            SqlType::String(Some(n)) => format!("VARCHAR({n})"),
            SqlType::String(None) => "TEXT".into(),
            SqlType::Integer => "INTEGER".into(),
            SqlType::BigInteger => "BIGINT".into(),
            SqlType::Double => "DOUBLE".into(),
            SqlType::Boolean => "BOOLEAN".into(),
            SqlType::TimestampUtc | SqlType::Timestamp => "DATETIME".into(),
            SqlType::Date => "DATE".into(),
            SqlType::Uuid => "UUID".into(),
            SqlType::Json => "JSON".into(),
            SqlType::Bytes => "BLOB".into(),
        }
    }
}

/// A default computed by the server, rendered per dialect.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerDefault {
    /// The current UTC time: `CURRENT_TIMESTAMP AT TIME ZONE 'UTC'` on PostgreSQL/CockroachDB,
    /// `UTC_TIMESTAMP(6)` on MySQL/MariaDB, `strftime('%Y-%m-%d %H:%M:%f', 'now')` on SQLite.
    CurrentUtcTimestamp,
}

/// Everything the crate knows of one column of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name in the database.
    pub name: &'static str,
    /// The portable SQL type.
    pub sql_type: SqlType,
    /// Whether NULL is allowed (the field is an `Option`).
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Filled by the database (`AUTOINCREMENT`, `SERIAL`, `AUTO_INCREMENT`).
    pub auto_increment: bool,
    /// A UNIQUE constraint.
    pub unique: bool,
    /// A plain index.
    pub index: bool,
    /// A literal SQL default, as written in `#[model(default = "...")]`.
    pub default: Option<&'static str>,
    /// A default computed by the server.
    pub server_default: Option<ServerDefault>,
    /// The column comment, where the dialect keeps comments.
    pub comment: Option<&'static str>,
    /// `(table, column)` this column references.
    pub foreign_key: Option<(&'static str, &'static str)>,
}

impl Column {
    /// A plain non-null column of `sql_type`; the derive sets the rest.
    pub const fn new(name: &'static str, sql_type: SqlType) -> Self {
        Column {
            name,
            sql_type,
            nullable: false,
            primary_key: false,
            auto_increment: false,
            unique: false,
            index: false,
            default: None,
            server_default: None,
            comment: None,
            foreign_key: None,
        }
    }
}

/// A group of columns: a model's own fields, or a struct flattened into models.
///
/// Implemented by `#[derive(Model)]`; implement it by hand only for a reusable mixin such as
/// [`SchemaBase`](super::base_schema::SchemaBase).
pub trait ColumnSet: Sized {
    /// The columns, in declaration order (flattened sets in place).
    fn column_list() -> Vec<Column>;

    /// The values of the columns, in the order of [`ColumnSet::column_list`].
    fn push_values(&self, dialect: Dialect, out: &mut Vec<Value>);

    /// Reads the columns from a row, in order, starting at the reader's position.
    fn read_columns(reader: &mut RowReader<'_>) -> Result<Self, DatabaseError>;

    /// Called on a value before it is inserted by the library (stamps timestamps).
    fn before_insert(&mut self) {}

    /// Called on the new values before an update by the library (stamps `date_updated`).
    fn before_update(_values: &mut Vec<(&'static str, Value)>) {}
}

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
        let mut select = Query::select();
        select
            .columns(Self::columns().iter().map(|c| (Self::TABLE, c.name)))
            .from(Self::TABLE);
        select
    }

    /// The column `name` of this model's table, for `where` clauses:
    /// `User::select().and_where(User::col("name").eq("Mike"))`.
    fn col(name: &'static str) -> Expr {
        Expr::col((Self::TABLE, name))
    }

    /// The column with this name, if the model has it.
    fn column(name: &str) -> Option<&'static Column> {
        Self::columns().iter().find(|c| c.name == name)
    }
}
