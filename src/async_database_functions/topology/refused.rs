//! Fail fast when refused: the error for a server whose port refuses connections, found by one
//! TCP connect.

use url::{Host, Url};

use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::core::redact;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect;

/// The error for a server at `url` that refuses connections: a `ConnectionError` naming the
/// host and the cause.
pub(crate) fn refused_error(url: &Url, cause: impl std::fmt::Display) -> DatabaseError {
    DatabaseError::new(
        ErrorKind::ConnectionError,
        format!("could not connect to {}: {cause}", redact::redact_url(url)),
    )
}

/// The error to report when the server's port refuses connections (one TCP connect); `None`
/// when it accepts them, does not answer, or cannot be probed (a Unix socket).
pub(crate) async fn probe(config: &DBConfig, url: &Url) -> Option<DatabaseError> {
    let port = url
        .port()
        .unwrap_or(dialect::default_port(config.dialect())?);
    if uses_socket(url) {
        return None;
    }
    let result = match url.host()? {
        Host::Domain(name) => tokio::net::TcpStream::connect((name, port)).await,
        Host::Ipv4(ip) => tokio::net::TcpStream::connect((ip, port)).await,
        Host::Ipv6(ip) => tokio::net::TcpStream::connect((ip, port)).await,
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Some(refused_error(url, format_args!("connection refused ({e})")))
        }
        _ => None,
    }
}

/// A Unix socket named in the URI (`?host=/run/postgresql`, `?socket=…`).
fn uses_socket(url: &Url) -> bool {
    url.query_pairs()
        .any(|(k, v)| (k == "host" && v.starts_with('/')) || k == "socket")
}
