//! [`DBConfig`]: a plain configuration map, validated, turned into typed pool settings.
//!
//! The map has the keys of the Python dsg_lib's `DBConfig`. Each dialect supports a subset;
//! any other key is refused with an error that names the dialect and every offending key:
//!
//! ```
//! use dsg_lib::async_database_functions::database_config::{DBConfig, Dialect};
//!
//! let config = DBConfig::new(serde_json::json!({
//!     "database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
//!     "echo": false,
//!     "future": true,
//!     "pool_recycle": 3600,
//! }))?;
//! assert_eq!(config.dialect(), Dialect::Sqlite);
//!
//! let err = DBConfig::new(serde_json::json!({
//!     "database_uri": "sqlite:///:memory:",
//!     "pool_size": 5,
//!     "max_overflow": 10,
//! }))
//! .unwrap_err();
//! assert!(err.details().contains("sqlite"));
//! assert!(err.details().contains("max_overflow, pool_size"));
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! ```
//!
//! # From where services keep it
//!
//! From the environment, [`DBConfig::from_env`] reads `DATABASE_URL` and `DSG_DB_*` variables
//! (`DSG_DB_POOL_SIZE=10`); [`DBConfig::from_vars`] does the same over any list of variables.
//! From a file, let serde read the map and hand it to [`DBConfig::from_serializable`] (or
//! [`DBConfig::new`] for JSON): the same keys, the same validation.
//!
//! ```
//! use dsg_lib::async_database_functions::database_config::DBConfig;
//!
//! # let dir = std::env::temp_dir().join(format!("dsg-config-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! // config.toml — a `[database]` table beside the service's other settings.
//! let toml_path = dir.join("config.toml");
//! std::fs::write(&toml_path, r#"
//! [database]
//! database_uri = "postgresql+asyncpg://app:s3cret@db.internal:5432/app"
//! pool_size = 10
//! max_overflow = 5
//! pool_pre_ping = true
//! connect_args = { timeout = 5, application_name = "users-api" }
//! "#).unwrap();
//! let file: toml::Table = toml::from_str(&std::fs::read_to_string(&toml_path).unwrap()).unwrap();
//! let config = DBConfig::from_serializable(&file["database"])?;
//! assert_eq!((config.pool_size(), config.max_connections()), (10, 15));
//! assert!(!format!("{config:?}").contains("s3cret"));
//!
//! // config.json — the Python service's config map, as it was.
//! let json_path = dir.join("config.json");
//! std::fs::write(&json_path, r#"{"database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
//!                                 "echo": false, "future": true, "pool_recycle": 3600}"#).unwrap();
//! let map: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
//! let config = DBConfig::new(map)?;
//! assert_eq!(config.dialect().name(), "sqlite");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! ```
//!
//! # Keys
//!
//! | key | SQLite | PostgreSQL / CockroachDB | MySQL / MariaDB | effect |
//! |---|---|---|---|---|
//! | `database_uri` | ✓ | ✓ | ✓ | required; SQLAlchemy or native form |
//! | `echo` | ✓ | ✓ | ✓ | log every statement (target `dsg_lib::sql`) |
//! | `future` | ✓ | ✓ | ✓ | accepted, no effect |
//! | `pool_recycle` | ✓ | ✓ | ✓ | max connection lifetime in seconds (`-1`: none) |
//! | `pool_pre_ping` | ✗ | ✓ | ✓ | test a connection before handing it out |
//! | `pool_size` | ✗ | ✓ | ✓ | with `max_overflow`: max connections (default 5) |
//! | `max_overflow` | ✗ | ✓ | ✓ | added to `pool_size` (default 10) |
//! | `pool_timeout` | ✗ | ✓ | ✓ | seconds to wait for a connection (default 30) |
//! | `connect_args` | ✓ | ✓ | ✓ | driver connect options (see [`DBConfig::new`]) |
//! | `execution_options` | ✓ | ✓ | ✓ | `isolation_level` |
//! | `isolation_level` | ✓ | ✓ | ✓ | every session's transaction isolation; `AUTOCOMMIT`: none |
//! | `query_cache_size` | ✓ | ✓ | ✓ | prepared statement cache per connection (default 500) |
//! | `hide_parameters` | ✓ | ✓ | ✓ | no bound values in logs or errors |
//! | `slow_statement_ms` | ✓ | ✓ | ✓ | warn (target `dsg_lib::sql`) of statements slower than this; off by default |
//! | `retry` | ✓ | ✓ | ✓ | re-running of transactions that failed retryably ([`RetryPolicy`]; default 15 runs) |
//! | `transaction_pooling` | ✗ | ✓ | ✗ | behind a transaction-pooling proxy (pgbouncer): no named prepared statements, every session in a transaction |
//! | `read_replica_uris` | ✗ | ✓ | ✗ | read replicas: reads go there, read-your-writes by WAL position |
//! | `read_replica_max_lag_ms` | ✗ | ✓ | ✗ | how long a read waits for a replica to catch up (default 100) |
//!
//! # Several servers
//!
//! A server URI may name several hosts, as libpq and the MariaDB connectors do:
//! `mysql://root@10.0.0.1:3306,10.0.0.2:3306/app` (a multi-primary cluster: sessions are
//! spread over the live hosts) or
//! `postgresql://u@h1:5432,h2:5432/app?target_session_attrs=read-write` (failover: the first
//! host that is a primary). See [`TargetSessionAttrs`] and the crate's "Scaling out" docs.
//!
//! ```
//! use dsg_lib::async_database_functions::database_config::{DBConfig, TargetSessionAttrs};
//!
//! let config = DBConfig::new(serde_json::json!({
//!     "database_uri": "postgresql://app:s3cret@10.0.0.1:5432,10.0.0.2:5433/app?target_session_attrs=read-write",
//! }))?;
//! assert_eq!(config.hosts(), ["10.0.0.1:5432", "10.0.0.2:5433"]);
//! assert_eq!(config.target_session_attrs(), TargetSessionAttrs::ReadWrite);
//! assert!(!config.to_string().contains("s3cret"));
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::redact::{self, percent_decode};

