//! TLS for the mysql_async executor, with the `sslmode` semantics the sqlx executor gives
//! MySQL/MariaDB: `disable` never; `allow`/`prefer` (the default) over TLS when the server
//! offers it, without checking its certificate, else in plain text; `require` insisting on TLS
//! (checking the certificate against `sslrootcert` when one is given: `verify-ca`, see
//! `dialect::connect::tls`); `verify-ca` checking the chain, `verify-full` the chain and the
//! host name; a client certificate and key from `sslcert`/`sslkey`.
//!
//! mysql_async speaks TLS through rustls in every build with a TLS feature (it cannot be built
//! with both of its backends, and `--all-features` turns on both of this crate's); without
//! either, `prefer` connects in plain text and a mode that needs TLS was refused before.

use mysql_async::{Opts, OptsBuilder};

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::database_config::SslMode;

use super::super::connect::Tls;

/// The options to connect with, and, for a mode that only prefers TLS, the same without TLS
/// (tried when the server has none).
pub(super) fn opts(
    builder: OptsBuilder,
    tls: &Tls<'_>,
) -> Result<(Opts, Option<Opts>), DatabaseError> {
    let mode = tls.mode.unwrap_or(SslMode::Prefer);
    if mode == SslMode::Disable {
        return Ok((Opts::from(builder), None));
    }
    #[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
    {
        use mysql_async::{ClientIdentity, SslOpts};
        // mysql_async's `PathOrBuf` (not exported by name): the PEM itself, or its file.
        macro_rules! source {
            ($pem:expr) => {
                if $pem.is_inline() {
                    $pem.as_str().as_bytes().to_vec().into()
                } else {
                    std::path::PathBuf::from($pem.as_str()).into()
                }
            };
        }
        let mut ssl = SslOpts::default();
        match mode {
            SslMode::Allow | SslMode::Prefer | SslMode::Require => {
                ssl = ssl
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true);
            }
            SslMode::VerifyCa => ssl = ssl.with_danger_skip_domain_validation(true),
            SslMode::VerifyFull | SslMode::Disable => {}
        }
        if let Some(root) = tls.root_cert {
            ssl = ssl
                .with_root_certs(vec![source!(root)])
                .with_disable_built_in_roots(true);
        }
        match (tls.client_cert, tls.client_key) {
            (Some(cert), Some(key)) => {
                ssl = ssl
                    .with_client_identity(Some(ClientIdentity::new(source!(cert), source!(key))));
            }
            (None, None) => {}
            _ => {
                return Err(DatabaseError::config(
                    "connect_args.sslcert and connect_args.sslkey go together: give both or \
                     neither",
                ));
            }
        }
        let fallback =
            matches!(mode, SslMode::Allow | SslMode::Prefer).then(|| Opts::from(builder.clone()));
        Ok((Opts::from(builder.ssl_opts(Some(ssl))), fallback))
    }
    #[cfg(not(any(feature = "tls-rustls", feature = "tls-native-tls")))]
    {
        // No TLS in this build: `prefer` and `allow` go in plain text.
        let _ = tls;
        Ok((Opts::from(builder), None))
    }
}
