//! tokio-postgres errors as sqlx errors, so that `dialect::map_error` classifies them exactly
//! as it classifies sqlx-postgres's: by SQLSTATE, with the constraint, table and column the
//! server named (the SQLite engine does the same in `sqlite_engine/error.rs`). `source()` of a
//! `DatabaseError` stays a [`sqlx::Error`], as on the sqlx executor; its database error is this
//! module's, not sqlx's `PgDatabaseError` (which only sqlx can make).

use std::borrow::Cow;
use std::fmt;

/// An error the server returned (an `ErrorResponse`): its fields, and the driver's own error
/// (its `source()`).
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

/// The columns of the violated constraint, as `postgres::constraint_info` reads them from
/// sqlx's error: the column a not-null violation names, else the key's columns from the
/// detail (`Key (a, b)=(…) already exists.`, the values not read, by `key_columns`). Fills
/// `info` only when `db` is this executor's error.
pub(crate) fn complete_info(
    db: &dyn sqlx::error::DatabaseError,
    info: &mut crate::async_database_functions::core::error::ConstraintInfo,
    key_columns: fn(&str) -> Vec<String>,
) {
    if let Some(pg) = db.try_downcast_ref::<PgEngineDbError>() {
        if let Some(column) = &pg.column {
            info.columns.push(column.clone());
        } else if let Some(detail) = &pg.detail {
            info.columns = key_columns(detail);
        }
    }
}

impl fmt::Display for PgEngineDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error returned from database: {}", self.message)
    }
}

/// The driver's own error is the source: `source()` of the sqlx error's database error
/// downcasts to [`tokio_postgres::Error`].
impl std::error::Error for PgEngineDbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.origin)
    }
}

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
    let text = chain(&e);
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
        return sqlx::Error::Io(std::io::Error::other(text));
    }
    if text.starts_with("invalid configuration") {
        return sqlx::Error::Configuration(text.into());
    }
    if text.contains("authentication") || text.contains("TLS") || text.contains("SSL") {
        return sqlx::Error::Tls(text.into());
    }
    sqlx::Error::Protocol(text)
}

/// The error's text with its causes (`error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer`): the driver's own text names only the step that failed.
fn chain(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}
