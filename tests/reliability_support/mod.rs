//! Helpers shared by the reliability tests (`reliability_faults.rs`, `reliability_load.rs`,
//! `reliability_restart.rs`): bounded awaits, the server ids of a pool's connections, a
//! separate admin pool that kills and inspects them, temporary SQLite files and a small
//! seeded random generator.
#![allow(dead_code)]

use std::fmt::Display;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::DatabaseError;
use dsg_lib::async_database_functions::session::Session;
use dsg_lib::async_database_functions::statement::text;
use serde_json::json;

use crate::common::{self, Backend};

/// Awaits `fut`; a hang fails the test after `secs` seconds, naming `what`.
pub async fn within<T>(secs: u64, what: impl Display, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: no answer within {secs} s (hung)"),
    }
}

/// The configured server backends (PostgreSQL, MySQL/MariaDB), without SQLite.
pub fn servers() -> Vec<Backend> {
    common::backends()
        .into_iter()
        .filter(|b| !b.is_sqlite())
        .collect()
}

/// A PostgreSQL `application_name` unique to this run, to find a pool's connections.
pub fn unique_app(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A session of `db`, failing the test (naming `label`) on an error or a hang.
pub async fn session(db: &AsyncDatabase, label: &str) -> Session {
    within(30, format!("[{label}] get_db_session"), db.get_db_session())
        .await
        .unwrap_or_else(|e| panic!("[{label}] get_db_session: {e}"))
}

/// The server's id of the connection `session` runs on.
pub async fn connection_id(session: &mut Session, backend: &Backend) -> i64 {
    let sql = match backend.name {
        "postgres" => "SELECT CAST(pg_backend_pid() AS BIGINT)",
        "mysql" => "SELECT CAST(CONNECTION_ID() AS SIGNED)",
        other => panic!("no connection id on {other}"),
    };
    let id: Option<i64> = within(
        30,
        format!("[{}] connection id", backend.name),
        session.fetch_optional(&text(sql)),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] connection id: {e}", backend.name));
    id.expect("one row")
}

/// Opens `n` connections of `db` (holding `n` sessions at once), returns their server ids and
/// leaves them idle in the pool.
pub async fn open_connections(db: &AsyncDatabase, backend: &Backend, n: usize) -> Vec<i64> {
    let mut held = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = session(db, backend.name).await;
        ids.push(connection_id(&mut s, backend).await);
        held.push(s);
    }
    for s in held {
        within(30, format!("[{}] commit", backend.name), s.commit())
            .await
            .unwrap_or_else(|e| panic!("[{}] commit: {e}", backend.name));
    }
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        n,
        "[{}] {n} sessions held at once should run on {n} connections: {ids:?}",
        backend.name
    );
    ids
}

/// A separate small pool on a server, to kill and inspect the connections of the pool under
/// test. It never touches a connection it was not given the id of.
pub struct Admin {
    backend: Backend,
    db: AsyncDatabase,
    ops: DatabaseOperations,
    /// Reads what open transactions wrote (READ UNCOMMITTED), to see a batch under way.
    dirty: AsyncDatabase,
}

impl Admin {
    pub fn new(backend: &Backend) -> Admin {
        let db = backend.database(json!({ "pool_size": 2, "max_overflow": 0 }));
        let ops = DatabaseOperations::new(db.clone());
        let dirty = backend.database(json!({
            "pool_size": 1, "max_overflow": 0, "isolation_level": "READ UNCOMMITTED"
        }));
        Admin {
            backend: backend.clone(),
            db,
            ops,
            dirty,
        }
    }

    fn is_postgres(&self) -> bool {
        self.backend.name == "postgres"
    }

    /// A single integer from `sql`.
    pub async fn scalar(&self, sql: String) -> i64 {
        let what = format!("[{} admin] {sql}", self.backend.name);
        let value: Option<i64> = within(30, &what, self.ops.read_one_record(&text(sql.clone())))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        value.unwrap_or_else(|| panic!("{what}: no row"))
    }

