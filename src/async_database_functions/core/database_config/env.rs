//! [`DBConfig::from_env`]: the configuration from environment variables, where services keep it.

use std::ffi::OsString;

use serde_json::{Map, Number, Value};

use super::config::{COMMON_KEYS, DBConfig};
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::sql_dialect::Dialect;

/// The prefix of the variables [`DBConfig::from_env`] reads besides `DATABASE_URL`:
/// `DSG_DB_POOL_SIZE` is the key `pool_size`.
pub const ENV_PREFIX: &str = "DSG_DB_";

/// The variable that holds the database URI, as most hosting platforms name it.
pub const DATABASE_URL: &str = "DATABASE_URL";

/// How the text of a variable becomes the value of its key.
#[derive(Clone, Copy)]
enum Shape {
    Bool,
    Whole,
    Seconds,
    Text,
    Map,
}

/// Every key the environment can set besides the URI, with its shape.
const SHAPES: &[(&str, Shape)] = &[
    ("echo", Shape::Bool),
    ("future", Shape::Bool),
    ("pool_pre_ping", Shape::Bool),
    ("hide_parameters", Shape::Bool),
    ("pool_size", Shape::Whole),
    ("max_overflow", Shape::Whole),
    ("query_cache_size", Shape::Whole),
    ("pool_recycle", Shape::Seconds),
    ("pool_timeout", Shape::Seconds),
    ("isolation_level", Shape::Text),
    ("connect_args", Shape::Map),
    ("execution_options", Shape::Map),
];

