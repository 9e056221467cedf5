//! The configuration map as serde reads it: one struct per map (the top level,
//! `connect_args`, `execution_options`, `retry`) whose fields are the keys it may hold, each of
//! a small type that says what the key takes and its default (`Count<10_000, 5>`: a whole
//! number from 0 to 10 000, 5 when absent). An error is the path of the key followed by the
//! type's message: `connect_args.timeout must be a number of seconds, got a string`.
//!
//! What serde cannot say stays in [`DBConfig::new`](super::DBConfig::new): the dialect, read
//! from `database_uri` first; the keys the dialect does not take, all named at once (serde's
//! `deny_unknown_fields` stops at the first); and the rules across keys and dialects.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, Visitor};
use serde_json::Value;

use super::isolation::IsolationLevel;
use super::limits::{MAX_CONNECTIONS, MAX_DURATION, MAX_STATEMENT_CACHE};
use super::replicas::{DEFAULT_MAX_LAG_MS, MAX_LAG_MS};
use super::retry::RetryPolicy;
use super::retry::{MAX_ATTEMPTS, MAX_DELAY_MS};
use super::tls::SslMode;

const MAX_DURATION_MS: u64 = MAX_DURATION.as_millis() as u64;

/// The top level: every key of every dialect, with SQLAlchemy's defaults.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Settings {
    /// Read before the rest: it says the dialect.
    pub database_uri: IgnoredAny,
    pub echo: Flag,
    /// Accepted, no effect.
    pub future: Flag,
    pub hide_parameters: Flag,
    pub pool_pre_ping: Flag,
    pub transaction_pooling: Flag,
    pub pool_size: Count<MAX_CONNECTIONS, 5>,
    pub max_overflow: Count<MAX_CONNECTIONS, 10>,
    pub query_cache_size: Count<MAX_STATEMENT_CACHE, 500>,
    pub pool_recycle: Recycle,
    pub pool_timeout: Seconds<MAX_DURATION_MS, 30_000>,
    pub slow_statement_ms: Given<Millis>,
    pub isolation_level: Given<Isolation>,
    pub execution_options: Nested<ExecutionOptions>,
    pub connect_args: Nested<ConnectArgsKeys>,
    pub retry: Retry,
    pub read_replica_uris: Given<Replicas>,
    pub read_replica_max_lag_ms: Count<MAX_LAG_MS, DEFAULT_MAX_LAG_MS>,
}

/// `execution_options`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct ExecutionOptions {
    pub isolation_level: Given<Isolation>,
}

/// `connect_args`: the driver options of every dialect (`ConnectArgs::from_keys` checks which
/// dialect takes which).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct ConnectArgsKeys {
    pub timeout: Given<Timeout>,
    pub connect_timeout: Given<Timeout>,
    pub application_name: Given<Text>,
    pub sslmode: Given<Ssl>,
    pub ssl_mode: Given<Ssl>,
    pub ssl: Given<Ssl>,
    pub statement_cache_size: Given<Count<MAX_STATEMENT_CACHE>>,
    pub charset: Given<Text>,
    pub server_settings: ServerSettings,
    /// Python's sqlite3 flag: accepted for porting, no effect.
    pub check_same_thread: IgnoredAny,
    pub sslrootcert: Given<Text>,
    pub sslcert: Given<Text>,
    pub sslkey: Given<Text>,
}

/// `retry` as a map.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RetryKeys {
    max_attempts: Given<Count<MAX_ATTEMPTS>>,
    base_delay_ms: Given<Count<MAX_DELAY_MS>>,
    max_delay_ms: Given<Count<MAX_DELAY_MS>>,
}

/// Reads `value` into `T`; an error is the path of the key, then what is wrong with its value.
pub(super) fn read<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    read_at(value).map_err(|(path, message)| join(&path, &message))
}

/// Reads `value` into `T`; an error is the path of the key (empty at the top) and its message.
fn read_at<T: DeserializeOwned>(value: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = match e.path().iter().next() {
            Some(_) => e.path().to_string(),
            None => String::new(),
        };
        let message = e.into_inner().to_string();
        // serde names an unknown key in its message: the path ends at the map that holds it.
        if message.starts_with("unknown field") {
            path.truncate(path.rfind('.').unwrap_or(0));
        }
        (path, message)
    })
}