mod hosts;
mod keys;
mod replicas;
mod retry;

pub(crate) use hosts::Role;
pub use hosts::TargetSessionAttrs;
pub use retry::RetryPolicy;

pub use crate::async_database_functions::core::sql_dialect::Dialect;

impl Dialect {
    /// The configuration keys this dialect accepts (besides the common ones).
    fn own_keys(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => &["database_uri", "echo", "future", "pool_recycle"],
            _ => &[
                "database_uri",
                "echo",
                "future",
                "pool_pre_ping",
                "pool_size",
                "max_overflow",
                "pool_recycle",
                "pool_timeout",
            ],
        }
    }
}

/// The most connections one pool may open (`pool_size + max_overflow`): far above what a
/// server accepts (PostgreSQL's default is 100), far below what would exhaust memory.
pub const MAX_CONNECTIONS: usize = 10_000;
/// The longest duration any key takes (a year): beyond it the drivers' deadlines overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// SQLite's busy timeout is a C `int` of milliseconds (about 24.8 days).
const MAX_SQLITE_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);
/// The most prepared statements cached per connection.
pub const MAX_STATEMENT_CACHE: usize = 100_000;

/// Keys every dialect accepts.
const COMMON_KEYS: &[&str] = &[
    "connect_args",
    "execution_options",
    "isolation_level",
    "query_cache_size",
    "hide_parameters",
    "slow_statement_ms",
    "retry",
    "transaction_pooling",
    "read_replica_uris",
    "read_replica_max_lag_ms",
];

/// A transaction isolation level, applied to every session.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (on SQLite: `PRAGMA read_uncommitted = 1`).
    ReadUncommitted,
    /// `READ COMMITTED`.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE` (SQLite's only other level, and its default).
    Serializable,
}

impl IsolationLevel {
    /// The SQL spelling, e.g. `REPEATABLE READ`.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }

    /// Reads a level; `Ok(None)` is SQLAlchemy's `AUTOCOMMIT`. The error goes on from the key.
    fn parse(text: &str) -> Result<Option<Self>, String> {
        Ok(Some(
            match text
                .trim()
                .to_ascii_uppercase()
                .replace(['_', '-'], " ")
                .as_str()
            {
                "READ UNCOMMITTED" => IsolationLevel::ReadUncommitted,
                "READ COMMITTED" => IsolationLevel::ReadCommitted,
                "REPEATABLE READ" => IsolationLevel::RepeatableRead,
                "SERIALIZABLE" => IsolationLevel::Serializable,
                "AUTOCOMMIT" => return Ok(None),
                _ => {
                    return Err(format!(
                        ": unknown isolation level {text:?}; expected one of READ UNCOMMITTED, \
                         READ COMMITTED, REPEATABLE READ, SERIALIZABLE, AUTOCOMMIT"
                    ));
                }
            },
        ))
    }

