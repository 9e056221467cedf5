//! What building a server's pool shares between the sqlx backends: the driver's URI, the TLS
//! settings checked before the pool is built, how long to wait for a connection, and the
//! recycling of old or stale connections on checkout.

use std::sync::Arc;

use sqlx::Database;

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::database_config::{DBConfig, Dialect};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::async_database_functions::database_config::{PemSource, SslMode};

use super::health::Staleness;

/// The server URI with the driver's own scheme (`postgresql+asyncpg` → `postgres`).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn native_url(url: Option<&url::Url>, scheme: &str) -> Result<url::Url, DatabaseError> {
    let mut url = url
        .cloned()
        .ok_or_else(|| DatabaseError::config("database_uri: missing server address"))?;
    url.set_scheme(scheme)
        .map_err(|()| DatabaseError::config("database_uri: cannot use this URI scheme"))?;
    Ok(url)
}

/// The TLS settings of a server connection, checked before the pool is built.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) struct Tls<'a> {
    /// The mode to ask the driver for; `None` leaves the driver's default (`prefer`).
    pub mode: Option<SslMode>,
    pub root_cert: Option<&'a PemSource>,
    pub client_cert: Option<&'a PemSource>,
    pub client_key: Option<&'a PemSource>,
}

/// Reads `connect_args`' TLS keys. As libpq does, `require` with a `sslrootcert` verifies the
/// server's certificate against it (`verify-ca`): a root given is never silently ignored.
///
/// # Errors
///
/// A configuration error when the mode needs TLS and this build has none (neither the
/// `tls-rustls` nor the `tls-native-tls` feature), or a certificate or key file cannot be
/// read: the key and the path are named, where the driver would fail later without them.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn tls(config: &DBConfig) -> Result<Tls<'_>, DatabaseError> {
    let args = config.connect_args();
    let mode = match args.ssl_mode {
        Some(SslMode::Require) if args.ssl_root_cert.is_some() => Some(SslMode::VerifyCa),
        mode => mode,
    };
    let needs_tls = matches!(
        mode,
        Some(SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull)
    );
    if needs_tls && !cfg!(any(feature = "tls-rustls", feature = "tls-native-tls")) {
        return Err(DatabaseError::config(
            "connect_args.sslmode asks for TLS, but this build of dsg_lib has none: enable the \
             `tls-rustls` (default) or `tls-native-tls` feature",
        ));
    }
    let files = [
        ("sslrootcert", &args.ssl_root_cert),
        ("sslcert", &args.ssl_cert),
        ("sslkey", &args.ssl_key),
    ];
    for (key, source) in files {
        if let Some(source) = source.as_ref().filter(|s| !s.is_inline()) {
            std::fs::File::open(source.as_str()).map_err(|e| {
                DatabaseError::config(format!(
                    "connect_args.{key}: cannot read {:?}: {e}",
                    source.as_str()
                ))
            })?;
        }
    }
    Ok(Tls {
        mode,
        root_cert: args.ssl_root_cert.as_ref(),
        client_cert: args.ssl_cert.as_ref(),
        client_key: args.ssl_key.as_ref(),
    })
}

/// How long to wait for a connection: `pool_timeout`, shortened on the servers by a
/// `connect_args` timeout (on SQLite that is the busy timeout).
pub(crate) fn acquire_timeout(config: &DBConfig) -> std::time::Duration {
    match config.connect_args().timeout {
        Some(t) if config.dialect() != Dialect::Sqlite => t.min(config.pool_timeout()),
        _ => config.pool_timeout(),
    }
}

/// Makes the pool replace, when handing it out, a connection older than `pool_recycle` or
/// opened before the host's last invalidation (see [`Staleness`]), as SQLAlchemy does on checkout:
/// sqlx enforces `max_lifetime` only on release and in a periodic reaper, so an idle
/// connection could otherwise be handed out past its lifetime.
pub(crate) fn recycle_on_acquire<DB: Database>(
    options: sqlx::pool::PoolOptions<DB>,
    recycle: Option<std::time::Duration>,
    stale: Arc<Staleness>,
) -> sqlx::pool::PoolOptions<DB> {
    options.before_acquire(move |_, meta| {
        let fresh = recycle.is_none_or(|max| meta.age <= max) && !stale.is_stale(meta.age);
        Box::pin(async move { Ok(fresh) })
    })
}
