//! Re-running transactions that failed with a serialization failure: PostgreSQL
//! `SERIALIZABLE` on the single server (the Galera cluster has `scale_galera.rs`).

mod common;

use std::sync::Arc;

use dsg_lib::prelude::*;
use serde_json::json;

fn postgres() -> Option<String> {
    std::env::var("DSG_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

async fn counter_table(db: &AsyncDatabase, table: &str) {
    let ops = DatabaseOperations::new(db.clone());
    ops.execute_many([
        text(format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)"
        )),
        text(format!("INSERT INTO {table} VALUES (1, 0)")),
    ])
    .await
    .unwrap();
}

/// 8 tasks × 50 read-then-write increments under SERIALIZABLE: conflicts fail with 40001
/// and are run again, so no increment is lost, and the runs again are counted.
#[tokio::test]
async fn serializable_conflicts_are_run_again_until_every_increment_lands() {
    let Some(uri) = postgres() else { return };
    let db = AsyncDatabase::new(
        DBConfig::new(json!({
            "database_uri": uri,
            "isolation_level": "SERIALIZABLE",
            "pool_size": 8,
            "retry": {"max_attempts": 100, "base_delay_ms": 1, "max_delay_ms": 50},
        }))
        .unwrap(),
    );
    let table = Arc::new(common::unique_table("t_scale_ser"));
    counter_table(&db, &table).await;
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (db, table) = (db.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let ops = DatabaseOperations::new(db.clone());
            for i in 0..50 {
                if (task + i) % 2 == 0 {
                    let table = table.clone();
                    db.transaction(move |tx| {
                        let table = table.clone();
                        Box::pin(async move {
                            let n: Option<i64> = tx
                                .fetch_optional(&text(format!(
                                    "SELECT n FROM {table} WHERE id = 1"
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
                } else {
                    ops.execute_many([text(format!("UPDATE {table} SET n = n + 1 WHERE id = 1"))])
                        .await?;
                }
            }
            Ok::<(), DatabaseError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let ops = DatabaseOperations::new(db.clone());
    let n: Vec<i64> = ops
        .read_query(&text(format!("SELECT n FROM {table} WHERE id = 1")))
        .await
        .unwrap();
    assert_eq!(n, [400]);
    assert!(db.retries() > 0, "no conflict was run again");
    eprintln!("400 increments, {} runs again", db.retries());
    ops.execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
}

/// A transaction that conflicts on every run gives up after `max_attempts`, saying so, with
/// the serialization failure's kind; nothing of it is stored.
#[tokio::test]
async fn a_transaction_that_always_conflicts_gives_up_after_max_attempts() {
    let Some(uri) = postgres() else { return };
    let db = AsyncDatabase::new(
        DBConfig::new(json!({
            "database_uri": uri,
            "isolation_level": "SERIALIZABLE",
            "retry": {"max_attempts": 3, "base_delay_ms": 1},
        }))
        .unwrap(),
    );
    let other = AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).unwrap());
    let table = Arc::new(common::unique_table("t_scale_giveup"));
    counter_table(&db, &table).await;
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let result = db
        .transaction(|tx| {
            let (table, other, runs) = (table.clone(), other.clone(), runs.clone());
            Box::pin(async move {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _: Option<i64> = tx
                    .fetch_optional(&text(format!("SELECT n FROM {table} WHERE id = 1")))
                    .await?;
                // Another client changes the row in between: this transaction cannot commit.
                DatabaseOperations::new(other)
                    .execute_one(&text(format!(
                        "UPDATE {table} SET n = n + 100 WHERE id = 1"
                    )))
                    .await?;
                tx.execute(&text(format!("UPDATE {table} SET n = n + 1 WHERE id = 1")))
                    .await?;
                Ok(())
            })
        })
        .await;
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SerializationFailure, "{e}");
    assert!(e.is_retryable());
    assert!(e.details().contains("gave up after 3 attempts"), "{e}");
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(db.retries(), 2);
    let ops = DatabaseOperations::new(other.clone());
    let n: Vec<i64> = ops
        .read_query(&text(format!("SELECT n FROM {table} WHERE id = 1")))
        .await
        .unwrap();
    assert_eq!(n, [300], "only the other client's three updates");
    ops.execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
    other.disconnect().await;
}

/// `retry: false` runs a conflicting transaction once.
#[tokio::test]
async fn retry_false_runs_once() {
    let Some(uri) = postgres() else { return };
    let db = AsyncDatabase::new(
        DBConfig::new(json!({
            "database_uri": uri, "isolation_level": "SERIALIZABLE", "retry": false,
        }))
        .unwrap(),
    );
    let other = AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).unwrap());
    let table = Arc::new(common::unique_table("t_scale_once"));
    counter_table(&db, &table).await;
    let e = db
        .transaction(|tx| {
            let (table, other) = (table.clone(), other.clone());
            Box::pin(async move {
                let _: Option<i64> = tx
                    .fetch_optional(&text(format!("SELECT n FROM {table} WHERE id = 1")))
                    .await?;
                DatabaseOperations::new(other)
                    .execute_one(&text(format!(
                        "UPDATE {table} SET n = n + 100 WHERE id = 1"
                    )))
                    .await?;
                tx.execute(&text(format!("UPDATE {table} SET n = n + 1 WHERE id = 1")))
                    .await?;
                Ok(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SerializationFailure);
    assert!(!e.details().contains("gave up"), "{e}");
    assert_eq!(db.retries(), 0);
    DatabaseOperations::new(other.clone())
        .execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
    other.disconnect().await;
}

/// docs/scaling.md's 8 × 50 `SERIALIZABLE` read-then-write increments with the default `retry` (no
/// `retry` key): at least 99 % land, and the counter equals the increments that returned Ok.
#[tokio::test]
async fn serializable_increments_land_with_the_default_retry() {
    let Some(uri) = postgres() else { return };
    let db = AsyncDatabase::new(
        DBConfig::new(json!({
            "database_uri": uri,
            "isolation_level": "SERIALIZABLE",
            "pool_size": 8,
        }))
        .unwrap(),
    );
    let table = Arc::new(common::unique_table("t_scale_ser_default"));
    counter_table(&db, &table).await;
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (db, table) = (db.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let ops = DatabaseOperations::new(db.clone());
            let (mut ok, mut failed) = (0i64, Vec::new());
            for i in 0..50 {
                let result = if (task + i) % 2 == 0 {
                    let table = table.clone();
                    db.transaction(move |tx| {
                        let table = table.clone();
                        Box::pin(async move {
                            let n: Option<i64> = tx
                                .fetch_optional(&text(format!(
                                    "SELECT n FROM {table} WHERE id = 1"
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
                } else {
                    ops.execute_many([text(format!("UPDATE {table} SET n = n + 1 WHERE id = 1"))])
                        .await
                        .map(|_| ())
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
    let ops = DatabaseOperations::new(db.clone());
    let n: Vec<i64> = ops
        .read_query(&text(format!("SELECT n FROM {table} WHERE id = 1")))
        .await
        .unwrap();
    eprintln!(
        "default retry: {ok} of 400 increments landed ({:.2} %) in {elapsed:.2?}, {} runs again; \
         first failure: {:?}",
        ok as f64 / 4.0,
        db.retries(),
        failed.first().map(|e| e.to_string())
    );
    for e in &failed {
        assert_eq!(e.kind(), ErrorKind::SerializationFailure, "{e}");
    }
    assert_eq!(n, [ok], "the counter is the increments that returned Ok");
    assert!(ok >= 396, "only {ok} of 400 landed with the default retry");
    ops.execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
}
