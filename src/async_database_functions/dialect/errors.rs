//! Driver errors as [`DatabaseError`]s: the kind from the error code, the constraint, the
//! password scrubbed; each backend gives its own rules through [`ErrorMapping`].

use crate::async_database_functions::core::error::{
    Constraint, ConstraintInfo, DatabaseError, ErrorKind,
};
use crate::async_database_functions::database_config::DBConfig;

/// A backend's rules for its driver's errors.
pub(crate) trait ErrorMapping {
    /// The driver's error code: what [`classify`](Self::classify) reads.
    fn error_code(db: &dyn sqlx::error::DatabaseError) -> Option<String>;
    /// The kind (and constraint) an error code means.
    fn classify(code: &str) -> (ErrorKind, Option<Constraint>);
    /// The details with bound values taken out (`hide_parameters`).
    fn hide_values(kind: ErrorKind, details: String) -> String;
    /// The constraint, table and columns the error names.
    fn constraint_info(db: &dyn sqlx::error::DatabaseError) -> ConstraintInfo;
    /// The driver's error as the `source()` of the mapped one.
    fn driver_source(error: sqlx::Error) -> Box<dyn std::error::Error + Send + Sync>;
    /// The most connections a pool of `config` opens.
    fn max_connections(config: &DBConfig) -> u32;
}

/// Turns a driver error into a [`DatabaseError`], deciding the kind from the error code.
/// The password is scrubbed from the text; the driver's error is kept as the `source()`
/// where it cannot leak (see `DatabaseError::with_driver_source`).
pub(crate) fn map_with<M: ErrorMapping>(config: &DBConfig, error: sqlx::Error) -> DatabaseError {
    let mapped = match &error {
        sqlx::Error::Database(db) => {
            let code = M::error_code(&**db);
            let (kind, constraint) = match &code {
                Some(code) => M::classify(code),
                None => (ErrorKind::DatabaseError, None),
            };
            let mut details = db.message().to_string();
            if config.hide_parameters() {
                details = M::hide_values(kind, details);
            }
            DatabaseError::new(kind, details)
                .with_code(code)
                .with_constraint(constraint)
                .with_constraint_info(M::constraint_info(&**db))
        }
        sqlx::Error::PoolTimedOut => DatabaseError::new(
            ErrorKind::PoolTimeout,
            format!(
                "no connection became free within {:?}; all {} are in use",
                super::connect::acquire_timeout(config),
                M::max_connections(config)
            ),
        ),
        sqlx::Error::PoolClosed => DatabaseError::new(
            ErrorKind::Disconnected,
            "the database has been disconnected",
        ),
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed) => DatabaseError::new(
            ErrorKind::ConnectionError,
            format!("connection failed: {e}{}", tls_hint(&e.to_string())),
        ),
        e @ sqlx::Error::Configuration(_) => DatabaseError::config(e.to_string()),
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }) => DatabaseError::decode(e.to_string()),
        sqlx::Error::RowNotFound => DatabaseError::not_found("no row matched"),
        e => DatabaseError::new(ErrorKind::DatabaseError, e.to_string()),
    };
    let source = M::driver_source(error);
    mapped
        .scrubbed(|text| config.scrub(text))
        .with_driver_source(source, config.hide_parameters(), |text| config.scrub(text))
}

/// What to check when the driver refused the server's certificate (rustls: "invalid peer
/// certificate"; OpenSSL: "certificate verify failed"). Only a hint in the details: the kind
/// stays a connection error.
fn tls_hint(text: &str) -> &'static str {
    if text.contains("invalid peer certificate") || text.contains("certificate verify failed") {
        " (TLS: the server's certificate was not accepted; check connect_args.sslrootcert, \
         the CA that signed the server's certificate, and sslmode: verify-full also checks the \
         host name)"
    } else {
        ""
    }
}
