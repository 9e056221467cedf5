//! MySQL and MariaDB.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
use sqlx::{ConnectOptions, Executor};

use std::sync::Arc;

use super::{CommentStyle, Keeper, Pool, integrity};
use crate::async_database_functions::database_config::{DBConfig, SslMode};
use crate::async_database_functions::error::{Constraint, DatabaseError, ErrorKind};
use crate::async_database_functions::model::{Column, ServerDefault, SqlType};
use crate::async_database_functions::topology::Health;

pub(super) const QUERY_BUILDER: sea_query::MysqlQueryBuilder = sea_query::MysqlQueryBuilder;
pub(super) const COMMENT_STYLE: CommentStyle = CommentStyle::Inline;
/// Whether sea-query's auto-increment keyword applies (else the type carries it).
pub(super) const AUTO_INCREMENT_KEYWORD: bool = true;
/// Whether the driver binds a `u64` above `i64::MAX`.
pub(super) const UNSIGNED_64: bool = true;
pub(super) const INSERT_RETURNING: bool = false;
/// Whether DDL is transactional.
pub(super) const TRANSACTIONAL_DDL: bool = false;
pub(super) const INDEX_IF_NOT_EXISTS: bool = false;
pub(super) const LIST_TABLES: &str = "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
     WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'";
pub(super) const MAX_BIND_PARAMETERS: usize = 65535;

pub(super) async fn connect(
    config: &DBConfig,
    health: Arc<Health>,
) -> Result<(Pool, Keeper), DatabaseError> {
    let native = super::native_url(config, "mysql")?;
    let mut options = MySqlConnectOptions::from_str(native.as_str())
        .map_err(|e| super::map_error(config, e))?
        .statement_cache_capacity(config.query_cache_size())
        .disable_statement_logging();
    let args = config.connect_args();
    if let Some(charset) = &args.charset {
        options = options.charset(charset);
    }
    if let Some(mode) = args.ssl_mode {
        options = options.ssl_mode(match mode {
            SslMode::Disable => MySqlSslMode::Disabled,
            SslMode::Allow | SslMode::Prefer => MySqlSslMode::Preferred,
            SslMode::Require => MySqlSslMode::Required,
            SslMode::VerifyCa => MySqlSslMode::VerifyCa,
            SslMode::VerifyFull => MySqlSslMode::VerifyIdentity,
        });
    }
    let isolation = config.isolation_level();
    let pool = super::recycle_on_acquire(MySqlPoolOptions::new(), config.pool_recycle(), health)
        .max_connections(config.max_connections())
        .min_connections(0)
        .acquire_timeout(super::acquire_timeout(config))
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
        .connect_lazy_with(options);
    Ok((Pool::MySql(pool), Keeper(None)))
}

/// Nothing to adjust: the driver binds every integer width alike.
pub(super) fn normalize_values(_: &mut sea_query::Values) -> Result<(), DatabaseError> {
    Ok(())
}

/// Prepared statements are re-described on every execution: nothing to key.
pub(super) fn key_by_types(_: &mut String, _: &sea_query::Values) {}

pub(super) fn placeholder(_: usize) -> String {
    "?".into()
}

pub(super) fn type_sql(column: &Column) -> String {
    let keyed = column.primary_key || column.unique || column.index || column.foreign_key.is_some();
    match column.sql_type {
        SqlType::String(Some(n)) => format!("VARCHAR({n})"),
        // TEXT cannot be indexed without a prefix length; LONGTEXT holds any string.
        SqlType::String(None) if keyed => "VARCHAR(255)".into(),
        SqlType::String(None) => "LONGTEXT".into(),
        SqlType::Integer => "INT".into(),
        SqlType::BigInteger => "BIGINT".into(),
        SqlType::Double => "DOUBLE".into(),
        SqlType::Boolean => "BOOL".into(),
        SqlType::TimestampUtc | SqlType::Timestamp => "DATETIME(6)".into(),
        SqlType::Date => "DATE".into(),
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

/// Server error numbers: <https://mariadb.com/kb/en/mariadb-error-code-reference/>.
/// The driver's error code: what [`classify`] reads.
pub(super) fn error_code(db: &dyn sqlx::error::DatabaseError) -> Option<String> {
    match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        Some(e) => Some(e.number().to_string()),
        None => db.code().map(|c| c.into_owned()),
    }
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
        "1044" | "1045" | "1049" | "1927" | "2006" | "2013" | "1053" | "4031" => {
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
