//! PostgreSQL, and PostgreSQL-wire engines (CockroachDB).

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};

use std::sync::Arc;

use super::{CommentStyle, Keeper, Pool, integrity};
use crate::async_database_functions::database_config::{DBConfig, Dialect, SslMode};
use crate::async_database_functions::error::{Constraint, DatabaseError, ErrorKind};
use crate::async_database_functions::model::{Column, ServerDefault, SqlType};
use crate::async_database_functions::topology::Health;

pub(super) const QUERY_BUILDER: sea_query::PostgresQueryBuilder = sea_query::PostgresQueryBuilder;
pub(super) const COMMENT_STYLE: CommentStyle = CommentStyle::Statement;
pub(super) const AUTO_INCREMENT_KEYWORD: bool = false;
/// Whether the driver binds a `u64` above `i64::MAX`.
pub(super) const UNSIGNED_64: bool = false;
/// How identifiers are quoted.
pub(super) const IDENT_QUOTE: char = '"';
pub(super) const INSERT_RETURNING: bool = true;
/// Whether DDL is transactional.
pub(super) const TRANSACTIONAL_DDL: bool = true;
/// Whether reading one row needs `LIMIT 1` for the server to stop.
pub(super) const LIMIT_FIRST_ROW: bool = true;
/// The server's port when the URI names none.
pub(super) const DEFAULT_PORT: Option<u16> = Some(5432);
/// The quoting and comment forms `text()`'s `:name` scanner skips.
pub(super) const TEXT_SYNTAX: crate::async_database_functions::statement::scan::Syntax =
    crate::async_database_functions::statement::scan::Syntax::POSTGRES;
pub(super) const INDEX_IF_NOT_EXISTS: bool = true;
pub(super) const LIST_TABLES: &str = "SELECT table_name::text FROM information_schema.tables \
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'";
pub(super) const MAX_BIND_PARAMETERS: usize = 65535;

/// The most connections a pool opens: `pool_size + max_overflow`.
/// See [`super::role_sql`].
pub(super) const ROLE_SQL: Option<&str> =
    Some("SELECT CASE WHEN pg_is_in_recovery() THEN 1::int8 ELSE 0::int8 END");
/// See [`super::replay_position_sql`].
pub(super) const REPLAY_POSITION_SQL: Option<&str> =
    Some("SELECT COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text");
/// See [`super::write_position_sql`].
pub(super) const WRITE_POSITION_SQL: Option<&str> = Some("SELECT pg_current_wal_lsn()::text");
/// See [`super::is_read_only_error`].
pub(super) const READ_ONLY_CODES: &[&str] = &["25006"];

pub(super) fn max_connections(config: &DBConfig) -> u32 {
    config.max_connections()
}

