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

use std::fmt;

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
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

/// The error of every fallible call in this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseError {
    kind: ErrorKind,
    details: String,
    code: Option<String>,
    constraint: Option<Constraint>,
    statement_index: Option<usize>,
}

impl DatabaseError {
    /// An error of `kind` with `details`.
    pub fn new(kind: ErrorKind, details: impl Into<String>) -> Self {
        DatabaseError {
            kind,
            details: details.into(),
            code: None,
            constraint: None,
            statement_index: None,
        }
    }

    /// A configuration error (bad config map or URI).
    pub fn config(details: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConfigurationError, details)
    }

    /// An invalid-input error.
    pub fn invalid_input(details: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, details)
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
        self.details = scrub(self.details);
        self
    }

    pub(crate) fn with_code(mut self, code: Option<String>) -> Self {
        self.code = code;
        self
    }

    pub(crate) fn with_constraint(mut self, constraint: Option<Constraint>) -> Self {
        self.constraint = constraint;
        self
    }

    /// Marks the error as raised by statement `index` of a batch (see `execute_many`).
    pub(crate) fn at_statement(mut self, index: usize) -> Self {
        if self.statement_index.is_none() {
            self.details = format!("statement {index} failed: {}", self.details);
            self.statement_index = Some(index);
        }
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable details. Never carries a password, nor bound values when
    /// `hide_parameters` is set.
    pub fn details(&self) -> &str {
        &self.details
    }

    /// The driver's error code: SQLSTATE on PostgreSQL, the error number on MySQL/MariaDB,
    /// the extended result code on SQLite.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Which constraint an integrity error violated, where the driver says.
    pub fn constraint(&self) -> Option<Constraint> {
        self.constraint
    }

    /// For an error raised inside `execute_many`, the index of the statement that failed.
    pub fn statement_index(&self) -> Option<usize> {
        self.statement_index
    }

    /// True for a unique (or primary key) violation.
    pub fn is_unique_violation(&self) -> bool {
        self.kind == ErrorKind::IntegrityError && self.constraint == Some(Constraint::Unique)
    }

    /// True for serialization failures and deadlocks: running the transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::SerializationFailure
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.details)
    }
}

impl std::error::Error for DatabaseError {}

impl serde::Serialize for DatabaseError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("DatabaseError", 2)?;
        s.serialize_field("error", self.kind.as_str())?;
        s.serialize_field("details", &self.details)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
