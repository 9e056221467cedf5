//! PostgreSQL, and PostgreSQL-wire engines (CockroachDB).

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgSslMode};

use std::sync::Arc;

use super::vocabulary::{CommentStyle, integrity};
use crate::async_database_functions::core::column::{Column, ServerDefault, SqlType};
use crate::async_database_functions::core::error::{Constraint, DatabaseError, ErrorKind};
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::database_config::{DBConfig, SslMode};
use crate::async_database_functions::dialect::health::{Health, Staleness};

pub(super) const QUERY_BUILDER: sea_query::PostgresQueryBuilder = sea_query::PostgresQueryBuilder;
pub(super) const COMMENT_STYLE: CommentStyle = CommentStyle::Statement;
pub(super) const AUTO_INCREMENT_KEYWORD: bool = false;
/// Whether the driver binds a `u64` above `i64::MAX`.
pub(super) const UNSIGNED_64: bool = false;
/// How identifiers are quoted.
pub(super) const IDENT_QUOTE: char = '"';
pub(super) const INSERT_RETURNING: bool = true;
/// Whether DDL is transactional.
/// Whether a read-only session's transaction is read only on the server: `BEGIN READ ONLY`: the server refuses writes in it.
pub(super) const READ_ONLY_TRANSACTIONS: bool = true;
pub(super) const TRANSACTIONAL_DDL: bool = true;
/// Whether reading one row needs `LIMIT 1` for the server to stop.
pub(super) const LIMIT_FIRST_ROW: bool = true;
/// The server's port when the URI names none.
pub(super) const DEFAULT_PORT: Option<u16> = Some(5432);
/// The quoting and comment forms `text()`'s `:name` scanner skips.
pub(super) const TEXT_SYNTAX: crate::async_database_functions::dialect::scan::Syntax =
    crate::async_database_functions::dialect::scan::Syntax::POSTGRES;
/// Whether a page and its total are read on two connections at once.
pub(super) const CONCURRENT_PAGE: bool = true;
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
/// No limit: a backend's send buffer does not hold a result back for the size of an earlier
/// statement.
pub(super) const RETIRE_ABOVE: Option<usize> = None;

pub(super) fn max_connections(config: &DBConfig) -> u32 {
    config.max_connections()
}

// With `pg-pipeline` the tokio-postgres executor connects instead (`pg_engine::connect`).
#[cfg_attr(feature = "pg-pipeline", allow(dead_code))]
pub(super) async fn connect(
    config: &DBConfig,
    url: Option<&url::Url>,
    health: Arc<Health>,
    stale: Arc<Staleness>,
) -> Result<(sqlx::PgPool, Arc<super::hot::Hot<sqlx::Postgres>>), DatabaseError> {
    let (options, _) = connect_options(config, url)?;
    Ok((
        sqlx_pool(config, options, stale.clone()),
        super::hot::Hot::new(config, health, stale, RETIRE_ABOVE),
    ))
}

/// sqlx's options for the server at `url` (one host of the URI), and that URL with the
/// driver's scheme.
pub(super) fn connect_options(
    config: &DBConfig,
    url: Option<&url::Url>,
) -> Result<(PgConnectOptions, url::Url), DatabaseError> {
    let native = super::connect::native_url(url, "postgres")?;
    let mut options = PgConnectOptions::from_str(native.as_str())
        .map_err(|e| super::errors::map_with::<Errors>(config, e))?
        .statement_cache_capacity(config.query_cache_size())
        .disable_statement_logging();
    let args = config.connect_args();
    if let Some(name) = &args.application_name {
        options = options.application_name(name);
    }
    let tls = super::connect::tls(config)?;
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
    Ok((options, native))
}

