//! MySQL and MariaDB.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
use sqlx::{ConnectOptions, Executor};

use std::sync::Arc;

use super::vocabulary::{CommentStyle, integrity};
use crate::async_database_functions::core::column::{Column, ServerDefault, SqlType};
use crate::async_database_functions::core::error::{Constraint, DatabaseError, ErrorKind};
use crate::async_database_functions::database_config::{DBConfig, SslMode};
use crate::async_database_functions::dialect::health::{Health, Staleness};

pub(super) const QUERY_BUILDER: sea_query::MysqlQueryBuilder = sea_query::MysqlQueryBuilder;
pub(super) const COMMENT_STYLE: CommentStyle = CommentStyle::Inline;
/// Whether sea-query's auto-increment keyword applies (else the type carries it).
pub(super) const AUTO_INCREMENT_KEYWORD: bool = true;
/// Whether the driver binds a `u64` above `i64::MAX`.
pub(super) const UNSIGNED_64: bool = true;
/// How identifiers are quoted.
pub(super) const IDENT_QUOTE: char = '`';
pub(super) const INSERT_RETURNING: bool = false;
/// Whether DDL is transactional.
/// Whether a read-only session's transaction is read only on the server: `START TRANSACTION READ ONLY`: the server refuses writes in it.
pub(super) const READ_ONLY_TRANSACTIONS: bool = true;
pub(super) const TRANSACTIONAL_DDL: bool = false;
/// Whether reading one row needs `LIMIT 1` for the server to stop.
pub(super) const LIMIT_FIRST_ROW: bool = true;
/// The server's port when the URI names none.
pub(super) const DEFAULT_PORT: Option<u16> = Some(3306);
/// The quoting and comment forms `text()`'s `:name` scanner skips.
pub(super) const TEXT_SYNTAX: crate::async_database_functions::dialect::scan::Syntax =
    crate::async_database_functions::dialect::scan::Syntax::MYSQL;
/// Whether a page and its total are read on two connections at once.
pub(super) const CONCURRENT_PAGE: bool = true;
pub(super) const INDEX_IF_NOT_EXISTS: bool = false;
pub(super) const LIST_TABLES: &str = "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
     WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'";
pub(super) const MAX_BIND_PARAMETERS: usize = 65535;

/// The most connections a pool opens: `pool_size + max_overflow`.
/// See [`super::role_sql`].
pub(super) const ROLE_SQL: Option<&str> = Some("SELECT CAST(@@global.read_only AS SIGNED)");
/// See [`super::replay_position_sql`].
pub(super) const REPLAY_POSITION_SQL: Option<&str> = None;
/// See [`super::write_position_sql`].
pub(super) const WRITE_POSITION_SQL: Option<&str> = None;
/// See [`super::is_read_only_error`].
pub(super) const READ_ONLY_CODES: &[&str] = &["1290", "1792", "25006"];
/// A connection that sent a statement longer than this (SQL or values, in bytes) is closed
/// when its session ends: the server keeps its network buffer as large as the largest packet
/// received and fills it with a result's rows before sending any (see [`super::hot`]). Reading
/// 10 000 rows (about 1 MB) on a connection that had received 64 KB took as long as on a fresh
/// one; after 256 KB, 1.15 times as long; after 1.5 MB, 1.6 times.
pub(super) const RETIRE_ABOVE: Option<usize> = Some(128 * 1024);

pub(super) fn max_connections(config: &DBConfig) -> u32 {
    config.max_connections()
}

#[cfg_attr(feature = "mysql-async", allow(dead_code))]
pub(super) async fn connect(
    config: &DBConfig,
    url: Option<&url::Url>,
    health: Arc<Health>,
    stale: Arc<Staleness>,
) -> Result<(sqlx::MySqlPool, Arc<super::hot::Hot<sqlx::MySql>>), DatabaseError> {
    let (options, _) = connect_options(config, url)?;
    let pool = sqlx_pool(config, options, stale.clone());
    Ok((
        pool,
        super::hot::Hot::new(config, health, stale, RETIRE_ABOVE),
    ))
}

