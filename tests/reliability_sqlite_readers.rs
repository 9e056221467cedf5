//! Issue 28, items 3 and 4: on SQLite, an open write transaction blocks no reader.
//!
//! - Item 4: while a library `Session` holds an uncommitted write, reads through the library
//!   (other tasks, many at once) answer at once with the committed rows only, on in-memory
//!   SQLite as on a file; they used to wait out the busy timeout (5 s) on in-memory SQLite and
//!   fail with `database table is locked`.
//! - Item 3: the same through `db.sqlite_pool()` (sqlx), also from the task that holds the
//!   session: it used to block with no timeout until the session ended (a task holding a
//!   session deadlocked itself). A write through sqlx while the session holds the write lock
//!   waits at most the busy timeout and fails with "database is locked".
//!
//! Runs on in-memory SQLite and a SQLite file (removed afterwards); the servers' readers were
//! never blocked and are checked too when their URLs are set.

mod common;
mod ops_support;
mod reliability_support;

use std::time::{Duration, Instant};

use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::model::Model as _;
use ops_support::fresh;
use reliability_support::{load_backends, within};
use serde_json::json;

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_readers")]
struct Note {
    #[model(flatten)]
    base: SchemaBase,
    text: String,
}

fn note(text: &str) -> Note {
    Note {
        base: SchemaBase::new(),
        text: text.into(),
    }
}

/// How long a read may take while a writer is open (it should not wait at all).
const PROMPT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_not_blocked_by_an_open_write_transaction() {
    let mut problems = Vec::new();
    for (backend, file) in load_backends("dsg_rel_readers") {
        let label = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<Note>();
        })
        .await;
        ops.create_one(note("committed"))
            .await
            .unwrap_or_else(|e| panic!("[{label}] create_one: {e}"));
        let mut writer = within(10, format!("[{label}] session"), db.get_db_session())
            .await
            .unwrap_or_else(|e| panic!("[{label}] get_db_session: {e}"));
        within(
            10,
            format!("[{label}] insert"),
            common::insert(&mut writer, &note("open")),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] insert in the session: {e}"));

        // 8 readers at once, each through the library, while the write is open.
        let mut readers = Vec::new();
        for _ in 0..8 {
            let ops = ops.clone();
            readers.push(tokio::spawn(async move {
                let started = Instant::now();
                let count = ops.count_query(&Note::select()).await;
                let rows = ops.read_query::<Note>(&Note::select()).await;
                (started.elapsed(), count, rows)
            }));
        }
        for (i, reader) in readers.into_iter().enumerate() {
            let (took, count, rows) = within(30, format!("[{label}] reader {i}"), reader)
                .await
                .unwrap_or_else(|e| panic!("[{label}] reader {i} panicked: {e}"));
            match (count, rows) {
                (Ok(1), Ok(rows)) if rows.len() == 1 && rows[0].text == "committed" => {}
                (count, rows) => problems.push(format!(
                    "[{label}] reader {i} while a write is open: expected the one committed \
                     row, got count {count:?}, rows {:?}",
                    rows.map(|r| r.into_iter().map(|n| n.text).collect::<Vec<_>>())
                )),
            }
            if took > PROMPT {
                problems.push(format!(
                    "[{label}] reader {i} took {took:.2?} while a write was open"
                ));
            }
        }
        within(10, format!("[{label}] commit"), writer.commit())
            .await
            .unwrap_or_else(|e| panic!("[{label}] commit: {e}"));
        match ops.count_query(&Note::select()).await {
            Ok(2) => {}
            other => problems.push(format!(
                "[{label}] after the commit: expected 2 rows, got {other:?}"
            )),
        }
        db.disconnect().await;
        drop(file);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "sqlite")] // `sqlite_pool()` exists with the SQLite backend only
async fn sqlite_pool_reads_while_a_session_is_open_and_its_writes_wait_a_bounded_time() {
    let mut problems = Vec::new();
    for (backend, file) in load_backends("dsg_rel_readers_sqlx") {
        if !backend.name.starts_with("sqlite") {
            continue;
        }
        let label = backend.name;
        // A 1 s busy timeout, for the write that must wait and fail.
        let (db, ops) = fresh(&backend, json!({"connect_args": {"timeout": 1}}), |db| {
            db.register::<Note>();
        })
        .await;
        ops.create_one(note("committed"))
            .await
            .unwrap_or_else(|e| panic!("[{label}] create_one: {e}"));
        let pool = db
            .sqlite_pool()
            .await
            .unwrap_or_else(|e| panic!("[{label}] sqlite_pool: {e}"))
            .unwrap_or_else(|| panic!("[{label}] no SQLite pool"));
        let count_sql = format!("SELECT count(*) FROM {}", Note::TABLE);

        // This task holds a session with an uncommitted write, and reads through sqlx.
        let mut writer = within(10, format!("[{label}] session"), db.get_db_session())
            .await
            .unwrap_or_else(|e| panic!("[{label}] get_db_session: {e}"));
        within(
            10,
            format!("[{label}] insert"),
            common::insert(&mut writer, &note("open")),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] insert in the session: {e}"));
        let started = Instant::now();
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            dsg_lib::sqlx::query_scalar::<_, i64>(dsg_lib::sqlx::AssertSqlSafe(count_sql.clone()))
                .fetch_one(&pool),
        )
        .await;
        let took = started.elapsed();
        match read {
            Ok(Ok(1)) if took <= PROMPT => {}
            Ok(Ok(n)) => problems.push(format!(
                "[{label}] sqlx read during an open session: {n} rows in {took:.2?} (expected \
                 the 1 committed row at once)"
            )),
            Ok(Err(e)) => problems.push(format!(
                "[{label}] sqlx read during an open session failed after {took:.2?}: {e}"
            )),
            Err(_) => problems.push(format!(
                "[{label}] sqlx read during an open session of the same task: no answer in \
                 10 s (deadlock)"
            )),
        }

        // A write through sqlx waits for the session's write lock at most the busy timeout.
        let started = Instant::now();
        let write = tokio::time::timeout(
            Duration::from_secs(10),
            dsg_lib::sqlx::query(dsg_lib::sqlx::AssertSqlSafe(format!(
                "UPDATE {} SET text = 'by sqlx'",
                Note::TABLE
            )))
            .execute(&pool),
        )
        .await;
        let took = started.elapsed();
        match write {
            Ok(Err(e)) if e.to_string().contains("locked") && took < Duration::from_secs(3) => {}
            Ok(Err(e)) => problems.push(format!(
                "[{label}] sqlx write during an open session failed after {took:.2?} with \
                 {e} (expected \"database is locked\" after the 1 s busy timeout)"
            )),
            Ok(Ok(_)) => problems.push(format!(
                "[{label}] sqlx write during an open write session succeeded after {took:.2?}"
            )),
            Err(_) => problems.push(format!(
                "[{label}] sqlx write during an open session: no answer in 10 s"
            )),
        }

        within(10, format!("[{label}] commit"), writer.commit())
            .await
            .unwrap_or_else(|e| panic!("[{label}] commit: {e}"));
        let after: Result<i64, _> = within(
            10,
            format!("[{label}] sqlx read after commit"),
            dsg_lib::sqlx::query_scalar(dsg_lib::sqlx::AssertSqlSafe(count_sql)).fetch_one(&pool),
        )
        .await;
        match after {
            Ok(2) => {}
            other => problems.push(format!(
                "[{label}] sqlx read after the commit: expected 2 rows, got {other:?}"
            )),
        }
        db.disconnect().await;
        drop(file);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