/// sqlx's pool (lazy: it opens no connection until used).
pub(super) fn sqlx_pool(
    config: &DBConfig,
    options: PgConnectOptions,
    stale: Arc<Staleness>,
) -> sqlx::PgPool {
    super::connect::recycle_on_acquire(PgPoolOptions::new(), config.pool_recycle(), stale)
        .max_connections(max_connections(config))
        .min_connections(0)
        .acquire_timeout(super::connect::acquire_timeout(config))
        .test_before_acquire(config.pool_pre_ping())
        .max_lifetime(config.pool_recycle())
        .idle_timeout(Some(Duration::from_secs(600)))
        .connect_lazy_with(options)
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
            // An array, by the kind it is bound as: the element's letter in capitals.
            Value::Array(ty, _) => match kind_of_array(ty) {
                Some(ArrayKind::Bool) => 'B',
                Some(ArrayKind::Int) => 'I',
                Some(ArrayKind::Float) => 'F',
                Some(ArrayKind::Text) => 'S',
                Some(ArrayKind::Bytes) => 'X',
                Some(ArrayKind::Uuid) => 'U',
                Some(ArrayKind::Json) => 'J',
                Some(ArrayKind::Date) => 'D',
                Some(ArrayKind::Time) => 'T',
                Some(ArrayKind::Timestamp) => 'M',
                #[cfg(feature = "decimal")]
                Some(ArrayKind::Decimal) => 'N',
                None => 'A',
            },
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

/// The error `DatabaseError::source()` gives: [`sqlx::Error`] itself (its `Database` variant downcasts to `sqlx::postgres::PgDatabaseError`).
pub(super) fn driver_source(error: sqlx::Error) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(error)
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
) -> crate::async_database_functions::core::error::ConstraintInfo {
    let mut info = crate::async_database_functions::core::error::ConstraintInfo {
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
pub(super) fn key_columns(detail: &str) -> Vec<String> {
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

/// Whether every value is admitted by its column's array (`kinds`, row after row): a value
/// of another type has no place in that typed array.
fn all_admitted(kinds: &[ArrayKind], values: &[sea_query::Value]) -> bool {
    !kinds.is_empty()
        && values.len().is_multiple_of(kinds.len())
        && values
            .chunks_exact(kinds.len())
            .all(|row| row.iter().zip(kinds).all(|(v, k)| k.admits(v)))
}

/// ` WHERE t.key = ANY($1::type[])`, appended to a select of `table` to read the rows of many
/// keys in one statement with one parameter, whatever their number (so one SQL text, prepared
/// once); the keys are bound as one typed array. `None` when a key has no place in the key
/// column's array (the caller binds them one by one in `IN (…)`).
pub(super) fn any_key_clause(
    table: &str,
    key: &Column,
    keys: &[sea_query::Value],
) -> Option<(String, Vec<ArrayKind>)> {
    let kinds = vec![ArrayKind::of(key.sql_type)?];
    if !all_admitted(&kinds, keys) {
        return None;
    }
    let mut sql = String::with_capacity(48);
    sql.push_str(" WHERE ");
    super::ident::push_quoted(IDENT_QUOTE, &mut sql, table);
    sql.push('.');
    super::ident::push_quoted(IDENT_QUOTE, &mut sql, key.name);
    sql.push_str(" = ANY($1::");
    sql.push_str(array_type(key.sql_type));
    sql.push_str("[])");
    Some((sql, kinds))
}

/// What the message of the error [`unnest_update`]'s guard raises starts with.
const GUARD_MARKER: &str = "dsg_lib update_many:";

/// `UPDATE t SET a = v.x1, b = v.x2 FROM unnest($1::text[], $2::integer[], …) AS v(x0, x1, …)
/// WHERE t.key = v.x0`: many rows, each with its own values, in one statement whose SQL does
/// not depend on the row count. `values` are row after row, the key first (each key once),
/// then one value per column of `columns`; bound as one typed array per column. `None` when a
/// value has no place in its column's array.
///
/// With `all_or_none`, the statement updates every row or none by itself, so that it needs no
/// transaction around it: the update runs in a CTE that returns a row per row updated, and
/// the statement fails (SQLSTATE 22P02, [`GUARD_MARKER`] in its message) when their count is
/// not `cardinality($1)`, which undoes the whole statement. A row deleted by another session
/// before or while it runs is not updated, so it counts as missing. No row is locked but the
/// ones updated (an earlier form locked every key's row with `FOR UPDATE` first: about a
/// fifth more server time for 20 rows).
pub(super) fn unnest_update(
    table: &str,
    key: &Column,
    columns: &[&Column],
    values: &[sea_query::Value],
    all_or_none: bool,
) -> Option<(String, Vec<ArrayKind>)> {
    use std::fmt::Write as _;
    let kinds = std::iter::once(key)
        .chain(columns.iter().copied())
        .map(|c| ArrayKind::of(c.sql_type))
        .collect::<Option<Vec<_>>>()?;
    if columns.is_empty() || !all_admitted(&kinds, values) {
        return None;
    }
    let mut sql = String::with_capacity(160 + columns.len() * 40);
    let keys = format!("$1::{}[]", array_type(key.sql_type));
    if all_or_none {
        sql.push_str("WITH \"u\" AS (");
    }
    sql.push_str("UPDATE ");
    super::ident::push_quoted(IDENT_QUOTE, &mut sql, table);
    sql.push_str(" SET ");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        super::ident::push_quoted(IDENT_QUOTE, &mut sql, column.name);
        let _ = write!(sql, " = \"v\".x{}", i + 1);
    }
    sql.push_str(" FROM unnest(");
    for (i, column) in std::iter::once(key)
        .chain(columns.iter().copied())
        .enumerate()
    {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "${}::{}[]", i + 1, array_type(column.sql_type));
    }
    sql.push_str(") AS \"v\"(");
    for i in 0..=columns.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "x{i}");
    }
    sql.push_str(") WHERE ");
    super::ident::push_quoted(IDENT_QUOTE, &mut sql, table);
    sql.push('.');
    super::ident::push_quoted(IDENT_QUOTE, &mut sql, key.name);
    sql.push_str(" = \"v\".x0");
    if all_or_none {
        // The `ELSE` depends on the count, so the planner cannot fold it into an error of
        // its own.
        let _ = write!(
            sql,
            " RETURNING 1) SELECT CASE WHEN count(*) = cardinality({keys}) THEN count(*) \
             ELSE ('{GUARD_MARKER} ' || count(*) || ' of ' || cardinality({keys}) \
             || ' keys have a row; nothing was updated')::bigint END FROM \"u\""
        );
    }
    Some((sql, kinds))
}

