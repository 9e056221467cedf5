//! Typed operations inside a caller's transaction, the `transaction` closure helper and
//! savepoints, on every backend.

mod common;
mod ops_support;

use dsg_lib::prelude::*;
use ops_support::{Check, expect_err, fresh};
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tx_accounts")]
struct Account {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 50)]
    name: String,
    balance: i64,
}

fn account(name: &str, balance: i64) -> Account {
    Account {
        base: SchemaBase::default(),
        name: name.into(),
        balance,
    }
}

async fn balance(ops: &DatabaseOperations, id: &str, ctx: &str) -> i64 {
    let found: Option<Account> = ops.read_by_pk::<Account>(id.to_string()).await.check(ctx);
    found.map(|a| a.balance).unwrap_or(-1)
}

#[tokio::test]
async fn transfers_commit_together_or_not_at_all_and_savepoints_roll_back_alone() {
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<Account>();
        })
        .await;
        let a = ops.create_one(account("a", 100)).await.check(name);
        let b = ops.create_one(account("b", 0)).await.check(name);
        let (a_id, b_id) = (a.base.pkid.clone(), b.base.pkid.clone());

        // An atomic transfer with typed operations: update_one stamps date_updated.
        let moved: Account = db
            .transaction(|tx| {
                let (a_id, b_id) = (a_id.clone(), b_id.clone());
                Box::pin(async move {
                    let from: Account = tx.read_by_pk(a_id.clone()).await?.expect("a exists");
                    tx.update_one::<Account>(a_id, json!({"balance": from.balance - 30}))
                        .await?;
                    tx.update_one::<Account>(b_id, json!({"balance": 30})).await
                })
            })
            .await
            .check(name);
        assert_eq!(moved.balance, 30, "[{name}]");
        assert!(moved.base.date_updated >= b.base.date_updated, "[{name}]");
        assert_eq!(balance(&ops, &a_id, name).await, 70, "[{name}]");
        assert_eq!(balance(&ops, &b_id, name).await, 30, "[{name}]");

        // An error in the middle leaves both rows untouched.
        let failed = db
            .transaction(|tx| {
                let a_id = a_id.clone();
                Box::pin(async move {
                    tx.update_one::<Account>(a_id, json!({"balance": 0}))
                        .await?;
                    // A duplicate name: the insert fails after the first update ran.
                    tx.create_one(account("b", 1)).await?;
                    Ok(())
                })
            })
            .await;
        expect_err(failed, ErrorKind::IntegrityError, name);
        assert_eq!(balance(&ops, &a_id, name).await, 70, "[{name}] rolled back");
        assert_eq!(balance(&ops, &b_id, name).await, 30, "[{name}] untouched");

        // A savepoint rolled back inside a transaction that commits.
        let c_id = db
            .transaction(|tx| {
                let a_id = a_id.clone();
                Box::pin(async move {
                    let c = tx.create_one(account("c", 5)).await?;
                    let inner = tx
                        .savepoint(|sp| {
                            Box::pin(async move {
                                sp.create_one(account("d", 1)).await?;
                                sp.delete_one::<Account>(a_id).await?;
                                Err::<(), _>(DatabaseError::invalid_input("changed my mind"))
                            })
                        })
                        .await;
                    assert!(inner.is_err());
                    // Nested savepoints that succeed are kept.
                    let c_id = c.base.pkid.clone();
                    tx.savepoint(|sp| {
                        Box::pin(async move {
                            sp.savepoint(|inner| {
                                Box::pin(async move {
                                    inner
                                        .update_one::<Account>(c_id, json!({"balance": 6}))
                                        .await
                                })
                            })
                            .await
                        })
                    })
                    .await?;
                    Ok(c.base.pkid)
                })
            })
            .await
            .check(name);
        assert_eq!(balance(&ops, &c_id, name).await, 6, "[{name}] kept");
        assert_eq!(
            balance(&ops, &a_id, name).await,
            70,
            "[{name}] savepoint undone"
        );
        assert_eq!(
            ops.count_query(&Account::select()).await.check(name),
            3,
            "[{name}]"
        );

        db.drop_tables().await.check(name);
        db.disconnect().await;
    }
}

