//! [`DBConfig`]: the map read and validated, with its typed settings.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::redact;
use crate::async_database_functions::core::sql_dialect::Dialect;

use super::hosts::TargetSessionAttrs;
use super::isolation::IsolationLevel;
use super::keys::{self, json_type};
use super::limits::{MAX_CONNECTIONS, MAX_DURATION, MAX_SQLITE_BUSY_TIMEOUT};
use super::replicas;
use super::retry::RetryPolicy;
use super::tls::{PemSource, SslMode};
use super::uri::{ParsedUri, SqliteTarget, host_label};

impl Dialect {
    /// The configuration keys this dialect accepts (besides the common ones).
    pub(crate) fn own_keys(self) -> &'static [&'static str] {
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

/// Keys every dialect accepts.
pub(crate) const COMMON_KEYS: &[&str] = &[
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
/// [`AsyncDatabase`]: crate::async_database_functions::async_database::AsyncDatabase
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