/// The bulk form of `INSERT … VALUES`: one array per column,
/// `INSERT INTO t (a, b) SELECT unnest($1::text[]), unnest($2::timestamp[])`. The SQL has one
/// parameter per column whatever the row count, so it is parsed and planned once and cached.
/// PostgreSQL runs set-returning functions of a select list in lockstep (the arrays are of one
/// length), row by row into the insert; `SELECT * FROM UNNEST(…)` first gathers every row in a
/// tuplestore, which made the same 10 000-row insert about 13 % slower on the server (psql,
/// twelve runs each: median 65 ms against 75 ms). CockroachDB keeps the `FROM UNNEST` form.
/// The values stay as they are (row after row, for logs and error redaction); they are bound
/// as one typed binary array per column by [`array_arguments`], with the element types
/// returned here. `None` when a value has no array form in its column (the caller falls back
/// to `VALUES`).
pub(super) fn unnest_insert(
    dialect: Dialect,
    table: &str,
    columns: &[&Column],
    values: &[sea_query::Value],
    upsert: Option<(&[&str], &[&str])>,
    returning: &[&str],
) -> Option<(String, Vec<ArrayKind>)> {
    use std::fmt::Write as _;
    let width = columns.len();
    let select_list = dialect == Dialect::Postgresql;
    // CockroachDB's `FROM UNNEST(…)` form is not tried with `ON CONFLICT` (untested there).
    if width == 0 || !values.len().is_multiple_of(width) || (upsert.is_some() && !select_list) {
        return None;
    }
    let kinds = columns
        .iter()
        .map(|c| ArrayKind::of(c.sql_type))
        .collect::<Option<Vec<_>>>()?;
    for row in values.chunks_exact(width) {
        if !row
            .iter()
            .zip(&kinds)
            .all(|(value, kind)| kind.admits(value))
        {
            return None;
        }
    }
    let mut sql = String::with_capacity(64 + width * 32);
    sql.push_str("INSERT INTO ");
    super::ident::push_quoted(IDENT_QUOTE, &mut sql, table);
    sql.push_str(" (");
    super::ident::push_quoted_list(IDENT_QUOTE, &mut sql, columns.iter().map(|c| c.name));
    sql.push_str(if select_list {
        ") SELECT "
    } else {
        ") SELECT * FROM UNNEST("
    });
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let array = array_type(column.sql_type);
        let _ = if select_list {
            write!(sql, "unnest(${}::{array}[])", i + 1)
        } else {
            write!(sql, "${}::{array}[]", i + 1)
        };
    }
    if !select_list {
        sql.push(')');
    }
    if let Some((keys, updated)) = upsert {
        push_upsert(&mut sql, keys, updated);
    }
    if !returning.is_empty() {
        sql.push_str(" RETURNING ");
        super::ident::push_quoted_list(IDENT_QUOTE, &mut sql, returning.iter().copied());
    }
    Some((sql, kinds))
}

/// The element type of a column's array in the SQL (identity columns cast as their plain
/// type). The bound array is of [`ArrayKind`]'s type; where the two differ (an `int8[]` for an
/// `integer` column) the server casts it.
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

