//! [`Statement`]: what sessions and operations run — sea-query statements, and [`text`] SQL
//! with `:name` bind parameters.
//!
//! ```
//! use dsg_lib::async_database_functions::statement::text;
//!
//! let stmt = text("SELECT name FROM users WHERE color = :color AND name <> :name")
//!     .bind("color", "red")
//!     .bind("name", "O'Brien");
//! # let _ = stmt;
//! ```

use std::borrow::Cow;
use std::collections::HashMap;

use sea_query::{
    DeleteStatement, IndexCreateStatement, IndexDropStatement, InsertStatement, SelectStatement,
    TableCreateStatement, TableDropStatement, UpdateStatement, Value, Values,
};

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::dialect;

use crate::async_database_functions::dialect::scan::{Piece, scan};

/// SQL text and the values to bind to it, rendered for one dialect.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The SQL, with the dialect's placeholders.
    pub sql: String,
    /// The values, in placeholder order.
    pub values: Values,
}

/// What kind of statement a [`Statement`] is.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// A query returning rows.
    Select,
    /// An INSERT.
    Insert,
    /// An UPDATE.
    Update,
    /// A DELETE.
    Delete,
    /// DDL or anything else.
    Other,
}

/// A statement a [`Session`](crate::async_database_functions::statements::session::Session) can run: sea-query's SELECT, INSERT,
/// UPDATE, DELETE and schema statements, and [`Text`].
pub trait Statement: Send + Sync {
    /// Renders the statement for `dialect`.
    fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError>;

    /// What kind of statement this is.
    fn kind(&self) -> StatementKind;

    /// Renders the statement to read its first row only: on the servers a SELECT without a
    /// LIMIT gets `LIMIT 1`, so the server stops after one row (SQLite's driver stops stepping
    /// after the first row by itself). Others render as they are.
    fn render_first(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        self.render(dialect)
    }

    /// Whether the same SQL may be bound with values of different types from one run to the
    /// next (true for [`Text`]): prepared statements are then cached per value types.
    #[doc(hidden)]
    fn types_vary(&self) -> bool {
        false
    }
}

/// Renders a sea-query statement for `dialect`.
fn render_query(
    dialect: Dialect,
    statement: &impl sea_query::QueryStatementWriter,
) -> Result<Rendered, DatabaseError> {
    let built = dialect::build_query(dialect, statement);
    Ok(Rendered {
        sql: built.sql,
        values: built.values,
    })
}

macro_rules! query_statement {
    ($ty:ty, $kind:ident) => {
        impl Statement for $ty {
            fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
                render_query(dialect, self)
            }
            fn kind(&self) -> StatementKind {
                StatementKind::$kind
            }
        }
    };
}

impl Statement for SelectStatement {
    fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        render_query(dialect, self)
    }
    fn kind(&self) -> StatementKind {
        StatementKind::Select
    }
    fn render_first(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        let mut rendered = render_query(dialect, self)?;
        // A constant, appended only to a statement with no LIMIT and no locking clause of its
        // own (`FOR UPDATE`, `FOR SHARE`, `FOR [NO] KEY …`, MySQL's `LOCK IN SHARE MODE`):
        // those come last.
        if dialect::limit_first_row(dialect) && !has_own_end(&rendered.sql) {
            rendered.sql.push_str(" LIMIT 1");
        }
        Ok(rendered)
    }
}

/// Whether a rendered `SELECT` has a `LIMIT` or a locking clause. One in a subquery, or in a
/// quoted name, also counts: the statement is then left as it is, which costs the server a few
/// rows more, never a wrong result. (Three scans of the text: `contains` costs about 200
/// instructions on a point read's statement; five, one per clause, had been 4 % of a PostgreSQL
/// point read's client instructions, and a loop over the bytes cost more than that.)
fn has_own_end(sql: &str) -> bool {
    sql.contains(" LIMIT ") || sql.contains(" FOR ") || sql.contains(" LOCK IN ")
}

query_statement!(InsertStatement, Insert);
query_statement!(UpdateStatement, Update);
query_statement!(DeleteStatement, Delete);