#[tokio::test]
async fn a_session_rolled_back_stores_none_of_its_typed_writes() {
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<TxItem>();
        })
        .await;
        let mut session = db.get_db_session().await.check(name);
        let stored = session
            .create_many(vec![item("x"), item("y")])
            .await
            .check(name);
        session
            .update_one::<TxItem>(stored[0].base.pkid.clone(), json!({"label": "z"}))
            .await
            .check(name);
        session
            .delete_one::<TxItem>(stored[1].base.pkid.clone())
            .await
            .check(name);
        // Inside the transaction the writes are visible...
        let seen: Option<TxItem> = session
            .read_by_pk::<TxItem>(stored[0].base.pkid.clone())
            .await
            .check(name);
        assert_eq!(seen.map(|i| i.label).as_deref(), Some("z"), "[{name}]");
        let missing = session.delete_one::<TxItem>("no-such-id").await;
        expect_err(missing, ErrorKind::RecordNotFound, name);
        // ...and none survives the rollback.
        session.rollback().await.check(name);
        assert_eq!(
            ops.count_query(&TxItem::select()).await.check(name),
            0,
            "[{name}]"
        );
        db.drop_tables().await.check(name);
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tx_items")]
struct TxItem {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 20)]
    label: String,
}

fn item(label: &str) -> TxItem {
    TxItem {
        base: SchemaBase::default(),
        label: label.into(),
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tx_counters")]
struct Counter {
    #[model(flatten)]
    base: SchemaBase,
    value: i64,
}

/// PostgreSQL at SERIALIZABLE turns concurrent read-then-write transactions into 40001
/// failures: the helper runs them again, so every increment that returned Ok is counted once.
#[tokio::test]
async fn serialization_failures_are_run_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    for backend in common::backends()
        .into_iter()
        .filter(|b| b.name == "postgres")
    {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({"isolation_level": "SERIALIZABLE"}), |db| {
            db.register::<Counter>();
        })
        .await;
        let counter = ops
            .create_one(Counter {
                base: SchemaBase::default(),
                value: 0,
            })
            .await
            .check(name);
        let runs = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (db, runs, id) = (db.clone(), runs.clone(), counter.base.pkid.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = 0u32;
                let mut gave_up = 0u32;
                for _ in 0..10 {
                    let result = db
                        .transaction(|tx| {
                            let (runs, id) = (runs.clone(), id.clone());
                            Box::pin(async move {
                                runs.fetch_add(1, Ordering::Relaxed);
                                let now: Counter = tx.read_by_pk(id.clone()).await?.expect("row");
                                tx.update_one::<Counter>(id, json!({"value": now.value + 1}))
                                    .await
                            })
                        })
                        .await;
                    match result {
                        Ok(_) => ok += 1,
                        Err(e) if e.is_retryable() => {
                            assert!(e.details().contains("attempts"), "{e}");
                            gave_up += 1;
                        }
                        Err(e) => panic!("unexpected: {e}"),
                    }
                }
                (ok, gave_up)
            }));
        }
        let mut ok = 0;
        for task in tasks {
            ok += task.await.expect("task").0;
        }
        let stored: Counter = ops
            .read_by_pk(counter.base.pkid.clone())
            .await
            .check(name)
            .expect("row");
        assert_eq!(
            stored.value,
            i64::from(ok),
            "[{name}] every Ok counted once"
        );
        assert!(
            runs.load(Ordering::Relaxed) > ok,
            "[{name}] conflicts were run again ({} runs for {ok} commits)",
            runs.load(Ordering::Relaxed)
        );
        db.drop_tables().await.check(name);
        db.disconnect().await;
    }
}
