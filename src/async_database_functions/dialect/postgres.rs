//! PostgreSQL, and PostgreSQL-wire engines (CockroachDB).

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};

use std::sync::Arc;

use super::{CommentStyle, Keeper, Pool, integrity};
use crate::async_database_functions::database_config::{DBConfig, SslMode};
use crate::async_database_functions::error::{Constraint, DatabaseError, ErrorKind};
use crate::async_database_functions::model::{Column, ServerDefault, SqlType};
use crate::async_database_functions::topology::Health;

pub(super) const QUERY_BUILDER: sea_query::PostgresQueryBuilder = sea_query::PostgresQueryBuilder;
pub(super) const COMMENT_STYLE: CommentStyle = CommentStyle::Statement;
pub(super) const AUTO_INCREMENT_KEYWORD: bool = false;
/// Whether the driver binds a `u64` above `i64::MAX`.
pub(super) const UNSIGNED_64: bool = false;
pub(super) const INSERT_RETURNING: bool = true;
/// Whether DDL is transactional.
pub(super) const TRANSACTIONAL_DDL: bool = true;
pub(super) const INDEX_IF_NOT_EXISTS: bool = true;
pub(super) const LIST_TABLES: &str = "SELECT table_name::text FROM information_schema.tables \
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'";
pub(super) const MAX_BIND_PARAMETERS: usize = 65535;

pub(super) async fn connect(
    config: &DBConfig,
    health: Arc<Health>,
) -> Result<(Pool, Keeper), DatabaseError> {
    let native = super::native_url(config, "postgres")?;
    let mut options = PgConnectOptions::from_str(native.as_str())
        .map_err(|e| super::map_error(config, e))?
        .statement_cache_capacity(config.query_cache_size())
        .disable_statement_logging();
    let args = config.connect_args();
    if let Some(name) = &args.application_name {
        options = options.application_name(name);
    }
    if let Some(mode) = args.ssl_mode {
        options = options.ssl_mode(match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow => PgSslMode::Allow,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        });
    }
    let mut settings = args.server_settings.clone();
    if let Some(level) = config.isolation_level() {
        settings.push((
            "default_transaction_isolation".into(),
            level.as_sql().to_ascii_lowercase(),
        ));
    }
    if !settings.is_empty() {
        options = options.options(settings);
    }
    let pool = super::recycle_on_acquire(PgPoolOptions::new(), config.pool_recycle(), health)
        .max_connections(config.max_connections())
        .min_connections(0)
        .acquire_timeout(super::acquire_timeout(config))
        .test_before_acquire(config.pool_pre_ping())
        .max_lifetime(config.pool_recycle())
        .idle_timeout(Some(Duration::from_secs(600)))
        .connect_lazy_with(options);
    Ok((Pool::Postgres(pool), Keeper(None)))
}

/// Binds every integer as `BIGINT` and every float as `DOUBLE PRECISION`.
///
/// sqlx keys its prepared-statement cache by SQL text alone, so the same SQL bound first with
/// an `i32` and then with an `i64` fails with SQLSTATE 22P03 (sqlx #2885). PostgreSQL casts
/// the wide value to the column's type on assignment and compares across integer widths with
/// the index, so binding one width is always safe.
pub(super) fn normalize_values(values: &mut sea_query::Values) -> Result<(), DatabaseError> {
    use sea_query::Value;
    for value in &mut values.0 {
        let wide = match value {
            Value::TinyInt(v) => Value::BigInt(v.map(i64::from)),
            Value::SmallInt(v) => Value::BigInt(v.map(i64::from)),
            Value::Int(v) => Value::BigInt(v.map(i64::from)),
            Value::TinyUnsigned(v) => Value::BigInt(v.map(i64::from)),
            Value::SmallUnsigned(v) => Value::BigInt(v.map(i64::from)),
            Value::Unsigned(v) => Value::BigInt(v.map(i64::from)),
            Value::Float(v) => Value::Double(v.map(f64::from)),
            _ => continue,
        };
        *value = wide;
    }
    Ok(())
}