    /// Kills the server connection `id` (PostgreSQL `pg_terminate_backend`, MariaDB `KILL`).
    pub async fn kill(&self, id: i64) {
        let what = format!("[{} admin] kill connection {id}", self.backend.name);
        if self.is_postgres() {
            let sql = format!("SELECT pg_terminate_backend({id})");
            let killed: Option<bool> = within(30, &what, self.ops.read_one_record(&text(sql)))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(killed, Some(true), "{what}: no such backend");
        } else {
            within(
                30,
                &what,
                self.ops.execute_one(&text(format!("KILL CONNECTION {id}"))),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }

    /// How many of the connections `ids` the server still has.
    pub async fn alive(&self, ids: &[i64]) -> i64 {
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let sql = if self.is_postgres() {
            format!("SELECT count(*) FROM pg_stat_activity WHERE pid IN ({list})")
        } else {
            format!("SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID IN ({list})")
        };
        self.scalar(sql).await
    }

    /// Waits until the server has dropped every connection of `ids`.
    pub async fn wait_gone(&self, ids: &[i64]) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let alive = self.alive(ids).await;
            if alive == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] {alive} of the killed connections {ids:?} still exist after 15 s",
                self.backend.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether connection `id` is inside a transaction that has written something (or is
    /// running an INSERT), or `table` (written only by that connection) holds rows a
    /// transaction has not committed yet. MariaDB's `INNODB_TRX` can miss a transaction for
    /// seconds, so there the rows themselves are looked for too.
    pub async fn writing(&self, id: i64, table: &str) -> bool {
        if !self.is_postgres() {
            let what = format!("[{} admin] dirty count of {table}", self.backend.name);
            let sql = format!("SELECT count(*) FROM {table}");
            let dirty = DatabaseOperations::new(self.dirty.clone());
            let rows: Option<i64> = within(30, &what, dirty.read_one_record(&text(sql)))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            if rows.unwrap_or(0) > 0 {
                return true;
            }
        }
        let sql = if self.is_postgres() {
            format!(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = {id} \
                 AND (backend_xid IS NOT NULL OR (state = 'active' AND query LIKE 'INSERT%'))"
            )
        } else {
            format!(
                "SELECT (SELECT count(*) FROM information_schema.INNODB_TRX \
                   WHERE trx_mysql_thread_id = {id} AND trx_rows_modified > 0) \
                 + (SELECT count(*) FROM information_schema.PROCESSLIST \
                   WHERE ID = {id} AND INFO LIKE 'INSERT%')"
            )
        };
        self.scalar(sql).await > 0
    }

    /// The rows of `table`.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(format!("SELECT count(*) FROM {table}")).await
    }

    /// PostgreSQL: connections of `application_name` left idle inside a transaction.
    pub async fn idle_in_transaction(&self, app: &str) -> i64 {
        self.scalar(format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' \
             AND state LIKE 'idle in transaction%'"
        ))
        .await
    }

    /// Runs SQL that returns nothing.
    pub async fn execute(&self, sql: String) {
        let what = format!("[{} admin] {sql}", self.backend.name);
        within(60, &what, self.ops.execute_one(&text(sql.clone())))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }

    pub async fn disconnect(self) {
        within(
            30,
            format!("[{} admin] disconnect", self.backend.name),
            self.db.disconnect(),
        )
        .await;
        self.dirty.disconnect().await;
    }
}

/// A SQLite database file under the temp dir, removed (with its `-wal`/`-shm`) when dropped.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new(prefix: &str) -> TempDb {
        TempDb {
            path: std::env::temp_dir()
                .join(format!("{prefix}_{}.db", uuid::Uuid::new_v4().simple())),
        }
    }

    /// `sqlite:////tmp/….db`
    pub fn uri(&self) -> String {
        format!("sqlite:///{}", self.path.display())
    }

    /// A backend on this file.
    pub fn backend(&self) -> Backend {
        Backend {
            name: "sqlite-file",
            uri: self.uri(),
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// In-memory SQLite, a SQLite file, and the configured servers. The `TempDb` (if any) must
/// live as long as the backend is used.
pub fn load_backends(prefix: &str) -> Vec<(Backend, Option<TempDb>)> {
    let mut list = Vec::new();
    for backend in common::backends() {
        if backend.is_sqlite() {
            list.push((backend, None));
            let file = TempDb::new(prefix);
            list.push((file.backend(), Some(file)));
        } else {
            list.push((backend, None));
        }
    }
    list
}

/// A few distinct error texts of `errors`, for an assertion message.
pub fn summarize(errors: &[DatabaseError]) -> String {
    let mut distinct: Vec<String> = Vec::new();
    for e in errors {
        let line = format!("{e} (code {:?})", e.code());
        if !distinct.contains(&line) {
            distinct.push(line);
        }
        if distinct.len() == 3 {
            break;
        }
    }
    distinct.join(" | ")
}

/// SplitMix64: a small seeded generator, so a failing run can be told by its seed.
pub struct Rng {
    seed: u64,
    state: u64,
}

impl Rng {
    /// Seeded from `DSG_TEST_SEED` when set, else from the clock.
    pub fn from_env() -> Rng {
        let seed = std::env::var("DSG_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(42)
            });
        Rng { seed, state: seed }
    }

    /// The seed, to run the same sequence again with `DSG_TEST_SEED`.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