/// sqlx's options for the server at `url` (one host of the URI), TLS included, and the URI in
/// the driver's own scheme (the mysql_async executor reads the password from it).
pub(super) fn connect_options(
    config: &DBConfig,
    url: Option<&url::Url>,
) -> Result<(MySqlConnectOptions, url::Url), DatabaseError> {
    let native = super::connect::native_url(url, "mysql")?;
    let mut options = MySqlConnectOptions::from_str(native.as_str())
        .map_err(|e| super::errors::map_with::<Errors>(config, e))?
        .statement_cache_capacity(config.query_cache_size())
        .disable_statement_logging();
    let args = config.connect_args();
    if let Some(charset) = &args.charset {
        options = options.charset(charset);
    }
    let tls = super::connect::tls(config)?;
    if let Some(mode) = tls.mode {
        options = options.ssl_mode(match mode {
            SslMode::Disable => MySqlSslMode::Disabled,
            SslMode::Allow | SslMode::Prefer => MySqlSslMode::Preferred,
            SslMode::Require => MySqlSslMode::Required,
            SslMode::VerifyCa => MySqlSslMode::VerifyCa,
            SslMode::VerifyFull => MySqlSslMode::VerifyIdentity,
        });
    }
    if let Some(root) = tls.root_cert {
        options = if root.is_inline() {
            options.ssl_ca_from_pem(root.as_str().as_bytes().to_vec())
        } else {
            options.ssl_ca(root.as_str())
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
    Ok((options, native))
}

/// sqlx's pool for `options` (lazy: it opens nothing until used).
pub(super) fn sqlx_pool(
    config: &DBConfig,
    options: MySqlConnectOptions,
    stale: Arc<Staleness>,
) -> sqlx::MySqlPool {
    let isolation = config.isolation_level();
    super::connect::recycle_on_acquire(MySqlPoolOptions::new(), config.pool_recycle(), stale)
        .max_connections(max_connections(config))
        .min_connections(0)
        .acquire_timeout(super::connect::acquire_timeout(config))
        .test_before_acquire(config.pool_pre_ping())
        .max_lifetime(config.pool_recycle())
        .idle_timeout(Some(Duration::from_secs(600)))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if let Some(level) = isolation {
                    let sql = format!("SET SESSION TRANSACTION ISOLATION LEVEL {}", level.as_sql());
                    conn.execute(sqlx::AssertSqlSafe(sql)).await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(options)
}

/// Nothing to adjust: the driver binds every integer width alike.
pub(super) fn normalize_values(values: &mut sea_query::Values) -> Result<(), DatabaseError> {
    super::binds::refuse_arrays("MySQL/MariaDB", values)
}

/// Prepared statements are re-described on every execution: nothing to key.
pub(super) fn key_by_types(_: &mut String, _: &sea_query::Values) {}

pub(super) fn push_placeholder(sql: &mut String, _: usize) {
    sql.push('?');
}

pub(super) fn type_sql(column: &Column) -> String {
    let keyed = column.primary_key || column.unique || column.index || column.foreign_key.is_some();
    match column.sql_type {
        SqlType::String(Some(n)) => format!("VARCHAR({n})"),
        // TEXT cannot be indexed without a prefix length; LONGTEXT holds any string.
        SqlType::String(None) if keyed => "VARCHAR(255)".into(),
        SqlType::String(None) => "LONGTEXT".into(),
        SqlType::SmallInteger => "SMALLINT".into(),
        SqlType::Integer => "INT".into(),
        SqlType::UnsignedInteger => "INT UNSIGNED".into(),
        SqlType::BigInteger => "BIGINT".into(),
        SqlType::Float => "FLOAT".into(),
        SqlType::Double => "DOUBLE".into(),
        // The widest: 35 digits before the point, 30 after (rust_decimal keeps 28).
        SqlType::Decimal => "DECIMAL(65, 30)".into(),
        SqlType::Boolean => "BOOL".into(),
        SqlType::TimestampUtc | SqlType::Timestamp => "DATETIME(6)".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME(6)".into(),
        SqlType::Uuid => "CHAR(36)".into(),
        SqlType::Json => "JSON".into(),
        SqlType::Bytes => "LONGBLOB".into(),
    }
}

pub(super) fn server_default_sql(default: ServerDefault, _: SqlType) -> Option<&'static str> {
    match default {
        ServerDefault::CurrentUtcTimestamp => Some("UTC_TIMESTAMP(6)"),
    }
}

/// The error `DatabaseError::source()` gives: [`sqlx::Error`] itself (its `Database` variant downcasts to `sqlx::mysql::MySqlDatabaseError`).
pub(super) fn driver_source(error: sqlx::Error) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(error)
}

/// Server error numbers: <https://mariadb.com/kb/en/mariadb-error-code-reference/>.
/// The driver's error code: what [`classify`] reads.
pub(super) fn error_code(db: &dyn sqlx::error::DatabaseError) -> Option<String> {
    if let Some(e) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return Some(e.number().to_string());
    }
    #[cfg(feature = "mysql-async")]
    if let Some(e) = db.try_downcast_ref::<super::mysql_engine::error::MyEngineDbError>() {
        return Some(e.number().to_string());
    }
    db.code().map(|c| c.into_owned())
}