/// The element type a column's values are bound as in [`unnest_insert`]'s arrays. It follows
/// from the column's SQL type alone, so one SQL text always binds the same parameter types
/// (sqlx caches a prepared statement by its text, with the types of its first run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArrayKind {
    Bool,
    /// Every integer width, as `int8`.
    Int,
    /// `real` and `double precision`, as `float8`.
    Float,
    Text,
    Bytes,
    Uuid,
    Json,
    Date,
    Time,
    Timestamp,
    #[cfg(feature = "decimal")]
    Decimal,
}

impl ArrayKind {
    /// The kind of a column of type `ty`; `None` where values are bound one by one (a decimal
    /// column without the `decimal` feature).
    fn of(ty: SqlType) -> Option<ArrayKind> {
        Some(match ty {
            SqlType::String(_) => ArrayKind::Text,
            SqlType::SmallInteger
            | SqlType::Integer
            | SqlType::UnsignedInteger
            | SqlType::BigInteger => ArrayKind::Int,
            SqlType::Float | SqlType::Double => ArrayKind::Float,
            #[cfg(feature = "decimal")]
            SqlType::Decimal => ArrayKind::Decimal,
            #[cfg(not(feature = "decimal"))]
            SqlType::Decimal => return None,
            SqlType::Boolean => ArrayKind::Bool,
            SqlType::TimestampUtc | SqlType::Timestamp => ArrayKind::Timestamp,
            SqlType::Date => ArrayKind::Date,
            SqlType::Time => ArrayKind::Time,
            SqlType::Uuid => ArrayKind::Uuid,
            SqlType::Json => ArrayKind::Json,
            SqlType::Bytes => ArrayKind::Bytes,
        })
    }

    /// Whether `value` is an element of this kind's array: a value of its type, or a NULL of
    /// any type that has an array form.
    fn admits(self, value: &sea_query::Value) -> bool {
        element_kind(value).is_some_and(|(kind, null)| null || kind == self)
    }
}

/// The array kind of a value's type and whether the value is NULL; `None` for a type without
/// an array form here (a zoned timestamp, an enum).
fn element_kind(value: &sea_query::Value) -> Option<(ArrayKind, bool)> {
    use sea_query::Value as V;
    Some(match value {
        V::Bool(v) => (ArrayKind::Bool, v.is_none()),
        V::TinyInt(v) => (ArrayKind::Int, v.is_none()),
        V::SmallInt(v) => (ArrayKind::Int, v.is_none()),
        V::Int(v) => (ArrayKind::Int, v.is_none()),
        V::BigInt(v) => (ArrayKind::Int, v.is_none()),
        V::TinyUnsigned(v) => (ArrayKind::Int, v.is_none()),
        V::SmallUnsigned(v) => (ArrayKind::Int, v.is_none()),
        V::Unsigned(v) => (ArrayKind::Int, v.is_none()),
        // Above `i64::MAX` it is refused before binding (`normalize_values`).
        V::BigUnsigned(v) => (ArrayKind::Int, v.is_none()),
        V::Float(v) => (ArrayKind::Float, v.is_none()),
        V::Double(v) => (ArrayKind::Float, v.is_none()),
        V::String(v) => (ArrayKind::Text, v.is_none()),
        V::Char(v) => (ArrayKind::Text, v.is_none()),
        V::Bytes(v) => (ArrayKind::Bytes, v.is_none()),
        V::Uuid(v) => (ArrayKind::Uuid, v.is_none()),
        V::Json(v) => (ArrayKind::Json, v.is_none()),
        V::ChronoDate(v) => (ArrayKind::Date, v.is_none()),
        V::ChronoTime(v) => (ArrayKind::Time, v.is_none()),
        V::ChronoDateTime(v) => (ArrayKind::Timestamp, v.is_none()),
        #[cfg(feature = "decimal")]
        V::Decimal(v) => (ArrayKind::Decimal, v.is_none()),
        _ => return None,
    })
}

/// One column's values as the Rust type sqlx encodes as a binary PostgreSQL array.
#[derive(Debug, PartialEq)]
pub(crate) enum TypedArray {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
    Uuid(Vec<Option<uuid::Uuid>>),
    Json(Vec<Option<serde_json::Value>>),
    Date(Vec<Option<chrono::NaiveDate>>),
    Time(Vec<Option<chrono::NaiveTime>>),
    Timestamp(Vec<Option<chrono::NaiveDateTime>>),
    #[cfg(feature = "decimal")]
    Decimal(Vec<Option<rust_decimal::Decimal>>),
}

