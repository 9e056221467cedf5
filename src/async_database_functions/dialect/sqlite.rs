//! SQLite: the embedded default.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use std::sync::Arc;

use super::sqlite_engine::{self, Engine, MAX_CONNECTIONS, Target};
use super::vocabulary::{CommentStyle, Keeper, integrity};
use crate::async_database_functions::core::column::{Column, ServerDefault, SqlType};
use crate::async_database_functions::core::error::{Constraint, DatabaseError, ErrorKind};
use crate::async_database_functions::database_config::{DBConfig, IsolationLevel, SqliteTarget};
use crate::async_database_functions::dialect::health::{Health, Staleness};

pub(super) const QUERY_BUILDER: sea_query::SqliteQueryBuilder = sea_query::SqliteQueryBuilder;
pub(super) const COMMENT_STYLE: CommentStyle = CommentStyle::None;
/// Whether sea-query's auto-increment keyword applies (else the type carries it).
pub(super) const AUTO_INCREMENT_KEYWORD: bool = true;
/// Whether the driver binds a `u64` above `i64::MAX`.
pub(super) const UNSIGNED_64: bool = false;
/// How identifiers are quoted.
pub(super) const IDENT_QUOTE: char = '"';
pub(super) const INSERT_RETURNING: bool = true;
/// Whether DDL is transactional.
/// Whether a read-only session's transaction is read only on the server: A plain `BEGIN`: nothing stops a write in it.
pub(super) const READ_ONLY_TRANSACTIONS: bool = false;
pub(super) const TRANSACTIONAL_DDL: bool = true;
/// Whether reading one row needs `LIMIT 1` for the server to stop.
pub(super) const LIMIT_FIRST_ROW: bool = false;
/// The server's port when the URI names none.
pub(super) const DEFAULT_PORT: Option<u16> = None;
/// The quoting and comment forms `text()`'s `:name` scanner skips.
pub(super) const TEXT_SYNTAX: crate::async_database_functions::dialect::scan::Syntax =
    crate::async_database_functions::dialect::scan::Syntax::SQLITE;
/// Whether a page and its total are read on two connections at once (one file or memory
/// database: no server to run them side by side).
pub(super) const CONCURRENT_PAGE: bool = false;
pub(super) const INDEX_IF_NOT_EXISTS: bool = true;
pub(super) const LIST_TABLES: &str =
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
/// SQLite's default `SQLITE_MAX_VARIABLE_NUMBER` (since 3.32).
pub(super) const MAX_BIND_PARAMETERS: usize = 32766;
/// No limit: an embedded engine has no network buffer to keep large.
pub(super) const RETIRE_ABOVE: Option<usize> = None;

/// How long a writer waits for a locked database file before failing.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MEMORY_DATABASES: AtomicU64 = AtomicU64::new(0);

/// The most connections a pool opens: a fixed number (SQLite takes no pool size keys).
pub(super) fn max_connections(_: &DBConfig) -> u32 {
    MAX_CONNECTIONS
}

/// See [`super::role_sql`].
pub(super) const ROLE_SQL: Option<&str> = None;
/// See [`super::replay_position_sql`].
pub(super) const REPLAY_POSITION_SQL: Option<&str> = None;
/// See [`super::write_position_sql`].
pub(super) const WRITE_POSITION_SQL: Option<&str> = None;
/// See [`super::is_read_only_error`].
pub(super) const READ_ONLY_CODES: &[&str] = &[];

