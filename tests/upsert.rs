//! `DatabaseOperations::upsert_one` / `upsert_many`: insert path, update path (date_created
//! kept, date_updated advanced), a mix in one call, chunked batches, and a conflict on a
//! secondary unique column still an integrity error, and a composite key given out of order —
//! on every configured backend.

mod common;
mod ops_support;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::error::{Constraint, ErrorKind};
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::sea_query::Order;
use ops_support::{Check, expect_err, fresh};
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t11_upsert_users")]
struct UpUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    color: Option<String>,
}

fn user(name: &str, color: &str) -> UpUser {
    UpUser {
        base: SchemaBase::default(),
        name: name.into(),
        color: Some(color.into()),
    }
}

#[tokio::test]
async fn upsert_inserts_updates_and_keeps_integrity_errors() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<UpUser>();
        })
        .await;

        // Insert path.
        let mike = ops.upsert_one(user("mike", "red")).await.check(ctx);
        assert_eq!(mike.color.as_deref(), Some("red"), "[{ctx}]");
        let stored = ops
            .read_by_pk::<UpUser>(mike.base.pkid.clone())
            .await
            .check(ctx)
            .expect("stored");
        assert_eq!(stored, mike, "[{ctx}] returned = stored");

        // Update path: every non-key column from the model, date_created kept (whatever the
        // model says), date_updated stamped.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut changed = mike.clone();
        changed.name = "michael".into();
        changed.color = None;
        changed.base.date_created = Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap();
        let updated = ops.upsert_one(changed).await.check(ctx);
        assert_eq!(updated.base.pkid, mike.base.pkid, "[{ctx}]");
        assert_eq!(updated.name, "michael", "[{ctx}]");
        assert_eq!(updated.color, None, "[{ctx}]");
        assert_eq!(
            updated.base.date_created, mike.base.date_created,
            "[{ctx}] date_created kept"
        );
        assert!(
            updated.base.date_updated > mike.base.date_updated,
            "[{ctx}] date_updated advanced: {} -> {}",
            mike.base.date_updated,
            updated.base.date_updated
        );
        let stored = ops
            .read_by_pk::<UpUser>(mike.base.pkid.clone())
            .await
            .check(ctx)
            .expect("stored");
        assert_eq!(stored, updated, "[{ctx}] returned = stored");
        assert_eq!(ops.count_query(&UpUser::select()).await.check(ctx), 1);

        // A mix in one call, returned in the order given.
        let mut again = updated.clone();
        again.color = Some("green".into());
        let anna = user("anna", "blue");
        let mixed = ops
            .upsert_many(vec![anna.clone(), again.clone()])
            .await
            .check(ctx);
        assert_eq!(mixed.len(), 2, "[{ctx}]");
        assert_eq!(mixed[0].base.pkid, anna.base.pkid, "[{ctx}] order kept");
        assert_eq!(mixed[0].name, "anna", "[{ctx}]");
        assert_eq!(mixed[1].base.pkid, mike.base.pkid, "[{ctx}] order kept");
        assert_eq!(mixed[1].color.as_deref(), Some("green"), "[{ctx}]");
        assert_eq!(
            mixed[1].base.date_created, mike.base.date_created,
            "[{ctx}]"
        );
        assert_eq!(ops.count_query(&UpUser::select()).await.check(ctx), 2);
        assert_eq!(ops.upsert_many(Vec::<UpUser>::new()).await.check(ctx), []);

        // A new key whose name belongs to another row: an integrity error, nothing changed
        // (MySQL/MariaDB's ON DUPLICATE KEY UPDATE would have updated the other row).
        let before = ops.read_query::<UpUser>(&UpUser::select()).await.check(ctx);
        let err = expect_err(
            ops.upsert_one(user("anna", "black")).await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert_eq!(err.constraint(), Some(Constraint::Unique), "[{ctx}] {err}");
        // Within a batch too: the good row is not stored either.
        let err = expect_err(
            ops.upsert_many(vec![user("zoe", "white"), user("michael", "black")])
                .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert!(err.is_unique_violation(), "[{ctx}] {err}");
        // An existing key renamed onto another row's name.
        let mut clash = anna.clone();
        clash.name = "michael".into();
        expect_err(ops.upsert_one(clash).await, ErrorKind::IntegrityError, ctx);
        let after = ops.read_query::<UpUser>(&UpUser::select()).await.check(ctx);
        let sorted = |mut v: Vec<UpUser>| {
            v.sort_by(|a, b| a.base.pkid.cmp(&b.base.pkid));
            v
        };
        assert_eq!(sorted(after), sorted(before), "[{ctx}] nothing changed");

        // Chunked: more rows than one statement takes, half of them already stored.
        let existing: Vec<UpUser> = (0..7_500)
            .map(|i| user(&format!("bulk {i:05}"), "old"))
            .collect();
        let existing = ops.create_many(existing).await.check(ctx);
        let mut batch: Vec<UpUser> = existing
            .iter()
            .map(|u| UpUser {
                color: Some("new".into()),
                ..u.clone()
            })
            .collect();
        batch.extend((7_500..15_000).map(|i| user(&format!("bulk {i:05}"), "new")));
        let stored = ops.upsert_many(batch.clone()).await.check(ctx);
        assert_eq!(stored.len(), 15_000, "[{ctx}]");
        for (given, got) in batch.iter().zip(&stored) {
            assert_eq!(got.base.pkid, given.base.pkid, "[{ctx}] order kept");
            assert_eq!(got.color.as_deref(), Some("new"), "[{ctx}]");
        }
        assert_eq!(
            stored[0].base.date_created, existing[0].base.date_created,
            "[{ctx}] date_created kept in bulk"
        );
        let mut select = UpUser::select();
        select
            .and_where(dsg_lib::sea_query::ExprTrait::eq(
                UpUser::col("color"),
                "new",
            ))
            .order_by((UpUser::TABLE, "name"), Order::Asc);
        assert_eq!(ops.count_query(&select).await.check(ctx), 15_000, "[{ctx}]");

        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t11_upsert_stock")]
struct Stock {
    #[model(primary_key, size = 20)]
    shop: String,
    #[model(primary_key)]
    item: i64,
    count: i64,
}

/// A key of two columns: rows given out of key order come back in the order given, each with
/// its own values, whether the database returns them (`RETURNING`) or they are read back in
/// index order (MySQL/MariaDB).
#[tokio::test]
async fn upsert_with_a_composite_key_returns_the_rows_in_the_order_given() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<Stock>();
        })
        .await;
        let stock = |shop: &str, item: i64, count: i64| Stock {
            shop: shop.into(),
            item,
            count,
        };
        ops.upsert_many(vec![stock("north", 1, 10), stock("south", 1, 20)])
            .await
            .check(ctx);
        // Descending keys, a new row between two updates, and the same item in both shops.
        let given = vec![
            stock("south", 2, 3),
            stock("south", 1, 21),
            stock("north", 2, 5),
            stock("north", 1, 11),
        ];
        let stored = ops.upsert_many(given.clone()).await.check(ctx);
        assert_eq!(stored, given, "[{ctx}] in the order given, as given");
        let mut select = Stock::select();
        select
            .order_by((Stock::TABLE, "shop"), Order::Asc)
            .order_by((Stock::TABLE, "item"), Order::Asc);
        let counts: Vec<i64> = ops
            .read_query::<Stock>(&select)
            .await
            .check(ctx)
            .into_iter()
            .map(|s| s.count)
            .collect();
        assert_eq!(counts, [11, 5, 21, 3], "[{ctx}] stored");
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t11_upsert_dup_stock")]
struct DupStock {
    #[model(primary_key, size = 20)]
    shop: String,
    #[model(primary_key)]
    item: i64,
    count: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t11_upsert_dup_users")]
struct DupUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    color: Option<String>,
}