impl TypedArray {
    pub(super) fn with_capacity(kind: ArrayKind, rows: usize) -> Self {
        match kind {
            ArrayKind::Bool => TypedArray::Bool(Vec::with_capacity(rows)),
            ArrayKind::Int => TypedArray::Int(Vec::with_capacity(rows)),
            ArrayKind::Float => TypedArray::Float(Vec::with_capacity(rows)),
            ArrayKind::Text => TypedArray::Text(Vec::with_capacity(rows)),
            ArrayKind::Bytes => TypedArray::Bytes(Vec::with_capacity(rows)),
            ArrayKind::Uuid => TypedArray::Uuid(Vec::with_capacity(rows)),
            ArrayKind::Json => TypedArray::Json(Vec::with_capacity(rows)),
            ArrayKind::Date => TypedArray::Date(Vec::with_capacity(rows)),
            ArrayKind::Time => TypedArray::Time(Vec::with_capacity(rows)),
            ArrayKind::Timestamp => TypedArray::Timestamp(Vec::with_capacity(rows)),
            #[cfg(feature = "decimal")]
            ArrayKind::Decimal => TypedArray::Decimal(Vec::with_capacity(rows)),
        }
    }

    /// Appends `value` (moved, not copied); `None` when it is not of this array's type.
    pub(super) fn push(&mut self, value: sea_query::Value) -> Option<()> {
        use sea_query::Value as V;
        match (self, value) {
            (TypedArray::Bool(a), V::Bool(v)) => a.push(v),
            (TypedArray::Int(a), V::BigInt(v)) => a.push(v),
            (TypedArray::Int(a), V::Int(v)) => a.push(v.map(i64::from)),
            (TypedArray::Int(a), V::SmallInt(v)) => a.push(v.map(i64::from)),
            (TypedArray::Int(a), V::TinyInt(v)) => a.push(v.map(i64::from)),
            (TypedArray::Int(a), V::Unsigned(v)) => a.push(v.map(i64::from)),
            (TypedArray::Int(a), V::SmallUnsigned(v)) => a.push(v.map(i64::from)),
            (TypedArray::Int(a), V::TinyUnsigned(v)) => a.push(v.map(i64::from)),
            (TypedArray::Int(a), V::BigUnsigned(v)) => {
                a.push(v.map(i64::try_from).transpose().ok()?)
            }
            (TypedArray::Float(a), V::Double(v)) => a.push(v),
            (TypedArray::Float(a), V::Float(v)) => a.push(v.map(f64::from)),
            (TypedArray::Text(a), V::String(v)) => a.push(v),
            (TypedArray::Text(a), V::Char(v)) => a.push(v.map(String::from)),
            (TypedArray::Bytes(a), V::Bytes(v)) => a.push(v),
            (TypedArray::Uuid(a), V::Uuid(v)) => a.push(v),
            (TypedArray::Json(a), V::Json(v)) => a.push(v.map(|j| *j)),
            (TypedArray::Date(a), V::ChronoDate(v)) => a.push(v),
            (TypedArray::Time(a), V::ChronoTime(v)) => a.push(v),
            (TypedArray::Timestamp(a), V::ChronoDateTime(v)) => a.push(v),
            #[cfg(feature = "decimal")]
            (TypedArray::Decimal(a), V::Decimal(v)) => a.push(v),
            (array, value) if element_kind(&value).is_some_and(|(_, null)| null) => {
                array.push_null()
            }
            _ => return None,
        }
        Some(())
    }

    fn push_null(&mut self) {
        match self {
            TypedArray::Bool(a) => a.push(None),
            TypedArray::Int(a) => a.push(None),
            TypedArray::Float(a) => a.push(None),
            TypedArray::Text(a) => a.push(None),
            TypedArray::Bytes(a) => a.push(None),
            TypedArray::Uuid(a) => a.push(None),
            TypedArray::Json(a) => a.push(None),
            TypedArray::Date(a) => a.push(None),
            TypedArray::Time(a) => a.push(None),
            TypedArray::Timestamp(a) => a.push(None),
            #[cfg(feature = "decimal")]
            TypedArray::Decimal(a) => a.push(None),
        }
    }

    /// Encodes the array as the next parameter of `args`.
    fn bind(self, args: &mut PgArguments) -> Result<(), BoxDynError> {
        use sqlx::Arguments as _;
        match self {
            TypedArray::Bool(a) => args.add(a),
            TypedArray::Int(a) => args.add(a),
            TypedArray::Float(a) => args.add(a),
            TypedArray::Text(a) => args.add(a),
            TypedArray::Bytes(a) => args.add(a),
            TypedArray::Uuid(a) => args.add(a),
            TypedArray::Json(a) => args.add(a),
            TypedArray::Date(a) => args.add(a),
            TypedArray::Time(a) => args.add(a),
            TypedArray::Timestamp(a) => args.add(a),
            #[cfg(feature = "decimal")]
            TypedArray::Decimal(a) => args.add(a),
        }
    }
}