macro_rules! schema_statement {
    ($ty:ty) => {
        impl Statement for $ty {
            fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
                Ok(Rendered {
                    sql: dialect::build_schema(dialect, self),
                    values: Values(Vec::new()),
                })
            }
            fn kind(&self) -> StatementKind {
                StatementKind::Other
            }
        }
    };
}

schema_statement!(TableCreateStatement);
schema_statement!(TableDropStatement);
schema_statement!(IndexCreateStatement);
schema_statement!(IndexDropStatement);

impl<S: Statement + ?Sized> Statement for &S {
    fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        (**self).render(dialect)
    }
    fn types_vary(&self) -> bool {
        (**self).types_vary()
    }
    fn kind(&self) -> StatementKind {
        (**self).kind()
    }
    fn render_first(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        (**self).render_first(dialect)
    }
}

impl<S: Statement + ?Sized> Statement for &mut S {
    fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        (**self).render(dialect)
    }
    fn types_vary(&self) -> bool {
        (**self).types_vary()
    }
    fn kind(&self) -> StatementKind {
        (**self).kind()
    }
    fn render_first(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        (**self).render_first(dialect)
    }
}

impl<S: Statement + ?Sized> Statement for Box<S> {
    fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        (**self).render(dialect)
    }
    fn types_vary(&self) -> bool {
        (**self).types_vary()
    }
    fn kind(&self) -> StatementKind {
        (**self).kind()
    }
    fn render_first(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        (**self).render_first(dialect)
    }
}

/// What [`count_query`](crate::async_database_functions::database_operations::DatabaseOperations::count_query) and
/// [`paginate_query`](crate::async_database_functions::database_operations::DatabaseOperations::paginate_query) take: a
/// sea-query SELECT in any of the forms a caller has at hand, as every operation takes a
/// [`Statement`]: owned, borrowed (`&select`), or the `&mut SelectStatement` a builder chain
/// such as `User::select().and_where(..)` gives (with or without a `&` before it).
///
/// ```
/// use dsg_lib::prelude::*;
///
/// #[derive(Model, Debug, Clone)]
/// #[model(table = "as_select_doc")]
/// struct Note {
///     #[model(flatten)]
///     base: SchemaBase,
///     body: String,
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
/// db.register::<Note>();
/// db.create_tables().await?;
/// let ops = DatabaseOperations::new(db);
/// let select = Note::select();
/// assert_eq!(ops.count_query(&select).await?, 0);                              // borrowed
/// assert_eq!(ops.count_query(Note::select().and_where(Note::BODY.eq("x"))).await?, 0);  // &mut
/// assert_eq!(ops.count_query(&Note::select().and_where(Note::BODY.eq("x"))).await?, 0); // & &mut
/// assert_eq!(ops.count_query(select).await?, 0);                               // owned
/// # Ok::<(), DatabaseError>(())
/// # }).unwrap();
/// ```
pub trait AsSelect: Send + Sync {
    /// The SELECT itself.
    fn as_select(&self) -> &SelectStatement;
}

impl AsSelect for SelectStatement {
    fn as_select(&self) -> &SelectStatement {
        self
    }
}

impl<S: AsSelect + ?Sized> AsSelect for &S {
    fn as_select(&self) -> &SelectStatement {
        (**self).as_select()
    }
}

impl<S: AsSelect + ?Sized> AsSelect for &mut S {
    fn as_select(&self) -> &SelectStatement {
        (**self).as_select()
    }
}

/// SQL text with `:name` bind parameters — the seed's `text(...)`.
///
/// Parameters are rewritten to the dialect's placeholders (`?` or `$1`) and always bound, never
/// spliced into the SQL. `::` (a PostgreSQL cast), and a `:x` inside any quoting form or
/// comment of the dialect the statement runs on (strings with their escapes, quoted
/// identifiers, PostgreSQL's dollar quotes and `E'…'`, MySQL's backslash escapes and `#`
/// comments) are left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    sql: Cow<'static, str>,
    values: HashMap<String, Value>,
}

/// Builds a [`Text`] statement from any string: `&'static str`, a borrowed `&str` (copied),
/// `String` or `Cow<'static, str>`.
pub fn text(sql: impl IntoSqlText) -> Text {
    Text {
        sql: sql.into_sql_text(),
        values: HashMap::new(),
    }
}