impl DBConfig {
    /// Reads the configuration from the process environment: `DATABASE_URL` is
    /// `database_uri`, and each `DSG_DB_<KEY>` variable is the key `<key>` (e.g.
    /// `DSG_DB_POOL_SIZE=10` → `"pool_size": 10`). Other variables are ignored, and so is a
    /// variable set to the empty string.
    ///
    /// | variable | key | value |
    /// |---|---|---|
    /// | `DATABASE_URL` (or `DSG_DB_DATABASE_URI`, not both) | `database_uri` | the URI, SQLAlchemy or native form |
    /// | `DSG_DB_ECHO`, `DSG_DB_FUTURE`, `DSG_DB_POOL_PRE_PING`, `DSG_DB_HIDE_PARAMETERS` | `echo`, … | `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`) |
    /// | `DSG_DB_POOL_SIZE`, `DSG_DB_MAX_OVERFLOW`, `DSG_DB_QUERY_CACHE_SIZE` | `pool_size`, … | a whole number |
    /// | `DSG_DB_POOL_RECYCLE`, `DSG_DB_POOL_TIMEOUT` | `pool_recycle`, `pool_timeout` | seconds (`-1`: no recycling) |
    /// | `DSG_DB_ISOLATION_LEVEL` | `isolation_level` | e.g. `READ COMMITTED` |
    /// | `DSG_DB_CONNECT_ARGS`, `DSG_DB_EXECUTION_OPTIONS` | `connect_args`, `execution_options` | a JSON map, e.g. `{"timeout": 5}` |
    ///
    /// The validation is [`DBConfig::new`]'s, and so is the per-dialect rule: a key the
    /// dialect does not take (`DSG_DB_POOL_SIZE` on SQLite) is refused. Every error names the
    /// variable to fix, and never shows the URI's password.
    ///
    /// To read variables from somewhere else (a test, a `.env` file already parsed), use
    /// [`DBConfig::from_vars`].
    ///
    /// # Errors
    ///
    /// A [configuration error](crate::async_database_functions::core::error::ErrorKind::ConfigurationError):
    /// `DATABASE_URL` not set, a value that does not parse (`DSG_DB_POOL_SIZE must be a whole
    /// number`), a variable whose key the dialect does not support or that is no key at all
    /// (`DSG_DB_POOLSIZE`), or any error of [`DBConfig::new`], prefixed with the variable.
    pub fn from_env() -> Result<Self, DatabaseError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if name != DATABASE_URL && !name.starts_with(ENV_PREFIX) {
                continue;
            }
            let value = value.into_string().map_err(|_: OsString| {
                DatabaseError::config(format!("{name} is not valid UTF-8"))
            })?;
            vars.push((name.to_string(), value));
        }
        Self::from_vars(vars)
    }

    /// [`DBConfig::from_env`] over the given variables instead of the process environment:
    /// any iterator of (name, value) pairs, such as a `HashMap<String, String>`. Variables
    /// other than `DATABASE_URL` and `DSG_DB_*` are ignored.
    ///
    /// ```
    /// use dsg_lib::async_database_functions::database_config::{DBConfig, Dialect};
    ///
    /// let config = DBConfig::from_vars([
    ///     ("DATABASE_URL", "postgresql+asyncpg://app:s3cret@db.internal:5432/app"),
    ///     ("DSG_DB_POOL_SIZE", "10"),
    ///     ("DSG_DB_POOL_PRE_PING", "true"),
    ///     ("DSG_DB_CONNECT_ARGS", r#"{"timeout": 5, "application_name": "users-api"}"#),
    ///     ("HOME", "/root"), // not ours: ignored
    /// ])?;
    /// assert_eq!(config.dialect(), Dialect::Postgresql);
    /// assert_eq!(config.pool_size(), 10);
    /// assert!(config.pool_pre_ping());
    /// assert!(!config.to_string().contains("s3cret"));
    ///
    /// let err = DBConfig::from_vars([("DATABASE_URL", "postgres://db/app"), ("DSG_DB_POOL_SIZE", "ten")])
    ///     .unwrap_err();
    /// assert!(err.details().starts_with("DSG_DB_POOL_SIZE must be a whole number"));
    ///
    /// // The seed's per-dialect rule: SQLite takes no pool size.
    /// let err = DBConfig::from_vars([("DATABASE_URL", "sqlite::memory:"), ("DSG_DB_POOL_SIZE", "10")])
    ///     .unwrap_err();
    /// assert!(err.details().contains("DSG_DB_POOL_SIZE") && err.details().contains("sqlite"));
    /// # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`DBConfig::from_env`].
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, DatabaseError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut uri: Option<(String, String)> = None;
        let mut settings: Vec<(String, String, String)> = Vec::new();
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            if value.is_empty() {
                continue;
            }
            let key = match name.strip_prefix(ENV_PREFIX) {
                Some(key) => key.to_ascii_lowercase(),
                None if name == DATABASE_URL => "database_uri".to_string(),
                None => continue,
            };
            if key == "database_uri" {
                if let Some((other, _)) = &uri {
                    return Err(DatabaseError::config(format!(
                        "both {other} and {name} are set: set the database URI in one of them"
                    )));
                }
                uri = Some((name.to_string(), value.to_string()));
            } else {
                settings.push((name.to_string(), key, value.to_string()));
            }
        }
        let Some((uri_var, uri)) = uri else {
            return Err(DatabaseError::config(format!(
                "{DATABASE_URL} is not set: it holds the database URI, e.g. \
                 sqlite+aiosqlite:///:memory: or postgresql+asyncpg://user:pass@host:5432/db"
            )));
        };
        let mut map = Map::new();
        map.insert("database_uri".into(), Value::String(uri));
        let dialect = DBConfig::new(map.clone())
            .map_err(|e| prefixed(&uri_var, e))?
            .dialect();
        check_supported(&settings, dialect)?;

        for (name, key, text) in &settings {
            let value = parse(name, key, text)?;
            // Each value alone first, so that its error names its variable.
            let mut alone = Map::new();
            alone.insert("database_uri".into(), map["database_uri"].clone());
            alone.insert(key.clone(), value.clone());
            DBConfig::new(alone).map_err(|e| prefixed(name, e))?;
            map.insert(key.clone(), value);
        }
        DBConfig::new(map).map_err(|e| {
            let names: Vec<&str> = settings.iter().map(|(name, _, _)| name.as_str()).collect();
            prefixed(&names.join(", "), e)
        })
    }
}

/// The seed's rule, naming variables: every variable whose key the dialect does not take.
fn check_supported(
    settings: &[(String, String, String)],
    dialect: Dialect,
) -> Result<(), DatabaseError> {
    let supported = |key: &str| {
        key != "database_uri" && (dialect.own_keys().contains(&key) || COMMON_KEYS.contains(&key))
    };
    let mut offending: Vec<String> = settings
        .iter()
        .filter(|(_, key, _)| !supported(key))
        .map(
            |(name, key, _)| match SHAPES.iter().any(|(k, _)| k == key) {
                true => format!("{name} ({key})"),
                false => format!("{name} (no such key)"),
            },
        )
        .collect();
    if offending.is_empty() {
        return Ok(());
    }
    offending.sort_unstable();
    let mut names: Vec<String> = SHAPES
        .iter()
        .filter(|(key, _)| supported(key))
        .map(|(key, _)| format!("{ENV_PREFIX}{}", key.to_ascii_uppercase()))
        .collect();
    names.sort_unstable();
    Err(DatabaseError::config(format!(
        "unsupported settings for {dialect}: {}; {dialect} takes {DATABASE_URL} and {}",
        offending.join(", "),
        names.join(", ")
    )))
}

