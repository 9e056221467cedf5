//! SQLite engine errors as sqlx errors, so that `dialect::map_error` classifies them exactly as
//! it classifies sqlx-sqlite's: by the extended result code.

use std::borrow::Cow;
use std::fmt;

/// An error the SQLite engine returned: its extended result code and message, and the
/// engine's own error, which [`into_source`] hands to the user as `source()`.
#[derive(Debug)]
pub(crate) struct EngineDbError {
    code: i32,
    message: String,
    origin: rusqlite::Error,
}

impl fmt::Display for EngineDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for EngineDbError {}

impl sqlx::error::DatabaseError for EngineDbError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
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
        match self.code {
            2067 | 1555 => ErrorKind::UniqueViolation,
            787 => ErrorKind::ForeignKeyViolation,
            1299 => ErrorKind::NotNullViolation,
            275 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// The primary result code of an engine error, if it is one.
pub(crate) fn primary_code(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code & 0xff),
        _ => None,
    }
}

/// Whether waiting may clear the error: another connection holds the lock (SQLITE_BUSY, or
/// SQLITE_LOCKED on a shared-cache in-memory database).
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(primary_code(e), Some(5 | 6))
}

/// What a statement with more SQL after its first statement fails with.
pub(crate) const MULTIPLE_STATEMENTS: &str = "several statements in one call are not supported \
     on SQLite: run one statement per call, or several with execute_many (parameterless SQL: \
     Session::execute_sql)";

/// Converts an engine error into the sqlx error the rest of the crate maps.
pub(crate) fn to_sqlx(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(ref f, ref message) => {
            let message = message.clone().unwrap_or_else(|| f.to_string());
            let code = f.extended_code;
            database(code, message, e)
        }
        e @ (rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..)
        | rusqlite::Error::InvalidColumnType(..)) => sqlx::Error::Decode(Box::new(e)),
        e @ rusqlite::Error::MultipleStatement => database(1, MULTIPLE_STATEMENTS.into(), e),
        rusqlite::Error::InvalidColumnIndex(index) => {
            sqlx::Error::ColumnIndexOutOfBounds { index, len: 0 }
        }
        e => {
            let message = e.to_string();
            database(1, message, e)
        }
    }
}

fn database(code: i32, message: String, origin: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Database(Box::new(EngineDbError {
        code,
        message,
        origin,
    }))
}

/// The error a user downcasts `DatabaseError::source()` to on SQLite: the engine's own
/// [`rusqlite::Error`] (re-exported as `dsg_lib::rusqlite`), whose `SqliteFailure` carries
/// the extended result code; any other sqlx error as it is.
pub(crate) fn into_source(e: sqlx::Error) -> Box<dyn std::error::Error + Send + Sync + 'static> {
    match e {
        sqlx::Error::Database(db) => match db.try_downcast::<EngineDbError>() {
            Ok(engine) => Box::new(engine.origin),
            Err(db) => Box::new(sqlx::Error::Database(db)),
        },
        sqlx::Error::Decode(inner) => match inner.downcast::<rusqlite::Error>() {
            Ok(engine) => engine,
            Err(inner) => Box::new(sqlx::Error::Decode(inner)),
        },
        e => Box::new(e),
    }
}
