//! mysql_async errors as sqlx errors, so that `dialect::map_error` classifies them exactly as it
//! classifies sqlx-mysql's: by error number (`mysql::error_code` reads it from
//! [`MyEngineDbError::number`] as from sqlx's `MySqlDatabaseError`), the SQLSTATE as `code()`,
//! the constraint from the message (`mysql::constraint_info`), the same redaction. `source()` of
//! a `DatabaseError` stays a [`sqlx::Error`], as on the sqlx executor; its database error is this
//! module's (sqlx's `MySqlDatabaseError` only sqlx can make), whose own `source()` is the
//! driver's [`mysql_async::Error`] with every field.

use std::borrow::Cow;
use std::fmt;

/// An error the server returned (an ERR packet): its number, SQLSTATE and message, and the
/// driver's own error (its `source()`).
#[derive(Debug)]
pub(crate) struct MyEngineDbError {
    number: u16,
    state: String,
    message: String,
    origin: mysql_async::Error,
}

impl MyEngineDbError {
    /// The server's error number (1062 for a duplicate entry), as sqlx's
    /// `MySqlDatabaseError::number`.
    pub(crate) fn number(&self) -> u16 {
        self.number
    }
}

/// The same text as sqlx's `MySqlDatabaseError`: `1062 (23000): Duplicate entry …`.
impl fmt::Display for MyEngineDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.number, self.state, self.message)
    }
}

/// The driver's own error is the source: `source()` of the sqlx error's database error
/// downcasts to [`mysql_async::Error`].
impl std::error::Error for MyEngineDbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.origin)
    }
}

impl sqlx::error::DatabaseError for MyEngineDbError {
    fn message(&self) -> &str {
        &self.message
    }
    /// The SQLSTATE, as sqlx's `MySqlDatabaseError::code`.
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.state))
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
    /// The kinds sqlx-mysql gives the same error numbers.
    fn kind(&self) -> sqlx::error::ErrorKind {
        use sqlx::error::ErrorKind;
        match self.number {
            1022 | 1062 | 1169 | 1586 | 1859 => ErrorKind::UniqueViolation,
            1216 | 1217 | 1451 | 1452 | 1830 | 1834 => ErrorKind::ForeignKeyViolation,
            1048 | 1364 => ErrorKind::NotNullViolation,
            3819 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Converts a driver error into the sqlx error the rest of the crate maps: a server error keeps
/// its number, SQLSTATE and message; a lost connection is an I/O error (a connection error to
/// the user); a TLS failure a TLS error; a bad URL a configuration error.
pub(crate) fn to_sqlx(e: mysql_async::Error) -> sqlx::Error {
    use mysql_async::{DriverError, Error, IoError};
    match e {
        Error::Server(ref server) => sqlx::Error::Database(Box::new(MyEngineDbError {
            number: server.code,
            state: server.state.clone(),
            message: server.message.clone(),
            origin: e,
        })),
        Error::Io(IoError::Io(io)) => sqlx::Error::Io(io),
        #[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
        Error::Io(IoError::Tls(tls)) => sqlx::Error::Tls(chain(&tls).into()),
        Error::Driver(DriverError::ConnectionClosed)
        | Error::Driver(DriverError::PoolDisconnected) => sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the connection was closed",
        )),
        Error::Driver(DriverError::NoClientSslFlagFromServer) => {
            sqlx::Error::Tls("the server does not support TLS".into())
        }
        Error::Url(url) => sqlx::Error::Configuration(Box::new(url)),
        Error::Driver(ref driver @ (DriverError::Params(_) | DriverError::MixedParams)) => {
            sqlx::Error::Encode(driver.to_string().into())
        }
        // Their text would quote the value or row.
        Error::Driver(DriverError::FromValue { .. } | DriverError::FromRow { .. }) => {
            sqlx::Error::Decode("a value could not be converted".into())
        }
        other => sqlx::Error::Protocol(chain(&other)),
    }
}

/// The error's text with its causes: the driver's own text names only the step that failed.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
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