    /// Whether `dialect` has this level.
    fn supported_by(self, dialect: Dialect) -> bool {
        match dialect {
            Dialect::Sqlite => matches!(
                self,
                IsolationLevel::ReadUncommitted | IsolationLevel::Serializable
            ),
            Dialect::Cockroachdb => matches!(
                self,
                IsolationLevel::ReadCommitted | IsolationLevel::Serializable
            ),
            _ => true,
        }
    }
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteTarget {
    /// A private in-memory database, shared by every connection of one pool.
    Memory,
    /// A database file.
    File(String),
}

/// TLS mode requested through `connect_args` `sslmode` or the URI's `sslmode` parameter.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS only if the server insists.
    Allow,
    /// Try TLS, fall back to plain.
    Prefer,
    /// Require TLS.
    Require,
    /// Require TLS and verify the CA.
    VerifyCa,
    /// Require TLS and verify CA and host name.
    VerifyFull,
}

impl SslMode {
    /// Reads a mode by name. The error goes on from the key.
    fn parse(value: &str) -> Result<Self, String> {
        Ok(
            match value.to_ascii_lowercase().replace('_', "-").as_str() {
                "disable" | "disabled" => SslMode::Disable,
                "allow" => SslMode::Allow,
                "prefer" | "preferred" => SslMode::Prefer,
                "require" | "required" => SslMode::Require,
                "verify-ca" => SslMode::VerifyCa,
                "verify-full" | "verify-identity" => SslMode::VerifyFull,
                _ => {
                    return Err(format!(
                        ": unknown ssl mode {value:?}; expected disable, allow, prefer, \
                         require, verify-ca or verify-full"
                    ));
                }
            },
        )
    }
}

/// The driver connect options read from `connect_args`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectArgs {
    /// `timeout` / `connect_timeout`: on SQLite, how long a locked database is waited for
    /// (the busy timeout, as Python's `sqlite3.connect(timeout=…)`); on the servers, how long
    /// establishing a connection may take.
    pub timeout: Option<Duration>,
    /// `application_name` (PostgreSQL).
    pub application_name: Option<String>,
    /// `sslmode` / `ssl_mode` / `ssl`.
    pub ssl_mode: Option<SslMode>,
    /// `statement_cache_size` (asyncpg's name for the prepared statement cache).
    pub statement_cache_size: Option<usize>,
    /// `charset` (MySQL/MariaDB).
    pub charset: Option<String>,
    /// `server_settings` (asyncpg): session parameters set on every connection.
    pub server_settings: Vec<(String, String)>,
    /// `sslrootcert` (PostgreSQL, MySQL/MariaDB): the CA certificate(s) that `verify-ca` and
    /// `verify-full` trust, instead of the bundled public roots (with the `tls-native-tls`
    /// feature: besides the system's trusted roots).
    pub ssl_root_cert: Option<PemSource>,
    /// `sslcert`: the client certificate, for servers that authenticate clients by certificate.
    pub ssl_cert: Option<PemSource>,
    /// `sslkey`: the client certificate's private key (never shown by `Debug` when inline).
    pub ssl_key: Option<PemSource>,
}

/// A certificate or key from `connect_args`: the path of a PEM file, or the PEM text itself
/// (text starting with `-----BEGIN`), as a service reading its secrets from the environment
/// has it. `Debug` shows a path but never inline PEM text.
#[derive(Clone, PartialEq, Eq)]
pub struct PemSource(String);

impl PemSource {
    /// The path, or the PEM text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is PEM text rather than a path.
    pub fn is_inline(&self) -> bool {
        let text = self.0.trim();
        text.starts_with("-----BEGIN") && text.ends_with("-----")
    }
}

impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_inline() {
            f.write_str("<inline PEM>")
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

impl ConnectArgs {
    /// The options as serde read them, checked against the dialect.
    fn from_keys(keys: keys::ConnectArgsKeys, dialect: Dialect) -> Result<Self, DatabaseError> {
        // SQLite's busy timeout is a C int of milliseconds.
        let most = match dialect {
            Dialect::Sqlite => MAX_SQLITE_BUSY_TIMEOUT,
            _ => MAX_DURATION,
        };
        let timeouts = [
            ("timeout", keys.timeout.0),
            ("connect_timeout", keys.connect_timeout.0),
        ];
        let mut timeout = None;
        for (key, seconds) in timeouts.into_iter().filter_map(|(k, s)| Some((k, s?.0))) {
            let checked = keys::seconds(&Value::from(seconds), most)
                .map_err(|reason| DatabaseError::config(format!("connect_args.{key}{reason}")))?;
            // `timeout` over `connect_timeout` when both are given.
            timeout.get_or_insert(checked);
        }
        let text = |key: keys::Given<keys::Text>| key.0.map(|keys::Text(text)| text);
        let args = ConnectArgs {
            timeout,
            application_name: text(keys.application_name),
            ssl_mode: (keys.sslmode.0.map(|s| s.0))
                .or(keys.ssl_mode.0.map(|s| s.0))
                .or(keys.ssl.0.map(|s| s.0)),
            statement_cache_size: keys.statement_cache_size.0.map(|c| c.0),
            charset: text(keys.charset),
            server_settings: keys.server_settings.0,
            ssl_root_cert: text(keys.sslrootcert).map(PemSource),
            ssl_cert: text(keys.sslcert).map(PemSource),
            ssl_key: text(keys.sslkey).map(PemSource),
        };
        let postgres = (dialect.is_postgres_wire(), "PostgreSQL");
        let mysql = (dialect.is_mysql_family(), "MySQL/MariaDB");
        let servers = (dialect != Dialect::Sqlite, "PostgreSQL and MySQL/MariaDB");
        let misplaced = [
            (
                "application_name",
                args.application_name.is_some(),
                postgres,
            ),
            (
                "server_settings",
                !args.server_settings.is_empty(),
                postgres,
            ),
            ("sslrootcert", args.ssl_root_cert.is_some(), servers),
            ("sslcert", args.ssl_cert.is_some(), servers),
            ("sslkey", args.ssl_key.is_some(), servers),
            ("charset", args.charset.is_some(), mysql),
        ];
        let wrong = |(_, given, (fits, _)): &&(&str, bool, (bool, &str))| *given && !fits;
        if let Some((key, _, (_, home))) = misplaced.iter().find(wrong) {
            return Err(DatabaseError::config(format!(
                "connect_args.{key} is only supported on {home}, not {dialect}"
            )));
        }
        if args.ssl_cert.is_some() != args.ssl_key.is_some() {
            return Err(DatabaseError::config(
                "connect_args.sslcert and connect_args.sslkey go together: give both or neither",
            ));
        }
        Ok(args)
    }
}

/// A validated database configuration: what [`AsyncDatabase`] builds its pool from.
///
/// Its `Debug` and `Display` never show the password of the URI.
///
/// [`AsyncDatabase`]: super::async_database::AsyncDatabase
#[derive(Clone)]
pub struct DBConfig {
    dialect: Dialect,
    url: Option<Url>,
    /// Every host of a multi-host URI, the first (`url`) included; empty for SQLite.
    urls: Vec<Url>,
    target_session_attrs: TargetSessionAttrs,
    sqlite: Option<SqliteTarget>,
    /// The URI's password and secret query parameters, scrubbed from every message.
    secrets: Vec<String>,
    retry: RetryPolicy,
    transaction_pooling: bool,
    /// Every host of every read replica.
    replica_urls: Vec<Url>,
    replica_max_lag: Duration,
    echo: bool,
    hide_parameters: bool,
    pool_pre_ping: bool,
    pool_size: u32,
    max_overflow: u32,
    pool_recycle: Option<Duration>,
    pool_timeout: Duration,
    query_cache_size: usize,
    isolation_level: Option<IsolationLevel>,
    autocommit: bool,
    connect_args: ConnectArgs,
    slow_statement: Option<Duration>,
}

impl DBConfig {
    /// Validates a configuration map (a `serde_json::Value` object or a
    /// `HashMap<String, serde_json::Value>`).
    ///
    /// `connect_args` takes `timeout`/`connect_timeout` (seconds), `application_name`
    /// (PostgreSQL), `sslmode` (or `ssl_mode`, `ssl`), `sslrootcert`, `sslcert` and `sslkey`
    /// (PostgreSQL, MySQL/MariaDB: a PEM file path or PEM text), `statement_cache_size`, `charset`
    /// (MySQL/MariaDB), `server_settings` (PostgreSQL) and `check_same_thread` (accepted for
    /// porting, no effect). `execution_options` takes `isolation_level`. Where two keys say the
    /// same thing, `execution_options.isolation_level` wins over `isolation_level` (as in
    /// SQLAlchemy), `timeout` over `connect_timeout`, and `sslmode` over `ssl_mode` over `ssl`
    /// (`true`/`false`, or a mode by name, as the other two also take).
    ///
    /// # Errors
    ///
    /// A [configuration error](crate::async_database_functions::core::error::ErrorKind::ConfigurationError) naming the key and
    /// the reason: missing or malformed `database_uri`, a dialect without a driver in this build,
    /// keys the dialect does not support, wrongly typed or out-of-range values.
    pub fn new(config: impl Into<ConfigMap>) -> Result<Self, DatabaseError> {
        let ConfigMap(map) = config.into();
        let map = map?;
        let uri = match map.get("database_uri") {
            Some(uri) => keys::Text::try_from(uri.clone())
                .map_err(|reason| DatabaseError::config(format!("database_uri{reason}")))?,
            None => return Err(DatabaseError::config("database_uri is required")),
        };
        let parsed = ParsedUri::parse(&uri.0)?;
        let dialect = parsed.dialect;
        check_keys(&map, dialect)?;
        let keys: keys::Settings =
            keys::read(&Value::Object(map)).map_err(DatabaseError::config)?;

        // `execution_options` over the engine-wide key, as in SQLAlchemy; each is checked.
        let isolation = [
            ("isolation_level", keys.isolation_level.0),
            (
                "execution_options.isolation_level",
                keys.execution_options.0.isolation_level.0,
            ),
        ];
        for (key, level) in isolation {
            if let Some(keys::Isolation(Some(level))) = level
                && !level.supported_by(dialect)
            {
                return Err(DatabaseError::config(format!(
                    "{key}: isolation level {} is not supported by {dialect}",
                    level.as_sql()
                )));
            }
        }
        let isolation = isolation[1].1.or(isolation[0].1);
        let (replica_urls, replica_secrets) = match keys.read_replica_uris.0 {
            Some(keys::Replicas(uris)) => replicas::parse(&uris, dialect)?,
            None => (Vec::new(), Vec::new()),
        };
        let mut connect_args = ConnectArgs::from_keys(keys.connect_args.0, dialect)?;
        if let Some(mode) = parsed.ssl_mode {
            connect_args.ssl_mode.get_or_insert(mode);
        }
        // At most `MAX_CONNECTIONS` each: their sum fits.
        let [pool_size, max_overflow] = [keys.pool_size.0, keys.max_overflow.0].map(|n| n as u32);
        let config = DBConfig {
            dialect,
            url: parsed.urls.first().cloned(),
            urls: parsed.urls,
            target_session_attrs: parsed.target_session_attrs,
            sqlite: parsed.sqlite,
            secrets: [parsed.secrets, replica_secrets].concat(),
            retry: keys.retry.0,
            transaction_pooling: keys.transaction_pooling.0,
            replica_urls,
            replica_max_lag: Duration::from_millis(keys.read_replica_max_lag_ms.0 as u64),
            echo: keys.echo.0,
            hide_parameters: keys.hide_parameters.0,
            pool_pre_ping: keys.pool_pre_ping.0,
            pool_size,
            max_overflow,
            pool_recycle: keys.pool_recycle.0,
            pool_timeout: keys.pool_timeout.0,
            query_cache_size: keys.query_cache_size.0,
            isolation_level: isolation.and_then(|i| i.0),
            autocommit: matches!(isolation, Some(keys::Isolation(None))),
            connect_args,
            slow_statement: keys.slow_statement_ms.0.map(|ms| ms.0),
        };
        if config.max_connections() == 0 {
            return Err(DatabaseError::config(
                "pool_size + max_overflow must be at least 1",
            ));
        }
        if config.max_connections() as usize > MAX_CONNECTIONS {
            return Err(DatabaseError::config(format!(
                "pool_size + max_overflow must be at most {MAX_CONNECTIONS}, got {}",
                config.max_connections()
            )));
        }
        config.check_transaction_pooling()?;
        Ok(config)
    }

    /// Reads a configuration from anything serde can serialise (a TOML table, a struct, …).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use dsg_lib::async_database_functions::database_config::DBConfig;
    ///
    /// let mut map = BTreeMap::new();
    /// map.insert("database_uri", "sqlite::memory:");
    /// let config = DBConfig::from_serializable(&map)?;
    /// assert_eq!(config.dialect().name(), "sqlite");
    /// # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
    /// ```
    pub fn from_serializable<T: serde::Serialize + ?Sized>(
        config: &T,
    ) -> Result<Self, DatabaseError> {
        let value = serde_json::to_value(config)
            .map_err(|e| DatabaseError::config(format!("configuration cannot be read: {e}")))?;
        Self::new(value)
    }

    /// The dialect the URI names.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `transaction_pooling` works only where every session can be a transaction and nothing
    /// is set per connection at startup (a pooler hands the server connection to other clients).
    fn check_transaction_pooling(&self) -> Result<(), DatabaseError> {
        if !self.transaction_pooling {
            return Ok(());
        }
        let clash = if !self.dialect.is_postgres_wire() {
            format!("is only supported on PostgreSQL, not {}", self.dialect)
        } else if self.autocommit {
            "needs transactions: isolation_level AUTOCOMMIT cannot be used with it".into()
        } else if self.isolation_level.is_some() {
            "cannot be used with isolation_level: a pooler does not pass startup options on; \
             set default_transaction_isolation on the database or role instead"
                .into()
        } else if !self.connect_args.server_settings.is_empty() {
            "cannot be used with connect_args.server_settings: a pooler does not pass startup \
             options on; set them on the database or role instead"
                .into()
        } else {
            return Ok(());
        };
        Err(DatabaseError::config(format!(
            "transaction_pooling {clash}"
        )))
    }

    /// The read replicas (`read_replica_uris`), each host as a URI with its password
    /// replaced by `***`.
    pub fn read_replicas(&self) -> Vec<String> {
        self.replica_urls.iter().map(redact::redact_url).collect()
    }

    /// The replicas' URIs, one per host (with the password). Crate-internal: never logged.
    pub(crate) fn replica_urls(&self) -> &[Url] {
        &self.replica_urls
    }

    /// `read_replica_max_lag_ms` (default 100 ms): how long a read waits for a replica to
    /// replay the writes it must see before it goes elsewhere; a replica that does not is
    /// skipped for a second.
    pub fn read_replica_max_lag(&self) -> Duration {
        self.replica_max_lag
    }

    /// How transactions that failed retryably are run again (the `retry` key).
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// `transaction_pooling`: the server is behind a transaction-pooling proxy (pgbouncer with
    /// `pool_mode = transaction`, PgCat, Supavisor, …). Then no named prepared statement is
    /// used (the statement cache is off) and every session, reads included, runs in a
    /// transaction, so that each statement's parse and execution reach the same server
    /// connection.
    pub fn transaction_pooling(&self) -> bool {
        self.transaction_pooling
    }

    /// Which hosts of the URI a session may use (`?target_session_attrs=`; `any` by default).
    pub fn target_session_attrs(&self) -> TargetSessionAttrs {
        self.target_session_attrs
    }

    /// The hosts of the URI as `host:port` (the port only when the URI gives one), in order;
    /// empty for SQLite.
    pub fn hosts(&self) -> Vec<String> {
        self.urls.iter().map(host_label).collect()
    }

    /// Every server URI, one per host (with the password). Crate-internal: never logged.
    pub(crate) fn server_urls(&self) -> &[Url] {
        &self.urls
    }

    /// The URI with its password replaced by `***`.
    pub fn redacted_uri(&self) -> String {
        match (&self.url, &self.sqlite) {
            (Some(url), _) if self.urls.len() > 1 => {
                redact::redact_url(url).replacen(&host_label(url), &self.hosts().join(","), 1)
            }
            (Some(url), _) => redact::redact_url(url),
            (None, Some(SqliteTarget::Memory)) => "sqlite::memory:".into(),
            (None, Some(SqliteTarget::File(path))) => format!("sqlite://{path}"),
            (None, None) => String::new(),
        }
    }

    /// Whether statements are logged (target `dsg_lib::sql`).
    pub fn echo(&self) -> bool {
        self.echo
    }

    /// Whether bound values are kept out of logs and error details.
    pub fn hide_parameters(&self) -> bool {
        self.hide_parameters
    }

    /// Whether connections are tested before being handed out.
    pub fn pool_pre_ping(&self) -> bool {
        self.pool_pre_ping
    }

    /// `pool_size + max_overflow`: the most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        self.pool_size.saturating_add(self.max_overflow)
    }

    /// How many connections the pool keeps open when idle (`pool_size`).
    pub fn pool_size(&self) -> u32 {
        self.pool_size
    }

    /// The longest a connection lives (`pool_recycle`); `None` for no limit.
    pub fn pool_recycle(&self) -> Option<Duration> {
        self.pool_recycle
    }

    /// How long to wait for a free connection before a pool-timeout error.
    pub fn pool_timeout(&self) -> Duration {
        self.pool_timeout
    }

    /// Prepared statements cached per connection (0 disables the cache).
    pub fn query_cache_size(&self) -> usize {
        if self.transaction_pooling {
            return 0;
        }
        self.connect_args
            .statement_cache_size
            .unwrap_or(self.query_cache_size)
    }

    /// The isolation level of every session, if set.
    pub fn isolation_level(&self) -> Option<IsolationLevel> {
        self.isolation_level
    }

    /// `isolation_level = "AUTOCOMMIT"`: sessions open no transaction; each statement commits
    /// on its own, and a session's `commit`/`rollback` only return the connection.
    pub fn autocommit(&self) -> bool {
        self.autocommit
    }

    /// `slow_statement_ms`: statements slower than this are logged at `WARN`; `None` (the
    /// default) for no timing at all.
    pub fn slow_statement_threshold(&self) -> Option<Duration> {
        self.slow_statement
    }

    /// The parsed `connect_args`.
    pub fn connect_args(&self) -> &ConnectArgs {
        &self.connect_args
    }

    /// Where the SQLite database lives (SQLite only).
    pub fn sqlite_target(&self) -> Option<&SqliteTarget> {
        self.sqlite.as_ref()
    }

    /// The server URI (not SQLite), with the password. Crate-internal: never logged.
    pub(crate) fn server_url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// Replaces any occurrence of a secret of the URI (its password, a `password=`
    /// parameter, …) in `text` by `***`.
    pub(crate) fn scrub(&self, text: String) -> String {
        redact::scrub_secrets(text, &self.secrets)
    }
}

