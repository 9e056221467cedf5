//! Behind pgbouncer in `pool_mode = transaction` (32 clients over 8 server connections):
//! with `transaction_pooling`, every operation works under 32 concurrent tasks; without it,
//! most tasks fail on named prepared statements, as docs/scaling.md says.
//!
//! Runs when `DSG_TEST_PGBOUNCER_URL` is set (`eval "$(scripts/beds/pgbouncer.sh start)"`;
//! `.ci/run` does it).

mod common;

use dsg_lib::prelude::*;
use serde_json::json;

#[derive(Model, Debug, Clone)]
#[model(table = "t_pgbouncer_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 60)]
    name: String,
    visits: i64,
}

/// A second table, for the test without `transaction_pooling`.
#[derive(Model, Debug, Clone)]
#[model(table = "t_pgbouncer_plain")]
struct Plain {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 60)]
    name: String,
}

/// The tests take turns: both send 32 clients through pgbouncer's 8 server connections.
static BOUNCER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn pgbouncer() -> Option<String> {
    std::env::var("DSG_TEST_PGBOUNCER_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

#[tokio::test]
async fn every_operation_works_through_pgbouncer_under_32_tasks() {
    let Some(uri) = pgbouncer() else { return };
    let _turn = BOUNCER.lock().await;
    let db = AsyncDatabase::new(
        DBConfig::new(json!({
            "database_uri": uri, "transaction_pooling": true, "pool_size": 32, "max_overflow": 0,
        }))
        .unwrap(),
    );
    db.register::<User>();
    db.drop_tables().await.unwrap();
    db.create_tables().await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..32 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let ops = DatabaseOperations::new(db.clone());
            for round in 0..10 {
                let name = format!("u{task}-{round}");
                let user = ops
                    .create_one(User {
                        base: SchemaBase::default(),
                        name: name.clone(),
                        visits: 0,
                    })
                    .await?;
                let found: Vec<User> = ops
                    .read_query(
                        &User::select()
                            .and_where(User::NAME.eq(name.clone()))
                            .to_owned(),
                    )
                    .await?;
                assert_eq!(found.len(), 1);
                let updated: User = ops
                    .update_one::<User>(user.base.pkid.clone(), json!({"visits": round}))
                    .await?;
                assert_eq!(updated.visits, round);
                let page = ops.paginate_query::<User>(&User::select(), 1, 5).await?;
                assert!(page.total >= 1);
                let _ = ops.count_query(&User::select()).await?;
                let results = ops
                    .execute_many([
                        text("UPDATE t_pgbouncer_users SET visits = visits + 1 WHERE name = :n")
                            .bind("n", name.clone()),
                        text("SELECT visits FROM t_pgbouncer_users WHERE name = :n")
                            .bind("n", name.clone()),
                    ])
                    .await?;
                assert_eq!(results.len(), 2);
                let pkid = user.base.pkid.clone();
                db.transaction(move |tx| {
                    let pkid = pkid.clone();
                    Box::pin(async move {
                        tx.update_one::<User>(pkid.clone(), json!({"visits": 100}))
                            .await?;
                        tx.savepoint(|tx| {
                            Box::pin(async move {
                                tx.execute(&text("SELECT 1")).await?;
                                Ok(())
                            })
                        })
                        .await?;
                        Ok(())
                    })
                })
                .await?;
                let again: Option<User> = ops.read_by_pk::<User>(user.base.pkid.clone()).await?;
                assert_eq!(again.map(|u| u.visits), Some(100));
                let all = ops.read_all::<User>().await?;
                assert!(
                    all.iter()
                        .any(|u| u.base.pkid == user.base.pkid && u.visits == 100)
                );
                if round % 2 == 0 {
                    ops.delete_one::<User>(user.base.pkid).await?;
                }
            }
            Ok::<(), DatabaseError>(())
        }));
    }
    let mut errors = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            errors.push(e.to_string());
        }
    }
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    let ops = DatabaseOperations::new(db.clone());
    assert_eq!(ops.count_query(&User::select()).await.unwrap(), 32 * 5);
    db.drop_tables().await.unwrap();
    db.disconnect().await;
}

/// What docs/scaling.md says happens without `transaction_pooling`: each executor names its
/// prepared statements per client connection (sqlx `sqlx_s_1`, `sqlx_s_2`, …; tokio-postgres
/// `s0`, `s1`, …), pgbouncer hands a client whichever server connection is free, so most tasks
/// fail on a named statement. sqlx's names are found again on the server by another client
/// (mostly `prepared statement "sqlx_s_N" already exists`, a few `… does not exist`);
/// tokio-postgres prepares and runs a statement in two exchanges, which reach different server
/// connections (`prepared statement "sN" does not exist`).
#[tokio::test]
async fn without_transaction_pooling_most_tasks_fail_on_named_statements() {
    let Some(uri) = pgbouncer() else { return };
    let _turn = BOUNCER.lock().await;
    // The table is made (and dropped) the way that works behind pgbouncer.
    let admin = AsyncDatabase::new(
        DBConfig::new(json!({"database_uri": uri, "transaction_pooling": true})).unwrap(),
    );
    admin.register::<Plain>();
    admin.drop_tables().await.unwrap();
    admin.create_tables().await.unwrap();
    let db = AsyncDatabase::new(
        DBConfig::new(json!({"database_uri": uri, "pool_size": 32, "max_overflow": 0})).unwrap(),
    );
    let mut tasks = Vec::new();
    for task in 0..32 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let ops = DatabaseOperations::new(db);
            for round in 0..10 {
                let name = format!("p{task}-{round}");
                ops.create_one(Plain {
                    base: SchemaBase::default(),
                    name: name.clone(),
                })
                .await?;
                let _: Vec<Plain> = ops
                    .read_query(&Plain::select().and_where(Plain::NAME.eq(name)).to_owned())
                    .await?;
                let _ = ops.count_query(&Plain::select()).await?;
            }
            Ok::<(), DatabaseError>(())
        }));
    }
    let (mut already, mut missing, mut other) = (0, 0, Vec::new());
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            let text = e.to_string();
            if text.contains("prepared statement \"") && text.contains("already exists") {
                already += 1;
            } else if text.contains("prepared statement \"") && text.contains("does not exist") {
                missing += 1;
            } else {
                other.push(text);
            }
        }
    }
    eprintln!(
        "without transaction_pooling: {already} of 32 tasks failed with \"already exists\", \
         {missing} with \"does not exist\", {} otherwise",
        other.len()
    );
    assert!(
        already + missing + other.len() >= 16,
        "most of 32 tasks fail: {already} + {missing} + {other:?}"
    );
    assert!(
        already + missing > other.len(),
        "most failures are on named statements: {already} + {missing} vs {other:?}"
    );
    #[cfg(not(feature = "pg-pipeline"))]
    assert!(
        already > missing,
        "most failures are \"already exists\": {already} vs {missing} \"does not exist\" \
         (others: {other:?})"
    );
    db.disconnect().await;
    admin.drop_tables().await.unwrap();
    admin.disconnect().await;
}
