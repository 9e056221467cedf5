//! Migrations on a PostgreSQL primary + hot standby (issue 25): they always run on the
//! primary, whether the standby is named first in a multi-host URI with
//! `target_session_attrs=read-write` or is a read replica (`read_replica_uris`); the history
//! reads (`status`) after a run see it, and the standby replays the schema.
//!
//! Runs when `DSG_TEST_PG_PRIMARY_URL`, `DSG_TEST_PG_STANDBY_URL` and `DSG_TEST_PG_MULTI_URL`
//! are set (`eval "$(scripts/beds/pg-standby.sh start)"`).

use std::time::{Duration, Instant};

use dsg_lib::async_database_functions::migrations::{Migration, Migrations};
use dsg_lib::prelude::*;
use serde_json::json;

fn urls() -> Option<(String, String, String)> {
    let get = |name: &str| std::env::var(name).ok().filter(|u| !u.is_empty());
    Some((
        get("DSG_TEST_PG_PRIMARY_URL")?,
        get("DSG_TEST_PG_STANDBY_URL")?,
        get("DSG_TEST_PG_MULTI_URL")?,
    ))
}

fn set(table: &str) -> Migrations {
    Migrations::new(vec![
        Migration::sql(
            1,
            "create",
            format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, note TEXT)"),
            Some(format!("DROP TABLE {table}")),
        ),
        Migration::sql(
            2,
            "seed",
            format!("INSERT INTO {table} (id, note) VALUES (1, 'one'), (2, 'two')"),
            Some(format!("DELETE FROM {table}")),
        ),
    ])
    .unwrap()
}

/// Drops what an earlier run left, on the primary.
async fn clean(primary: &str, table: &str, history: &str) {
    let db = AsyncDatabase::new(DBConfig::new(json!({ "database_uri": primary })).unwrap());
    let ops = DatabaseOperations::new(db.clone());
    for t in [table, history, &format!("{history}_lock")] {
        ops.execute_one(&text(format!("DROP TABLE IF EXISTS {t}")))
            .await
            .unwrap();
    }
    db.disconnect().await;
}

/// Rows of `table` read on `uri` alone, waiting up to 10 s for the standby to replay them.
async fn rows_on(uri: &str, table: &str, want: usize) -> Vec<i64> {
    let db = AsyncDatabase::new(DBConfig::new(json!({ "database_uri": uri })).unwrap());
    let ops = DatabaseOperations::new(db.clone());
    let started = Instant::now();
    let rows = loop {
        let read: Result<Vec<i64>, _> = ops
            .read_query(&text(format!("SELECT id FROM {table} ORDER BY id")))
            .await;
        match read {
            Ok(rows) if rows.len() == want => break rows,
            other if started.elapsed() > Duration::from_secs(10) => {
                panic!("{table} on {uri}: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    db.disconnect().await;
    rows
}

async fn migrate_through(config: serde_json::Value, primary: &str, standby: &str, table: &str) {
    let history = format!("{table}_history");
    clean(primary, table, &history).await;
    let db = AsyncDatabase::new(DBConfig::new(config).unwrap());
    let migrations = set(table);
    let migrator = db.migrator(&migrations).history_table(&history).unwrap();
    let report = migrator.migrate().await.expect("migrate on the primary");
    assert_eq!(report.applied.len(), 2, "{table}: both migrations applied");
    let status = migrator.status().await.unwrap();
    assert_eq!(status.len(), 2, "{table}: {status:?}");
    assert!(
        migrator.migrate().await.unwrap().applied.is_empty(),
        "{table}: a second run finds nothing pending"
    );
    db.disconnect().await;
    assert_eq!(rows_on(primary, table, 2).await, [1, 2]);
    assert_eq!(
        rows_on(standby, table, 2).await,
        [1, 2],
        "replayed on the standby"
    );

    // Down parts run on the primary too.
    let db = AsyncDatabase::new(DBConfig::new(json!({ "database_uri": primary })).unwrap());
    let report = db
        .migrator(&migrations)
        .history_table(&history)
        .unwrap()
        .rollback(1)
        .await
        .unwrap();
    assert_eq!(report.reverted, [2], "the seed rolled back");
    db.disconnect().await;
    assert!(rows_on(primary, table, 0).await.is_empty());
    clean(primary, table, &history).await;
}

#[tokio::test]
async fn with_read_replicas_migrations_run_on_the_primary() {
    let Some((primary, standby, _)) = urls() else {
        return;
    };
    let config = json!({ "database_uri": primary, "read_replica_uris": [standby] });
    migrate_through(config, &primary, &standby, "mig_rr_replica").await;
}

#[tokio::test]
async fn with_the_standby_named_first_migrations_run_on_the_primary() {
    let Some((primary, standby, multi)) = urls() else {
        return;
    };
    // The bed's multi-host URI names the primary first; name the standby first.
    let (hosts, rest) = multi
        .split_once('@')
        .and_then(|(user, tail)| tail.split_once('/').map(|(h, r)| ((user, h), r)))
        .expect("a multi-host URI");
    let (user, hosts) = hosts;
    let reversed: Vec<&str> = hosts.split(',').rev().collect();
    let uri = format!("{user}@{}/{rest}", reversed.join(","));
    migrate_through(
        json!({ "database_uri": uri }),
        &primary,
        &standby,
        "mig_rr_multi",
    )
    .await;
}