pub(super) async fn connect(
    config: &DBConfig,
    url: Option<&url::Url>,
    health: Arc<Health>,
) -> Result<(Pool, Keeper), DatabaseError> {
    let native = super::native_url(url, "postgres")?;
    let mut options = PgConnectOptions::from_str(native.as_str())
        .map_err(|e| super::map_error(config, e))?
        .statement_cache_capacity(config.query_cache_size())
        .disable_statement_logging();
    let args = config.connect_args();
    if let Some(name) = &args.application_name {
        options = options.application_name(name);
    }
    let tls = super::tls(config)?;
    if let Some(mode) = tls.mode {
        options = options.ssl_mode(match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow => PgSslMode::Allow,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        });
    }
    if let Some(root) = tls.root_cert {
        options = if root.is_inline() {
            options.ssl_root_cert_from_pem(root.as_str().as_bytes().to_vec())
        } else {
            options.ssl_root_cert(root.as_str())
        };
    }
    if let Some(cert) = tls.client_cert {
        options = if cert.is_inline() {
            options.ssl_client_cert_from_pem(cert.as_str())
        } else {
            options.ssl_client_cert(cert.as_str())
        };
    }
    if let Some(key) = tls.client_key {
        options = if key.is_inline() {
            options.ssl_client_key_from_pem(key.as_str())
        } else {
            options.ssl_client_key(key.as_str())
        };
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
        .max_connections(max_connections(config))
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

pub(super) fn push_placeholder(sql: &mut String, n: usize) {
    use std::fmt::Write as _;
    let _ = write!(sql, "${n}");
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
        SqlType::SmallInteger if column.auto_increment => {
            "SMALLINT GENERATED BY DEFAULT AS IDENTITY".into()
        }
        SqlType::SmallInteger => "SMALLINT".into(),
        SqlType::Integer => "INTEGER".into(),
        // PostgreSQL has no unsigned types: BIGINT holds every u32.
        SqlType::UnsignedInteger | SqlType::BigInteger => "BIGINT".into(),
        SqlType::Float => "REAL".into(),
        SqlType::Double => "DOUBLE PRECISION".into(),
        SqlType::Decimal => "NUMERIC".into(),
        SqlType::Boolean => "BOOLEAN".into(),
        SqlType::TimestampUtc | SqlType::Timestamp => "TIMESTAMP".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME".into(),
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

/// PostgreSQL names the violated constraint and its table in the error's fields; the key's
/// columns come from the part of `detail` before the values (`Key (name)=(…) already
/// exists.`), and a not-null violation names its column.
pub(super) fn constraint_info(
    db: &dyn sqlx::error::DatabaseError,
) -> crate::async_database_functions::error::ConstraintInfo {
    let mut info = crate::async_database_functions::error::ConstraintInfo {
        name: db.constraint().map(str::to_string),
        table: db.table().map(str::to_string),
        columns: Vec::new(),
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        if let Some(column) = pg.column() {
            info.columns.push(column.to_string());
        } else if let Some(detail) = pg.detail() {
            info.columns = key_columns(detail);
        }
    }
    info
}

/// `Key (a, b)=(1, 2) already exists.` → `[a, b]`; the values are not read.
fn key_columns(detail: &str) -> Vec<String> {
    detail
        .strip_prefix("Key (")
        .and_then(|rest| rest.split_once(")=("))
        .map(|(columns, _)| {
            columns
                .split(", ")
                .map(|c| c.trim_matches('"').to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The bulk form of `INSERT … VALUES`: one array per column,
/// `INSERT INTO t (a, b) SELECT * FROM UNNEST($1::text[], $2::timestamp[])`. The SQL has one
/// parameter per column whatever the row count, so it is parsed and planned once and cached;
/// each array is bound as PostgreSQL's array text form (a bound value, never spliced SQL).
/// `None` when a value has no array form here (the caller falls back to `VALUES`).
pub(super) fn unnest_insert(
    table: &str,
    columns: &[&Column],
    values: &[sea_query::Value],
    returning: &[&str],
) -> Option<(String, sea_query::Values)> {
    use std::fmt::Write as _;
    let width = columns.len();
    if width == 0 || !values.len().is_multiple_of(width) {
        return None;
    }
    let rows = values.len() / width;
    let mut arrays: Vec<String> = (0..width)
        .map(|_| String::with_capacity(rows * 24 + 2))
        .collect();
    for array in &mut arrays {
        array.push('{');
    }
    for (i, value) in values.iter().enumerate() {
        let array = &mut arrays[i % width];
        if i >= width {
            array.push(',');
        }
        push_array_element(array, value)?;
    }
    let mut sql = String::with_capacity(64 + width * 32);
    sql.push_str("INSERT INTO ");
    super::push_ident(Dialect::Postgresql, &mut sql, table);
    sql.push_str(" (");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        super::push_ident(Dialect::Postgresql, &mut sql, column.name);
    }
    sql.push_str(") SELECT * FROM UNNEST(");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "${}::{}[]", i + 1, array_type(column.sql_type));
    }
    sql.push(')');
    if !returning.is_empty() {
        sql.push_str(" RETURNING ");
        for (i, column) in returning.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            super::push_ident(Dialect::Postgresql, &mut sql, column);
        }
    }
    let values = arrays
        .into_iter()
        .map(|mut a| {
            a.push('}');
            sea_query::Value::String(Some(a))
        })
        .collect();
    Some((sql, sea_query::Values(values)))
}

/// The element type of a column's array (identity columns cast as their plain type).
fn array_type(ty: SqlType) -> &'static str {
    match ty {
        SqlType::String(_) => "text",
        SqlType::SmallInteger => "smallint",
        SqlType::Integer => "integer",
        SqlType::UnsignedInteger | SqlType::BigInteger => "bigint",
        SqlType::Float => "real",
        SqlType::Double => "double precision",
        SqlType::Decimal => "numeric",
        SqlType::Boolean => "boolean",
        SqlType::TimestampUtc | SqlType::Timestamp => "timestamp",
        SqlType::Date => "date",
        SqlType::Time => "time",
        SqlType::Uuid => "uuid",
        SqlType::Json => "jsonb",
        SqlType::Bytes => "bytea",
    }
}

/// Appends `value` as an element of an array's text form; `None` for a value without one.
fn push_array_element(array: &mut String, value: &sea_query::Value) -> Option<()> {
    use sea_query::Value;
    use std::fmt::Write as _;
    match value {
        Value::Bool(None)
        | Value::TinyInt(None)
        | Value::SmallInt(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::Double(None)
        | Value::Float(None)
        | Value::String(None)
        | Value::Uuid(None)
        | Value::Json(None)
        | Value::Bytes(None)
        | Value::ChronoDate(None)
        | Value::ChronoTime(None)
        | Value::ChronoDateTime(None) => array.push_str("NULL"),
        Value::Bool(Some(b)) => array.push(if *b { 't' } else { 'f' }),
        Value::TinyInt(Some(n)) => write!(array, "{n}").ok()?,
        Value::SmallInt(Some(n)) => write!(array, "{n}").ok()?,
        Value::Int(Some(n)) => write!(array, "{n}").ok()?,
        Value::BigInt(Some(n)) => write!(array, "{n}").ok()?,
        // `{:?}` keeps full precision; NaN and infinities in PostgreSQL's spelling.
        Value::Double(Some(f)) if f.is_finite() => write!(array, "{f:?}").ok()?,
        Value::Double(Some(f)) if f.is_nan() => array.push_str("NaN"),
        Value::Double(Some(f)) => array.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" }),
        Value::Float(Some(f)) if f.is_finite() => write!(array, "{f:?}").ok()?,
        Value::Float(Some(f)) if f.is_nan() => array.push_str("NaN"),
        Value::Float(Some(f)) => array.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" }),
        #[cfg(feature = "decimal")]
        Value::Decimal(None) => array.push_str("NULL"),
        #[cfg(feature = "decimal")]
        Value::Decimal(Some(d)) => write!(array, "{d}").ok()?,
        Value::String(Some(s)) => push_array_text(array, s),
        Value::Uuid(Some(u)) => write!(array, "{u}").ok()?,
        Value::Json(Some(j)) => push_array_text(array, &j.to_string()),
        Value::Bytes(Some(b)) => {
            // bytea's hex form, its backslash escaped for the array.
            array.push_str("\"\\\\x");
            for byte in b.iter() {
                write!(array, "{byte:02x}").ok()?;
            }
            array.push('"');
        }
        Value::ChronoDate(Some(d)) => write!(array, "{d}").ok()?,
        Value::ChronoTime(Some(t)) => write!(array, "{t}").ok()?,
        Value::ChronoDateTime(Some(t)) => {
            array.push('"');
            push_timestamp(array, t)?;
            array.push('"');
        }
        _ => return None,
    }
    Some(())
}

/// A text element, double-quoted with `"` and `\` escaped (so `NULL`, commas and braces stay
/// text).
fn push_array_text(array: &mut String, text: &str) {
    array.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            array.push('\\');
        }
        array.push(c);
    }
    array.push('"');
}

