//! Futures dropped at random points (issue 24): while 32 tasks run reads and writes on a small
//! pool, 1 000 of their futures are dropped part-way (a timeout of a random few hundred
//! microseconds: during the acquire, the send, the wait for rows, a `COMMIT`). Every result
//! that does arrive must be its own request's (each carries its own id), and afterwards no
//! connection of the pool is left inside a transaction. PostgreSQL only (the executor this
//! issue replaces); it runs on whichever executor the build has.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dsg_lib::prelude::*;
use serde_json::json;

const TASKS: u64 = 32;
const DROPS_PER_TASK: u64 = 32;
const APP: &str = "dsg_i24_cancel";

/// A small deterministic generator (xorshift), one per task.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn postgres() -> Option<common::Backend> {
    common::servers().into_iter().find(|b| b.name == "postgres")
}

/// One operation, returning the ids it read back (each must be its own).
async fn operation(db: &AsyncDatabase, kind: u64, id: i64, slow: bool) -> Result<(), String> {
    let pause = if slow { 0.002 } else { 0.0 };
    match kind {
        // A point read outside a transaction.
        0 | 1 => {
            let ops = DatabaseOperations::new(db.clone());
            let got: Vec<i64> = ops
                .read_query(
                    &text("SELECT CAST(:id AS BIGINT) FROM (SELECT pg_sleep(:p)) AS s")
                        .bind("id", id)
                        .bind("p", pause),
                )
                .await
                .map_err(|e| format!("read {id}: {e}"))?;
            if got != [id] {
                return Err(format!("read {id} got {got:?}"));
            }
        }
        // A write in a transaction, read back inside it, then committed.
        _ => {
            let mut session = db
                .get_db_session()
                .await
                .map_err(|e| format!("session {id}: {e}"))?;
            session
                .execute_one(
                    &text("INSERT INTO i24_cancel (id, tag) VALUES (:id, :tag)")
                        .bind("id", id)
                        .bind("tag", format!("t{id}")),
                )
                .await
                .map_err(|e| format!("insert {id}: {e}"))?;
            let tag: Option<String> = session
                .fetch_optional(
                    &text("SELECT tag FROM i24_cancel, (SELECT pg_sleep(:p)) AS s WHERE id = :id")
                        .bind("p", pause)
                        .bind("id", id),
                )
                .await
                .map_err(|e| format!("read back {id}: {e}"))?;
            if tag.as_deref() != Some(format!("t{id}").as_str()) {
                return Err(format!("read back {id} got {tag:?}"));
            }
            session
                .commit()
                .await
                .map_err(|e| format!("commit {id}: {e}"))?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_futures_leave_no_transaction_open_and_no_result_goes_astray() {
    let Some(backend) = postgres() else { return };
    let admin = backend.database(json!({}));
    let ops = DatabaseOperations::new(admin.clone());
    ops.execute_one(&text("DROP TABLE IF EXISTS i24_cancel"))
        .await
        .expect("drop");
    ops.execute_one(&text(
        "CREATE TABLE i24_cancel (id BIGINT PRIMARY KEY, tag TEXT NOT NULL)",
    ))
    .await
    .expect("create");

    let db = backend.database(json!({
        "pool_size": 8,
        "max_overflow": 0,
        "pool_timeout": 30,
        "connect_args": {"application_name": APP},
    }));
    let next_id = Arc::new(AtomicU64::new(1));
    let completed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let db = db.clone();
        let next_id = next_id.clone();
        let completed = completed.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (task + 1).wrapping_mul(0x2545_F491));
            let mut dropped = 0;
            let mut rounds = 0;
            while dropped < DROPS_PER_TASK {
                rounds += 1;
                assert!(rounds < 20_000, "task {task}: too few drops");
                let id = i64::try_from(next_id.fetch_add(1, Ordering::Relaxed)).expect("id");
                let kind = rng.next() % 3;
                let slow = rng.next().is_multiple_of(4);
                let cut = !rng.next().is_multiple_of(3);
                let op = operation(&db, kind, id, slow);
                if cut {
                    let within = Duration::from_micros(50 + rng.next() % 3000);
                    match tokio::time::timeout(within, op).await {
                        Err(_) => dropped += 1,
                        Ok(result) => {
                            result.unwrap_or_else(|e| panic!("task {task}: {e}"));
                            completed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                } else {
                    op.await.unwrap_or_else(|e| panic!("task {task}: {e}"));
                    completed.fetch_add(1, Ordering::Relaxed);
                }
            }
            dropped
        }));
    }
    let mut dropped = 0;
    for task in tasks {
        dropped += task.await.expect("task");
    }
    assert!(dropped >= 1000, "{dropped} futures dropped");
    assert!(
        completed.load(Ordering::Relaxed) > 0,
        "no operation completed"
    );

    // The pool still serves every caller its own answer.
    for id in 0..32 {
        operation(&db, 0, -id - 1, false)
            .await
            .unwrap_or_else(|e| panic!("after the drops: {e}"));
    }
    // None of the pool's connections sits idle in a transaction on the server (a rollback
    // of a dropped session's connection may still be on its way: wait a little for it).
    let mut open = i64::MAX;
    for _ in 0..50 {
        let rows: Vec<i64> = DatabaseOperations::new(admin.clone())
            .read_query(
                &text(
                    "SELECT CAST(count(*) AS BIGINT) FROM pg_stat_activity \
                     WHERE application_name = :app AND state LIKE 'idle in transaction%'",
                )
                .bind("app", APP),
            )
            .await
            .expect("pg_stat_activity");
        open = rows[0];
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "connections left idle in a transaction");
    db.disconnect().await;
    ops_drop(&admin).await;
    admin.disconnect().await;
}

async fn ops_drop(admin: &AsyncDatabase) {
    DatabaseOperations::new(admin.clone())
        .execute_one(&text("DROP TABLE IF EXISTS i24_cancel"))
        .await
        .expect("drop");
}