impl fmt::Debug for DBConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DBConfig")
            .field("dialect", &self.dialect)
            .field("database_uri", &self.redacted_uri())
            .field("echo", &self.echo)
            .field("hide_parameters", &self.hide_parameters)
            .field("pool_pre_ping", &self.pool_pre_ping)
            .field("pool_size", &self.pool_size)
            .field("max_overflow", &self.max_overflow)
            .field("pool_recycle", &self.pool_recycle)
            .field("pool_timeout", &self.pool_timeout)
            .field("query_cache_size", &self.query_cache_size)
            .field("isolation_level", &self.isolation_level)
            .field("connect_args", &self.connect_args)
            .field("read_replicas", &self.read_replicas())
            .field("slow_statement", &self.slow_statement)
            .finish()
    }
}

impl fmt::Display for DBConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} database at {}", self.dialect, self.redacted_uri())
    }
}

/// A configuration map as [`DBConfig::new`] takes it; build it with `.into()` from a
/// `serde_json::Value`, a `serde_json::Map` or a `HashMap<String, serde_json::Value>`.
pub struct ConfigMap(Result<Map<String, Value>, DatabaseError>);

impl From<Value> for ConfigMap {
    fn from(value: Value) -> Self {
        ConfigMap(match value {
            Value::Object(map) => Ok(map),
            other => Err(DatabaseError::config(format!(
                "configuration must be a map of keys to values, got {}",
                json_type(&other)
            ))),
        })
    }
}

