//! tokio-postgres errors as sqlx errors, so that `dialect::map_error` classifies them exactly
//! as it classifies sqlx-postgres's: by SQLSTATE, with the constraint, table and column the
//! server named (the SQLite engine does the same in `sqlite_engine/error.rs`).

use std::borrow::Cow;
use std::fmt;

/// An error the server returned (an `ErrorResponse`): its fields, and the driver's own error,
/// which [`into_source`] hands to the user as `source()`.
#[derive(Debug)]
pub(crate) struct PgEngineDbError {
    code: String,
    message: String,
    constraint: Option<String>,
    table: Option<String>,
    column: Option<String>,
    detail: Option<String>,
    origin: tokio_postgres::Error,
}

impl PgEngineDbError {
    /// The column the server named (a not-null violation).
    pub(crate) fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }

    /// The server's `detail` (`Key (name)=(…) already exists.`).
    pub(crate) fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl fmt::Display for PgEngineDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error returned from database: {}", self.message)
    }
}

impl std::error::Error for PgEngineDbError {}

impl sqlx::error::DatabaseError for PgEngineDbError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.code))
    }
    fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }
    fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        use sqlx::error::ErrorKind;
        match self.code.as_str() {
            "23505" => ErrorKind::UniqueViolation,
            "23503" => ErrorKind::ForeignKeyViolation,
            "23502" => ErrorKind::NotNullViolation,
            "23514" => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Converts a driver error into the sqlx error the rest of the crate maps: a server error keeps
/// its SQLSTATE and fields; a lost connection is an I/O error (a connection error to the user);
/// a value the driver could not encode or decode is an encode or decode error.
pub(crate) fn to_sqlx(e: tokio_postgres::Error) -> sqlx::Error {
    if let Some(db) = e.as_db_error() {
        return sqlx::Error::Database(Box::new(PgEngineDbError {
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            constraint: db.constraint().map(str::to_string),
            table: db.table().map(str::to_string),
            column: db.column().map(str::to_string),
            detail: db.detail().map(str::to_string),
            origin: e,
        }));
    }
    let text = e.to_string();
    if e.is_closed() {
        return sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            e,
        ));
    }
    if text.starts_with("error serializing") {
        return sqlx::Error::Encode(Box::new(e));
    }
    if text.starts_with("error deserializing") || text.starts_with("invalid column") {
        return sqlx::Error::Decode(Box::new(e));
    }
    if text.starts_with("error connecting")
        || text.starts_with("error communicating")
        || text.starts_with("error performing TLS")
        || text.starts_with("timeout")
        || text.contains("io error")
    {
        return sqlx::Error::Io(std::io::Error::other(e));
    }
    if text.starts_with("invalid configuration") {
        return sqlx::Error::Configuration(Box::new(e));
    }
    if text.contains("authentication") || text.contains("TLS") || text.contains("SSL") {
        return sqlx::Error::Tls(Box::new(e));
    }
    sqlx::Error::Protocol(text)
}

/// The error a user downcasts `DatabaseError::source()` to on this executor: the driver's own
/// [`tokio_postgres::Error`], whose `as_db_error()` gives the server's fields; any other sqlx
/// error as it is.
pub(crate) fn into_source(e: sqlx::Error) -> Box<dyn std::error::Error + Send + Sync + 'static> {
    match e {
        sqlx::Error::Database(db) => match db.try_downcast::<PgEngineDbError>() {
            Ok(engine) => Box::new(engine.origin),
            Err(db) => Box::new(sqlx::Error::Database(db)),
        },
        e => Box::new(e),
    }
}