/// The value of `key` from the text of variable `name`. Errors name the variable; the text
/// is shown only for the short, non-secret shapes (a map may hold a key or a password).
fn parse(name: &str, key: &str, text: &str) -> Result<Value, DatabaseError> {
    let shape = SHAPES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(Shape::Text, |(_, shape)| *shape);
    let trimmed = text.trim();
    let refuse =
        |expected: &str| DatabaseError::config(format!("{name} must be {expected}, got {text:?}"));
    Ok(match shape {
        Shape::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => return Err(refuse("true or false")),
        },
        Shape::Whole => match trimmed.parse::<i64>() {
            Ok(n) => Value::from(n),
            // Above i64::MAX: let the range check say "at most …".
            Err(_) => match trimmed.parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => return Err(refuse("a whole number")),
            },
        },
        Shape::Seconds => match trimmed.parse::<Number>() {
            Ok(n) => Value::Number(n),
            Err(_) => return Err(refuse("a number of seconds")),
        },
        Shape::Text => Value::String(text.to_string()),
        Shape::Map => match serde_json::from_str::<Value>(trimmed) {
            Ok(map @ Value::Object(_)) => map,
            Ok(_) => {
                return Err(DatabaseError::config(format!(
                    "{name} must be a JSON map, e.g. {{\"timeout\": 5}}"
                )));
            }
            Err(e) => {
                return Err(DatabaseError::config(format!(
                    "{name} must be a JSON map, e.g. {{\"timeout\": 5}}: {e}"
                )));
            }
        },
    })
}

