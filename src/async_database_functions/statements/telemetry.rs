//! Observability: a [`tracing`] span per operation, pool statistics, statement logging.
//!
//! **Spans.** Every method of
//! [`DatabaseOperations`](crate::async_database_functions::database_operations::DatabaseOperations) runs inside one
//! `INFO` span (target `dsg_lib`) named after it (`count_query`, `create_many`, …), with the
//! [OpenTelemetry database conventions](https://opentelemetry.io/docs/specs/semconv/database/)
//! as fields, so that `tracing-opentelemetry` exports them as a client span as they are:
//!
//! | field | value |
//! |---|---|
//! | `db.system.name` | `sqlite`, `postgresql`, `cockroachdb`, `mysql` or `mariadb` |
//! | `db.operation.name` | the operation, e.g. `read_query` |
//! | `db.collection.name` | the table, where the operation names one (`create_one`, `update_one`, …) |
//! | `db.namespace` | the database name (servers) |
//! | `server.address`, `server.port` | the server (servers) |
//! | `db.query.text` | the statement's SQL, with placeholders, only when `echo` is on |
//! | `db.response.returned_rows` | rows returned, at the end |
//! | `db.response.affected_rows` | rows inserted, updated or deleted, at the end |
//! | `error.type` | the [`ErrorKind`](crate::async_database_functions::core::error::ErrorKind) when the operation fails |
//! | `db.response.status_code` | the driver's error code (SQLSTATE, error number), if any |
//! | `otel.kind`, `otel.status_code` | `client`; `ERROR` on failure |
//!
//! When no subscriber listens, an operation costs one check of the level filter: no span is
//! built, nothing is formatted, nothing is allocated for it.
//!
//! **Statements.** With `echo` on, every statement is logged at `DEBUG` (target
//! `dsg_lib::sql`) inside its operation's span, with its bound values in SQL form
//! (`-- parameters: ('red', 42, NULL)`), or without them under `hide_parameters`. With
//! `slow_statement_ms` set, a statement that takes longer is logged at `WARN` (same target)
//! with its SQL and duration, never with its values.
//!
//! **Pool.** [`AsyncDatabase::pool_stats`](crate::async_database_functions::async_database::AsyncDatabase::pool_stats)
//! gives a [`PoolStats`], a plain serialisable struct to feed a metrics exporter or a
//! readiness endpoint.
//!
//! ```
//! use dsg_lib::async_database_functions::{
//!     async_database::AsyncDatabase, database_config::DBConfig, database_operations::DatabaseOperations,
//!     statement::text, telemetry::PoolStats,
//! };
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! let ops = DatabaseOperations::new(db.clone());
//! let one: Vec<i64> = ops.read_query(&text("SELECT 1")).await?;
//! assert_eq!(one, [1]);
//!
//! let stats: PoolStats = db.pool_stats();
//! assert_eq!((stats.in_use, stats.waiting), (0, 0));
//! assert!(stats.size >= 1 && stats.size <= stats.max);
//! assert_eq!(serde_json::to_value(stats)?["in_use"], 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use sea_query::Value;
use tracing::{Instrument, Span};

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect;

/// The state of a connection pool at one moment, from
/// [`AsyncDatabase::pool_stats`](crate::async_database_functions::async_database::AsyncDatabase::pool_stats).
///
/// Serialises as `{"size": 3, "idle": 1, "in_use": 2, "waiting": 0, "max": 15}`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct PoolStats {
    /// Connections open now, idle or in use (0 before first use).
    pub size: u32,
    /// Open connections waiting in the pool to be handed out.
    pub idle: u32,
    /// Connections held by sessions and operations now.
    pub in_use: u32,
    /// Callers waiting for a connection now (a steadily positive number means the pool is too
    /// small for the load, or connections are held too long).
    pub waiting: u32,
    /// The most connections the pool opens (`pool_size + max_overflow`; 5 on SQLite).
    pub max: u32,
}

