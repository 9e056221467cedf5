//! The MySQL/MariaDB executor under cancellation and lost connections (issue 24): it runs on
//! whichever executor the build has (mysql_async with the `mysql-async` feature, sqlx
//! otherwise), on the server `DSG_TEST_MYSQL_URL` names.
//!
//! - Futures dropped at random points: while 32 tasks run reads and writes on a pool of 8,
//!   1 000 of their futures are dropped part-way (a timeout of a random few milliseconds:
//!   during the acquire, the send, the wait for rows, a `COMMIT`). Every result that does
//!   arrive must be its own request's (each carries its own id), and afterwards no connection
//!   is left inside a transaction (none idle with an open InnoDB transaction, no row lock
//!   held, no write of a transaction rolled back or dropped before its `COMMIT` kept).
//! - A connection killed (`KILL <id>` from another connection) while a statement runs on it
//!   gives that caller a connection error; the pool then serves every caller again, never on
//!   the killed connection.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dsg_lib::prelude::*;
use serde_json::json;

const TASKS: u64 = 32;
const DROPS_PER_TASK: u64 = 32;

/// The two tests use the server's table and processlist: one at a time.
static SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

fn mysql() -> Option<common::Backend> {
    common::servers().into_iter().find(|b| b.name == "mysql")
}

/// One operation; every value it reads back must be its own request's.
async fn operation(db: &AsyncDatabase, kind: u64, id: i64, slow: bool) -> Result<(), String> {
    let pause = if slow { 0.002 } else { 0.0 };
    match kind {
        // A point read outside a transaction.
        0 => {
            let ops = DatabaseOperations::new(db.clone());
            let got: Vec<i64> = ops
                .read_query(
                    &text("SELECT CAST(:id AS SIGNED) FROM (SELECT SLEEP(:p) AS z) AS s")
                        .bind("id", id)
                        .bind("p", pause),
                )
                .await
                .map_err(|e| format!("read {id}: {e}"))?;
            if got != [id] {
                return Err(format!("read {id} got {got:?}"));
            }
        }
        // A write committed on its own, its row counted back.
        1 => {
            let ops = DatabaseOperations::new(db.clone());
            ops.execute_one(
                &text("INSERT INTO i24_my_cancel (id, tag) VALUES (:id, :tag)")
                    .bind("id", id)
                    .bind("tag", format!("t{id}")),
            )
            .await
            .map_err(|e| format!("write {id}: {e}"))?;
            let tags: Vec<String> = ops
                .read_query(&text("SELECT tag FROM i24_my_cancel WHERE id = :id").bind("id", id))
                .await
                .map_err(|e| format!("read back {id}: {e}"))?;
            if tags != [format!("t{id}")] {
                return Err(format!("read back {id} got {tags:?}"));
            }
        }
        // A write in a transaction, read back inside it, then committed (kind 2) or rolled
        // back or dropped (kind 3: its row, tagged `r…`, must never be seen afterwards).
        _ => {
            let tag = if kind == 2 {
                format!("t{id}")
            } else {
                format!("r{id}")
            };
            let mut session = db
                .get_db_session()
                .await
                .map_err(|e| format!("session {id}: {e}"))?;
            session
                .execute_one(
                    &text("INSERT INTO i24_my_cancel (id, tag) VALUES (:id, :tag)")
                        .bind("id", id)
                        .bind("tag", tag.clone()),
                )
                .await
                .map_err(|e| format!("insert {id}: {e}"))?;
            let got: Option<String> = session
                .fetch_optional(
                    &text("SELECT tag FROM i24_my_cancel WHERE id = :id AND SLEEP(:p) = 0")
                        .bind("p", pause)
                        .bind("id", id),
                )
                .await
                .map_err(|e| format!("read back {id}: {e}"))?;
            if got.as_deref() != Some(tag.as_str()) {
                return Err(format!("read back {id} got {got:?}"));
            }
            if kind == 2 {
                session
                    .commit()
                    .await
                    .map_err(|e| format!("commit {id}: {e}"))?;
            } else if id % 2 == 0 {
                session
                    .rollback()
                    .await
                    .map_err(|e| format!("rollback {id}: {e}"))?;
            } else {
                // Dropped without a word: rolled back before its connection is reused.
                drop(session);
            }
        }
    }
    Ok(())
}