/// Splits row-major `values` into one array per column, of the types `kinds` names; `None`
/// when a value does not fit its column's array (or the values are not whole rows).
pub(super) fn typed_arrays(
    values: Vec<sea_query::Value>,
    kinds: &[ArrayKind],
) -> Option<Vec<TypedArray>> {
    let width = kinds.len();
    if width == 0 || !values.len().is_multiple_of(width) {
        return None;
    }
    let rows = values.len() / width;
    let mut arrays: Vec<TypedArray> = kinds
        .iter()
        .map(|kind| TypedArray::with_capacity(*kind, rows))
        .collect();
    let mut values = values.into_iter();
    for _ in 0..rows {
        for array in &mut arrays {
            array.push(values.next()?)?;
        }
    }
    Some(arrays)
}

/// The arguments of an [`unnest_insert`]: row-major `values` bound as one typed binary array
/// per column, whose element types `kinds` names.
///
/// # Errors
///
/// An encoding error when a value does not fit its column's array (`unnest_insert` checked
/// them, so only a value changed since) or the driver cannot encode an array.
pub(super) fn array_arguments(
    values: sea_query::Values,
    kinds: &[ArrayKind],
) -> Result<PgArguments, BoxDynError> {
    let arrays = typed_arrays(values.0, kinds)
        .ok_or("a bulk insert's value does not fit its column's array")?;
    let mut args = PgArguments::default();
    for array in arrays {
        array.bind(&mut args)?;
    }
    Ok(args)
}

/// Whether a value is an array bound in `text()` (`Vec<i32>`, `Vec<String>`, …), which
/// [`arguments_with_arrays`] binds.
#[cfg_attr(feature = "pg-pipeline", allow(dead_code))]
pub(super) fn has_array(values: &sea_query::Values) -> bool {
    values.0.iter().any(sea_query::Value::is_array)
}

/// The array kind of a `text()` array's element type; `None` for one without an array form
/// here.
pub(super) fn kind_of_array(ty: &sea_query::ArrayType) -> Option<ArrayKind> {
    use sea_query::ArrayType as A;
    Some(match ty {
        A::Bool => ArrayKind::Bool,
        A::TinyInt
        | A::SmallInt
        | A::Int
        | A::BigInt
        | A::TinyUnsigned
        | A::SmallUnsigned
        | A::Unsigned
        | A::BigUnsigned => ArrayKind::Int,
        A::Float | A::Double => ArrayKind::Float,
        A::String | A::Char => ArrayKind::Text,
        A::Bytes => ArrayKind::Bytes,
        A::Uuid => ArrayKind::Uuid,
        A::Json => ArrayKind::Json,
        A::ChronoDate => ArrayKind::Date,
        A::ChronoTime => ArrayKind::Time,
        A::ChronoDateTime => ArrayKind::Timestamp,
        #[cfg(feature = "decimal")]
        A::Decimal => ArrayKind::Decimal,
        _ => return None,
    })
}

/// Binds a NULL array of `kind`'s type.
#[cfg_attr(feature = "pg-pipeline", allow(dead_code))]
fn null_array(kind: ArrayKind, args: &mut PgArguments) -> Result<(), BoxDynError> {
    use sqlx::Arguments as _;
    match kind {
        ArrayKind::Bool => args.add(None::<Vec<Option<bool>>>),
        ArrayKind::Int => args.add(None::<Vec<Option<i64>>>),
        ArrayKind::Float => args.add(None::<Vec<Option<f64>>>),
        ArrayKind::Text => args.add(None::<Vec<Option<String>>>),
        ArrayKind::Bytes => args.add(None::<Vec<Option<Vec<u8>>>>),
        ArrayKind::Uuid => args.add(None::<Vec<Option<uuid::Uuid>>>),
        ArrayKind::Json => args.add(None::<Vec<Option<serde_json::Value>>>),
        ArrayKind::Date => args.add(None::<Vec<Option<chrono::NaiveDate>>>),
        ArrayKind::Time => args.add(None::<Vec<Option<chrono::NaiveTime>>>),
        ArrayKind::Timestamp => args.add(None::<Vec<Option<chrono::NaiveDateTime>>>),
        #[cfg(feature = "decimal")]
        ArrayKind::Decimal => args.add(None::<Vec<Option<rust_decimal::Decimal>>>),
    }
}

