//! [`DatabaseError`]: the one error type of the crate.
//!
//! Every fallible call returns `Result<T, DatabaseError>`. An error has a [`ErrorKind`] (what
//! went wrong, decided from the driver's error code, never from message text), human-readable
//! `details`, and the driver's code where there was one. It serialises to the shape the Python
//! dsg_lib returns:
//!
//! ```
//! use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
//!
//! let err = DatabaseError::new(ErrorKind::RecordNotFound, "no users row with pkid 42");
//! assert_eq!(
//!     serde_json::to_value(&err).unwrap(),
//!     serde_json::json!({"error": "RecordNotFound", "details": "no users row with pkid 42"}),
//! );
//! ```
//!
//! # The Python library's error strings
//!
//! By default the `"error"` value is the name of the [`ErrorKind`]. A service ported from
//! Python whose API clients match on the Python library's strings (`"Record not found"`,
//! `"IntegrityError"`, …) picks those instead with [`ErrorStyle::Python`]: per error with
//! [`DatabaseError::with_style`], or as a one-off JSON value with
//! [`DatabaseError::to_python_value`]. The `details` text is the same in both styles.
//!
//! ```
//! use dsg_lib::async_database_functions::error::{DatabaseError, ErrorStyle};
//!
//! let err = DatabaseError::not_found("no users row with pkid = 42");
//! assert_eq!(
//!     serde_json::to_value(err.clone().with_style(ErrorStyle::Python)).unwrap(),
//!     serde_json::json!({"error": "Record not found", "details": "no users row with pkid = 42"}),
//! );
//! assert_eq!(err.to_python_value()["error"], "Record not found");
//! ```
//!
//! The mapping, from the Python library's `handle_exceptions` and its explicit results:
//!
//! | [`ErrorKind`] | Python `"error"` | HTTP status ([`ErrorKind::http_status`]) |
//! |---|---|---|
//! | `RecordNotFound` | `Record not found` | 404 |
//! | `InvalidInput` from `paginate_query` (page or page size below 1) | `Invalid pagination parameters` | 422 |
//! | `InvalidInput` (any other) | `SQLAlchemyError` | 422 |
//! | `IntegrityError` | `IntegrityError` | 409 |
//! | `PoolTimeout`, `ConnectionError`, `Disconnected`, `SerializationFailure` | `SQLAlchemyError` | 503 |
//! | `DatabaseError` | `SQLAlchemyError` | 500 |
//! | `ConfigurationError`, `DecodeError` | `General Exception` | 500 |
//!
//! Why a style on the error rather than a configuration key: an error is a value that is
//! serialised far from the [`DBConfig`](crate::async_database_functions::database_config::DBConfig) it came from (an
//! HTTP handler, a log line, a queue), and errors are also made without any configuration
//! (a config that failed to parse). The style belongs to whoever writes the wire format, so
//! the service chooses it at its one error-to-response place (the `axum` feature's
//! `python_errors` middleware does it for a whole router).
//!
//! # The driver's error, the constraint, the table
//!
//! [`std::error::Error::source`] gives the driver's error of an error that came from the
//! driver, so it can be downcast for backend-specific fields:
//!
//! | backend | downcast `source()` to | then |
//! |---|---|---|
//! | PostgreSQL | [`sqlx::Error`] | `.as_database_error()` → `sqlx::postgres::PgDatabaseError` (SQLSTATE, constraint, table, detail) |
//! | MySQL / MariaDB | [`sqlx::Error`] | `.as_database_error()` → `sqlx::mysql::MySqlDatabaseError` (error number) |
//! | MySQL / MariaDB (`mysql-async`) | [`sqlx::Error`] | `.as_database_error()` (`code()`: the SQLSTATE) `.as_error().source()` → `dsg_lib::mysql_async::Error` (`Server`: error number, SQLSTATE, message) |
//! | SQLite | `dsg_lib::rusqlite::Error` (the engine the library runs SQLite on) | `SqliteFailure(e, message)`: `e.extended_code` (2067 for a unique violation) |
//!
//! It is left out
//! (`None`) when the configuration sets `hide_parameters`, since the driver's own messages
//! and fields can quote bound values, and when its text would show a secret of the URI.
//!
//! An integrity error names what it violated where the backend says, without parsing three
//! message formats: [`DatabaseError::constraint_name`], [`DatabaseError::table`] and
//! [`DatabaseError::columns`].
//!
//! | backend | `constraint_name` | `table` | `columns` |
//! |---|---|---|---|
//! | PostgreSQL | unique, foreign key, check, exclusion | ✓ | unique and foreign key (the key's columns), not null |
//! | MySQL / MariaDB | unique (`for key 'users.ix_users_name'`), foreign key, check | unique (MySQL 8; a registered model's index on MariaDB), foreign key, check (MariaDB) | foreign key, not null, a registered model's unique index |
//! | SQLite | named CHECK constraints, unique expression indexes, a registered model's unique index | unique, not null | unique (`UNIQUE constraint failed: users.name`), not null |
//!
//! SQLite reports the columns of a violated unique constraint, not its name, and MariaDB
//! the index's name, not its columns. For the unique index of a registered model's
//! `#[model(unique, index)]` column the library fills in the other from the model, so
//! [`DatabaseError::violates`], which matches a constraint name or a column, answers for both
//! the column and the index on every backend.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeStruct;