async fn run(admin: &AsyncDatabase, sql: &str) {
    DatabaseOperations::new(admin.clone())
        .execute_one(&text(sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Connections of this server's `test` database that sit idle inside an InnoDB transaction.
async fn idle_in_transaction(admin: &AsyncDatabase) -> i64 {
    let rows: Vec<i64> = DatabaseOperations::new(admin.clone())
        .read_query(&text(
            "SELECT CAST(COUNT(*) AS SIGNED) FROM information_schema.innodb_trx t \
             JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id \
             WHERE p.command = 'Sleep' AND p.db = DATABASE()",
        ))
        .await
        .expect("innodb_trx");
    rows[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_futures_leave_no_transaction_open_and_no_result_goes_astray() {
    let Some(backend) = mysql() else { return };
    let _server = SERVER.lock().await;
    let admin = backend.database(json!({}));
    run(&admin, "DROP TABLE IF EXISTS i24_my_cancel").await;
    run(
        &admin,
        "CREATE TABLE i24_my_cancel (id BIGINT PRIMARY KEY, tag VARCHAR(40) NOT NULL) \
         ENGINE=InnoDB",
    )
    .await;

    let db = backend.database(json!({"pool_size": 8, "max_overflow": 0, "pool_timeout": 30}));
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
                let kind = rng.next() % 4;
                let slow = rng.next().is_multiple_of(4);
                let cut = !rng.next().is_multiple_of(3);
                let op = operation(&db, kind, id, slow);
                if cut {
                    let within = Duration::from_micros(50 + rng.next() % 4000);
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
    for id in 0..32u64 {
        let own = -i64::try_from(id).expect("id") - 1;
        operation(&db, id % 4, own, false)
            .await
            .unwrap_or_else(|e| panic!("after the drops: {e}"));
    }
    // No connection sits idle inside a transaction (a rollback of a dropped session's
    // connection may still be on its way: wait a little for it) ...
    let mut open = i64::MAX;
    for _ in 0..50 {
        open = idle_in_transaction(&admin).await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "connections left idle in a transaction");
    // No write of a transaction that was rolled back, or dropped before its COMMIT, was kept
    // (a connection given back inside a transaction would have it committed by the next
    // `START TRANSACTION`).
    let kept: Vec<i64> = DatabaseOperations::new(admin.clone())
        .read_query(&text(
            "SELECT CAST(COUNT(*) AS SIGNED) FROM i24_my_cancel WHERE tag LIKE 'r%'",
        ))
        .await
        .expect("count");
    assert_eq!(kept, [0], "rolled-back writes were kept");
    // ... and none holds a row lock: every row can be deleted at once.
    tokio::time::timeout(
        Duration::from_secs(20),
        run(&admin, "DELETE FROM i24_my_cancel"),
    )
    .await
    .expect("a row lock is still held");
    db.disconnect().await;
    run(&admin, "DROP TABLE IF EXISTS i24_my_cancel").await;
    admin.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_fails_its_caller_and_the_pool_recovers() {
    let Some(backend) = mysql() else { return };
    let _server = SERVER.lock().await;
    let admin = backend.database(json!({}));
    let db = backend.database(json!({"pool_size": 2, "max_overflow": 0, "pool_timeout": 10}));
    let ops = DatabaseOperations::new(db.clone());

    for round in 0..3 {
        let mut session = db.get_db_session().await.expect("session");
        let victim: Option<i64> = session
            .fetch_optional(&text("SELECT CAST(CONNECTION_ID() AS SIGNED)"))
            .await
            .expect("connection id");
        let victim = victim.expect("an id");
        let killer = {
            let admin = admin.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                run(&admin, &format!("KILL {victim}")).await;
            }
        };
        let sleep = text("SELECT CAST(SLEEP(5) AS SIGNED)");
        let (slow, ()) = tokio::join!(session.fetch_optional::<i64>(&sleep), killer);
        let err = slow.expect_err("the killed connection's statement must fail");
        assert_eq!(
            err.kind(),
            ErrorKind::ConnectionError,
            "round {round}: {err}"
        );
        drop(session);

        // The pool serves every caller again, never on the killed connection.
        for _ in 0..10 {
            let ids: Vec<i64> = ops
                .read_query(&text("SELECT CAST(CONNECTION_ID() AS SIGNED)"))
                .await
                .unwrap_or_else(|e| panic!("round {round}: after the kill: {e}"));
            assert_eq!(ids.len(), 1);
            assert_ne!(
                ids[0], victim,
                "round {round}: the killed connection came back"
            );
        }
        let mut session = db.get_db_session().await.expect("session after the kill");
        let one: Option<i64> = session
            .fetch_optional(&text("SELECT CAST(1 AS SIGNED)"))
            .await
            .expect("a statement after the kill");
        assert_eq!(one, Some(1));
        session.commit().await.expect("commit after the kill");
    }
    let stats = db.pool_stats();
    assert!(
        stats.size <= 2,
        "{stats:?}: more connections open than the pool's 2"
    );
    assert_eq!(stats.in_use, 0, "{stats:?}");
    db.disconnect().await;
    admin.disconnect().await;
}

/// The server's count of prepared statements open on all its connections.
async fn prepared_statements(admin: &AsyncDatabase) -> i64 {
    let rows: Vec<i64> = DatabaseOperations::new(admin.clone())
        .read_query(&text(
            "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'",
        ))
        .await
        .expect("Prepared_stmt_count");
    rows[0]
}

/// Without a statement cache (`query_cache_size = 0`) every statement is closed on the server
/// after it ran, also one the server refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_statements_are_closed_also_after_an_error() {
    let Some(backend) = mysql() else { return };
    let _server = SERVER.lock().await;
    let admin = backend.database(json!({}));
    run(&admin, "DROP TABLE IF EXISTS i24_my_uncached").await;
    run(
        &admin,
        "CREATE TABLE i24_my_uncached (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
    )
    .await;
    let db = backend.database(json!({"pool_size": 1, "max_overflow": 0, "query_cache_size": 0}));
    let ops = DatabaseOperations::new(db.clone());
    ops.execute_one(&text("INSERT INTO i24_my_uncached (id) VALUES (:id)").bind("id", 1))
        .await
        .expect("first insert");
    let before = prepared_statements(&admin).await;
    for round in 0..40 {
        let err = ops
            .execute_one(&text("INSERT INTO i24_my_uncached (id) VALUES (:id)").bind("id", 1))
            .await
            .expect_err("a duplicate");
        assert_eq!(
            err.kind(),
            ErrorKind::IntegrityError,
            "round {round}: {err}"
        );
        let ids: Vec<i64> = ops
            .read_query(&text("SELECT id FROM i24_my_uncached WHERE id = :id").bind("id", 1))
            .await
            .expect("read");
        assert_eq!(ids, [1]);
    }
    let after = prepared_statements(&admin).await;
    assert!(
        after - before < 10,
        "prepared statements left open: {before} before, {after} after"
    );
    db.disconnect().await;
    run(&admin, "DROP TABLE IF EXISTS i24_my_uncached").await;
    admin.disconnect().await;
}
