//! Reads that share connections (issue 24): on the tokio-postgres executor (`pg-pipeline`) the
//! operations' reads outside a transaction run on a few shared connections (lanes), pipelined.
//! What a user checks: many reads in flight each get their own row, on few server
//! connections; sessions still get a connection of their own, also from a pool that small that
//! a lane holds part of it; a lane's connection killed under pipelined reads gives each caller
//! its own row or its own error; `disconnect()` with reads in flight returns and closes them.
//! PostgreSQL only; the behaviour every executor shares is checked on either, the connection
//! counts on the lanes' executor.

mod common;

use std::time::Duration;

use dsg_lib::prelude::*;
use serde_json::json;

fn postgres() -> Option<common::Backend> {
    common::servers().into_iter().find(|b| b.name == "postgres")
}

/// Server connections of `app` (its `application_name`).
async fn connections(admin: &DatabaseOperations, app: &str) -> i64 {
    let n: Vec<i64> = admin
        .read_query(
            &text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app")
                .bind("app", app),
        )
        .await
        .expect("pg_stat_activity");
    n[0]
}

/// `n` reads in flight at once, each of its own value; every one must get its own back.
async fn reads_in_flight(ops: &DatabaseOperations, n: i64, offset: i64) -> Vec<Result<(), String>> {
    let reads = (0..n).map(|k| {
        let id = offset + k;
        async move {
            let got: Vec<i64> = ops
                .read_query(&text("SELECT CAST(:id AS BIGINT)").bind("id", id))
                .await
                .map_err(|e| format!("read {id}: {e}"))?;
            if got == [id] {
                Ok(())
            } else {
                Err(format!("read {id} got {got:?}"))
            }
        }
    });
    futures::future::join_all(reads).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_reads_in_flight_share_few_connections() {
    let Some(backend) = postgres() else { return };
    let app = "dsg_i24_lanes_many";
    let db = backend.database(json!({"connect_args": {"application_name": app}}));
    let ops = DatabaseOperations::new(db.clone());
    let admin = DatabaseOperations::new(backend.database(json!({})));
    // A few reads one after another: the lanes fill from the idle connections.
    for id in 0..8 {
        assert!(reads_in_flight(&ops, 1, id).await[0].is_ok());
    }
    for round in 0..20 {
        for result in reads_in_flight(&ops, 20, 1000 * round).await {
            result.expect("each read gets its own row");
        }
    }
    let open = connections(&admin, app).await;
    if cfg!(feature = "pg-pipeline") {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        assert!(
            open <= cores + 1,
            "20 reads in flight ran on {open} connections, lanes: {cores}"
        );
    } else {
        assert!(open >= 1);
    }
    db.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_get_connections_of_their_own_beside_lanes() {
    let Some(backend) = postgres() else { return };
    // Two connections: one may be a lane; two sessions at once still get one each.
    let db = backend.database(json!({"pool_size": 2, "max_overflow": 0, "pool_timeout": 5}));
    let ops = DatabaseOperations::new(db.clone());
    for round in 0..5 {
        for result in reads_in_flight(&ops, 10, 100 * round).await {
            result.expect("read");
        }
    }
    let mut first = db.get_db_session().await.expect("first session");
    let mut second = tokio::time::timeout(Duration::from_secs(10), db.get_db_session())
        .await
        .expect("the second session waited for a lane no read is on, not forever")
        .expect("second session");
    let a: Option<i32> = first
        .fetch_optional(&text("SELECT pg_backend_pid()"))
        .await
        .expect("pid");
    let b: Option<i32> = second
        .fetch_optional(&text("SELECT pg_backend_pid()"))
        .await
        .expect("pid");
    assert_ne!(a, b, "two sessions on one server connection");
    first.commit().await.expect("commit");
    second.commit().await.expect("commit");
    // Reads and sessions taking turns on the small pool: none waits out `pool_timeout`.
    let session_loop = async {
        for _ in 0..20 {
            let mut s = db.get_db_session().await.expect("session while reads run");
            let _: Option<i32> = s
                .fetch_optional(&text("SELECT 1"))
                .await
                .expect("in session");
            s.commit().await.expect("commit");
        }
    };
    let read_loop = async {
        for round in 0..20 {
            for result in reads_in_flight(&ops, 8, 10_000 + 100 * round).await {
                result.expect("read while sessions run");
            }
        }
    };
    tokio::join!(session_loop, read_loop);
    db.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_shared_connection_gives_each_caller_its_own_answer() {
    let Some(backend) = postgres() else { return };
    let app = "dsg_i24_lanes_kill";
    let db = backend.database(json!({"connect_args": {"application_name": app}}));
    let ops = DatabaseOperations::new(db.clone());
    let admin = DatabaseOperations::new(backend.database(json!({})));
    for id in 0..8 {
        assert!(reads_in_flight(&ops, 1, id).await[0].is_ok());
    }
    for round in 0..10 {
        // Slow reads in flight on the lanes while their server connections are terminated.
        let reads = (0..20).map(|k| {
            let id = 100_000 * (round + 1) + k;
            let ops = &ops;
            async move {
                let got: Vec<i64> = ops
                    .read_query(
                        &text("SELECT CAST(:id AS BIGINT) FROM (SELECT pg_sleep(0.02)) AS s")
                            .bind("id", id),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if got != [id] {
                    panic!("read {id} got another caller's row: {got:?}");
                }
                Ok::<(), String>(())
            }
        });
        let kill = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            admin
                .execute_one(
                    &text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = :app",
                    )
                    .bind("app", app),
                )
                .await
                .expect("terminate");
        };
        let (results, ()) = tokio::join!(futures::future::join_all(reads), kill);
        for result in results {
            if let Err(e) = result {
                // Its own error: the connection was lost (a read is tried once more on a
                // fresh connection, which may be terminated too).
                assert!(
                    e.contains("connection") || e.contains("terminat"),
                    "unexpected error: {e}"
                );
            }
        }
    }
    // Afterwards every read works again.
    for result in reads_in_flight(&ops, 20, 9_000_000).await {
        result.expect("read after the kills");
    }
    db.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_with_shared_reads_in_flight_returns_and_closes_them() {
    let Some(backend) = postgres() else { return };
    let app = "dsg_i24_lanes_disconnect";
    let db = backend.database(json!({"connect_args": {"application_name": app}}));
    let ops = DatabaseOperations::new(db.clone());
    let admin = DatabaseOperations::new(backend.database(json!({})));
    for id in 0..8 {
        assert!(reads_in_flight(&ops, 1, id).await[0].is_ok());
    }
    let reads = tokio::spawn({
        let ops = ops.clone();
        async move {
            let reads = (0..20).map(|k| {
                let ops = &ops;
                async move {
                    ops.read_query::<i64>(
                        &text("SELECT CAST(:id AS BIGINT) FROM (SELECT pg_sleep(0.2)) AS s")
                            .bind("id", k),
                    )
                    .await
                }
            });
            futures::future::join_all(reads).await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(15), db.disconnect())
        .await
        .expect("disconnect returned");
    let results = reads.await.expect("reads task");
    for (k, result) in results.into_iter().enumerate() {
        if let Ok(rows) = result {
            assert_eq!(rows, [k as i64], "a read got another's row");
        }
    }
    let err = ops
        .read_query::<i64>(&text("SELECT 1"))
        .await
        .expect_err("reads after disconnect fail");
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    // Every server connection of the database is closed.
    let mut open = connections(&admin, app).await;
    for _ in 0..50 {
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = connections(&admin, app).await;
    }
    assert_eq!(open, 0, "connections left open after disconnect");
}

/// A read cut short (its future dropped while the server still runs its statement) never
/// holds up the reads after it: with the default pool, reads in flight beside it and the
/// reads that come after each answer at once with their own row, and one after another they
/// all run on one connection, not the one still busy with the cut-short statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_cut_short_holds_up_no_later_read() {
    let Some(backend) = postgres() else { return };
    let db = backend.database(json!({}));
    let ops = DatabaseOperations::new(db.clone());
    let pid = || async {
        let pid: Option<i64> = ops
            .read_one_record(&text("SELECT CAST(pg_backend_pid() AS BIGINT)"))
            .await
            .expect("pid");
        pid.expect("one row")
    };
    // Warm: the lanes exist.
    for result in reads_in_flight(&ops, 20, 0).await {
        result.expect("each read gets its own row");
    }
    let sleep = text("SELECT CAST(1 AS BIGINT) FROM pg_sleep(3)");
    let cut = tokio::time::timeout(
        Duration::from_millis(300),
        ops.read_one_record::<i64>(&sleep),
    )
    .await;
    assert!(cut.is_err(), "the sleep was cut short");

    let started = std::time::Instant::now();
    for result in reads_in_flight(&ops, 20, 5000).await {
        result.expect("each read gets its own row");
    }
    let first = pid().await;
    for _ in 0..5 {
        assert_eq!(
            pid().await,
            first,
            "reads one after another share one connection"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the reads after the cut-short one waited {:?}",
        started.elapsed()
    );
    db.disconnect().await;
}

/// A lane with many reads in flight is driven by a task of its own (on `pg-pipeline`), on the
/// runtime of the read that started it. When that runtime ends, the lane goes back to its
/// callers: reads from another runtime get their own row or an error, never another's and
/// never a wait without end, and the pool serves them again once the connections of the ended
/// runtime are replaced.
#[test]
fn reads_after_the_runtime_that_drove_a_lane_ended_never_hang() {
    let Some(backend) = postgres() else { return };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    };
    let first = runtime();
    let ops = first.block_on(async {
        let ops = DatabaseOperations::new(backend.database(json!({})));
        for round in 0..5 {
            for result in reads_in_flight(&ops, 64, 1_000 * round).await {
                result.expect("read in flight");
            }
        }
        ops
    });
    drop(first);
    let second = runtime();
    second.block_on(async {
        let mut last = Vec::new();
        for round in 0..3 {
            last = tokio::time::timeout(
                Duration::from_secs(30),
                reads_in_flight(&ops, 32, 100_000 * (round + 1)),
            )
            .await
            .expect("reads waited without end after the runtime driving their lane ended");
            for result in &last {
                if let Err(e) = result {
                    assert!(!e.contains(" got "), "a read got another's row: {e}");
                }
            }
        }
        for result in last {
            result.expect("a read once the old runtime's connections are replaced");
        }
    });
}
