//! What a `database_uri` says: the dialect, the hosts, where a SQLite database lives, the TLS
//! mode given as a parameter; in SQLAlchemy's forms and the native ones.

use url::Url;

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::redact::{self, percent_decode};
use crate::async_database_functions::core::sql_dialect::Dialect;

use super::hosts::{self, TargetSessionAttrs};
use super::tls::SslMode;

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteTarget {
    /// A private in-memory database, shared by every connection of one pool.
    Memory,
    /// A database file.
    File(String),
}

/// The parts of a URI that matter.
pub(crate) struct ParsedUri {
    pub(crate) dialect: Dialect,
    /// One per host; empty for SQLite.
    pub(crate) urls: Vec<Url>,
    pub(crate) target_session_attrs: TargetSessionAttrs,
    pub(crate) sqlite: Option<SqliteTarget>,
    pub(crate) secrets: Vec<String>,
    pub(crate) ssl_mode: Option<SslMode>,
}

impl ParsedUri {
    /// Parses a URI, with several hosts (`h1:1,h2:2`) where it names a server.
    pub(crate) fn parse(uri: &str) -> Result<Self, DatabaseError> {
        let sqlite = uri
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("sqlite"));
        let uris = if sqlite {
            vec![uri.to_string()]
        } else {
            hosts::split_hosts(uri)?
        };
        let mut uris = uris.iter();
        let mut parsed = Self::parse_one(uris.next().map_or(uri, String::as_str))?;
        for other in uris {
            let more = Self::parse_one(other)?;
            parsed.urls.extend(more.urls);
        }
        Ok(parsed)
    }

    pub(crate) fn parse_one(uri: &str) -> Result<Self, DatabaseError> {
        // SQLAlchemy driver names may hold `_` (`oracle+cx_oracle`), which a URI scheme may
        // not: when that is why parsing fails, parse again without the (ignored) driver.
        let url = Url::parse(uri).or_else(|e| match uri.split_once(':') {
            Some((scheme, rest)) if scheme.contains('+') => {
                let backend = scheme.split('+').next().unwrap_or_default();
                Url::parse(&format!("{backend}:{rest}")).map_err(|_| e)
            }
            _ => Err(e),
        });
        let url = url.map_err(|e| {
            DatabaseError::config(format!(
                "database_uri is not a valid URI ({e}); expected e.g. \
                 sqlite+aiosqlite:///:memory: or postgresql+asyncpg://user:pass@host:5432/db"
            ))
        })?;
        // `sqlite+aiosqlite` → backend `sqlite`, Python driver `aiosqlite` (ignored here).
        let backend = url.scheme().split('+').next().unwrap_or_default();
        let dialect = match backend {
            "sqlite" => Dialect::Sqlite,
            "postgresql" | "postgres" => Dialect::Postgresql,
            "cockroachdb" | "cockroach" => Dialect::Cockroachdb,
            "mysql" => Dialect::Mysql,
            "mariadb" => Dialect::Mariadb,
            "mssql" | "oracle" => {
                return Err(DatabaseError::config(format!(
                    "no driver for {backend} in this build (supported: sqlite, postgresql, \
                     cockroachdb, mysql, mariadb)"
                )));
            }
            other => {
                return Err(DatabaseError::config(format!(
                    "database_uri: unknown dialect {other:?} (supported: sqlite, postgresql, \
                     cockroachdb, mysql, mariadb)"
                )));
            }
        };
        check_feature(dialect)?;
        if dialect == Dialect::Sqlite {
            return Ok(ParsedUri {
                dialect,
                urls: Vec::new(),
                target_session_attrs: TargetSessionAttrs::Any,
                sqlite: Some(sqlite_target(&url)?),
                secrets: Vec::new(),
                ssl_mode: None,
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(DatabaseError::config(format!(
                "database_uri: a {dialect} URI needs a host, as in {backend}://user:pass@host:port/db"
            )));
        }
        let secrets = redact::url_secrets(&url);
        let mut ssl_mode = None;
        let mut target_session_attrs = TargetSessionAttrs::Any;
        let mut native = url.clone();
        native.set_query(None);
        let mut kept: Vec<(String, String)> = Vec::new();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "sslmode" | "ssl_mode" | "ssl-mode" => {
                    ssl_mode = Some(SslMode::parse(&v).map_err(|reason| {
                        DatabaseError::config(format!("database_uri sslmode{reason}"))
                    })?)
                }
                "target_session_attrs" => target_session_attrs = TargetSessionAttrs::parse(&v)?,
                _ => kept.push((k.into_owned(), v.into_owned())),
            }
        }
        if !kept.is_empty() {
            native.query_pairs_mut().extend_pairs(kept);
        }
        Ok(ParsedUri {
            dialect,
            urls: vec![native],
            target_session_attrs,
            sqlite: None,
            secrets,
            ssl_mode,
        })
    }
}

/// `host:port` of a server URI (the port only when given), without user or password.
pub(crate) fn host_label(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

pub(crate) fn check_feature(dialect: Dialect) -> Result<(), DatabaseError> {
    let (enabled, feature) = match dialect {
        Dialect::Sqlite => (cfg!(feature = "sqlite"), "sqlite"),
        Dialect::Postgresql | Dialect::Cockroachdb => (cfg!(feature = "postgres"), "postgres"),
        Dialect::Mysql | Dialect::Mariadb => (cfg!(feature = "mysql"), "mysql"),
    };
    if enabled {
        Ok(())
    } else {
        Err(DatabaseError::config(format!(
            "no driver for {dialect} in this build (enable the `{feature}` feature of dsg_lib)"
        )))
    }
}

/// The SQLite forms: `sqlite::memory:`, `sqlite:///:memory:`, `sqlite:///rel.db`,
/// `sqlite:////abs.db`, `sqlite://file.db`, each with or without `+driver` and `?query`.
pub(crate) fn sqlite_target(url: &Url) -> Result<SqliteTarget, DatabaseError> {
    let host = url.host_str().unwrap_or_default();
    let path = percent_decode(url.path());
    let target = if url.cannot_be_a_base() {
        // `sqlite::memory:` or `sqlite:file.db`
        path
    } else if !host.is_empty() {
        // `sqlite://file.db` or `sqlite://dir/file.db`: the host is the first path segment.
        format!("{host}{path}")
    } else {
        // `sqlite:///x` → `x` (relative); `sqlite:////x` → `/x` (absolute).
        path.strip_prefix('/').unwrap_or(&path).to_string()
    };
    let memory = url.query_pairs().any(|(k, v)| k == "mode" && v == "memory");
    match target.as_str() {
        "" | ":memory:" => Ok(SqliteTarget::Memory),
        _ if memory => Ok(SqliteTarget::Memory),
        _ => Ok(SqliteTarget::File(target)),
    }
}
