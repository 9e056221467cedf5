//! Issue 28, item 1: a host that refuses connections (a stopped server: RST) costs no call more
//! than a second, whatever the pool's idle state and `pool_pre_ping`.
//!
//! Before, a pool with idle connections to a stopped server (found dead by `pool_pre_ping`, or
//! stale after an invalidation) opened a new one with sqlx alone, which retries a refused
//! connect as a server still starting: calls stalled for the whole `pool_timeout` and then
//! said "the server did not answer".
//!
//! On the PostgreSQL primary + standby bed (`eval "$(scripts/beds/pg-standby.sh start)"`;
//! `DSG_TEST_PG_PRIMARY_URL`, `DSG_TEST_PG_STANDBY_URL`): the standby, a read replica with
//! idle connections, is stopped (reads fall back to the primary, none fails, none takes over
//! a second); then the primary, as the only server of a database, is stopped (every call fails
//! within a second with a `ConnectionError` naming the host and "connection refused"). Each
//! with and without `pool_pre_ping`, over 100 calls or more. Both servers are started again.
//! The tests take turns on the bed (and with `scale_replicas.rs`'s, run them one binary at a
//! time).

use std::time::{Duration, Instant};

use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::statement::text;
use serde_json::json;

static BED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The longest a call may take once the host refuses.
const BOUND: Duration = Duration::from_secs(1);
/// Long enough that a stall is plain (the issue saw 4-30 s).
const POOL_TIMEOUT: u64 = 8;

fn urls() -> Option<(String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|u| !u.is_empty());
    Some((
        get("DSG_TEST_PG_PRIMARY_URL")?,
        get("DSG_TEST_PG_STANDBY_URL")?,
    ))
}

async fn bed(args: &'static [&'static str]) {
    tokio::task::spawn_blocking(move || {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/beds/pg-standby.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("pg-standby.sh {args:?}: {e}"));
        assert!(status.success(), "pg-standby.sh {args:?} failed");
    })
    .await
    .unwrap_or_else(|e| panic!("pg-standby.sh {args:?}: {e}"));
}

/// `host:port` of a bed URL (`postgres://postgres@127.0.0.1:5441/test` → `127.0.0.1:5441`).
fn host_port(url: &str) -> String {
    let after = url.split_once('@').map_or(url, |(_, rest)| rest);
    after.split('/').next().unwrap_or(after).to_string()
}

fn database(map: serde_json::Value) -> AsyncDatabase {
    AsyncDatabase::new(DBConfig::new(map).unwrap_or_else(|e| panic!("config: {e}")))
}

/// Opens `n` connections at once (each holding a session over a statement), so the pools
/// have idle connections afterwards.
async fn warm(ops: &DatabaseOperations, n: usize, label: &str) {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let ops = ops.clone();
        tasks.push(tokio::spawn(async move {
            ops.read_query::<i32>(&text("SELECT 1 FROM pg_sleep(0.05)"))
                .await
        }));
    }
    for task in tasks {
        task.await
            .unwrap_or_else(|e| panic!("[{label}] warm-up panicked: {e}"))
            .unwrap_or_else(|e| panic!("[{label}] warm-up: {e}"));
    }
}

