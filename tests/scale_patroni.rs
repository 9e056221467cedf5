//! Failover under a real HA manager: a Patroni 3 cluster of three PostgreSQL 15 nodes
//! (`scripts/beds/patroni.sh`) behind one multi-host `target_session_attrs=read-write` URI,
//! with the default configuration.
//!
//! Runs when `DSG_TEST_PATRONI_URL` is set (`eval "$(scripts/beds/patroni.sh start)"`;
//! `.ci/run` does it); a set URL whose bed does not answer fails the test. The test kills the
//! leader twice, so the bed is one test's at a time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dsg_lib::prelude::*;
use serde_json::json;

/// The bed is shared and one test kills its leader: one test at a time.
static BED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn patroni() -> Option<String> {
    std::env::var("DSG_TEST_PATRONI_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Runs `scripts/beds/patroni.sh ARGS`; whether it succeeded.
fn bed(args: &[&str]) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/beds/patroni.sh");
    std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Kills the leader's postmaster (kill -9), then waits until a new leader streams to both
/// other nodes (the old one rejoined); how long the cluster took to be whole again.
async fn kill_leader_and_wait() -> Duration {
    assert!(
        tokio::task::spawn_blocking(|| bed(&["kill-leader"]))
            .await
            .unwrap(),
        "patroni.sh kill-leader failed"
    );
    let killed = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if tokio::task::spawn_blocking(|| bed(&["status"]))
            .await
            .unwrap()
        {
            return killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(90),
            "the Patroni cluster was not whole again 90 s after the leader was killed"
        );
    }
}

/// The default `pool_timeout`.
const POOL_TIMEOUT: Duration = Duration::from_secs(30);

/// 4 writers insert through the multi-host URI while the leader is killed twice: no call
/// takes longer than `pool_timeout`, every insert that returned Ok is stored exactly once (the
/// key column has no unique index, so a doubled insert would show), a row stored without an Ok
/// is one whose error said the outcome was unknown, and with the defaults a failover costs
/// latency, not errors: the only errors are the inserts in flight on the killed leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_survive_two_leader_kills_with_the_defaults() {
    let Some(uri) = patroni() else { return };
    let _bed = BED.lock().await;
    let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).unwrap());
    let ops = DatabaseOperations::new(db.clone());
    let table = Arc::new(common::unique_table("t_patroni_failover"));
    ops.execute_one(&text(format!(
        "CREATE TABLE {table} (id BIGINT NOT NULL, writer INT NOT NULL)"
    )))
    .await
    .unwrap_or_else(|e| panic!("the Patroni bed at {uri} does not answer: {e}"));

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4i64 {
        let (ops, table, stop) = (ops.clone(), table.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            let mut i = 0i64;
            while !stop.load(Ordering::Acquire) {
                let id = w * 1_000_000 + i;
                let started = Instant::now();
                let result = ops
                    .execute_one(
                        &text(format!("INSERT INTO {table} (id, writer) VALUES (:id, :w)"))
                            .bind("id", id)
                            .bind("w", w),
                    )
                    .await
                    .map(|_| ());
                results.push((id, started.elapsed(), result));
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            results
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let first = kill_leader_and_wait().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let second = kill_leader_and_wait().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Release);

    let mut ok = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    let mut clear_errors = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut calls = 0usize;
    let mut slow = Vec::new();
    for writer in writers {
        for (id, took, result) in writer.await.unwrap() {
            calls += 1;
            slowest = slowest.max(took);
            if took > Duration::from_secs(2) {
                slow.push((id, took, result.as_ref().err().map(|e| e.to_string())));
            }
            assert!(
                took <= POOL_TIMEOUT,
                "insert {id} took {took:.2?}, longer than pool_timeout"
            );
            match result {
                Ok(()) => {
                    ok.insert(id);
                }
                Err(e) if e.is_outcome_unknown() => {
                    unknown.insert(id);
                }
                Err(e) => clear_errors.push((id, took, e)),
            }
        }
    }
    let rows: Vec<(i64, i64)> = ops
        .read_query(&text(format!(
            "SELECT id, COUNT(*) FROM {table} GROUP BY id"
        )))
        .await
        .unwrap();
    let stored: BTreeMap<i64, i64> = rows.into_iter().collect();
    let doubled: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "rows stored more than once: {doubled:?}"
    );
    let stored: BTreeSet<i64> = stored.into_keys().collect();
    let missing: Vec<_> = ok.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "inserts that returned Ok are missing: {missing:?}"
    );
    for id in stored.difference(&ok) {
        assert!(
            unknown.contains(id),
            "row {id} stored although its insert failed clearly"
        );
    }
    eprintln!(
        "{calls} inserts: {} Ok, {} outcome unknown, {} other errors, {} stored; slowest \
         {slowest:.2?}; {} runs again; cluster whole again {first:.1?} / {second:.1?} after \
         the kills",
        ok.len(),
        unknown.len(),
        clear_errors.len(),
        stored.len(),
        db.retries(),
    );
    for (id, took, e) in slow.iter().take(8) {
        eprintln!("  slow insert {id}: {took:.2?}, {e:?}");
    }
    for (id, took, e) in clear_errors.iter().take(5) {
        eprintln!("  insert {id} after {took:.2?}: {e}");
    }
    // Only the inserts in flight on a killed leader (at most one per writer and kill) may
    // fail, and only as "outcome unknown": the others wait for the new primary.
    assert!(
        clear_errors.is_empty(),
        "{} inserts failed during the failovers",
        clear_errors.len()
    );
    assert!(
        unknown.len() <= 8,
        "{} outcomes unknown: more than the inserts in flight",
        unknown.len()
    );
    ops.execute_one(&text(format!("DROP TABLE {table}")))
        .await
        .unwrap();
    db.disconnect().await;
}

/// While no host fits `read-write` (here: a URI naming only the two replicas), a write waits
/// for a primary up to `pool_timeout`, then fails once (not run again by the retry policy)
/// with a `ConnectionError` listing each host as it was seen last: a standby.
#[tokio::test]
async fn a_write_with_no_primary_waits_pool_timeout_then_names_each_host() {
    let Some(uri) = patroni() else { return };
    let _bed = BED.lock().await;
    let leader = tokio::task::spawn_blocking(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/beds/patroni.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .arg("leader")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "patroni.sh leader failed: the bed is down"
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .await
    .unwrap();
    // postgresql://postgres@h1:p1,h2:p2,h3:p3/test?... without the leader.
    let (head, rest) = uri.split_once('@').unwrap();
    let (hosts, tail) = rest.split_once('/').unwrap();
    let replicas: Vec<&str> = hosts
        .split(',')
        .filter(|h| !h.ends_with(&format!(":{leader}")))
        .collect();
    assert_eq!(replicas.len(), 2, "{hosts} without {leader}");
    let uri = format!("{head}@{}/{tail}", replicas.join(","));
    let db =
        AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri, "pool_timeout": 2})).unwrap());
    let started = Instant::now();
    let e = DatabaseOperations::new(db.clone())
        .execute_one(&text("CREATE TEMPORARY TABLE t_never (id INT)"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::ConnectionError, "{e}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "failed after {took:.2?}, not after pool_timeout (2 s): {e}"
    );
    for host in &replicas {
        assert!(
            e.details().contains(&format!("{host} (standby)")),
            "{host} not listed as a standby: {e}"
        );
    }
    assert!(e.details().contains("after waiting"), "{e}");
    assert!(!e.details().contains("primary"), "{e}");
    assert_eq!(db.retries(), 0, "the wait is not run again: {e}");
    eprintln!("failed after {took:.2?}: {e}");
    db.disconnect().await;
}