/// An array with NULL elements, to bind in [`text`] on PostgreSQL (a `Vec<T>` of `i32`, `i64`,
/// `String`, `Uuid`, `NaiveDateTime`, … binds as an array as it is; `Vec<Option<T>>` has no
/// such conversion in sea-query, hence this). `None` elements are SQL NULLs. On SQLite and
/// MySQL/MariaDB, which have no array parameters, running a statement that binds an array is
/// an `InvalidInput` error.
///
/// ```
/// use dsg_lib::prelude::*;
/// use dsg_lib::async_database_functions::statement::array;
///
/// let by_ids = text("SELECT id, randomnumber FROM world WHERE id = ANY(:ids)").bind("ids", vec![1, 2, 3]);
/// let with_nulls = text("SELECT unnest(:a::int[])").bind("a", array([Some(1), None, Some(3)]));
/// # let _ = (by_ids, with_nulls);
/// ```
pub fn array<T>(elements: impl IntoIterator<Item = Option<T>>) -> Value
where
    T: Into<Value> + sea_query::Nullable + sea_query::ValueType,
{
    Value::Array(
        T::array_type(),
        Some(Box::new(elements.into_iter().map(Value::from).collect())),
    )
}

/// What [`text`] takes: anything that reads as SQL text.
pub trait IntoSqlText {
    /// The text, owned or `'static`.
    fn into_sql_text(self) -> Cow<'static, str>;
}

impl IntoSqlText for &str {
    fn into_sql_text(self) -> Cow<'static, str> {
        Cow::Owned(self.to_owned())
    }
}

impl IntoSqlText for String {
    fn into_sql_text(self) -> Cow<'static, str> {
        Cow::Owned(self)
    }
}

impl IntoSqlText for &String {
    fn into_sql_text(self) -> Cow<'static, str> {
        Cow::Owned(self.clone())
    }
}

impl IntoSqlText for Cow<'static, str> {
    fn into_sql_text(self) -> Cow<'static, str> {
        self
    }
}

impl Text {
    /// Binds `value` to `:name`.
    pub fn bind(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.values.insert(name.into(), value.into());
        self
    }

    /// Binds every entry of a JSON object (`{"name": value}`), the seed's values dict.
    ///
    /// # Errors
    ///
    /// An invalid-input error when `values` is not an object.
    pub fn values(mut self, values: serde_json::Value) -> Result<Self, DatabaseError> {
        match values {
            serde_json::Value::Object(map) => {
                for (name, value) in map {
                    self.values.insert(name, json_to_value(value));
                }
                Ok(self)
            }
            other => Err(DatabaseError::invalid_input(format!(
                "text() values must be a map of parameter names to values, got {other}"
            ))),
        }
    }

    /// The SQL as written.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

impl Statement for Text {
    fn render(&self, dialect: Dialect) -> Result<Rendered, DatabaseError> {
        let mut sql = String::with_capacity(self.sql.len());
        let mut values = Vec::new();
        for piece in scan(&self.sql, dialect::text_syntax(dialect)) {
            match piece {
                Piece::Sql(s) => sql.push_str(s),
                Piece::Param(name) => {
                    let value = self.values.get(name).ok_or_else(|| {
                        DatabaseError::invalid_input(format!(
                            "text(): no value bound for parameter :{name}"
                        ))
                    })?;
                    values.push(value.clone());
                    dialect::push_placeholder(dialect, &mut sql, values.len());
                }
            }
        }
        Ok(Rendered {
            sql,
            values: Values(values),
        })
    }

    fn types_vary(&self) -> bool {
        true
    }