/// Appends `"YYYY-MM-DD HH:MM:SS.ffffff"` (chrono's formatter costs more than the insert).
fn push_timestamp(array: &mut String, t: &chrono::NaiveDateTime) -> Option<()> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    // A leap second's nanoseconds run past 1e9; PostgreSQL has none.
    let micros = (t.nanosecond() % 1_000_000_000) / 1_000;
    let parts = [
        (year, 4, '-'),
        (t.month(), 2, '-'),
        (t.day(), 2, ' '),
        (t.hour(), 2, ':'),
        (t.minute(), 2, ':'),
        (t.second(), 2, '.'),
        (micros, 6, '"'),
    ];
    for (n, width, after) in parts {
        push_digits(array, n, width);
        if after != '"' {
            array.push(after);
        }
    }
    Some(())
}

/// Appends `n` as exactly `width` decimal digits, zero-padded.
fn push_digits(out: &mut String, mut n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for b in &buf[..width] {
        out.push(char::from(*b));
    }
}

#[cfg(test)]
mod constraint_tests {
    #[test]
    fn key_columns_come_from_the_detail_without_values() {
        assert_eq!(
            super::key_columns("Key (name)=(Mike) already exists."),
            ["name"]
        );
        assert_eq!(
            super::key_columns("Key (a, b)=(1, 2) is not present in table \"t\"."),
            ["a", "b"]
        );
        assert!(super::key_columns("Failing row contains (x).").is_empty());
    }
}
