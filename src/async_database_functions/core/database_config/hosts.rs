//! Several servers in one `database_uri`, in the convention of libpq and the MariaDB
//! connectors (`postgresql://u@h1:5440,h2:5441/db`, `mysql://root@h1:3307,h2:3308/test`), and
//! libpq's `target_session_attrs`, which says which of them a session may use.

use std::fmt;

use crate::async_database_functions::core::error::DatabaseError;

/// Which servers of a multi-host URI a session may use: libpq's `target_session_attrs`, given
/// as a query parameter of the URI (`?target_session_attrs=read-write`). The crate checks a
/// server's role with `pg_is_in_recovery()` on PostgreSQL and `@@global.read_only` on
/// MySQL/MariaDB, once per server and again after it failed or refused a write.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TargetSessionAttrs {
    /// Any server that answers (the default). With several hosts, sessions are spread over
    /// the live ones in turn (a multi-primary cluster such as MariaDB Galera).
    #[default]
    Any,
    /// A server that accepts writes (a primary), tried in the order of the URI.
    ReadWrite,
    /// A server that refuses writes (a standby or a read-only server).
    ReadOnly,
    /// The primary (as `read-write` here).
    Primary,
    /// A standby (as `read-only` here).
    Standby,
    /// A standby if one answers, else any server.
    PreferStandby,
}

/// What a server turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Takes writes.
    Primary,
    /// In recovery, or read-only.
    Standby,
}

impl TargetSessionAttrs {
    /// libpq's spelling (`read-write`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }

    pub(crate) fn parse(value: &str) -> Result<Self, DatabaseError> {
        Ok(match value {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            "primary" => TargetSessionAttrs::Primary,
            "standby" => TargetSessionAttrs::Standby,
            "prefer-standby" => TargetSessionAttrs::PreferStandby,
            other => {
                return Err(DatabaseError::config(format!(
                    "database_uri: target_session_attrs must be one of any, read-write, \
                     read-only, primary, standby, prefer-standby; got {other:?}"
                )));
            }
        })
    }

    /// Whether the role of a server matters (else no role query is run).
    pub(crate) fn needs_role(self) -> bool {
        self != TargetSessionAttrs::Any
    }

    /// Whether a server of `role` fits. `strict` is false on the second pass of
    /// `prefer-standby`, which then takes any server.
    pub(crate) fn accepts(self, role: Role, strict: bool) -> bool {
        match self {
            TargetSessionAttrs::Any => true,
            TargetSessionAttrs::ReadWrite | TargetSessionAttrs::Primary => role == Role::Primary,
            TargetSessionAttrs::ReadOnly | TargetSessionAttrs::Standby => role == Role::Standby,
            TargetSessionAttrs::PreferStandby => role == Role::Standby || !strict,
        }
    }
}

impl fmt::Display for TargetSessionAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Splits a multi-host URI into one URI per host, in order: `s://u@h1:1,h2:2/db?q` gives
/// `s://u@h1:1/db?q` and `s://u@h2:2/db?q`. A URI with one host is returned as it is.
pub(crate) fn split_hosts(uri: &str) -> Result<Vec<String>, DatabaseError> {
    let Some(scheme_end) = uri.find("://") else {
        return Ok(vec![uri.to_string()]);
    };
    let authority_start = scheme_end + 3;
    let authority_end = uri[authority_start..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| authority_start + i);
    let authority = &uri[authority_start..authority_end];
    let hosts_start = authority.rfind('@').map_or(0, |i| i + 1);
    let hosts = &authority[hosts_start..];
    if !hosts.contains(',') {
        return Ok(vec![uri.to_string()]);
    }
    let (before, after) = (&uri[..authority_start + hosts_start], &uri[authority_end..]);
    hosts
        .split(',')
        .map(|host| {
            if host.trim().is_empty() {
                Err(DatabaseError::config(format!(
                    "database_uri: an empty host in the host list {hosts:?}; write \
                     host1:port1,host2:port2"
                )))
            } else {
                Ok(format!("{before}{host}{after}"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_uri_per_host() {
        assert_eq!(
            split_hosts("mysql://root@127.0.0.1:3307,127.0.0.1:3308,[::1]:3309/test?x=1").unwrap(),
            [
                "mysql://root@127.0.0.1:3307/test?x=1",
                "mysql://root@127.0.0.1:3308/test?x=1",
                "mysql://root@[::1]:3309/test?x=1"
            ]
        );
        assert_eq!(
            split_hosts("postgresql://u:p,w@h1,h2:5441").unwrap(),
            ["postgresql://u:p,w@h1", "postgresql://u:p,w@h2:5441"]
        );
        assert_eq!(
            split_hosts("postgres://h/db?a=b,c").unwrap(),
            ["postgres://h/db?a=b,c"]
        );
        assert!(split_hosts("postgres://u@h1,,h2/db").is_err());
    }

    #[test]
    fn attributes_accept_roles() {
        use TargetSessionAttrs::*;
        assert!(ReadWrite.accepts(Role::Primary, true));
        assert!(!ReadWrite.accepts(Role::Standby, true));
        assert!(Standby.accepts(Role::Standby, true));
        assert!(!PreferStandby.accepts(Role::Primary, true));
        assert!(PreferStandby.accepts(Role::Primary, false));
        assert!(TargetSessionAttrs::parse("read-writ").is_err());
    }
}