/// What kind of failure a [`DatabaseError`] is.
///
/// The name of the variant is the `"error"` value of the serialised form.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A constraint refused the write: unique, foreign key, not null or check.
    IntegrityError,
    /// The row the operation needs does not exist.
    RecordNotFound,
    /// The caller's input is wrong: bad pagination, unknown column, unbound parameter, wrong
    /// value type.
    InvalidInput,
    /// The configuration map or the database URI is wrong.
    ConfigurationError,
    /// No connection became free within `pool_timeout`.
    PoolTimeout,
    /// The database could not be reached, or the connection broke.
    ConnectionError,
    /// The [`AsyncDatabase`](crate::async_database_functions::async_database::AsyncDatabase)
    /// was disconnected; it cannot be used any more.
    Disconnected,
    /// A serialization failure or deadlock: the transaction may succeed if retried.
    SerializationFailure,
    /// A row could not be decoded into the requested Rust type.
    DecodeError,
    /// Any other error reported by the database.
    DatabaseError,
}

impl ErrorKind {
    /// The name used as the `"error"` value when serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::IntegrityError => "IntegrityError",
            ErrorKind::RecordNotFound => "RecordNotFound",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::ConfigurationError => "ConfigurationError",
            ErrorKind::PoolTimeout => "PoolTimeout",
            ErrorKind::ConnectionError => "ConnectionError",
            ErrorKind::Disconnected => "Disconnected",
            ErrorKind::SerializationFailure => "SerializationFailure",
            ErrorKind::DecodeError => "DecodeError",
            ErrorKind::DatabaseError => "DatabaseError",
        }
    }

    /// The HTTP status a service answers with for this kind of failure: 404 not found, 409
    /// integrity (a duplicate, a missing parent row), 422 invalid input, 503 when the database
    /// cannot be had now (pool timeout, connection lost, disconnected, a serialization failure
    /// that a retry may get past), 500 for the rest.
    ///
    /// A plain number, so that any web framework can use it; the `axum` feature's
    /// `IntoResponse` for [`DatabaseError`] answers with it.
    ///
    /// ```
    /// use dsg_lib::async_database_functions::error::ErrorKind;
    ///
    /// assert_eq!(ErrorKind::RecordNotFound.http_status(), 404);
    /// assert_eq!(ErrorKind::IntegrityError.http_status(), 409);
    /// assert_eq!(ErrorKind::PoolTimeout.http_status(), 503);
    /// ```
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::RecordNotFound => 404,
            ErrorKind::IntegrityError => 409,
            ErrorKind::InvalidInput => 422,
            ErrorKind::PoolTimeout
            | ErrorKind::ConnectionError
            | ErrorKind::Disconnected
            | ErrorKind::SerializationFailure => 503,
            ErrorKind::ConfigurationError | ErrorKind::DecodeError | ErrorKind::DatabaseError => {
                500
            }
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which strings a [`DatabaseError`] serialises as its `"error"` value (see the
/// [module docs](self) for the mapping table).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ErrorStyle {
    /// The [`ErrorKind`] names: `RecordNotFound`, `IntegrityError`, `InvalidInput`, … (the
    /// default).
    #[default]
    Kinds,
    /// The Python dsg_lib's strings: `Record not found`, `Invalid pagination parameters`,
    /// `IntegrityError`, `SQLAlchemyError`, `General Exception`.
    Python,
}

