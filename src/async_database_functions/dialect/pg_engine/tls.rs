//! TLS for the tokio-postgres executor, with libpq's `sslmode` semantics as the sqlx executor
//! gives them: `disable` never, `allow`/`prefer` when the server offers it without checking
//! its certificate, `require` insisting on TLS (checking the certificate against
//! `sslrootcert` when one is given: `verify-ca`, see `dialect::connect::tls`), `verify-ca`
//! checking the chain, `verify-full` the chain and the host name; a client certificate and key
//! from `sslcert`/`sslkey`.
//!
//! The TLS library follows the build's features as sqlx's does: the platform's TLS (OpenSSL on
//! Linux, [`tls_native`](super::tls_native)) with `tls-native-tls`, which wins when both are
//! on; else rustls ([`tls_rustls`](super::tls_rustls)) with `tls-rustls`; without either, no
//! TLS (`prefer` connects in plain text, and a mode that needs TLS was refused before: see
//! `dialect::connect::tls`).

use tokio_postgres::config::SslMode as Pg;

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::database_config::SslMode;

use super::super::connect::Tls;
use super::tls_trust::Verify;

/// How to connect: the `sslmode` to ask the server for, and the TLS connector if any.
pub(crate) struct Connector {
    pub(crate) mode: Pg,
    pub(crate) make: Make,
}

/// The TLS connector of this build.
pub(crate) enum Make {
    Plain,
    #[cfg(all(feature = "tls-rustls", not(feature = "tls-native-tls")))]
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
    #[cfg(feature = "tls-native-tls")]
    Native(super::tls_native::MakeConnector),
}

/// The connector for `tls`.
///
/// # Errors
///
/// A configuration error naming the key when a certificate or key cannot be read or used.
pub(crate) fn connector(tls: &Tls<'_>) -> Result<Connector, DatabaseError> {
    let (mode, verify) = match tls.mode.unwrap_or(SslMode::Prefer) {
        SslMode::Disable => (Pg::Disable, Verify::Nothing),
        SslMode::Allow | SslMode::Prefer => (Pg::Prefer, Verify::Nothing),
        SslMode::Require => (Pg::Require, Verify::Nothing),
        SslMode::VerifyCa => (Pg::Require, Verify::Chain),
        SslMode::VerifyFull => (Pg::Require, Verify::Full),
    };
    if mode == Pg::Disable {
        return Ok(Connector {
            mode,
            make: Make::Plain,
        });
    }
    #[cfg(feature = "tls-native-tls")]
    let make = Make::Native(super::tls_native::connector(tls, verify)?);
    #[cfg(all(feature = "tls-rustls", not(feature = "tls-native-tls")))]
    let make = Make::Rustls(super::tls_rustls::connector(tls, verify)?);
    #[cfg(not(any(feature = "tls-rustls", feature = "tls-native-tls")))]
    let (mode, make) = {
        // No TLS in this build: `prefer` and `allow` go in plain text.
        let _ = verify;
        (Pg::Disable, Make::Plain)
    };
    Ok(Connector { mode, make })
}