/// The arguments of a statement that binds arrays (`text("… = ANY(:ids)").bind("ids",
/// vec![1, 2])`): each array as a binary PostgreSQL array of its element type (integers as
/// `bigint[]`, floats as `double precision[]`; the server casts where the SQL says
/// `::int[]`), NULL elements and a NULL array included; every other value as sqlx binds it.
///
/// # Errors
///
/// A value of a type this cannot bind beside an array (a zoned timestamp, an enum), or an
/// element that is not of its array's type.
#[cfg_attr(feature = "pg-pipeline", allow(dead_code))]
pub(super) fn arguments_with_arrays(values: sea_query::Values) -> Result<PgArguments, BoxDynError> {
    use sea_query::Value as V;
    use sqlx::Arguments as _;
    let mut args = PgArguments::default();
    for (n, value) in values.0.into_iter().enumerate() {
        match value {
            V::Array(ty, elements) => {
                let kind = kind_of_array(&ty)
                    .ok_or_else(|| format!("bound value {}: no array of {ty:?} here", n + 1))?;
                let Some(elements) = elements else {
                    null_array(kind, &mut args)?;
                    continue;
                };
                let mut array = TypedArray::with_capacity(kind, elements.len());
                for element in *elements {
                    array.push(element).ok_or_else(|| {
                        format!(
                            "bound value {}: an element is not of the array's type",
                            n + 1
                        )
                    })?;
                }
                array.bind(&mut args)?;
            }
            V::Bool(v) => args.add(v)?,
            V::TinyInt(v) => args.add(v.map(i64::from))?,
            V::SmallInt(v) => args.add(v.map(i64::from))?,
            V::Int(v) => args.add(v.map(i64::from))?,
            V::BigInt(v) => args.add(v)?,
            V::TinyUnsigned(v) => args.add(v.map(i64::from))?,
            V::SmallUnsigned(v) => args.add(v.map(i64::from))?,
            V::Unsigned(v) => args.add(v.map(i64::from))?,
            V::BigUnsigned(v) => args.add(v.map(i64::try_from).transpose()?)?,
            V::Float(v) => args.add(v.map(f64::from))?,
            V::Double(v) => args.add(v)?,
            V::String(v) => args.add(v)?,
            V::Char(v) => args.add(v.map(String::from))?,
            V::Bytes(v) => args.add(v)?,
            V::Json(v) => args.add(v.map(|j| *j))?,
            V::Uuid(v) => args.add(v)?,
            V::ChronoDate(v) => args.add(v)?,
            V::ChronoTime(v) => args.add(v)?,
            V::ChronoDateTime(v) => args.add(v)?,
            V::ChronoDateTimeUtc(v) => args.add(v)?,
            #[cfg(feature = "decimal")]
            V::Decimal(v) => args.add(v)?,
            other => {
                return Err(format!(
                    "bound value {}: {other:?} cannot be bound beside an array",
                    n + 1
                )
                .into());
            }
        }
    }
    Ok(args)
}

/// ` ON CONFLICT (keys) DO UPDATE SET col = excluded.col, …` (see [`super::push_upsert`]).
pub(super) fn push_upsert(sql: &mut String, keys: &[&str], updated: &[&str]) {
    super::ident::push_on_conflict(IDENT_QUOTE, sql, keys, updated);
}

/// This backend's rules for its driver's errors (see [`super::errors::map_with`]).
pub(super) struct Errors;