/// sqlx caches a prepared statement by its SQL text, with the parameter types of its first
/// run; binding other types later fails ("incorrect binary data format"). A comment naming
/// the types makes each combination a statement of its own.
pub(super) fn key_by_types(sql: &mut String, values: &sea_query::Values) {
    use sea_query::Value;
    if values.0.is_empty() {
        return;
    }
    // In front: a comment at the end could fall inside a trailing `--` comment.
    let mut key = String::with_capacity(values.0.len() + 12);
    key.push_str("/* dsg:");
    for value in &values.0 {
        key.push(match value {
            Value::Bool(_) => 'b',
            Value::BigInt(_) | Value::BigUnsigned(_) => 'i',
            Value::Double(_) => 'f',
            Value::String(_) | Value::Char(_) => 's',
            Value::Bytes(_) => 'x',
            Value::Json(_) => 'j',
            Value::Uuid(_) => 'u',
            Value::ChronoDate(_) => 'd',
            Value::ChronoTime(_) => 't',
            Value::ChronoDateTime(_) => 'm',
            Value::ChronoDateTimeUtc(_)
            | Value::ChronoDateTimeLocal(_)
            | Value::ChronoDateTimeWithTimeZone(_) => 'z',
            _ => '?',
        });
    }
    key.push_str(" */ ");
    sql.insert_str(0, &key);
}

pub(super) fn placeholder(n: usize) -> String {
    format!("${n}")
}

pub(super) fn type_sql(column: &Column) -> String {
    match column.sql_type {
        SqlType::String(Some(n)) => format!("VARCHAR({n})"),
        SqlType::String(None) => "TEXT".into(),
        SqlType::Integer if column.auto_increment => {
            "INTEGER GENERATED BY DEFAULT AS IDENTITY".into()
        }
        SqlType::BigInteger if column.auto_increment => {
            "BIGINT GENERATED BY DEFAULT AS IDENTITY".into()
        }
        SqlType::Integer => "INTEGER".into(),
        SqlType::BigInteger => "BIGINT".into(),
        SqlType::Double => "DOUBLE PRECISION".into(),
        SqlType::Boolean => "BOOLEAN".into(),
        SqlType::TimestampUtc | SqlType::Timestamp => "TIMESTAMP".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Uuid => "UUID".into(),
        SqlType::Json => "JSONB".into(),
        SqlType::Bytes => "BYTEA".into(),
    }
}

pub(super) fn server_default_sql(default: ServerDefault, _: SqlType) -> Option<&'static str> {
    match default {
        ServerDefault::CurrentUtcTimestamp => Some("CURRENT_TIMESTAMP AT TIME ZONE 'UTC'"),
    }
}

/// SQLSTATE classes: <https://www.postgresql.org/docs/current/errcodes-appendix.html>.
/// The driver's error code: what [`classify`] reads.
pub(super) fn error_code(db: &dyn sqlx::error::DatabaseError) -> Option<String> {
    db.code().map(|c| c.into_owned())
}

pub(super) fn classify(code: &str) -> (ErrorKind, Option<Constraint>) {
    match code {
        "23505" => integrity(Constraint::Unique),
        "23503" => integrity(Constraint::ForeignKey),
        "23502" => integrity(Constraint::NotNull),
        "23514" => integrity(Constraint::Check),
        "40001" | "40P01" => (ErrorKind::SerializationFailure, None),
        c if c.starts_with("23") => (ErrorKind::IntegrityError, None),
        c if c.starts_with("22") => (ErrorKind::InvalidInput, None),
        c if c.starts_with("08") || c.starts_with("57P") => (ErrorKind::ConnectionError, None),
        "28000" | "28P01" | "3D000" => (ErrorKind::ConnectionError, None),
        _ => (ErrorKind::DatabaseError, None),
    }
}

/// PostgreSQL keeps values in the error's `detail`, which is never copied into `details`;
/// the message of a data exception quotes the bad input, which is cut off.
pub(super) fn hide_values(kind: ErrorKind, details: String) -> String {
    match (kind, details.find(": ")) {
        (ErrorKind::InvalidInput, Some(at)) => format!("{} (value hidden)", &details[..at]),
        _ => details,
    }
}