/// A key given twice in one call: the last occurrence wins (PostgreSQL refused the whole
/// statement: "ON CONFLICT DO UPDATE command cannot affect row a second time"), returned once
/// in the place of the first; a composite key too.
#[tokio::test]
async fn upsert_many_with_a_key_given_twice_keeps_the_last() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<DupStock>();
        })
        .await;
        let stock = |shop: &str, item: i64, count: i64| DupStock {
            shop: shop.into(),
            item,
            count,
        };
        ops.upsert_many(vec![stock("north", 1, 10)])
            .await
            .check(ctx);
        let stored = ops
            .upsert_many(vec![
                stock("north", 1, 11),
                stock("south", 7, 1),
                stock("north", 1, 12),
                stock("south", 7, 2),
                stock("east", 3, 30),
            ])
            .await
            .check(ctx);
        assert_eq!(
            stored,
            [
                stock("north", 1, 12),
                stock("south", 7, 2),
                stock("east", 3, 30)
            ],
            "[{ctx}] once per key, the last values, in the place of the first"
        );
        let mut select = DupStock::select();
        select
            .order_by((DupStock::TABLE, "shop"), Order::Asc)
            .order_by((DupStock::TABLE, "item"), Order::Asc);
        let all: Vec<DupStock> = ops.read_query::<DupStock>(&select).await.check(ctx);
        assert_eq!(
            all,
            [
                stock("east", 3, 30),
                stock("north", 1, 12),
                stock("south", 7, 2)
            ],
            "[{ctx}] stored"
        );
        // A single-column key given twice, models with SchemaBase.
        let (db2, ops2) = fresh(&b, json!({}), |db| {
            db.register::<DupUser>();
        })
        .await;
        let first = DupUser {
            base: SchemaBase::default(),
            name: "dup".into(),
            color: Some("red".into()),
        };
        let mut again = first.clone();
        again.color = Some("blue".into());
        let stored = ops2.upsert_many(vec![first, again]).await.check(ctx);
        assert_eq!(stored.len(), 1, "[{ctx}]");
        assert_eq!(stored[0].color.as_deref(), Some("blue"), "[{ctx}]");
        db2.drop_tables().await.check(ctx);
        db2.disconnect().await;
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}