impl super::errors::ErrorMapping for Errors {
    fn error_code(db: &dyn sqlx::error::DatabaseError) -> Option<String> {
        error_code(db)
    }
    fn classify(code: &str) -> (ErrorKind, Option<Constraint>) {
        classify(code)
    }
    fn hide_values(kind: ErrorKind, details: String) -> String {
        hide_values(kind, details)
    }
    fn constraint_info(
        db: &dyn sqlx::error::DatabaseError,
    ) -> crate::async_database_functions::core::error::ConstraintInfo {
        #[allow(unused_mut)]
        let mut info = constraint_info(db);
        // The tokio-postgres executor's errors carry the column and detail in their own type.
        #[cfg(feature = "pg-pipeline")]
        super::pg_engine::error::complete_info(db, &mut info, key_columns);
        info
    }
    fn driver_source(error: sqlx::Error) -> Box<dyn std::error::Error + Send + Sync> {
        driver_source(error)
    }
    fn max_connections(config: &DBConfig) -> u32 {
        max_connections(config)
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

#[cfg(test)]
mod array_tests {
    use super::{ArrayKind, TypedArray, typed_arrays};
    use sea_query::Value;

    #[test]
    fn values_split_into_one_typed_array_per_column() {
        let at = chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 58, 123_456))
            .expect("a valid timestamp");
        let kinds = [
            ArrayKind::Text,
            ArrayKind::Int,
            ArrayKind::Timestamp,
            ArrayKind::Float,
        ];
        let values = vec![
            Value::from("it's \"x\", {y}"),
            Value::Int(Some(7)),
            Value::ChronoDateTime(Some(at)),
            Value::Float(Some(1.5)),
            Value::String(None),
            Value::BigInt(Some(i64::MAX)),
            Value::ChronoDateTime(None),
            // A NULL of another type is a NULL of the column's.
            Value::String(None),
        ];
        assert!(
            values
                .iter()
                .zip(kinds.iter().cycle())
                .all(|(v, k)| k.admits(v))
        );
        assert_eq!(
            typed_arrays(values, &kinds),
            Some(vec![
                TypedArray::Text(vec![Some("it's \"x\", {y}".into()), None]),
                TypedArray::Int(vec![Some(7), Some(i64::MAX)]),
                TypedArray::Timestamp(vec![Some(at), None]),
                TypedArray::Float(vec![Some(1.5), None]),
            ])
        );
    }

    #[test]
    fn a_value_of_another_type_has_no_place_in_the_array() {
        assert!(!ArrayKind::Int.admits(&Value::from("1")));
        assert!(!ArrayKind::Text.admits(&Value::ChronoDateTimeUtc(None)));
        assert_eq!(
            typed_arrays(vec![Value::from("1")], &[ArrayKind::Int]),
            None
        );
        // Values that are not whole rows.
        assert_eq!(
            typed_arrays(vec![Value::Int(Some(1))], &[ArrayKind::Int, ArrayKind::Int]),
            None
        );
        assert_eq!(
            typed_arrays(vec![Value::BigUnsigned(Some(u64::MAX))], &[ArrayKind::Int]),
            None
        );
    }
}

#[cfg(test)]
mod batch_tests {
    use super::{ArrayKind, any_key_clause, unnest_update};
    use crate::async_database_functions::core::column::{Column, SqlType};
    use sea_query::Value;

    #[test]
    fn many_keys_are_one_array_parameter() {
        let key = Column::new("id", SqlType::Integer);
        let (sql, kinds) =
            any_key_clause("world", &key, &[Value::Int(Some(1)), Value::Int(Some(2))])
                .expect("integers have an array form");
        assert_eq!(sql, r#" WHERE "world"."id" = ANY($1::integer[])"#);
        assert_eq!(kinds, [ArrayKind::Int]);
        // A key of another type than the column's is bound one by one instead.
        assert!(any_key_clause("world", &key, &[Value::String(Some("1".into()))]).is_none());
    }

    #[test]
    fn many_rows_update_from_one_array_per_column() {
        let key = Column::new("id", SqlType::Integer);
        let number = Column::new("randomnumber", SqlType::Integer);
        let name = Column::new("name", SqlType::String(Some(10)));
        let values = [
            Value::Int(Some(1)),
            Value::Int(Some(10)),
            Value::String(Some("a".into())),
            Value::Int(Some(2)),
            Value::Int(None),
            Value::String(Some("b".into())),
        ];
        let (sql, kinds) = unnest_update("world", &key, &[&number, &name], &values, false)
            .expect("every value has an array form");
        assert_eq!(
            sql,
            r#"UPDATE "world" SET "randomnumber" = "v".x1, "name" = "v".x2 FROM unnest($1::integer[], $2::integer[], $3::text[]) AS "v"(x0, x1, x2) WHERE "world"."id" = "v".x0"#
        );
        assert_eq!(kinds, [ArrayKind::Int, ArrayKind::Int, ArrayKind::Text]);
        assert!(unnest_update("world", &key, &[], &values[..1], false).is_none());
        let (sql, _) = unnest_update("world", &key, &[&number], &values[..2], true)
            .expect("every value has an array form");
        assert_eq!(
            sql,
            r#"WITH "u" AS (UPDATE "world" SET "randomnumber" = "v".x1 FROM unnest($1::integer[], $2::integer[]) AS "v"(x0, x1) WHERE "world"."id" = "v".x0 RETURNING 1) SELECT CASE WHEN count(*) = cardinality($1::integer[]) THEN count(*) ELSE ('dsg_lib update_many: ' || count(*) || ' of ' || cardinality($1::integer[]) || ' keys have a row; nothing was updated')::bigint END FROM "u""#
        );
    }
}