pub(super) async fn connect(
    config: &DBConfig,
    _url: Option<&url::Url>,
    _health: Arc<Health>,
    stale: Arc<Staleness>,
) -> Result<(Pools, Keeper), DatabaseError> {
    let args = config.connect_args();
    let mut options = SqliteConnectOptions::new()
        .foreign_keys(true)
        .statement_cache_capacity(config.query_cache_size())
        .busy_timeout(args.timeout.unwrap_or(DEFAULT_BUSY_TIMEOUT))
        .disable_statement_logging();
    if config.isolation_level() == Some(IsolationLevel::ReadUncommitted) {
        options = options.pragma("read_uncommitted", "1");
    }
    let memory = matches!(config.sqlite_target(), Some(SqliteTarget::Memory) | None);
    let path;
    options = match config.sqlite_target() {
        Some(SqliteTarget::File(file)) => {
            path = file.clone();
            options
                .filename(file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
        }
        _ => {
            // A private temporary file in WAL mode stands for the in-memory database: every
            // connection of this pool (the engine's and sqlx's) sees it, no other pool does,
            // and a reader never waits for a writer (issue 28: on a shared-cache in-memory
            // database a reader waited for an open write transaction, then failed with
            // "database table is locked"; see `TempDatabase`).
            let n = MEMORY_DATABASES.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir();
            remove_orphans(&dir);
            let file = dir.join(format!(
                "{TEMP_PREFIX}{}-{}-{n}-{}.db",
                pid_namespace().unwrap_or_default(),
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            path = file.to_string_lossy().into_owned();
            options
                .filename(&file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Off)
        }
    };
    let engine = Engine::new(
        Target {
            path: path.clone(),
            memory,
            read_uncommitted: config.isolation_level() == Some(IsolationLevel::ReadUncommitted),
            cache_capacity: config.query_cache_size(),
            busy_timeout: args.timeout.unwrap_or(DEFAULT_BUSY_TIMEOUT),
            acquire_timeout: config.pool_timeout(),
            recycle: config.pool_recycle(),
        },
        stale.clone(),
    );
    // sqlx's pool, for `AsyncDatabase::sqlite_pool()`: it opens no connection until used.
    let mut pool =
        super::connect::recycle_on_acquire(SqlitePoolOptions::new(), config.pool_recycle(), stale)
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(config.pool_timeout())
            .test_before_acquire(config.pool_pre_ping())
            .max_lifetime(config.pool_recycle());
    // The keepers below hold the in-memory database; the pool may still reap its own idle
    // connections freely.
    if !memory {
        pool = pool.idle_timeout(Some(Duration::from_secs(600)));
    }
    let keeper = if memory {
        // The temporary file is made here, in WAL mode, and removed when the keeper goes (at
        // `disconnect`, or when the `AsyncDatabase` is dropped).
        let temp = TempDatabase::create(&engine, &path).map_err(|e| {
            super::errors::map_with::<Errors>(config, sqlite_engine::error::to_sqlx(e))
        })?;
        Keeper::some(Box::new(temp))
    } else {
        Keeper::none()
    };
    Ok((
        Pools {
            sqlx: pool.connect_lazy_with(options),
            engine,
        },
        keeper,
    ))
}

/// How the temporary files of in-memory databases are named: then the pid namespace, the
/// process id, a counter and a random part.
const TEMP_PREFIX: &str = "dsg-lib-memory-";

/// The pid namespace of this process (Linux: `/proc/self/ns/pid` → `pid:[4026531836]`, as
/// `4026531836`), so that a process id in a temporary file's name is only compared with
/// processes that share it (containers sharing a temp dir do not).
fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_str()?;
    let id = text.strip_prefix("pid:[")?.strip_suffix(']')?;
    id.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| id.to_string())
}

/// Removes, once per process, the temporary files of in-memory databases whose process is
/// gone (killed, or ended without dropping its `AsyncDatabase`): those named with this
/// process's pid namespace and a process id that no longer runs (`/proc/<pid>` is absent).
/// Nowhere else is a process known to be gone: elsewhere nothing is removed.
fn remove_orphans(dir: &std::path::Path) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(ns) = pid_namespace() else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let ours = format!("{TEMP_PREFIX}{ns}-");
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&ours)) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    });
}

