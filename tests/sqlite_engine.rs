//! The SQLite engine executor (issue 12): what it adds to the guarantees the other tests check
//! on every backend. SQLite only.
#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dsg_lib::prelude::*;
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "engine_rows")]
struct EngineRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 60)]
    name: String,
}

fn row(name: &str) -> EngineRow {
    EngineRow {
        base: SchemaBase::default(),
        name: name.into(),
    }
}

/// A read-only statement that runs for seconds (no index, a long recursive count).
const LONG_READ: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                         WHERE x < 50000000) SELECT count(*) FROM c";

fn temp_db(name: &str) -> (String, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!(
        "dsg_engine_{name}_{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    (format!("sqlite:///{}", path.display()), path)
}

fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn sqlite_pool_shares_the_in_memory_database() {
    let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": "sqlite::memory:"})).unwrap());
    db.register::<EngineRow>();
    db.create_tables().await.unwrap();
    let ops = DatabaseOperations::new(db.clone());
    ops.create_one(row("from the library")).await.unwrap();

    let pool = db.sqlite_pool().await.unwrap().expect("a SQLite pool");
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM engine_rows")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(names, ["from the library"]);
    sqlx::query(
        "INSERT INTO engine_rows (pkid, date_created, date_updated, name) \
         VALUES ('k2', '2024-05-01 12:00:00', '2024-05-01 12:00:00', 'from sqlx')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let seen = ops.read_by_pk::<EngineRow>("k2".to_string()).await.unwrap();
    assert_eq!(seen.map(|r| r.name).as_deref(), Some("from sqlx"));
    db.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_create_one_on_a_file_never_reports_locked() {
    let (uri, path) = temp_db("storm");
    let db = AsyncDatabase::new(DBConfig::new(json!({ "database_uri": uri })).unwrap());
    db.register::<EngineRow>();
    db.create_tables().await.unwrap();
    let ops = DatabaseOperations::new(db.clone());
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let ops = ops.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    ops.create_one(row(&format!("r-{t}-{i}")))
                        .await
                        .unwrap_or_else(|e| panic!("create_one {t}/{i}: {e}"));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(ops.count_query(&EngineRow::select()).await.unwrap(), 400);
    db.disconnect().await;
    remove(&path);
}

/// On a single-threaded runtime, a long read is moved off it after its in-place budget: a
/// ticker on the same runtime keeps ticking.
#[tokio::test]
async fn a_long_read_does_not_hold_the_runtime() {
    let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": "sqlite::memory:"})).unwrap());
    let ops = DatabaseOperations::new(db.clone());
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let started = Instant::now();
    let read = tokio::time::timeout(
        Duration::from_millis(600),
        ops.execute_one(&text(LONG_READ)),
    )
    .await;
    assert!(read.is_err(), "the long read finished early");
    let took = started.elapsed();
    ticker.abort();
    // In place for the whole read, the ticker would not have ticked once and the timeout
    // would not have fired on time.
    assert!(
        took < Duration::from_millis(900),
        "the timeout fired after {took:?}"
    );
    assert!(
        ticks.load(Ordering::Relaxed) >= 20,
        "{} ticks in {took:?}",
        ticks.load(Ordering::Relaxed)
    );
    db.disconnect().await;
}

/// A future dropped while its statement runs off the runtime interrupts the statement: its
/// connection comes back to the pool at once, not when the statement would have ended.
#[tokio::test]
async fn a_dropped_future_interrupts_its_statement() {
    let (uri, path) = temp_db("cancel");
    let db = AsyncDatabase::new(DBConfig::new(json!({ "database_uri": uri })).unwrap());
    db.register::<EngineRow>();
    db.create_tables().await.unwrap();
    for _ in 0..3 {
        let mut session = db.get_db_session().await.unwrap();
        let cancelled = tokio::time::timeout(
            Duration::from_millis(100),
            session.execute(&text(LONG_READ)),
        )
        .await;
        assert!(cancelled.is_err(), "the long read finished early");
        drop(session);
    }
    // All five connections can be held at once, promptly: none is still running a cancelled
    // read (each would run for seconds).
    let mut held = Vec::new();
    for _ in 0..5 {
        let session = tokio::time::timeout(Duration::from_secs(3), db.get_db_session())
            .await
            .expect("a connection is still held by a cancelled read")
            .unwrap();
        held.push(session);
    }
    let mut session = held.pop().unwrap();
    let n: Option<i64> = session
        .fetch_optional(&text("SELECT count(*) FROM engine_rows"))
        .await
        .unwrap();
    assert_eq!(n, Some(0));
    drop(session);
    drop(held);
    db.disconnect().await;
    remove(&path);
}

#[tokio::test]
async fn two_statements_in_one_call_fail_clearly_and_run_neither() {
    let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": "sqlite::memory:"})).unwrap());
    let mut session = db.get_db_session().await.unwrap();
    let err = session
        .execute(&text("CREATE TABLE a (x INT); CREATE TABLE b (y INT)"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("several statements in one call are not supported on SQLite")
            && message.contains("execute_many"),
        "{message}"
    );
    session.rollback().await.unwrap();
    let ops = DatabaseOperations::new(db.clone());
    let err = ops
        .execute_one(&text("SELECT 1; SELECT 2"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("several statements"), "{err}");
    // Nothing of the refused call ran.
    let tables: Vec<String> = ops
        .read_query(&text(
            "SELECT name FROM sqlite_master WHERE name IN ('a', 'b')",
        ))
        .await
        .unwrap();
    assert!(tables.is_empty(), "{tables:?}");
    // One statement with a trailing semicolon is one statement.
    ops.execute_one(&text("CREATE TABLE a (x INT);"))
        .await
        .unwrap();
    db.disconnect().await;
}
