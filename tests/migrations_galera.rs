//! Migrations on a three-node MariaDB Galera cluster (issue 25): `GET_LOCK` is per node there,
//! so runs on different nodes also take a lock row (`<history>_lock`, certified by the cluster).
//! Four pools, spread over the three nodes, migrating at once apply each migration once; the
//! DDL and the history are on every node afterwards.
//!
//! Runs when `DSG_TEST_GALERA_URL` is set (`eval "$(scripts/beds/galera.sh start)"`). It
//! shares the bed with `scale_galera`, whose tests kill nodes: one nextest group for both.

use dsg_lib::async_database_functions::migrations::{Migration, Migrations};
use dsg_lib::prelude::*;
use serde_json::json;

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

fn database(uri: &str) -> AsyncDatabase {
    AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).unwrap())
}

fn set() -> Migrations {
    let mut list = vec![Migration::sql(
        1,
        "log",
        "CREATE TABLE mig_gl_log (version INTEGER NOT NULL PRIMARY KEY)",
        None,
    )];
    for v in 2..=10 {
        list.push(Migration::sql(
            v,
            format!("t{v}"),
            format!(
                "CREATE TABLE mig_gl_t{v} (id INTEGER PRIMARY KEY);\n\
                 INSERT INTO mig_gl_log (version) VALUES ({v})"
            ),
            None,
        ));
    }
    Migrations::new(list).unwrap()
}

async fn synced_count(db: &AsyncDatabase, sql: &str) -> i64 {
    let mut session = db.get_db_session().await.unwrap();
    session
        .execute_sql("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let n: Vec<i64> = session.fetch_all(text(sql)).await.unwrap();
    session
        .execute_sql("SET SESSION wsrep_sync_wait = 0")
        .await
        .unwrap();
    session.commit().await.unwrap();
    n[0]
}

async fn drop_all(db: &AsyncDatabase) {
    let mut session = db.get_db_session().await.unwrap();
    for v in 2..=10 {
        session
            .execute_sql(&format!("DROP TABLE IF EXISTS mig_gl_t{v}"))
            .await
            .unwrap();
    }
    for t in ["mig_gl_log", "mig_gl_history", "mig_gl_history_lock"] {
        session
            .execute_sql(&format!("DROP TABLE IF EXISTS {t}"))
            .await
            .unwrap();
    }
    session.commit().await.unwrap();
}

#[tokio::test]
async fn four_pools_on_three_galera_nodes_apply_each_migration_once() {
    let Some(uri) = std::env::var("DSG_TEST_GALERA_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let nodes = nodes(&uri);
    let first = database(&nodes[0]);
    drop_all(&first).await;
    let runs: Vec<_> = (0..4)
        .map(|i| {
            let node = nodes[i % nodes.len()].clone();
            tokio::spawn(async move {
                let db = database(&node);
                let report = db
                    .migrator(&set())
                    .history_table("mig_gl_history")
                    .unwrap()
                    .migrate()
                    .await;
                db.disconnect().await;
                report
            })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.push(
            run.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{e}"))
                .applied
                .len(),
        );
    }
    assert_eq!(
        applied.iter().sum::<usize>(),
        10,
        "each migration once: {applied:?}"
    );
    for node in &nodes {
        let db = database(node);
        assert_eq!(
            synced_count(&db, "SELECT COUNT(*) FROM mig_gl_history").await,
            10,
            "{node}"
        );
        assert_eq!(
            synced_count(&db, "SELECT COUNT(*) FROM mig_gl_log").await,
            9,
            "{node}"
        );
        assert_eq!(
            synced_count(&db, "SELECT COUNT(*) FROM mig_gl_t10").await,
            0,
            "{node}"
        );
        assert_eq!(
            synced_count(&db, "SELECT COUNT(*) FROM mig_gl_history_lock").await,
            0,
            "{node}: the lock row was given back"
        );
        db.disconnect().await;
    }
    eprintln!(
        "[galera] four pools over three nodes applied {applied:?}; every node has the schema"
    );
    drop_all(&first).await;
    first.disconnect().await;
}