/// The span of one operation: see the [module documentation](self).
///
/// `$name` is the operation's name (a literal: it is the span's name), `$config` the
/// `&DBConfig`, `$table` an `Option<&str>`. Field values are evaluated only when a subscriber
/// takes the span.
macro_rules! operation_span {
    ($name:literal, $config:expr, $table:expr) => {{
        let config: &$crate::async_database_functions::database_config::DBConfig = $config;
        let table: Option<&str> = $table;
        let span = if !$crate::async_database_functions::statements::telemetry::spans_seen() {
            ::tracing::Span::none()
        } else {
            ::tracing::info_span!(
            target: "dsg_lib",
            $name,
            otel.kind = "client",
            db.system.name = config.dialect().name(),
            db.operation.name = $name,
            db.collection.name = table,
            db.namespace = ::tracing::field::Empty,
            server.address = ::tracing::field::Empty,
            server.port = ::tracing::field::Empty,
            db.query.text = ::tracing::field::Empty,
            db.response.returned_rows = ::tracing::field::Empty,
            db.response.affected_rows = ::tracing::field::Empty,
            db.response.status_code = ::tracing::field::Empty,
            error.type = ::tracing::field::Empty,
            otel.status_code = ::tracing::field::Empty,
            )
        };
        $crate::async_database_functions::statements::telemetry::record_server(&span, config);
        span
    }};
}
pub(crate) use operation_span;

/// Whether anything may see an operation's span: a `tracing` subscriber (set globally or for
/// a scope), or a `log` logger at `INFO` (with its `log` feature, which axum turns on,
/// `tracing` hands spans to `log` while no subscriber was ever set). Neither: no span is
/// built (building one with its fields and handing it to `log`'s no-op logger was 0.6 % of a
/// PostgreSQL point read's instructions).
pub(crate) fn spans_seen() -> bool {
    tracing::dispatcher::has_been_set() || log::max_level() >= log::LevelFilter::Info
}

/// Records where a server database is (nothing for SQLite) into an enabled span.
pub(crate) fn record_server(span: &Span, config: &DBConfig) {
    if span.is_disabled() {
        return;
    }
    if let Some(url) = config.server_url() {
        let database = url.path().strip_prefix('/').unwrap_or_default();
        if !database.is_empty() && !database.contains('/') {
            span.record("db.namespace", database);
        }
        if let Some(host) = url.host_str() {
            span.record("server.address", host);
        }
        if let Some(port) = url.port() {
            span.record("server.port", port);
        }
    }
}

/// What an operation reports of the rows it touched.
pub(crate) enum Rows {
    /// Nothing to report.
    None,
    /// Rows read.
    Returned(u64),
    /// Rows written.
    Affected(u64),
    /// Both: rows written and rows returned (RETURNING clauses, `execute_many`).
    Both { affected: u64, returned: u64 },
}

impl Rows {
    pub(crate) fn returned(n: usize) -> Rows {
        Rows::Returned(n as u64)
    }

    pub(crate) fn affected(n: usize) -> Rows {
        Rows::Affected(n as u64)
    }
}

/// Awaits `$operation` inside `$span` and records its outcome (see [`run_traced`]). When no
/// subscriber takes the span, the operation is awaited right here: its future is not moved
/// into another one first (a copy of a few hundred bytes per call, measured by callgrind at
/// about 2 % of a SQLite point read).
macro_rules! traced {
    ($span:expr, $operation:expr, $rows:expr $(,)?) => {{
        let span: ::tracing::Span = $span;
        if span.is_disabled() {
            $operation.await
        } else {
            // Boxed: held by value, the operation would make every operation's future
            // twice its size (the argument and the instrumented future side by side).
            $crate::async_database_functions::statements::telemetry::run_traced(
                span,
                ::std::boxed::Box::pin($operation),
                $rows,
            )
            .await
        }
    }};
}
pub(crate) use traced;

/// Runs `operation` inside `span` and records its outcome: the rows `rows` reports, or the
/// error's kind and code. A disabled span (no subscriber listens) costs nothing further.
pub(crate) async fn run_traced<T, F>(
    span: Span,
    operation: F,
    rows: impl FnOnce(&T) -> Rows,
) -> Result<T, DatabaseError>
where
    F: Future<Output = Result<T, DatabaseError>>,
{
    if span.is_disabled() {
        return operation.await;
    }
    let result = operation.instrument(span.clone()).await;
    match &result {
        Ok(value) => match rows(value) {
            Rows::None => {}
            Rows::Returned(n) => {
                span.record("db.response.returned_rows", n);
            }
            Rows::Affected(n) => {
                span.record("db.response.affected_rows", n);
            }
            Rows::Both { affected, returned } => {
                span.record("db.response.affected_rows", affected);
                span.record("db.response.returned_rows", returned);
            }
        },
        Err(e) => {
            span.record("error.type", e.kind().as_str());
            span.record("otel.status_code", "ERROR");
            if let Some(code) = e.code() {
                span.record("db.response.status_code", code);
            }
        }
    }
    result
}