impl ErrorStyle {
    /// Reads a style by name: `kinds` (or `rust`, `default`) or `python`, any case.
    ///
    /// ```
    /// use dsg_lib::async_database_functions::error::ErrorStyle;
    ///
    /// assert_eq!(ErrorStyle::parse("python"), Some(ErrorStyle::Python));
    /// assert_eq!(ErrorStyle::parse("Kinds"), Some(ErrorStyle::Kinds));
    /// assert_eq!(ErrorStyle::parse("xml"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "kinds" | "kind" | "rust" | "default" => Some(ErrorStyle::Kinds),
            "python" => Some(ErrorStyle::Python),
            _ => None,
        }
    }
}

/// Which constraint an [`ErrorKind::IntegrityError`] violated, where the driver says.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// A unique or primary key constraint.
    Unique,
    /// A foreign key constraint.
    ForeignKey,
    /// A NOT NULL constraint.
    NotNull,
    /// A CHECK constraint.
    Check,
}

/// What a backend reports about the violated constraint (see [`DatabaseError::constraint_name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConstraintInfo {
    pub name: Option<String>,
    pub table: Option<String>,
    pub columns: Vec<String>,
}

/// The driver's error behind a [`DatabaseError`].
type Source = Arc<dyn StdError + Send + Sync + 'static>;

/// The error of every fallible call in this crate.
///
/// `Clone`, and comparable with `==`: two errors are equal when everything but the
/// driver's error ([`source`](std::error::Error::source)) is.
#[derive(Clone)]
pub struct DatabaseError(Box<Inner>);

/// What a [`DatabaseError`] holds, boxed: every `Result` of the crate is then a pointer wide on
/// its error side, so the futures and return values that carry one stay small.
#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    details: String,
    code: Option<String>,
    constraint: Option<Constraint>,
    info: Option<Box<ConstraintInfo>>,
    statement_index: Option<usize>,
    style: ErrorStyle,
    /// Set only for `paginate_query`'s own page checks (the Python library's
    /// "Invalid pagination parameters").
    pagination: bool,
    /// A connection was lost while a commit was under way (see `is_outcome_unknown`).
    outcome_unknown: bool,
    /// The call already waited out its bound (no host fitted for `pool_timeout`): running the
    /// transaction again would only wait again.
    waited_out: bool,
    source: Option<Source>,
}

impl DatabaseError {
    /// An error of `kind` with `details`.
    pub fn new(kind: ErrorKind, details: impl Into<String>) -> Self {
        DatabaseError(Box::new(Inner {
            kind,
            details: details.into(),
            code: None,
            constraint: None,
            info: None,
            statement_index: None,
            style: ErrorStyle::Kinds,
            pagination: false,
            outcome_unknown: false,
            waited_out: false,
            source: None,
        }))
    }