/// `connect_args` and ` must be …` → `connect_args must be …`; the types' messages go on from
/// the key (` must be …`, `: unknown …`, `.key …`, `[0] …`), serde's follow a colon.
fn join(path: &str, message: &str) -> String {
    match path {
        "" => message.to_string(),
        _ if message.starts_with([' ', ':', '.', '[']) => format!("{path}{message}"),
        _ => format!("{path}: {message}"),
    }
}

/// The keys of the serde struct `T`, as its derived `Deserialize` declares them.
pub(super) fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
    /// A deserializer that notes the fields it is asked for and gives nothing.
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            self.deserialize_any(visitor)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// What a value of the wrong type hears: ` must be {expected}, got a string`.
fn must(expected: &str, value: &Value) -> String {
    format!(" must be {expected}, got {}", json_type(value))
}

/// A key that may be absent (`None`); when present, `T` reads it, `null` included.
pub(super) struct Given<T>(pub Option<T>);

impl<T> Default for Given<T> {
    fn default() -> Self {
        Given(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Given<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|value| Given(Some(value)))
    }
}

/// A map read into the struct `T`; anything else is refused as not a map.
#[derive(Default)]
pub(super) struct Nested<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Nested<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        nested(&value).map(Nested).map_err(de::Error::custom)
    }
}

fn nested<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    match value {
        Value::Object(_) => read_at(value).map_err(|(path, message)| match path.as_str() {
            "" => format!(": {message}"),
            _ => format!(".{}", join(&path, &message)),
        }),
        _ => Err(must("a map", value)),
    }
}

/// Declares a type read from a key's JSON value `$v` by `$read` (an `Err` goes on from the key).
macro_rules! key_type {
    ($(#[$attr:meta])* $name:ident($inner:ty), |$v:ident| $read:expr) => {
        $(#[$attr])*
        #[derive(Deserialize)]
        #[serde(try_from = "Value")]
        pub(super) struct $name(pub $inner);

        impl TryFrom<Value> for $name {
            type Error = String;
            fn try_from($v: Value) -> Result<Self, String> {
                $read.map($name)
            }
        }
    };
}

key_type!(
    /// `true` or `false`.
    #[derive(Default)]
    Flag(bool),
    |v| v.as_bool().ok_or_else(|| must("true or false", &v))
);

key_type!(
    /// A string.
    Text(String),
    |v| match v {
        Value::String(text) => Ok(text),
        other => Err(must("a string", &other)),
    }
);

key_type!(
    /// `connect_args.timeout`: a number of seconds, bounded by the dialect (on SQLite it is
    /// the busy timeout, a C `int` of milliseconds).
    Timeout(f64),
    |v| v.as_f64().ok_or_else(|| must("a number of seconds", &v))
);

key_type!(
    /// `pool_recycle`: seconds, or `-1` (SQLAlchemy's "never", the default).
    #[derive(Default)]
    Recycle(Option<Duration>),
    |v| match v.as_f64() {
        _ if v.as_i64() == Some(-1) => Ok(None),
        Some(s) if s > 0.0 => seconds(&v, MAX_DURATION).map(Some),
        _ => Err(" must be a positive number of seconds, or -1 for none".to_string()),
    }
);

key_type!(
    /// `slow_statement_ms`: a positive number of milliseconds, fractions allowed.
    Millis(Duration),
    |v| {
        let ms = v.as_f64().ok_or_else(|| must("a number of milliseconds", &v))?;
        seconds(&Value::from(ms / 1000.0), MAX_DURATION).map_err(|_| {
            let most = MAX_DURATION.as_millis();
            format!(" must be a positive number of milliseconds, at most {most}, got {ms}")
        })
    }
);

key_type!(
    /// An isolation level, `None` for `AUTOCOMMIT` (whether the dialect has it is checked
    /// once the dialect is known).
    #[derive(Clone, Copy)]
    Isolation(Option<IsolationLevel>),
    |v| match &v {
        Value::String(text) => IsolationLevel::parse(text),
        _ => Err(must("a string such as \"READ COMMITTED\"", &v)),
    }
);

key_type!(
    /// An ssl mode by name; `ssl` also takes `true` (require) and `false` (disable).
    Ssl(SslMode),
    |v| match &v {
        Value::String(text) => SslMode::parse(text),
        Value::Bool(true) => Ok(SslMode::Require),
        Value::Bool(false) => Ok(SslMode::Disable),
        _ => Err(must("a string", &v)),
    }
);

key_type!(
    /// `server_settings`: session parameters to strings (numbers and booleans as text).
    #[derive(Default)]
    ServerSettings(Vec<(String, String)>),
    |v| match v {
        Value::Object(settings) => settings
            .into_iter()
            .map(|(name, setting)| match setting {
                Value::String(s) => Ok((name, s)),
                Value::Number(_) | Value::Bool(_) => Ok((name, setting.to_string())),
                other => Err(format!(".{name}{}", must("a string", &other))),
            })
            .collect(),
        other => Err(must("a map", &other)),
    }
);

key_type!(
    /// `read_replica_uris`: URI strings (parsed once the dialect is known).
    Replicas(Vec<String>),
    |v| match v {
        Value::Array(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, entry)| match entry {
                Value::String(uri) => Ok(uri),
                other => Err(format!("[{i}]{}", must("a URI string", &other))),
            })
            .collect(),
        other => Err(must("a list of URIs", &other)),
    }
);

key_type!(
    /// `retry`: `true` (the default policy), `false` (run once) or a map of its keys.
    #[derive(Default)]
    Retry(RetryPolicy),
    |v| {
        let mut policy = RetryPolicy::default();
        let keys: RetryKeys = match v {
            Value::Bool(run_again) => RetryKeys {
                max_attempts: Given((!run_again).then_some(Count(1))),
                ..RetryKeys::default()
            },
            Value::Object(_) => nested(&v)?,
            other => return Err(must("true, false or a map", &other)),
        };
        if let Some(Count(attempts)) = keys.max_attempts.0 {
            if attempts == 0 {
                return Err(".max_attempts must be at least 1 (1: never re-run)".into());
            }
            policy.max_attempts = attempts as u32;
        }
        if let Some(Count(ms)) = keys.base_delay_ms.0 {
            policy.base_delay = Duration::from_millis(ms as u64);
        }
        if let Some(Count(ms)) = keys.max_delay_ms.0 {
            policy.max_delay = Duration::from_millis(ms as u64);
        }
        policy.max_delay = policy.max_delay.max(policy.base_delay);
        Ok::<_, String>(policy)
    }
);

/// A whole number from 0 to `MAX`; `DEFAULT` when absent.
#[derive(Deserialize, Clone, Copy)]
#[serde(try_from = "Value")]
pub(super) struct Count<const MAX: usize, const DEFAULT: usize = 0>(pub usize);

impl<const MAX: usize, const DEFAULT: usize> Default for Count<MAX, DEFAULT> {
    fn default() -> Self {
        Count(DEFAULT)
    }
}

impl<const MAX: usize, const DEFAULT: usize> TryFrom<Value> for Count<MAX, DEFAULT> {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        let too_large = || format!(" must be at most {MAX}, got {value}");
        match (value.as_f64(), value.as_u64()) {
            (None, _) => Err(must("a whole number", &value)),
            // Beyond `MAX`, a float beyond every integer type included: too large.
            (Some(n), _) if n > MAX as f64 => Err(too_large()),
            (_, Some(n)) => usize::try_from(n).map(Count).map_err(|_| too_large()),
            _ if value.is_i64() => Err(format!(" must not be negative, got {value}")),
            _ => Err(must("a whole number", &value)),
        }
    }
}