/// The standby, a read replica with idle connections, is stopped: 120 calls (reads, which
/// fall back to the primary, and writes) all succeed, none over a second.
#[tokio::test]
async fn a_stopped_replica_costs_no_call_more_than_a_second() {
    let Some((primary, standby)) = urls() else {
        return;
    };
    let _bed = BED.lock().await;
    let mut problems = Vec::new();
    for pre_ping in [false, true] {
        let label = format!("replica stopped, pool_pre_ping {pre_ping}");
        let db = database(json!({
            "database_uri": primary,
            "read_replica_uris": [standby],
            "pool_pre_ping": pre_ping,
            "pool_timeout": POOL_TIMEOUT,
        }));
        let ops = DatabaseOperations::new(db.clone());
        ops.execute_many([
            text("DROP TABLE IF EXISTS t_scale_refused"),
            text("CREATE TABLE t_scale_refused (id INT PRIMARY KEY, n BIGINT NOT NULL)"),
            text("INSERT INTO t_scale_refused VALUES (1, 0)"),
        ])
        .await
        .unwrap_or_else(|e| panic!("[{label}] setup: {e}"));
        warm(&ops, 6, &label).await;
        let idle = db.pool_stats().idle;
        bed(&["kill-standby"]).await;
        let mut slowest = Duration::ZERO;
        let mut failed = 0;
        for i in 0..120i64 {
            let started = Instant::now();
            let result = if i % 4 == 3 {
                ops.execute_one(
                    &text("UPDATE t_scale_refused SET n = :n WHERE id = 1").bind("n", i),
                )
                .await
                .map(drop)
            } else {
                ops.read_query::<i64>(&text("SELECT n FROM t_scale_refused WHERE id = 1"))
                    .await
                    .map(drop)
            };
            let took = started.elapsed();
            slowest = slowest.max(took);
            if let Err(e) = result {
                failed += 1;
                if failed <= 3 {
                    problems.push(format!("[{label}] call {i} failed after {took:.2?}: {e}"));
                }
            }
            if took > BOUND {
                problems.push(format!("[{label}] call {i} took {took:.2?}"));
            }
        }
        eprintln!(
            "[{label}] {idle} idle connections before the stop; 120 calls, slowest {slowest:.2?}, \
             {failed} failed"
        );
        bed(&["start-standby"]).await;
        db.disconnect().await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The only server of a database, with idle connections in its pool, is stopped: 100 calls
/// each fail within a second with a `ConnectionError` naming the host and "connection
/// refused".
#[tokio::test]
async fn a_stopped_only_server_fails_every_call_within_a_second() {
    let Some((primary, _)) = urls() else {
        return;
    };
    let _bed = BED.lock().await;
    let host = host_port(&primary);
    let mut problems = Vec::new();
    for pre_ping in [false, true] {
        let label = format!("only server stopped, pool_pre_ping {pre_ping}");
        let db = database(json!({
            "database_uri": primary,
            "pool_pre_ping": pre_ping,
            "pool_timeout": POOL_TIMEOUT,
        }));
        let ops = DatabaseOperations::new(db.clone());
        warm(&ops, 6, &label).await;
        let idle = db.pool_stats().idle;
        bed(&["kill-primary"]).await;
        let mut slowest = Duration::ZERO;
        let mut kinds = std::collections::BTreeMap::new();
        for i in 0..100 {
            let started = Instant::now();
            let result = ops.read_query::<i32>(&text("SELECT 1")).await;
            let took = started.elapsed();
            slowest = slowest.max(took);
            match result {
                Ok(_) => problems.push(format!("[{label}] call {i} succeeded on a stopped server")),
                Err(e) => {
                    let right = e.kind() == ErrorKind::ConnectionError
                        && e.details().contains(&host)
                        && e.details().contains("connection refused");
                    *kinds.entry(right).or_insert(0) += 1;
                    if !right && kinds[&false] <= 3 {
                        problems.push(format!(
                            "[{label}] call {i}: expected a ConnectionError naming {host} and \
                             \"connection refused\", got {e}"
                        ));
                    }
                }
            }
            if took > BOUND {
                problems.push(format!("[{label}] call {i} took {took:.2?}"));
            }
        }
        eprintln!(
            "[{label}] {idle} idle connections before the stop; 100 calls, slowest {slowest:.2?}, \
             errors as required / not: {kinds:?}"
        );
        bed(&["start-primary"]).await;
        db.disconnect().await;
    }
    // The standby follows the restarted primary again before the next test uses the pair.
    bed(&["start-standby"]).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Galera (`eval "$(scripts/beds/galera.sh start)"`, `DSG_TEST_GALERA_URL`): Galera's suspect
/// timeout, during which the other nodes hold writes after a node dies.
const SUSPECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn galera_bed(args: &'static [&'static str]) {
    tokio::task::spawn_blocking(move || {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/beds/galera.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("galera.sh {args:?}: {e}"));
        assert!(status.success(), "galera.sh {args:?} failed");
    })
    .await
    .unwrap_or_else(|e| panic!("galera.sh {args:?}: {e}"));
}

/// A Galera node, with idle connections in its pool, is killed (SIGKILL: its port refuses);
/// 120 calls (reads, and inserts in their own transaction) over the three-node URI all succeed,
/// none over a second plus Galera's suspect timeout, and those after the suspect window none
/// over a second.
#[tokio::test]
async fn a_killed_galera_node_costs_no_call_more_than_a_second_plus_the_suspect_timeout() {
    let Some(uri) = std::env::var("DSG_TEST_GALERA_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let _bed = BED.lock().await;
    let mut problems = Vec::new();
    for pre_ping in [false, true] {
        let label = format!("Galera node killed, pool_pre_ping {pre_ping}");
        let db = database(json!({
            "database_uri": uri,
            "pool_pre_ping": pre_ping,
            "pool_timeout": POOL_TIMEOUT,
        }));
        let ops = DatabaseOperations::new(db.clone());
        ops.execute_one(&text(
            "CREATE TABLE IF NOT EXISTS t_scale_refused_g (id BIGINT PRIMARY KEY, note VARCHAR(20))",
        ))
        .await
        .unwrap_or_else(|e| panic!("[{label}] setup: {e}"));
        // Sessions go round robin: 9 at once leave idle connections on every node.
        let mut tasks = Vec::new();
        for _ in 0..9 {
            let ops = ops.clone();
            tasks.push(tokio::spawn(async move {
                ops.read_query::<i64>(&text("SELECT SLEEP(0.05)")).await
            }));
        }
        for task in tasks {
            task.await
                .unwrap_or_else(|e| panic!("[{label}] warm-up panicked: {e}"))
                .unwrap_or_else(|e| panic!("[{label}] warm-up: {e}"));
        }
        let idle = db.pool_stats().idle;
        // The cluster's own failover time: one insert through node 1 alone, begun with the
        // first call below.
        let node1 = uri.replacen(
            &uri[uri.find('@').map_or(0, |i| i + 1)..uri.rfind('/').unwrap_or(uri.len())],
            &uri[uri.find('@').map_or(0, |i| i + 1)..uri.find(',').unwrap_or(uri.len())],
            1,
        );
        let control_db = database(json!({"database_uri": node1}));
        let control_ops = DatabaseOperations::new(control_db.clone());
        control_ops
            .read_query::<i64>(&text("SELECT 1"))
            .await
            .unwrap_or_else(|e| panic!("[{label}] control: {e}"));
        galera_bed(&["kill-node", "2"]).await;
        let killed = Instant::now();
        let control_id = base_of(pre_ping) + 999;
        let control = tokio::spawn(async move {
            let started = Instant::now();
            let result = control_ops
                .execute_one(
                    &text("INSERT INTO t_scale_refused_g (id, note) VALUES (:id, 'c')")
                        .bind("id", control_id),
                )
                .await;
            (started.elapsed(), result.map(drop))
        });
        let mut slowest = Duration::ZERO;
        let mut slowest_late = Duration::ZERO;
        let mut failed = 0;
        let base = base_of(pre_ping);
        for i in 0..120i64 {
            let started = Instant::now();
            let result = if i % 2 == 0 {
                let mut statements: Vec<dsg_lib::async_database_functions::statement::Text> =
                    Vec::new();
                statements.push(
                    text("INSERT INTO t_scale_refused_g (id, note) VALUES (:id, 'x')")
                        .bind("id", base + i),
                );
                ops.execute_many(statements).await.map(drop)
            } else {
                ops.read_query::<i64>(&text("SELECT COUNT(*) FROM t_scale_refused_g"))
                    .await
                    .map(drop)
            };
            let took = started.elapsed();
            slowest = slowest.max(took);
            let late = started.duration_since(killed) > SUSPECT_TIMEOUT + BOUND;
            if late {
                slowest_late = slowest_late.max(took);
            }
            if let Err(e) = result {
                failed += 1;
                if failed <= 3 {
                    problems.push(format!("[{label}] call {i} failed after {took:.2?}: {e}"));
                }
            }
            if took > BOUND + SUSPECT_TIMEOUT.mul_f64(2.0) || (late && took > BOUND) {
                problems.push(format!("[{label}] call {i} took {took:.2?}"));
            }
        }
        let (failover, control_result) = control
            .await
            .unwrap_or_else(|e| panic!("[{label}] control panicked: {e}"));
        if let Err(e) = control_result {
            problems.push(format!(
                "[{label}] the control insert on node 1 failed: {e}"
            ));
        }
        if slowest > failover + BOUND {
            problems.push(format!(
                "[{label}] the slowest call took {slowest:.2?}, more than a second over the \
                 cluster's own failover ({failover:.2?}, an insert on node 1 alone)"
            ));
        }
        control_db.disconnect().await;
        eprintln!(
            "[{label}] {idle} idle connections before the kill; 120 calls, slowest {slowest:.2?}, \
             slowest after the suspect window {slowest_late:.2?}, {failed} failed; the \
             cluster's own failover (an insert on node 1 alone) took {failover:.2?}"
        );
        galera_bed(&["start-node", "2"]).await;
        db.disconnect().await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The first id of a run's inserts: random, so reruns insert new ids.
fn base_of(pre_ping: bool) -> i64 {
    let random = i64::try_from(uuid::Uuid::new_v4().as_u128() & 0xf_ffff).unwrap_or(0);
    (random * 2 + i64::from(pre_ping)) * 10_000
}