pub(super) fn classify(code: &str) -> (ErrorKind, Option<Constraint>) {
    // sqlx reports the SQLSTATE as the code for MySQL; the error number is in the message
    // prefix for some, so both are accepted.
    match code {
        "1062" | "1586" | "1169" => integrity(Constraint::Unique),
        "1451" | "1452" | "1216" | "1217" => integrity(Constraint::ForeignKey),
        "1048" | "1364" => integrity(Constraint::NotNull),
        "3819" | "4025" => integrity(Constraint::Check),
        "1213" | "1205" | "40001" => (ErrorKind::SerializationFailure, None),
        // Access denied, unknown database: the connection cannot be made, as PostgreSQL's
        // 28000/3D000. Killed, server gone, shutdown, idle timeout: the connection is lost.
        // 1047: a Galera node that is not (yet) part of the primary component.
        "1044" | "1045" | "1049" | "1927" | "2006" | "2013" | "1053" | "4031" | "1047" => {
            (ErrorKind::ConnectionError, None)
        }
        "1366" | "1292" | "1264" | "1406" | "1265" | "3140" | "4038" => {
            (ErrorKind::InvalidInput, None)
        }
        c if c.starts_with("23") => (ErrorKind::IntegrityError, None),
        c if c.starts_with("22") => (ErrorKind::InvalidInput, None),
        c if c.starts_with("08") => (ErrorKind::ConnectionError, None),
        _ => (ErrorKind::DatabaseError, None),
    }
}