    /// A configuration error (bad config map or URI).
    pub fn config(details: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConfigurationError, details)
    }

    /// An invalid-input error.
    pub fn invalid_input(details: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, details)
    }

    /// An invalid-input error about a page number or page size; in the Python style its
    /// `"error"` is `Invalid pagination parameters`.
    pub fn invalid_pagination(details: impl Into<String>) -> Self {
        let mut error = Self::invalid_input(details);
        error.0.pagination = true;
        error
    }

    /// A record-not-found error.
    pub fn not_found(details: impl Into<String>) -> Self {
        Self::new(ErrorKind::RecordNotFound, details)
    }

    /// A row could not be decoded.
    pub(crate) fn decode(details: impl Into<String>) -> Self {
        Self::new(ErrorKind::DecodeError, details)
    }

    /// Rewrites the details (used to scrub secrets and bound values).
    pub(crate) fn scrubbed(mut self, scrub: impl FnOnce(String) -> String) -> Self {
        self.0.details = scrub(self.0.details);
        self
    }

    pub(crate) fn with_code(mut self, code: Option<String>) -> Self {
        self.0.code = code;
        self
    }

    pub(crate) fn with_constraint(mut self, constraint: Option<Constraint>) -> Self {
        self.0.constraint = constraint;
        self
    }

    /// Records what the backend said about the violated constraint (integrity errors only).
    pub(crate) fn with_constraint_info(mut self, info: ConstraintInfo) -> Self {
        if self.0.kind == ErrorKind::IntegrityError && info != ConstraintInfo::default() {
            self.0.info = Some(Box::new(info));
        }
        self
    }

    /// Keeps the driver's error as [`source`](std::error::Error::source), unless it may carry
    /// what must not leak: any bound value when `hide_parameters` is set, or a secret of the
    /// URI in its text (`scrub` replaces secrets; text it changes holds one).
    pub(crate) fn with_driver_source(
        mut self,
        error: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
        hide_parameters: bool,
        scrub: impl Fn(String) -> String,
    ) -> Self {
        if hide_parameters {
            return self;
        }
        let error: Box<dyn StdError + Send + Sync + 'static> = error.into();
        let clean = |text: String| scrub(text.clone()) == text;
        if clean(error.to_string()) && clean(format!("{error:?}")) {
            self.0.source = Some(Arc::from(error));
        }
        self
    }

    /// Lets `complete` fill in what the backend did not report of the violated constraint
    /// (integrity errors only; see `schema::Catalog::complete`).
    pub(crate) fn complete_constraint_info(
        mut self,
        complete: impl FnOnce(&mut ConstraintInfo),
    ) -> Self {
        if self.0.kind == ErrorKind::IntegrityError {
            let mut info = self.0.info.take().map(|b| *b).unwrap_or_default();
            complete(&mut info);
            self = self.with_constraint_info(info);
        }
        self
    }

    /// Marks the error as raised by statement `index` of a batch (see `execute_many`).
    pub(crate) fn at_statement(mut self, index: usize) -> Self {
        if self.0.statement_index.is_none() {
            self.0.details = format!("statement {index} failed: {}", self.0.details);
            self.0.statement_index = Some(index);
        }
        self
    }

    /// The same error, serialised in `style` (see the [module docs](self)).
    pub fn with_style(mut self, style: ErrorStyle) -> Self {
        self.0.style = style;
        self
    }

    /// The style this error serialises in.
    pub fn style(&self) -> ErrorStyle {
        self.0.style
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The human-readable details. Never carries a password, nor bound values when
    /// `hide_parameters` is set.
    pub fn details(&self) -> &str {
        &self.0.details
    }

    /// The driver's error code: SQLSTATE on PostgreSQL, the error number on MySQL/MariaDB,
    /// the extended result code on SQLite.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// Which constraint an integrity error violated, where the driver says.
    pub fn constraint(&self) -> Option<Constraint> {
        self.0.constraint
    }

    /// The name of the violated constraint or unique index, where the backend reports it
    /// (PostgreSQL; MySQL/MariaDB's `for key '…'`; SQLite only for named CHECK constraints
    /// and unique expression indexes). See the [module docs](self) for what each backend
    /// gives.
    ///
    /// ```
    /// # use dsg_lib::async_database_functions::error::DatabaseError;
    /// fn is_duplicate_name(err: &DatabaseError) -> bool {
    ///     err.is_unique_violation() && err.violates("ix_users_name")
    /// }
    /// # assert!(!is_duplicate_name(&DatabaseError::not_found("x")));
    /// ```
    pub fn constraint_name(&self) -> Option<&str> {
        self.0.info.as_ref()?.name.as_deref()
    }

    /// The table of the violated constraint, where the backend reports it.
    pub fn table(&self) -> Option<&str> {
        self.0.info.as_ref()?.table.as_deref()
    }

    /// The columns of the violated constraint, where the backend reports them (SQLite's
    /// `UNIQUE constraint failed: users.name` gives `["name"]`); empty otherwise.
    pub fn columns(&self) -> &[String] {
        self.0.info.as_ref().map_or(&[], |info| &info.columns)
    }

    /// Whether this integrity error is about `name`: the violated constraint's name, or, for
    /// a single-column constraint, its column. For the unique index of a registered model's
    /// `unique, index` column both are known on every backend (what the backend leaves out is
    /// filled in from the model), so `err.violates("email")` and
    /// `err.violates("ix_users_email")` are both true for a duplicate email.
    pub fn violates(&self, name: &str) -> bool {
        self.constraint_name() == Some(name) || matches!(self.columns(), [column] if column == name)
    }

    /// For an error raised inside `execute_many`, the index of the statement that failed.
    pub fn statement_index(&self) -> Option<usize> {
        self.0.statement_index
    }

    /// True for a unique (or primary key) violation.
    pub fn is_unique_violation(&self) -> bool {
        self.0.kind == ErrorKind::IntegrityError && self.0.constraint == Some(Constraint::Unique)
    }

    /// True when the connection was lost while a `COMMIT`, or a statement outside a
    /// transaction (which commits by itself), was under way: whether it took effect is not
    /// known, so the library never runs it again by itself. Check before running it again.
    /// Never for a `READ ONLY` transaction (`get_replica_session`'s on the servers): it wrote
    /// nothing, so its lost `COMMIT` is a plain connection error.
    pub fn is_outcome_unknown(&self) -> bool {
        self.0.outcome_unknown
    }

    /// Marks a lost connection whose commit may or may not have happened; `during_commit`
    /// says so in the details (a `COMMIT` was under way, not a statement of its own).
    pub(crate) fn with_outcome_unknown(mut self, during_commit: bool) -> Self {
        if during_commit && !self.0.outcome_unknown {
            self.0.details.push_str(
                " (the connection was lost during COMMIT: whether the transaction committed is unknown)",
            );
        }
        self.0.outcome_unknown = true;
        self
    }

    /// Marks an error after which the call already waited as long as it may (no host fitted
    /// `target_session_attrs` for `pool_timeout`): the retry policy does not run it again.
    pub(crate) fn with_waited_out(mut self) -> Self {
        self.0.waited_out = true;
        self
    }

    /// Whether [`with_waited_out`](Self::with_waited_out) marked the error.
    pub(crate) fn is_waited_out(&self) -> bool {
        self.0.waited_out
    }

    /// True for serialization failures and deadlocks: running the transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.0.kind == ErrorKind::SerializationFailure
    }

    /// The HTTP status for this error: [`ErrorKind::http_status`] of its kind.
    pub fn http_status(&self) -> u16 {
        self.0.kind.http_status()
    }

    /// The `"error"` string the Python dsg_lib gives for this failure (see the table in the
    /// [module docs](self)).
    pub fn python_error(&self) -> &'static str {
        match self.0.kind {
            ErrorKind::RecordNotFound => "Record not found",
            ErrorKind::InvalidInput if self.0.pagination => "Invalid pagination parameters",
            ErrorKind::IntegrityError => "IntegrityError",
            ErrorKind::ConfigurationError | ErrorKind::DecodeError => "General Exception",
            ErrorKind::InvalidInput
            | ErrorKind::PoolTimeout
            | ErrorKind::ConnectionError
            | ErrorKind::Disconnected
            | ErrorKind::SerializationFailure
            | ErrorKind::DatabaseError => "SQLAlchemyError",
        }
    }

    /// The `"error"` string in this error's [style](Self::style).
    pub fn error_name(&self) -> &'static str {
        match self.0.style {
            ErrorStyle::Kinds => self.0.kind.as_str(),
            ErrorStyle::Python => self.python_error(),
        }
    }

    /// The error as the Python library returns it: `{"error": <Python string>, "details": …}`.
    pub fn to_python_value(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.python_error(), "details": self.0.details })
    }
}