fn prefixed(name: &str, error: DatabaseError) -> DatabaseError {
    error.scrubbed(|details| format!("{name}: {details}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_database_functions::core::error::ErrorKind;

    fn err(vars: &[(&str, &str)]) -> String {
        let e = DBConfig::from_vars(vars.iter().copied()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigurationError);
        e.details().to_string()
    }

    const PG: &str = "postgres://app:s3cret@127.0.0.1:5432/app";

    #[test]
    fn every_key_is_read_with_its_shape() {
        let config = DBConfig::from_vars([
            ("DATABASE_URL", PG),
            ("DSG_DB_ECHO", "yes"),
            ("DSG_DB_FUTURE", "true"),
            ("DSG_DB_POOL_PRE_PING", "1"),
            ("DSG_DB_HIDE_PARAMETERS", "On"),
            ("DSG_DB_POOL_SIZE", " 7 "),
            ("DSG_DB_MAX_OVERFLOW", "3"),
            ("DSG_DB_QUERY_CACHE_SIZE", "0"),
            ("DSG_DB_POOL_RECYCLE", "-1"),
            ("DSG_DB_POOL_TIMEOUT", "2.5"),
            ("DSG_DB_ISOLATION_LEVEL", "REPEATABLE READ"),
            (
                "DSG_DB_CONNECT_ARGS",
                r#"{"timeout": 5, "application_name": "svc"}"#,
            ),
            ("DSG_DB_EXECUTION_OPTIONS", "{}"),
            ("PATH", "/usr/bin"),
        ])
        .unwrap();
        assert!(config.echo() && config.pool_pre_ping() && config.hide_parameters());
        assert_eq!((config.pool_size(), config.max_connections()), (7, 10));
        assert_eq!(config.query_cache_size(), 0);
        assert_eq!(config.pool_recycle(), None);
        assert_eq!(
            config.pool_timeout(),
            std::time::Duration::from_millis(2500)
        );
        assert_eq!(
            config.isolation_level().map(|l| l.as_sql()),
            Some("REPEATABLE READ")
        );
        assert_eq!(
            config.connect_args().timeout,
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(
            config.connect_args().application_name.as_deref(),
            Some("svc")
        );
    }

    #[test]
    fn the_uri_may_come_from_either_name_but_not_both() {
        let c = DBConfig::from_vars([("DSG_DB_DATABASE_URI", "sqlite::memory:")]).unwrap();
        assert_eq!(c.dialect(), Dialect::Sqlite);
        let e = err(&[
            ("DATABASE_URL", "sqlite::memory:"),
            ("DSG_DB_DATABASE_URI", "sqlite::memory:"),
        ]);
        assert!(
            e.contains("DATABASE_URL") && e.contains("DSG_DB_DATABASE_URI"),
            "{e}"
        );
        let e = err(&[("DSG_DB_ECHO", "true")]);
        assert!(e.starts_with("DATABASE_URL is not set"), "{e}");
        // An empty variable is not set.
        let e = err(&[("DATABASE_URL", "")]);
        assert!(e.starts_with("DATABASE_URL is not set"), "{e}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let sqlite = ("DATABASE_URL", "sqlite::memory:");
        let pg = ("DATABASE_URL", PG);
        assert_eq!(
            err(&[pg, ("DSG_DB_POOL_SIZE", "ten")]),
            "DSG_DB_POOL_SIZE must be a whole number, got \"ten\""
        );
        assert_eq!(
            err(&[pg, ("DSG_DB_POOL_SIZE", "2.5")]),
            "DSG_DB_POOL_SIZE must be a whole number, got \"2.5\""
        );
        assert_eq!(
            err(&[sqlite, ("DSG_DB_ECHO", "maybe")]),
            "DSG_DB_ECHO must be true or false, got \"maybe\""
        );
        assert_eq!(
            err(&[pg, ("DSG_DB_POOL_TIMEOUT", "soon")]),
            "DSG_DB_POOL_TIMEOUT must be a number of seconds, got \"soon\""
        );
        let e = err(&[sqlite, ("DSG_DB_CONNECT_ARGS", "{\"timeout\": ")]);
        assert!(
            e.starts_with("DSG_DB_CONNECT_ARGS must be a JSON map"),
            "{e}"
        );
        let e = err(&[sqlite, ("DSG_DB_CONNECT_ARGS", "[1]")]);
        assert!(
            e.starts_with("DSG_DB_CONNECT_ARGS must be a JSON map"),
            "{e}"
        );
        // DBConfig::new's own checks, prefixed with the variable.
        let e = err(&[pg, ("DSG_DB_POOL_SIZE", "20000")]);
        assert!(
            e.starts_with("DSG_DB_POOL_SIZE: pool_size must be at most"),
            "{e}"
        );
        let e = err(&[pg, ("DSG_DB_POOL_SIZE", "-3")]);
        assert!(e.starts_with("DSG_DB_POOL_SIZE: "), "{e}");
        let e = err(&[sqlite, ("DSG_DB_ISOLATION_LEVEL", "SNAPSHOT")]);
        assert!(e.starts_with("DSG_DB_ISOLATION_LEVEL: "), "{e}");
        let e = err(&[sqlite, ("DSG_DB_CONNECT_ARGS", r#"{"bogus": 1}"#)]);
        assert!(
            e.starts_with("DSG_DB_CONNECT_ARGS: connect_args: unsupported"),
            "{e}"
        );
        // Only together are they wrong: both variables are named.
        let e = err(&[pg, ("DSG_DB_POOL_SIZE", "0"), ("DSG_DB_MAX_OVERFLOW", "0")]);
        assert!(
            e.contains("DSG_DB_POOL_SIZE") && e.contains("DSG_DB_MAX_OVERFLOW"),
            "{e}"
        );
    }

    #[test]
    fn the_dialect_rule_names_the_dialect_and_every_variable() {
        let e = err(&[
            ("DATABASE_URL", "sqlite+aiosqlite:///:memory:"),
            ("DSG_DB_POOL_SIZE", "10"),
            ("DSG_DB_MAX_OVERFLOW", "5"),
            ("DSG_DB_POOLSIZE", "10"),
        ]);
        assert!(
            e.starts_with(
                "unsupported settings for sqlite: DSG_DB_MAX_OVERFLOW (max_overflow), \
                 DSG_DB_POOLSIZE (no such key), DSG_DB_POOL_SIZE (pool_size); sqlite takes \
                 DATABASE_URL and DSG_DB_CONNECT_ARGS"
            ),
            "{e}"
        );
        let e = err(&[("DATABASE_URL", PG), ("DSG_DB_POOLSIZE", "10")]);
        assert!(e.contains("DSG_DB_POOLSIZE (no such key)"), "{e}");
    }

    #[test]
    fn a_bad_uri_names_the_variable_and_never_the_password() {
        let e = err(&[("DATABASE_URL", "nosuch://u:s3cret@h/db")]);
        assert!(e.starts_with("DATABASE_URL: "), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        let e = err(&[("DATABASE_URL", PG), ("DSG_DB_POOL_SIZE", "x")]);
        assert!(!e.contains("s3cret"), "{e}");
    }
}
