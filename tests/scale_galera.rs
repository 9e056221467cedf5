//! A three-node MariaDB Galera cluster (multi-primary) behind one `AsyncDatabase`: sessions
//! spread over the nodes, certification conflicts run again, a killed node survived.
//!
//! Runs when `DSG_TEST_GALERA_URL` is set (`eval "$(scripts/beds/galera.sh start)"`; `.ci/run`
//! does it). The tests share the bed and kill one of its nodes: they take turns.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dsg_lib::prelude::*;
use serde_json::json;

/// The bed is shared and one test kills a node: one test at a time.
static BED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn galera() -> Option<String> {
    std::env::var("DSG_TEST_GALERA_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Each node's own URI (`mysql://root@h1,h2,h3/test` → three single-host URIs).
fn nodes(uri: &str) -> Vec<String> {
    let (scheme, rest) = uri.split_once("://").unwrap();
    let (user, rest) = rest.split_once('@').unwrap();
    let (hosts, db) = rest.split_once('/').unwrap();
    hosts
        .split(',')
        .map(|h| format!("{scheme}://{user}@{h}/{db}"))
        .collect()
}

fn database(uri: &str, extra: serde_json::Value) -> AsyncDatabase {
    let mut map = json!({"database_uri": uri});
    for (k, v) in extra.as_object().unwrap() {
        map[k] = v.clone();
    }
    AsyncDatabase::new(DBConfig::new(map).unwrap())
}

/// Rows of `sql`, read causally: the node waits until it has applied every write the
/// cluster committed before (Galera's `wsrep_sync_wait`), so a read right after writes made
/// through other nodes sees them.
async fn synced<T: dsg_lib::async_database_functions::row::FromRow>(
    db: &AsyncDatabase,
    sql: String,
) -> Vec<T> {
    let mut session = db.get_db_session().await.unwrap();
    session
        .execute_sql("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let rows = session.fetch_all(&text(sql)).await.unwrap();
    session
        .execute_sql("SET SESSION wsrep_sync_wait = 0")
        .await
        .unwrap();
    session.commit().await.unwrap();
    rows
}

/// The number of transactions each node committed itself (`wsrep_local_commits`).
async fn local_commits(uri: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for node in nodes(uri) {
        let db = database(&node, json!({}));
        let rows: Vec<(String, String)> = DatabaseOperations::new(db.clone())
            .read_query(&text("SHOW GLOBAL STATUS LIKE 'wsrep_local_commits'"))
            .await
            .unwrap_or_else(|e| panic!("{node}: {e}"));
        out.push(rows[0].1.parse().unwrap());
        db.disconnect().await;
    }
    out
}

fn bed_script(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/beds/galera.sh");
    let status = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "galera.sh {args:?} failed");
}

/// 8 tasks × 200 increments of one counter row, spread over the three nodes through one
/// `AsyncDatabase`: certification conflicts (1213 at COMMIT) are run again, so the counter
/// ends at exactly 1 600, and the runs again are counted.
#[tokio::test]
async fn conflicting_increments_over_three_nodes_all_land() {
    let Some(uri) = galera() else { return };
    let _bed = BED.lock().await;
    let db = database(
        &uri,
        json!({"pool_size": 8, "max_overflow": 4, "pool_timeout": 30,
               "retry": {"max_attempts": 100, "base_delay_ms": 2, "max_delay_ms": 100}}),
    );
    let ops = DatabaseOperations::new(db.clone());
    let table = Arc::new(common::unique_table("t_galera_counter"));
    ops.execute_one(&text(format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, n BIGINT NOT NULL)"
    )))
    .await
    .unwrap();
    ops.execute_one(&text(format!("INSERT INTO {table} VALUES (1, 0)")))
        .await
        .unwrap();
    let before = local_commits(&uri).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (db, table) = (db.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let ops = DatabaseOperations::new(db.clone());
            for i in 0..200 {
                if (task + i) % 2 == 0 {
                    // The library's own transaction.
                    ops.execute_many([text(format!("UPDATE {table} SET n = n + 1 WHERE id = 1"))])
                        .await?;
                } else {
                    // A read-then-write of the caller's, through the same helper.
                    let table = table.clone();
                    db.transaction(move |tx| {
                        let table = table.clone();
                        Box::pin(async move {
                            let n: Option<i64> = tx
                                .fetch_optional(&text(format!(
                                    "SELECT n FROM {table} WHERE id = 1 FOR UPDATE"
                                )))
                                .await?;
                            tx.execute(
                                &text(format!("UPDATE {table} SET n = :n WHERE id = 1"))
                                    .bind("n", n.unwrap_or(0) + 1),
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .await?;
                }
            }
            Ok::<(), DatabaseError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let elapsed = started.elapsed();
    let after = local_commits(&uri).await;
    let n: Vec<i64> = synced(&db, format!("SELECT n FROM {table} WHERE id = 1")).await;
    assert_eq!(n, [1600]);
    assert!(db.retries() > 0, "no certification conflict was run again");
    for (node, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(
            a - b >= 100,
            "node {} committed only {} of the increments",
            node + 1,
            a - b
        );
    }
    eprintln!(
        "1600 increments in {elapsed:.2?} ({:.0}/s), {} runs again, per node {:?}",
        1600.0 / elapsed.as_secs_f64(),
        db.retries(),
        before
            .iter()
            .zip(&after)
            .map(|(b, a)| a - b)
            .collect::<Vec<_>>()
    );
    ops.execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
}

/// A node killed (SIGKILL) in the middle of a write loop: every insert returns, Ok or a clear
/// error, within a bound; every Ok row is stored; a row stored without an Ok is one whose
/// outcome the error said was unknown; the node rejoins with every row.
#[tokio::test]
async fn a_node_killed_mid_write_loop_loses_nothing_and_rejoins() {
    let Some(uri) = galera() else { return };
    let _bed = BED.lock().await;
    let db = database(&uri, json!({"pool_size": 4, "pool_timeout": 30}));
    let ops = DatabaseOperations::new(db.clone());
    let table = common::unique_table("t_galera_kill");
    ops.execute_one(&text(format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, note VARCHAR(20))"
    )))
    .await
    .unwrap();
    const INSERTS: i64 = 600;
    const BOUND: Duration = Duration::from_secs(40);
    let writer = {
        let (ops, table) = (ops.clone(), table.clone());
        tokio::spawn(async move {
            let mut results = Vec::new();
            for id in 0..INSERTS {
                let started = Instant::now();
                let result = tokio::time::timeout(
                    BOUND,
                    ops.execute_one(
                        &text(format!("INSERT INTO {table} (id, note) VALUES (:id, 'x')"))
                            .bind("id", id),
                    ),
                )
                .await;
                results.push((id, started.elapsed(), result));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            results
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    tokio::task::spawn_blocking(|| bed_script(&["kill-node", "2"]))
        .await
        .unwrap();
    let killed_at = Instant::now();
    let results = writer.await.unwrap();
    let mut ok = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    let mut slowest = Duration::ZERO;
    for (id, took, result) in &results {
        slowest = slowest.max(*took);
        match result {
            Err(_) => panic!("insert {id} did not return within {BOUND:?}"),
            Ok(Ok(_)) => {
                ok.insert(*id);
            }
            Ok(Err(e)) => {
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::ConnectionError | ErrorKind::SerializationFailure
                    ),
                    "insert {id}: unexpected error {e}"
                );
                if e.is_outcome_unknown() {
                    unknown.insert(*id);
                }
            }
        }
    }
    let stored: BTreeSet<i64> = synced::<i64>(&db, format!("SELECT id FROM {table}"))
        .await
        .into_iter()
        .collect();
    assert!(
        ok.is_subset(&stored),
        "an insert that returned Ok is missing"
    );
    for id in stored.difference(&ok) {
        assert!(
            unknown.contains(id),
            "row {id} stored although its insert failed clearly"
        );
    }
    eprintln!(
        "{} Ok of {INSERTS}, {} outcome unknown, {} stored; slowest insert {slowest:.2?}; \
         {} runs again; loop ended {:.1?} after the kill",
        ok.len(),
        unknown.len(),
        stored.len(),
        db.retries(),
        killed_at.elapsed()
    );
    assert!(
        ok.len() as i64 >= INSERTS - 10,
        "most inserts went to the live nodes"
    );
    // The node rejoins and has every row.
    tokio::task::spawn_blocking(|| bed_script(&["start-node", "2"]))
        .await
        .unwrap();
    let node2 = database(&nodes(&uri)[1], json!({}));
    let count: Vec<i64> = synced(&node2, format!("SELECT COUNT(*) FROM {table}")).await;
    assert_eq!(
        count,
        [stored.len() as i64],
        "the rejoined node has every row"
    );
    node2.disconnect().await;
    // And the database uses it again.
    let before = local_commits(&uri).await;
    for id in INSERTS..INSERTS + 30 {
        ops.execute_one(
            &text(format!("INSERT INTO {table} (id, note) VALUES (:id, 'y')")).bind("id", id),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(DOWN_WAIT).await;
    for id in INSERTS + 30..INSERTS + 60 {
        ops.execute_one(
            &text(format!("INSERT INTO {table} (id, note) VALUES (:id, 'y')")).bind("id", id),
        )
        .await
        .unwrap();
    }
    let after = local_commits(&uri).await;
    assert!(
        after[1] > before[1],
        "the rejoined node takes sessions again"
    );
    ops.execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
}

/// Longer than a failed host is skipped.
const DOWN_WAIT: Duration = Duration::from_millis(1100);

/// docs/scaling.md's 8 × 200 conflicting increments with the default `retry` (no `retry` key):
/// at least 99 % land, and the counter equals the increments that returned Ok.
#[tokio::test]
async fn conflicting_increments_land_with_the_default_retry() {
    let Some(uri) = galera() else { return };
    let _bed = BED.lock().await;
    let db = database(
        &uri,
        json!({"pool_size": 8, "max_overflow": 4, "pool_timeout": 30}),
    );
    let ops = DatabaseOperations::new(db.clone());
    let table = Arc::new(common::unique_table("t_galera_default"));
    ops.execute_one(&text(format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, n BIGINT NOT NULL)"
    )))
    .await
    .unwrap();
    ops.execute_one(&text(format!("INSERT INTO {table} VALUES (1, 0)")))
        .await
        .unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (db, table) = (db.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let ops = DatabaseOperations::new(db.clone());
            let (mut ok, mut failed) = (0i64, Vec::new());
            for i in 0..200 {
                let result = if (task + i) % 2 == 0 {
                    ops.execute_many([text(format!("UPDATE {table} SET n = n + 1 WHERE id = 1"))])
                        .await
                        .map(|_| ())
                } else {
                    let table = table.clone();
                    db.transaction(move |tx| {
                        let table = table.clone();
                        Box::pin(async move {
                            let n: Option<i64> = tx
                                .fetch_optional(&text(format!(
                                    "SELECT n FROM {table} WHERE id = 1 FOR UPDATE"
                                )))
                                .await?;
                            tx.execute(
                                &text(format!("UPDATE {table} SET n = :n WHERE id = 1"))
                                    .bind("n", n.unwrap_or(0) + 1),
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .await
                };
                match result {
                    Ok(()) => ok += 1,
                    Err(e) => failed.push(e),
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0i64, Vec::new());
    for task in tasks {
        let (o, f) = task.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    let elapsed = started.elapsed();
    let n: Vec<i64> = synced(&db, format!("SELECT n FROM {table} WHERE id = 1")).await;
    eprintln!(
        "default retry: {ok} of 1600 increments landed ({:.2} %) in {elapsed:.2?}, {} runs again; \
         first failure: {:?}",
        ok as f64 / 16.0,
        db.retries(),
        failed.first().map(|e| e.to_string())
    );
    for e in &failed {
        assert_eq!(e.kind(), ErrorKind::SerializationFailure, "{e}");
    }
    assert_eq!(n, [ok], "the counter is the increments that returned Ok");
    assert!(
        ok >= 1584,
        "only {ok} of 1600 landed with the default retry"
    );
    ops.execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
}
