//! Migrations behind pgbouncer in `pool_mode = transaction` (issue 25): with
//! `transaction_pooling`, four databases (four pools, as four processes would have) migrating
//! at once apply each migration once — the lock is `pg_advisory_xact_lock`, a transaction's,
//! which holds on the server connection pgbouncer pins to that transaction. A
//! `-- dsg:no-transaction` migration cannot run there (every session is a transaction behind
//! the proxy): the error names it.
//!
//! Runs when `DSG_TEST_PGBOUNCER_URL` is set (`eval "$(scripts/beds/pgbouncer.sh start)"`).

use dsg_lib::async_database_functions::migrations::{Migration, Migrations};
use dsg_lib::prelude::*;
use serde_json::json;

fn database(uri: &str) -> AsyncDatabase {
    AsyncDatabase::new(
        DBConfig::new(json!({"database_uri": uri, "transaction_pooling": true, "pool_size": 4}))
            .unwrap(),
    )
}

fn set() -> Migrations {
    let mut list = vec![Migration::sql(
        1,
        "log",
        "CREATE TABLE mig_pb_log (version INTEGER NOT NULL)",
        None,
    )];
    for v in 2..=10 {
        list.push(Migration::sql(
            v,
            format!("t{v}"),
            format!("INSERT INTO mig_pb_log (version) VALUES ({v})"),
            None,
        ));
    }
    Migrations::new(list).unwrap()
}

#[tokio::test]
async fn four_pools_migrating_through_pgbouncer_apply_each_migration_once() {
    let Some(uri) = std::env::var("DSG_TEST_PGBOUNCER_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let db = database(&uri);
    let mut session = db.get_db_session().await.unwrap();
    session
        .execute_sql("DROP TABLE IF EXISTS mig_pb_log")
        .await
        .unwrap();
    session
        .execute_sql("DROP TABLE IF EXISTS mig_pb_history")
        .await
        .unwrap();
    session.commit().await.unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let uri = uri.clone();
            tokio::spawn(async move {
                let db = database(&uri);
                let report = db
                    .migrator(&set())
                    .history_table("mig_pb_history")
                    .unwrap()
                    .migrate()
                    .await;
                db.disconnect().await;
                report
            })
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap().unwrap().applied.len();
    }
    assert_eq!(applied, 10, "each migration once over the four pools");
    let ops = DatabaseOperations::new(db.clone());
    let logged: Vec<i64> = ops
        .read_query(&text("SELECT version FROM mig_pb_log ORDER BY version"))
        .await
        .unwrap();
    assert_eq!(logged, (2..=10).collect::<Vec<i64>>());

    let concurrent = set()
        .with(Migration::sql(
            11,
            "index",
            "-- dsg:no-transaction\nCREATE INDEX CONCURRENTLY ix_mig_pb_log ON mig_pb_log (version)",
            None,
        ))
        .unwrap();
    let err = db
        .migrator(&concurrent)
        .history_table("mig_pb_history")
        .unwrap()
        .migrate()
        .await
        .unwrap_err();
    assert!(err.details().contains("migration 11 (index)"), "{err}");
    assert!(err.details().contains("transaction block"), "{err}");

    let mut session = db.get_db_session().await.unwrap();
    session
        .execute_sql("DROP TABLE IF EXISTS mig_pb_log")
        .await
        .unwrap();
    session
        .execute_sql("DROP TABLE IF EXISTS mig_pb_history")
        .await
        .unwrap();
    session.commit().await.unwrap();
    db.disconnect().await;
}
