//! What the server's certificate is checked for, and the PEM text of `sslrootcert`, `sslcert`
//! and `sslkey`: what the tokio-postgres executor's two TLS connectors share.

#[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
use crate::async_database_functions::core::error::DatabaseError;
#[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
use crate::async_database_functions::database_config::PemSource;

/// What the server's certificate is checked for.
#[derive(PartialEq, Eq, Clone, Copy)]
pub(crate) enum Verify {
    /// `prefer`/`require` without a root: encrypt, check nothing (libpq's meaning).
    Nothing,
    /// `verify-ca`: the chain must lead to a root, whatever name the certificate is for.
    Chain,
    /// `verify-full`: the chain and the host name.
    Full,
}

/// The PEM text of `source` (inline, or the file it names).
#[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
pub(crate) fn pem(source: &PemSource, key: &str) -> Result<Vec<u8>, DatabaseError> {
    if source.is_inline() {
        return Ok(source.as_str().as_bytes().to_vec());
    }
    std::fs::read(source.as_str()).map_err(|e| {
        DatabaseError::config(format!(
            "connect_args.{key}: cannot read {:?}: {e}",
            source.as_str()
        ))
    })
}

/// The certificates of `source`, in DER; at least one.
#[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
pub(crate) fn certs(
    source: &PemSource,
    key: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, DatabaseError> {
    let bytes = pem(source, key)?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut bytes.as_slice()).collect();
    let certs = certs.map_err(|e| {
        DatabaseError::config(format!("connect_args.{key}: not a PEM certificate: {e}"))
    })?;
    if certs.is_empty() {
        return Err(DatabaseError::config(format!(
            "connect_args.{key}: no PEM certificate found"
        )));
    }
    Ok(certs)
}