/// MySQL quotes the offending value in its messages (`Duplicate entry 'x' for key 'k'`,
/// `Incorrect integer value: 'x' for column …`, `Truncated incorrect DECIMAL value: 'x'`), at
/// times cut short: every single-quoted text is dropped except the key name after `for key`.
/// (Identifiers are quoted with backticks.)
pub(super) fn hide_values(_: ErrorKind, details: String) -> String {
    if let Some(rest) = details.strip_prefix("Duplicate entry ")
        && let Some(at) = rest.rfind(" for key ")
    {
        return format!("Duplicate entry (value hidden){}", &rest[at..]);
    }
    let mut out = String::with_capacity(details.len());
    let mut rest = details.as_str();
    while let Some(open) = rest.find('\'') {
        let (before, quoted) = rest.split_at(open);
        out.push_str(before);
        let keep = before.ends_with("for key ");
        // The closing quote is the last `'` before the next `' for`/`' at`, or the end.
        let close = quoted[1..]
            .find("' ")
            .or_else(|| quoted[1..].rfind('\''))
            .map(|c| c + 1);
        match close {
            Some(close) => {
                if keep {
                    out.push_str(&quoted[..=close]);
                } else {
                    out.push_str("'(value hidden)'");
                }
                rest = &quoted[close + 1..];
            }
            None => {
                out.push_str("'(value hidden)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// What MySQL/MariaDB's message says of the violated constraint: `… for key
/// 'users.ix_users_name'` (MySQL 8: table and key) or `for key 'ix_users_name'` (MariaDB), a
/// foreign key's `(`db`.`child`, CONSTRAINT `fk` FOREIGN KEY (`col`) …)`, `Column 'x' cannot be
/// null`, `Check constraint 'ck' is violated.` (MySQL) and ``CONSTRAINT `ck` failed for
/// `db`.`t` `` (MariaDB). The quoted value of a duplicate entry is never read.
pub(super) fn constraint_info(
    db: &dyn sqlx::error::DatabaseError,
) -> crate::async_database_functions::core::error::ConstraintInfo {
    constraint_in_message(db.message())
}

fn constraint_in_message(
    message: &str,
) -> crate::async_database_functions::core::error::ConstraintInfo {
    use crate::async_database_functions::core::error::{ConstraintInfo, split_qualified};
    let mut info = ConstraintInfo::default();
    let owned = |s: &str| Some(s.to_string());
    if let Some(at) = message.rfind(" for key '") {
        let key = &message[at + " for key '".len()..];
        let key = key.strip_suffix('\'').unwrap_or(key);
        let (table, name) = split_qualified(key);
        info.table = table.map(str::to_string);
        info.name = owned(name);
    } else if let Some((_, rest)) = message.split_once("foreign key constraint fails (") {
        if let Some((table, rest)) = rest.split_once(", CONSTRAINT ") {
            info.table = backticked(table).last().map(|t| t.to_string());
            info.name = backticked(rest).first().map(|n| n.to_string());
            if let Some((_, keys)) = rest.split_once(" FOREIGN KEY (") {
                let keys = keys.split_once(')').map_or(keys, |(k, _)| k);
                info.columns = backticked(keys).into_iter().map(str::to_string).collect();
            }
        }
    } else if let Some(column) = message
        .strip_prefix("Column '")
        .and_then(|rest| rest.strip_suffix("' cannot be null"))
    {
        info.columns.push(column.to_string());
    } else if let Some(name) = message
        .strip_prefix("Check constraint '")
        .and_then(|rest| rest.split_once("' is violated"))
    {
        info.name = owned(name.0);
    } else if let Some((name, table)) = message
        .strip_prefix("CONSTRAINT ")
        .and_then(|rest| rest.split_once(" failed for "))
    {
        info.name = backticked(name).first().map(|n| n.to_string());
        info.table = backticked(table).last().map(|t| t.to_string());
    }
    info
}

/// The `` `quoted` `` identifiers in `text`, in order.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
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
        constraint_info(db)
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
    use super::constraint_in_message as parse;

    #[test]
    fn duplicate_keys_name_the_key_and_table_never_the_value() {
        let info = parse("Duplicate entry 'for key ''x' for key 'users.ix_users_name'");
        assert_eq!(info.name.as_deref(), Some("ix_users_name"));
        assert_eq!(info.table.as_deref(), Some("users"));
        let info = parse("Duplicate entry 'x' for key 'ix_users_name'");
        assert_eq!(info.name.as_deref(), Some("ix_users_name"));
        assert_eq!(info.table, None);
    }

    #[test]
    fn foreign_keys_not_null_and_checks() {
        let info = parse(
            "Cannot add or update a child row: a foreign key constraint fails (`test`.`posts`, \
             CONSTRAINT `fk_posts_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`pkid`))",
        );
        assert_eq!(info.table.as_deref(), Some("posts"));
        assert_eq!(info.name.as_deref(), Some("fk_posts_user"));
        assert_eq!(info.columns, ["user_id"]);
        assert_eq!(parse("Column 'name' cannot be null").columns, ["name"]);
        assert_eq!(
            parse("Check constraint 'ck_age' is violated.")
                .name
                .as_deref(),
            Some("ck_age")
        );
        let info = parse("CONSTRAINT `ck_age` failed for `test`.`people`");
        assert_eq!(info.name.as_deref(), Some("ck_age"));
        assert_eq!(info.table.as_deref(), Some("people"));
    }
}

/// ` ON DUPLICATE KEY UPDATE col = VALUES(col), …` (see [`super::push_upsert`]): the server
/// finds the conflicting key itself.
pub(super) fn push_upsert(sql: &mut String, _keys: &[&str], updated: &[&str]) {
    sql.push_str(" ON DUPLICATE KEY UPDATE ");
    for (i, column) in updated.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        super::ident::push_quoted(IDENT_QUOTE, sql, column);
        sql.push_str(" = VALUES(");
        super::ident::push_quoted(IDENT_QUOTE, sql, column);
        sql.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_values_leave_keys_and_columns() {
        let hide = |s: &str| hide_values(ErrorKind::InvalidInput, s.to_string());
        assert_eq!(
            hide("Truncated incorrect DECIMAL value: 'abc'"),
            "Truncated incorrect DECIMAL value: '(value hidden)'"
        );
        assert_eq!(
            hide("Incorrect integer value: 'x y' for column `test`.`t`.`n` at row 1"),
            "Incorrect integer value: '(value hidden)' for column `test`.`t`.`n` at row 1"
        );
        assert_eq!(
            hide("Duplicate entry 'a' for key 'users.name'"),
            "Duplicate entry (value hidden) for key 'users.name'"
        );
        assert_eq!(
            hide("Cannot add 'unterminated"),
            "Cannot add '(value hidden)"
        );
    }
}