/// A positive number of seconds, at most `MAX_MS` milliseconds; `DEFAULT_MS` when absent.
#[derive(Deserialize, Clone, Copy)]
#[serde(try_from = "Value")]
pub(super) struct Seconds<const MAX_MS: u64, const DEFAULT_MS: u64 = 0>(pub Duration);

impl<const MAX_MS: u64, const DEFAULT_MS: u64> Default for Seconds<MAX_MS, DEFAULT_MS> {
    fn default() -> Self {
        Seconds(Duration::from_millis(DEFAULT_MS))
    }
}

impl<const MAX_MS: u64, const DEFAULT_MS: u64> TryFrom<Value> for Seconds<MAX_MS, DEFAULT_MS> {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        seconds(&value, Duration::from_millis(MAX_MS)).map(Seconds)
    }
}

/// A positive number of seconds, at most `most`.
pub(super) fn seconds(value: &Value, most: Duration) -> Result<Duration, String> {
    match value.as_f64() {
        Some(s) if s > 0.0 && s.is_finite() => match Duration::try_from_secs_f64(s) {
            Ok(d) if d <= most => Ok(d),
            _ => Err(format!(
                " must be at most {} seconds, got {s}",
                most.as_secs()
            )),
        },
        Some(s) => Err(format!(" must be a positive number of seconds, got {s}")),
        None => Err(must("a number of seconds", value)),
    }
}

/// How a JSON value is named in messages ("a string", "a list", …).
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}