impl From<Map<String, Value>> for ConfigMap {
    fn from(map: Map<String, Value>) -> Self {
        ConfigMap(Ok(map))
    }
}

impl<S: std::hash::BuildHasher> From<HashMap<String, Value, S>> for ConfigMap {
    fn from(map: HashMap<String, Value, S>) -> Self {
        ConfigMap(Ok(map.into_iter().collect()))
    }
}

/// The parts of a URI that matter.
struct ParsedUri {
    dialect: Dialect,
    /// One per host; empty for SQLite.
    urls: Vec<Url>,
    target_session_attrs: TargetSessionAttrs,
    sqlite: Option<SqliteTarget>,
    secrets: Vec<String>,
    ssl_mode: Option<SslMode>,
}

impl ParsedUri {
    /// Parses a URI, with several hosts (`h1:1,h2:2`) where it names a server.
    fn parse(uri: &str) -> Result<Self, DatabaseError> {
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

    fn parse_one(uri: &str) -> Result<Self, DatabaseError> {
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

fn check_feature(dialect: Dialect) -> Result<(), DatabaseError> {
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
fn sqlite_target(url: &Url) -> Result<SqliteTarget, DatabaseError> {
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

/// Refuses the keys the dialect does not take, naming every one (serde's
/// `deny_unknown_fields` stops at the first): at the top level, and in the maps of
/// `connect_args`, `retry` and `execution_options`, whose keys their serde structs declare.
fn check_keys(map: &Map<String, Value>, dialect: Dialect) -> Result<(), DatabaseError> {
    fn unknown<'a>(map: &'a Map<String, Value>, known: &[&str]) -> Vec<&'a str> {
        let keys = map.keys().map(String::as_str);
        keys.filter(|key| !known.contains(key)).collect()
    }
    let mut supported: Vec<&str> = dialect
        .own_keys()
        .iter()
        .chain(COMMON_KEYS)
        .copied()
        .collect();
    supported.sort_unstable();
    let mut offending = unknown(map, &supported);
    if !offending.is_empty() {
        offending.sort_unstable();
        return Err(DatabaseError::config(format!(
            "unsupported parameters for {dialect}: {}; {dialect} supports: {}",
            offending.join(", "),
            supported.join(", ")
        )));
    }
    let inner = |key: &str, known: &[&str]| match map.get(key) {
        Some(Value::Object(inner)) => unknown(inner, known),
        _ => Vec::new(),
    };
    let known = keys::fields::<keys::ConnectArgsKeys>();
    let offending = inner("connect_args", known);
    if !offending.is_empty() {
        return Err(DatabaseError::config(format!(
            "connect_args: unsupported keys for {dialect}: {}; supported: {}",
            offending.join(", "),
            known.join(", ")
        )));
    }
    Ok(())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

mod env;
pub use env::{DATABASE_URL, ENV_PREFIX};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(uri: &str) -> SqliteTarget {
        DBConfig::new(json!({ "database_uri": uri }))
            .unwrap()
            .sqlite_target()
            .cloned()
            .unwrap()
    }

    #[test]
    fn sqlite_uri_forms() {
        assert_eq!(
            target("sqlite+aiosqlite:///:memory:?cache=shared"),
            SqliteTarget::Memory
        );
        assert_eq!(target("sqlite:///:memory:"), SqliteTarget::Memory);
        assert_eq!(target("sqlite::memory:"), SqliteTarget::Memory);
        assert_eq!(
            target("sqlite:///relative.db"),
            SqliteTarget::File("relative.db".into())
        );
        assert_eq!(
            target("sqlite+aiosqlite:////abs/path.db"),
            SqliteTarget::File("/abs/path.db".into())
        );
        assert_eq!(
            target("sqlite://file.db"),
            SqliteTarget::File("file.db".into())
        );
        assert_eq!(
            target("sqlite://dir/file.db"),
            SqliteTarget::File("dir/file.db".into())
        );
    }

    /// The serde struct of the top level holds exactly the keys the dialects' lists name.
    #[test]
    fn the_settings_struct_has_every_dialects_keys() {
        let mut listed: Vec<&str> = [Dialect::Sqlite, Dialect::Postgresql]
            .iter()
            .flat_map(|d| d.own_keys().iter().copied())
            .chain(COMMON_KEYS.iter().copied())
            .collect();
        listed.sort_unstable();
        listed.dedup();
        let mut fields = keys::fields::<keys::Settings>().to_vec();
        fields.sort_unstable();
        assert_eq!(fields, listed);
        assert_eq!(keys::fields::<keys::ConnectArgsKeys>().len(), 13);
    }

    #[test]
    fn percent_encoded_password_is_decoded_for_scrubbing() {
        let c = DBConfig::new(json!({"database_uri": "postgresql://u:p%40ss@h/db"})).unwrap();
        assert_eq!(c.scrub("bad p@ss".into()), "bad ***");
    }
}