impl PartialEq for DatabaseError {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind == other.0.kind
            && self.0.details == other.0.details
            && self.0.code == other.0.code
            && self.0.constraint == other.0.constraint
            && self.0.info == other.0.info
            && self.0.statement_index == other.0.statement_index
            && self.0.style == other.0.style
            && self.0.pagination == other.0.pagination
            && self.0.outcome_unknown == other.0.outcome_unknown
    }
}

impl Eq for DatabaseError {}

impl fmt::Debug for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("DatabaseError");
        s.field("kind", &self.0.kind)
            .field("details", &self.0.details)
            .field("code", &self.0.code)
            .field("constraint", &self.0.constraint);
        if let Some(info) = &self.0.info {
            s.field("constraint_name", &info.name)
                .field("table", &info.table)
                .field("columns", &info.columns);
        }
        s.field("statement_index", &self.0.statement_index);
        if self.0.outcome_unknown {
            s.field("outcome_unknown", &true);
        }
        if self.0.style != ErrorStyle::Kinds {
            s.field("style", &self.0.style);
        }
        // The driver's error by its message only: its Debug form can be long.
        s.field("source", &self.0.source.as_ref().map(|e| e.to_string()))
            .finish()
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind, self.0.details)
    }
}

impl StdError for DatabaseError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl serde::Serialize for DatabaseError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("DatabaseError", 2)?;
        s.serialize_field("error", self.error_name())?;
        s.serialize_field("details", &self.0.details)?;
        s.end()
    }
}