    fn kind(&self) -> StatementKind {
        let first = self
            .sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match first.as_str() {
            "SELECT" | "WITH" | "VALUES" | "SHOW" | "PRAGMA" | "EXPLAIN" => StatementKind::Select,
            "INSERT" | "REPLACE" => StatementKind::Insert,
            "UPDATE" => StatementKind::Update,
            "DELETE" => StatementKind::Delete,
            _ => StatementKind::Other,
        }
    }
}

/// A JSON value as a bound value: null, booleans, integers, floats and strings map to their
/// SQL types; arrays and objects are bound as JSON.
pub fn json_to_value(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::String(None),
        serde_json::Value::Bool(b) => Value::Bool(Some(b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::BigInt(Some(i)),
            None => Value::Double(n.as_f64()),
        },
        serde_json::Value::String(s) => Value::String(Some(s)),
        other => Value::Json(Some(Box::new(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(t: &Text, d: Dialect) -> String {
        t.render(d).map(|r| r.sql).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn a_first_row_read_limits_itself_unless_the_statement_has_a_limit_or_a_lock() {
        use sea_query::{Asterisk, Expr, ExprTrait, LockType, Query};
        #[allow(unused_mut)]
        let mut dialects = Vec::new();
        #[cfg(feature = "sqlite")]
        dialects.push(Dialect::Sqlite);
        #[cfg(feature = "postgres")]
        dialects.push(Dialect::Postgresql);
        #[cfg(feature = "mysql")]
        dialects.push(Dialect::Mysql);
        for d in dialects {
            let first = |s: &SelectStatement| s.render_first(d).map(|r| r.sql).unwrap_or_default();
            let mut plain = Query::select();
            plain
                .column(Asterisk)
                .from("t")
                .and_where(Expr::col("a").eq(1));
            if dialect::limit_first_row(d) {
                assert!(
                    first(&plain).ends_with(" LIMIT 1"),
                    "{d:?}: {}",
                    first(&plain)
                );
            } else {
                assert!(!first(&plain).contains("LIMIT"), "{d:?}");
            }
            let mut limited = plain.clone();
            limited.limit(5);
            assert_eq!(first(&limited).matches("LIMIT").count(), 1, "{d:?}");
            for lock in [LockType::Update, LockType::Share] {
                let mut locked = plain.clone();
                locked.lock(lock);
                let sql = first(&locked);
                assert!(!sql.contains("LIMIT"), "{d:?} {lock:?}: {sql}");
            }
        }
    }

    #[test]
    fn placeholders_per_dialect() {
        let t = text("SELECT * FROM t WHERE a = :a AND b = :b OR c = :a")
            .bind("a", 1)
            .bind("b", "x");
        assert_eq!(
            rendered(&t, Dialect::Sqlite),
            "SELECT * FROM t WHERE a = ? AND b = ? OR c = ?"
        );
        assert_eq!(
            rendered(&t, Dialect::Postgresql),
            "SELECT * FROM t WHERE a = $1 AND b = $2 OR c = $3"
        );
        assert_eq!(t.render(Dialect::Mysql).unwrap().values.0.len(), 3);
    }

    #[test]
    fn quotes_casts_and_comments_are_not_parameters() {
        let t =
            text("SELECT ':x', \"a:b\", 1::text -- :c\n FROM t WHERE v = :v /* :d */").bind("v", 2);
        assert_eq!(
            rendered(&t, Dialect::Postgresql),
            "SELECT ':x', \"a:b\", 1::text -- :c\n FROM t WHERE v = $1 /* :d */"
        );
    }

    #[test]
    fn rendering_skips_each_dialects_own_quoting() {
        let t = text(r"SELECT 'it\'s :x', :v").bind("v", 1);
        assert_eq!(rendered(&t, Dialect::Mysql), r"SELECT 'it\'s :x', ?");
        let t = text("SELECT $q$ :x $q$, :v").bind("v", 1);
        assert_eq!(rendered(&t, Dialect::Postgresql), "SELECT $q$ :x $q$, $1");
        // SQLite has no dollar quotes: `:x` is a parameter there, and it is unbound.
        assert!(rendered(&t, Dialect::Sqlite).contains(":x"));
    }

    #[test]
    fn unbound_parameter_is_invalid_input() {
        let err = text("SELECT :missing").render(Dialect::Sqlite).unwrap_err();
        assert_eq!(
            err.kind(),
            crate::async_database_functions::core::error::ErrorKind::InvalidInput
        );
        assert!(err.details().contains(":missing"));
    }

    #[test]
    fn statement_kind_from_first_word() {
        assert_eq!(text("  select 1").kind(), StatementKind::Select);
        assert_eq!(
            text("INSERT INTO t VALUES (1)").kind(),
            StatementKind::Insert
        );
        assert_eq!(text("create table t (a int)").kind(), StatementKind::Other);
    }
}
