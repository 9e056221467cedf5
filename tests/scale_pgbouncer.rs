//! Behind pgbouncer in `pool_mode = transaction` (32 clients over 8 server connections):
//! with `transaction_pooling`, every operation works under 32 concurrent tasks.
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

fn pgbouncer() -> Option<String> {
    std::env::var("DSG_TEST_PGBOUNCER_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

#[tokio::test]
async fn every_operation_works_through_pgbouncer_under_32_tasks() {
    let Some(uri) = pgbouncer() else { return };
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