/// Splits `users.name` into (`users`, `name`); a name without a dot is a column alone.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn split_qualified(name: &str) -> (Option<&str>, &str) {
    match name.split_once('.') {
        Some((table, column)) => (Some(table), column),
        None => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_a_pointer_wide_on_its_error_side() {
        let pointer = std::mem::size_of::<usize>();
        assert_eq!(std::mem::size_of::<DatabaseError>(), pointer);
        assert_eq!(std::mem::size_of::<Result<(), DatabaseError>>(), pointer);
        assert_eq!(
            std::mem::size_of::<Result<u64, DatabaseError>>(),
            2 * pointer
        );
    }

    #[test]
    fn batch_index_is_recorded_once() {
        let err = DatabaseError::invalid_input("boom")
            .at_statement(2)
            .at_statement(5);
        assert_eq!(err.statement_index(), Some(2));
        assert_eq!(err.details(), "statement 2 failed: boom");
    }

    #[test]
    fn unique_violation_is_an_integrity_error() {
        let err = DatabaseError::new(ErrorKind::IntegrityError, "dup")
            .with_constraint(Some(Constraint::Unique));
        assert!(err.is_unique_violation());
        assert!(!err.is_retryable());
        assert!(!DatabaseError::not_found("x").is_unique_violation());
    }

    #[test]
    fn python_strings_follow_the_python_library() {
        let python = |e: DatabaseError| e.with_style(ErrorStyle::Python).error_name();
        assert_eq!(python(DatabaseError::not_found("x")), "Record not found");
        assert_eq!(
            python(DatabaseError::invalid_pagination("page must be at least 1")),
            "Invalid pagination parameters"
        );
        assert_eq!(
            python(DatabaseError::new(ErrorKind::IntegrityError, "dup")),
            "IntegrityError"
        );
        for kind in [
            ErrorKind::InvalidInput,
            ErrorKind::PoolTimeout,
            ErrorKind::ConnectionError,
            ErrorKind::Disconnected,
            ErrorKind::SerializationFailure,
            ErrorKind::DatabaseError,
        ] {
            assert_eq!(python(DatabaseError::new(kind, "x")), "SQLAlchemyError");
        }
        assert_eq!(python(DatabaseError::config("x")), "General Exception");
        assert_eq!(python(DatabaseError::decode("x")), "General Exception");
        // The default style is unchanged: the kind names.
        assert_eq!(
            serde_json::to_value(DatabaseError::invalid_pagination("p")).unwrap()["error"],
            "InvalidInput"
        );
        assert_eq!(
            DatabaseError::not_found("no row").to_python_value(),
            serde_json::json!({"error": "Record not found", "details": "no row"})
        );
    }

    #[test]
    fn equality_ignores_the_driver_error_but_not_the_style() {
        let plain = DatabaseError::new(ErrorKind::ConnectionError, "gone");
        let with_source =
            plain
                .clone()
                .with_driver_source(sqlx::Error::Protocol("gone".into()), false, |t| t);
        assert!(with_source.source().is_some());
        assert_eq!(plain, with_source);
        assert_ne!(plain.clone(), plain.with_style(ErrorStyle::Python));
    }

    #[test]
    fn the_driver_error_is_left_out_when_it_could_leak() {
        let err = || DatabaseError::new(ErrorKind::ConnectionError, "failed");
        let hidden = err().with_driver_source(sqlx::Error::Protocol("x".into()), true, |t| t);
        assert!(hidden.source().is_none());
        let secret = err().with_driver_source(
            sqlx::Error::Protocol("bad password hunter2".into()),
            false,
            |t| t.replace("hunter2", "***"),
        );
        assert!(secret.source().is_none());
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn violates_matches_a_name_or_a_single_column() {
        let err = DatabaseError::new(ErrorKind::IntegrityError, "dup").with_constraint_info(
            ConstraintInfo {
                name: None,
                table: Some("users".into()),
                columns: vec!["email".into()],
            },
        );
        assert!(err.violates("email"));
        assert!(!err.violates("name"));
        assert_eq!(err.table(), Some("users"));
        // Only integrity errors carry constraint details.
        let other = DatabaseError::not_found("x").with_constraint_info(ConstraintInfo {
            name: Some("ix".into()),
            ..ConstraintInfo::default()
        });
        assert_eq!(other.constraint_name(), None);
    }

    #[test]
    fn http_statuses() {
        assert_eq!(ErrorKind::InvalidInput.http_status(), 422);
        assert_eq!(ErrorKind::ConnectionError.http_status(), 503);
        assert_eq!(ErrorKind::DatabaseError.http_status(), 500);
        assert_eq!(DatabaseError::config("x").http_status(), 500);
    }
}