/// The private temporary file that stands for an in-memory database, and one connection to it
/// held for the life of the `AsyncDatabase`; the file (with its `-wal` and `-shm`) is removed
/// when this is dropped.
///
/// Why a file: SQLite's in-memory databases cannot be in WAL mode (a shared-cache one locks
/// per table, so readers wait for an open writer and then fail with "database table is
/// locked"; a `memdb`-VFS one refuses new readers while a write transaction is open). WAL on
/// a file lets readers read the last committed state while a write transaction is open. With
/// `synchronous = OFF` nothing waits for the disk; the file lives in the temp dir (`TMPDIR`:
/// point it at a tmpfs such as `/dev/shm` to keep the pages off the disk altogether). A
/// process that is killed (or ends without dropping its `AsyncDatabase`) leaves the file
/// behind; on Linux the next process to make one removes it ([`remove_orphans`]).
struct TempDatabase {
    path: std::path::PathBuf,
    conn: std::sync::Mutex<Option<rusqlite::Connection>>,
}

impl TempDatabase {
    fn create(engine: &Engine, path: &str) -> rusqlite::Result<TempDatabase> {
        let temp = TempDatabase {
            path: path.into(),
            conn: std::sync::Mutex::new(None),
        };
        // From here on, a failure removes what was made.
        let conn = engine.open()?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        *temp.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
        Ok(temp)
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        // Closed first: a file still open cannot be removed everywhere (Windows).
        drop(self.conn.lock().unwrap_or_else(|e| e.into_inner()).take());
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

/// The two pools of a SQLite database: the engine's, which runs the library's statements, and
/// sqlx's, which `AsyncDatabase::sqlite_pool()` hands out.
#[derive(Clone, Debug)]
pub(crate) struct Pools {
    pub(crate) sqlx: sqlx::SqlitePool,
    pub(crate) engine: Engine,
}

/// Refuses NaN, which SQLite would store as NULL (silently on a nullable column). The driver
/// binds every integer width alike.
pub(super) fn normalize_values(values: &mut sea_query::Values) -> Result<(), DatabaseError> {
    use sea_query::Value;
    super::binds::refuse_arrays("SQLite", values)?;
    for (n, value) in values.0.iter().enumerate() {
        let nan = match value {
            Value::Double(Some(v)) => v.is_nan(),
            Value::Float(Some(v)) => v.is_nan(),
            _ => false,
        };
        if nan {
            return Err(DatabaseError::invalid_input(format!(
                "bound value {} is NaN, which sqlite cannot store (it would become NULL)",
                n + 1
            )));
        }
    }
    Ok(())
}

/// Statements are prepared per connection and bound per run: nothing to key.
pub(super) fn key_by_types(_: &mut String, _: &sea_query::Values) {}

pub(super) fn push_placeholder(sql: &mut String, _: usize) {
    sql.push('?');
}

pub(super) fn type_sql(column: &Column) -> String {
    match column.sql_type {
        SqlType::String(Some(n)) => format!("VARCHAR({n})"),
        SqlType::String(None) => "TEXT".into(),
        // `INTEGER PRIMARY KEY` is the rowid alias that AUTOINCREMENT needs.
        SqlType::SmallInteger
        | SqlType::Integer
        | SqlType::UnsignedInteger
        | SqlType::BigInteger => "INTEGER".into(),
        SqlType::Float | SqlType::Double => "REAL".into(),
        // Text keeps every digit; a NUMERIC column would turn the value into a float.
        SqlType::Decimal => "TEXT".into(),
        SqlType::Boolean => "BOOLEAN".into(),
        SqlType::TimestampUtc | SqlType::Timestamp => "DATETIME".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME".into(),
        SqlType::Uuid => "CHAR(36)".into(),
        SqlType::Json => "JSON".into(),
        SqlType::Bytes => "BLOB".into(),
    }
}

/// The current UTC time as text in the form the driver writes and reads timestamps
/// (`2024-05-01 12:34:56.789`, milliseconds), so that a row inserted without its timestamps
/// (by `text()`, a hand-built insert or another client) gets them, as on the servers. The
/// library itself still stamps the rows it inserts, to the microsecond.
pub(super) fn server_default_sql(default: ServerDefault, _: SqlType) -> Option<&'static str> {
    match default {
        ServerDefault::CurrentUtcTimestamp => Some("strftime('%Y-%m-%d %H:%M:%f', 'now')"),
    }
}

/// Extended result codes: <https://www.sqlite.org/rescode.html>.
/// The driver's error code: what [`classify`] reads.
pub(super) fn error_code(db: &dyn sqlx::error::DatabaseError) -> Option<String> {
    db.code().map(|c| c.into_owned())
}

pub(super) fn classify(code: &str) -> (ErrorKind, Option<Constraint>) {
    match code.parse::<i32>().unwrap_or(-1) {
        2067 | 1555 => integrity(Constraint::Unique),
        787 => integrity(Constraint::ForeignKey),
        1299 => integrity(Constraint::NotNull),
        275 => integrity(Constraint::Check),
        c if c & 0xff == 19 => (ErrorKind::IntegrityError, None),
        c if c & 0xff == 5 || c & 0xff == 6 => (ErrorKind::SerializationFailure, None),
        20 | 25 => (ErrorKind::InvalidInput, None),
        c if c & 0xff == 10 || c & 0xff == 14 => (ErrorKind::ConnectionError, None),
        _ => (ErrorKind::DatabaseError, None),
    }
}

/// The error `DatabaseError::source()` gives: the engine's [`rusqlite::Error`].
pub(super) fn driver_source(error: sqlx::Error) -> Box<dyn std::error::Error + Send + Sync> {
    sqlite_engine::error::into_source(error)
}

/// SQLite's messages do not quote bound values.
pub(super) fn hide_values(_: ErrorKind, details: String) -> String {
    details
}

/// What SQLite's message says of the violated constraint: `UNIQUE constraint failed:
/// users.name` and `NOT NULL constraint failed: users.name` (table and columns; SQLite does not
/// name a unique constraint), `UNIQUE constraint failed: index 'ix_name'` (an expression
/// index) and `CHECK constraint failed: ck_name` (a named check).
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
    let Some((head, rest)) = message.split_once(" constraint failed: ") else {
        return info;
    };
    let rest = rest.trim();
    let identifier = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if let Some(index) = rest
        .strip_prefix("index '")
        .and_then(|r| r.strip_suffix('\''))
    {
        info.name = Some(index.to_string());
    } else if head.ends_with("CHECK") {
        // An unnamed check is reported by its expression: not a name.
        info.name = identifier(rest).then(|| rest.to_string());
    } else {
        for item in rest.split(", ") {
            let (table, column) = split_qualified(item);
            if let Some(table) = table {
                info.table.get_or_insert_with(|| table.to_string());
            }
            info.columns.push(column.to_string());
        }
    }
    info
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
    use super::constraint_in_message;

    #[test]
    fn unique_and_not_null_give_table_and_columns() {
        let info = constraint_in_message("UNIQUE constraint failed: users.name");
        assert_eq!(info.table.as_deref(), Some("users"));
        assert_eq!(info.columns, ["name"]);
        assert_eq!(info.name, None);
        let info = constraint_in_message("UNIQUE constraint failed: t.a, t.b");
        assert_eq!(info.columns, ["a", "b"]);
        let info = constraint_in_message("NOT NULL constraint failed: users.color");
        assert_eq!(info.columns, ["color"]);
    }

    #[test]
    fn named_checks_and_expression_indexes_give_the_name() {
        let info = constraint_in_message("CHECK constraint failed: ck_age");
        assert_eq!(info.name.as_deref(), Some("ck_age"));
        assert_eq!(
            constraint_in_message("CHECK constraint failed: age > 0").name,
            None
        );
        let info = constraint_in_message("UNIQUE constraint failed: index 'ix_lower_email'");
        assert_eq!(info.name.as_deref(), Some("ix_lower_email"));
        assert_eq!(
            constraint_in_message("FOREIGN KEY constraint failed"),
            Default::default()
        );
    }
}