/// Logs a statement when `echo` is on: its SQL into the current operation's span
/// (`db.query.text`), and a `DEBUG` event (target `dsg_lib::sql`) with the SQL and, unless
/// `hide_parameters`, the bound values in SQL form. Nothing is formatted unless a subscriber
/// takes the event.
pub(crate) fn echo(config: &DBConfig, sql: &str, values: &[Value]) {
    if !config.echo() {
        return;
    }
    Span::current().record("db.query.text", sql);
    if config.hide_parameters() || values.is_empty() {
        tracing::debug!(target: "dsg_lib::sql", "{sql}");
    } else {
        let parameters = SqlValues {
            dialect: config.dialect(),
            values,
        };
        tracing::debug!(target: "dsg_lib::sql", "{sql} -- parameters: {parameters}");
    }
}

/// Times statements when `slow_statement_ms` is set; costs nothing otherwise.
pub(crate) struct SlowTimer {
    started: Option<(Instant, Duration)>,
}

impl SlowTimer {
    pub(crate) fn start(config: &DBConfig) -> Self {
        SlowTimer {
            started: config
                .slow_statement_threshold()
                .map(|threshold| (Instant::now(), threshold)),
        }
    }

    /// Whether a statement is being timed (its SQL must then be kept for the warning).
    pub(crate) fn is_on(&self) -> bool {
        self.started.is_some()
    }

    /// Warns (target `dsg_lib::sql`) when the statement took longer than the threshold.
    pub(crate) fn finish(self, sql: Option<&str>) {
        if let Some((started, threshold)) = self.started {
            let elapsed = started.elapsed();
            if elapsed > threshold {
                tracing::warn!(
                    target: "dsg_lib::sql",
                    elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                    threshold_ms = threshold.as_secs_f64() * 1000.0,
                    db.query.text = sql.unwrap_or_default(),
                    "slow statement: {:.1} ms (slow_statement_ms = {})",
                    elapsed.as_secs_f64() * 1000.0,
                    threshold.as_secs_f64() * 1000.0,
                );
            }
        }
    }
}

/// The most bound values an echo line shows; the rest are counted.
const ECHO_MAX_VALUES: usize = 100;
/// The most characters of one value an echo line shows.
const ECHO_MAX_VALUE_CHARS: usize = 300;

/// Bound values as SQL literals: `('red', 42, NULL)`.
struct SqlValues<'a> {
    dialect: Dialect,
    values: &'a [Value],
}

impl fmt::Display for SqlValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, value) in self.values.iter().take(ECHO_MAX_VALUES).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let literal = sql_literal(self.dialect, value);
            match literal.char_indices().nth(ECHO_MAX_VALUE_CHARS) {
                Some((cut, _)) => write!(
                    f,
                    "{}… ({} characters in all)",
                    &literal[..cut],
                    literal.chars().count()
                )?,
                None => f.write_str(&literal)?,
            }
        }
        if self.values.len() > ECHO_MAX_VALUES {
            write!(f, ", … {} more", self.values.len() - ECHO_MAX_VALUES)?;
        }
        f.write_str(")")
    }
}

/// One value as a SQL literal of `dialect`: `'red'`, `42`, `NULL`, `TRUE`. Text is quoted the
/// standard way on every dialect (`'it''s'`), for logs that read alike everywhere.
pub(crate) fn sql_literal(dialect: Dialect, value: &Value) -> String {
    fn quoted(text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 2);
        out.push('\'');
        for c in text.chars() {
            if c == '\'' {
                out.push('\'');
            }
            out.push(c);
        }
        out.push('\'');
        out
    }
    match value {
        Value::String(Some(text)) => quoted(text),
        // sea-query renders a char through a byte, which breaks on non-ASCII.
        Value::Char(Some(c)) => quoted(c.encode_utf8(&mut [0; 4])),
        other => dialect::value_sql(dialect, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_sql() {
        let values = [
            Value::String(Some("red".into())),
            Value::BigInt(Some(42)),
            Value::String(None),
            Value::Bool(Some(true)),
            Value::String(Some("it's".into())),
            Value::Char(Some('é')),
            Value::Double(Some(1.5)),
        ];
        let shown = SqlValues {
            dialect: Dialect::Sqlite,
            values: &values,
        }
        .to_string();
        assert_eq!(shown, "('red', 42, NULL, TRUE, 'it''s', 'é', 1.5)");
    }

    #[test]
    fn long_values_and_long_lists_are_cut() {
        let values: Vec<Value> = (0..150)
            .map(|i| Value::String(Some(format!("{i}{}", "x".repeat(400)))))
            .collect();
        let shown = SqlValues {
            dialect: Dialect::Sqlite,
            values: &values,
        }
        .to_string();
        assert!(shown.contains("… (404 characters in all)"), "{shown}");
        assert!(shown.ends_with(", … 50 more)"), "{shown}");
    }
}
