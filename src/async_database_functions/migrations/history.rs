//! The history table (`dsg_migrations` by default): one row per applied migration, with its
//! checksum, when and how long it ran, whether it succeeded, and how many of its statements
//! ran (on MySQL/MariaDB, where a failed migration's first statements stay committed).

use crate::async_database_functions::database_config::Dialect;
use crate::async_database_functions::error::DatabaseError;
use crate::async_database_functions::session::Session;
use crate::async_database_functions::statement::text;

/// The default name of the history table.
pub const DEFAULT_TABLE: &str = "dsg_migrations";

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// The migration's version.
    pub version: i64,
    /// Its name when it was applied.
    pub name: String,
    /// The checksum of its up part when it was applied.
    pub checksum: String,
    /// When it finished (or failed), RFC 3339 in UTC.
    pub applied_at: String,
    /// How long it ran, in milliseconds.
    pub execution_ms: i64,
    /// Whether it ran whole. `false` only on MySQL/MariaDB, for a migration that failed after
    /// some of its statements had committed: see `statements_run`.
    pub success: bool,
    /// How many statements its up part has (0 for a Rust migration).
    pub statements_total: i64,
    /// How many of them ran and committed (all of them when `success`).
    pub statements_run: i64,
}

/// The history table's name, checked: letters, digits and `_` only (it is written into SQL).
pub(crate) fn checked_table(name: &str) -> Result<String, DatabaseError> {
    if name.is_empty()
        || name.len() > 58
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || name.as_bytes()[0].is_ascii_digit()
    {
        return Err(DatabaseError::invalid_input(format!(
            "the history table's name {name:?} must be 1 to 58 letters, digits and _, not \
             starting with a digit"
        )));
    }
    Ok(name.to_string())
}

/// `CREATE TABLE IF NOT EXISTS` for the history table.
pub(crate) fn create_sql(dialect: Dialect, table: &str) -> String {
    let (int, text, suffix) = if dialect.is_mysql_family() {
        ("BIGINT", "VARCHAR(255)", " ENGINE=InnoDB")
    } else if dialect == Dialect::Sqlite {
        ("INTEGER", "TEXT", "")
    } else {
        ("BIGINT", "VARCHAR(255)", "")
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (version {int} NOT NULL PRIMARY KEY, \
         name {text} NOT NULL, checksum VARCHAR(64) NOT NULL, applied_at VARCHAR(40) NOT NULL, \
         execution_ms {int} NOT NULL, success {int} NOT NULL, statements_total {int} NOT NULL, \
         statements_run {int} NOT NULL){suffix}"
    )
}

/// Every row, by version.
pub(crate) async fn read(
    session: &mut Session,
    table: &str,
) -> Result<Vec<AppliedMigration>, DatabaseError> {
    type Row = (i64, String, String, String, i64, i64, i64, i64);
    let rows: Vec<Row> = session
        .fetch_all(text(format!(
            "SELECT version, name, checksum, applied_at, execution_ms, success, \
             statements_total, statements_run FROM {table} ORDER BY version"
        )))
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(version, name, checksum, applied_at, execution_ms, success, total, run)| {
                AppliedMigration {
                    version,
                    name,
                    checksum,
                    applied_at,
                    execution_ms,
                    success: success != 0,
                    statements_total: total,
                    statements_run: run,
                }
            },
        )
        .collect())
}

/// The time now, as the history writes it.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Inserts `row`.
pub(crate) async fn insert(
    session: &mut Session,
    table: &str,
    row: &AppliedMigration,
) -> Result<(), DatabaseError> {
    session
        .execute(
            text(format!(
                "INSERT INTO {table} (version, name, checksum, applied_at, execution_ms, success, \
                 statements_total, statements_run) VALUES (:v, :n, :c, :at, :ms, :ok, :total, :run)"
            ))
            .bind("v", row.version)
            .bind("n", row.name.clone())
            .bind("c", row.checksum.clone())
            .bind("at", row.applied_at.clone())
            .bind("ms", row.execution_ms)
            .bind("ok", i64::from(row.success))
            .bind("total", row.statements_total)
            .bind("run", row.statements_run),
        )
        .await?;
    Ok(())
}

/// Rewrites the row of `row.version` (a MySQL/MariaDB migration's progress).
pub(crate) async fn update(
    session: &mut Session,
    table: &str,
    row: &AppliedMigration,
) -> Result<(), DatabaseError> {
    session
        .execute(
            text(format!(
                "UPDATE {table} SET name = :n, checksum = :c, applied_at = :at, \
                 execution_ms = :ms, success = :ok, statements_total = :total, \
                 statements_run = :run WHERE version = :v"
            ))
            .bind("v", row.version)
            .bind("n", row.name.clone())
            .bind("c", row.checksum.clone())
            .bind("at", row.applied_at.clone())
            .bind("ms", row.execution_ms)
            .bind("ok", i64::from(row.success))
            .bind("total", row.statements_total)
            .bind("run", row.statements_run),
        )
        .await?;
    Ok(())
}

/// Removes migration `version`'s row (it was rolled back).
pub(crate) async fn forget(
    session: &mut Session,
    table: &str,
    version: i64,
) -> Result<(), DatabaseError> {
    session
        .execute(text(format!("DELETE FROM {table} WHERE version = :v")).bind("v", version))
        .await?;
    Ok(())
}

/// Whether the history table exists (read without creating it, for `status`).
pub(crate) async fn exists(session: &mut Session, table: &str) -> Result<bool, DatabaseError> {
    let dialect = session.config().dialect();
    let sql = if dialect == Dialect::Sqlite {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :t"
    } else if dialect.is_mysql_family() {
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
         AND table_name = :t"
    } else {
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_name = :t"
    };
    let n: Vec<i64> = session
        .fetch_all(text(sql).bind("t", table.to_string()))
        .await?;
    Ok(n.first().is_some_and(|n| *n > 0))
}
