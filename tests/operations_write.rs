//! `DatabaseOperations`, write side: create one / many, update, delete — on every configured
//! backend.

mod common;
mod ops_support;

use std::time::Duration;

use chrono::Utc;
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::error::{Constraint, ErrorKind};
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::text;
use dsg_lib::sea_query::Order;
use ops_support::{Check, expect_err, fresh};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// create_one

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_create_teams")]
struct CreateTeam {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 50)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_create_users")]
struct CreateUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
    #[model(foreign_key = "ops_create_teams.pkid", size = 36)]
    team_id: Option<String>,
}

/// The table as created: `note` NOT NULL.
#[derive(Model, Debug, Clone)]
#[model(table = "ops_create_strict")]
struct StrictThing {
    #[model(flatten)]
    base: SchemaBase,
    note: String,
}

/// The same table as a model that lets `note` be NULL.
#[derive(Model, Debug, Clone)]
#[model(table = "ops_create_strict")]
struct LooseThing {
    #[model(flatten)]
    base: SchemaBase,
    note: Option<String>,
}

fn create_user(name: &str, team: Option<&str>) -> CreateUser {
    CreateUser {
        base: SchemaBase::default(),
        name: name.into(),
        color: Some("red".into()),
        team_id: team.map(Into::into),
    }
}

#[tokio::test]
async fn create_one_returns_the_stored_row_and_reports_integrity_errors() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<CreateTeam>()
                .register::<CreateUser>()
                .register::<StrictThing>();
        })
        .await;
        let team = ops
            .create_one(CreateTeam {
                base: SchemaBase::default(),
                name: "T".into(),
            })
            .await
            .check(ctx);
        let before = Utc::now() - chrono::Duration::seconds(1);
        let mike = ops
            .create_one(create_user("Mike", Some(&team.base.pkid)))
            .await
            .check(ctx);
        let after = Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(mike.name, "Mike", "[{ctx}]");
        assert_eq!(mike.team_id.as_deref(), Some(team.base.pkid.as_str()));
        assert!(
            uuid::Uuid::parse_str(&mike.base.pkid).is_ok(),
            "[{ctx}] {:?}",
            mike.base
        );
        assert!(
            before < mike.base.date_created && mike.base.date_created < after,
            "[{ctx}] {:?}",
            mike.base
        );
        assert_eq!(mike.base.date_created, mike.base.date_updated, "[{ctx}]");
        let mut by_pkid = CreateUser::select();
        by_pkid.and_where(CreateUser::col("pkid").eq(mike.base.pkid.clone()));
        let read: Option<CreateUser> = ops.read_one_record(&by_pkid).await.check(ctx);
        assert_eq!(read.as_ref(), Some(&mike), "[{ctx}] stored as returned");

        // A duplicate unique value.
        let err = expect_err(
            ops.create_one(create_user("Mike", None)).await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert!(err.is_unique_violation(), "[{ctx}] {err:?}");
        assert_eq!(err.constraint(), Some(Constraint::Unique), "[{ctx}]");
        // A duplicate primary key.
        let mut again = create_user("Other", None);
        again.base.pkid = mike.base.pkid.clone();
        let err = expect_err(ops.create_one(again).await, ErrorKind::IntegrityError, ctx);
        assert!(err.is_unique_violation(), "[{ctx}] {err:?}");
        // A reference to a missing row.
        let err = expect_err(
            ops.create_one(create_user("Orphan", Some("no-such-team")))
                .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert_eq!(
            err.constraint(),
            Some(Constraint::ForeignKey),
            "[{ctx}] {err:?}"
        );
        let all: Vec<CreateUser> = ops.read_query(&CreateUser::select()).await.check(ctx);
        assert_eq!(all, [mike], "[{ctx}] only the first row is stored");

        // NOT NULL, through a model that allows NULL and through text().
        let err = expect_err(
            ops.create_one(LooseThing {
                base: SchemaBase::default(),
                note: None,
            })
            .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert_eq!(
            err.constraint(),
            Some(Constraint::NotNull),
            "[{ctx}] {err:?}"
        );
        let err = expect_err(
            ops.execute_one(
                &text(
                    "INSERT INTO ops_create_users (pkid, date_created, date_updated, name) \
                     VALUES (:pkid, :now, :now, :name)",
                )
                .bind("pkid", "null-name")
                .bind("now", Utc::now().naive_utc())
                .bind("name", Option::<String>::None),
            )
            .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert_eq!(
            err.constraint(),
            Some(Constraint::NotNull),
            "[{ctx}] {err:?}"
        );
        assert_eq!(ops.count_query(&CreateUser::select()).await.check(ctx), 1);
        assert_eq!(ops.count_query(&StrictThing::select()).await.check(ctx), 0);
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_autoinc_events")]
struct AutoEvent {
    #[model(primary_key, auto_increment)]
    id: i64,
    #[model(size = 50)]
    label: String,
}

fn event(label: &str) -> AutoEvent {
    AutoEvent {
        id: 0,
        label: label.into(),
    }
}

#[tokio::test]
async fn auto_increment_ids_come_back_from_create_one_and_create_many() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<AutoEvent>();
        })
        .await;
        let first = ops.create_one(event("first")).await.check(ctx);
        assert_eq!(
            first,
            AutoEvent {
                id: 1,
                label: "first".into()
            },
            "[{ctx}]"
        );
        let second = ops.create_one(event("second")).await.check(ctx);
        assert_eq!(second.id, 2, "[{ctx}]");

        let batch = ops
            .create_many(["c", "d", "e", "f", "g"].map(event).to_vec())
            .await
            .check(ctx);
        let ids: Vec<i64> = batch.iter().map(|e| e.id).collect();
        let labels: Vec<&str> = batch.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(ids, [3, 4, 5, 6, 7], "[{ctx}]");
        assert_eq!(labels, ["c", "d", "e", "f", "g"], "[{ctx}]");

        let mut all = AutoEvent::select();
        all.order_by((AutoEvent::TABLE, "id"), Order::Asc);
        let stored: Vec<AutoEvent> = ops.read_query(&all).await.check(ctx);
        assert_eq!(stored.len(), 7, "[{ctx}]");
        assert_eq!(stored[0], first, "[{ctx}]");
        assert_eq!(stored[2..], batch[..], "[{ctx}]");

        // update_one and delete_one by an integer id.
        let updated = ops
            .update_one::<AutoEvent>(4i64, json!({"label": "D", "id": 99}))
            .await
            .check(ctx);
        assert_eq!(
            updated,
            AutoEvent {
                id: 4,
                label: "D".into()
            },
            "[{ctx}]"
        );
        ops.delete_one::<AutoEvent>(5i64).await.check(ctx);
        let err = expect_err(
            ops.delete_one::<AutoEvent>(5i64).await,
            ErrorKind::RecordNotFound,
            ctx,
        );
        assert!(err.details().contains('5'), "[{ctx}] {err}");
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// create_many

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_many_users")]
struct ManyUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    n: i64,
}

fn many_user(name: String, n: i64) -> ManyUser {
    ManyUser {
        base: SchemaBase::default(),
        name,
        n,
    }
}

#[tokio::test]
async fn create_many_stores_and_returns_rows_in_order_or_none_at_all() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<ManyUser>();
        })
        .await;
        assert!(
            ops.create_many(Vec::<ManyUser>::new())
                .await
                .check(ctx)
                .is_empty()
        );

        // 100 rows, not in name order.
        let given: Vec<ManyUser> = (0..100)
            .map(|i| many_user(format!("m-{:03}", (i * 37) % 100), i))
            .collect();
        let stored = ops.create_many(given.clone()).await.check(ctx);
        let names = |v: &[ManyUser]| v.iter().map(|u| u.name.clone()).collect::<Vec<_>>();
        let pkids = |v: &[ManyUser]| v.iter().map(|u| u.base.pkid.clone()).collect::<Vec<_>>();
        assert_eq!(names(&stored), names(&given), "[{ctx}] returned in order");
        assert_eq!(pkids(&stored), pkids(&given), "[{ctx}]");
        let mut by_n = ManyUser::select();
        by_n.order_by((ManyUser::TABLE, "n"), Order::Asc);
        let read: Vec<ManyUser> = ops.read_query(&by_n).await.check(ctx);
        assert_eq!(read, stored, "[{ctx}] stored as returned");

        // One duplicate in the middle of a batch: nothing of the batch is stored.
        let mut bad: Vec<ManyUser> = (0..10).map(|i| many_user(format!("bad-{i}"), i)).collect();
        bad[5].name = "bad-2".into();
        let err = expect_err(ops.create_many(bad).await, ErrorKind::IntegrityError, ctx);
        assert!(err.is_unique_violation(), "[{ctx}] {err:?}");
        // A duplicate of a stored row.
        let mut bad: Vec<ManyUser> = (0..10).map(|i| many_user(format!("new-{i}"), i)).collect();
        bad[7].name = "m-042".into();
        expect_err(ops.create_many(bad).await, ErrorKind::IntegrityError, ctx);
        // A duplicate in the last chunk of a batch split in several inserts.
        let mut bad: Vec<ManyUser> = (0..20_000)
            .map(|i| many_user(format!("big-{i}"), i))
            .collect();
        bad[19_999].name = "big-3".into();
        expect_err(ops.create_many(bad).await, ErrorKind::IntegrityError, ctx);
        assert_eq!(
            ops.count_query(&ManyUser::select()).await.check(ctx),
            100,
            "[{ctx}] the failed batches left rows behind"
        );
        db.disconnect().await;
    }
}

/// Five columns: at most 6553 rows per insert on SQLite, 13107 on PostgreSQL and MySQL.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_bulk_rows")]
struct BulkRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 40)]
    label: String,
    n: i64,
}

#[tokio::test]
async fn create_many_inserts_100_000_rows_in_one_call() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<BulkRow>();
        })
        .await;
        let rows: Vec<BulkRow> = (0..100_000)
            .map(|n| BulkRow {
                base: SchemaBase::default(),
                label: format!("row {n}"),
                n,
            })
            .collect();
        let last_pkid = rows[99_999].base.pkid.clone();
        let stored = ops.create_many(rows).await.check(ctx);
        assert_eq!(stored.len(), 100_000, "[{ctx}]");
        assert!(
            stored.iter().enumerate().all(|(i, r)| r.n == i as i64),
            "[{ctx}] returned out of order"
        );
        assert_eq!(
            ops.count_query(&BulkRow::select()).await.check(ctx),
            100_000,
            "[{ctx}]"
        );
        let mut upper = BulkRow::select();
        upper.and_where(BulkRow::col("n").gte(50_000));
        assert_eq!(ops.count_query(&upper).await.check(ctx), 50_000, "[{ctx}]");
        let mut last = BulkRow::select();
        last.and_where(BulkRow::col("pkid").eq(last_pkid));
        let read: Option<BulkRow> = ops.read_one_record(&last).await.check(ctx);
        assert_eq!(read.as_ref(), Some(&stored[99_999]), "[{ctx}]");
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// update_one

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_upd_users")]
struct UpdUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    age: i64,
    color: Option<String>,
}

#[tokio::test]
async fn update_one_changes_values_but_never_the_identity() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<UpdUser>();
        })
        .await;
        let created = ops
            .create_one(UpdUser {
                base: SchemaBase::default(),
                name: "Ann".into(),
                age: 30,
                color: None,
            })
            .await
            .check(ctx);
        let other = ops
            .create_one(UpdUser {
                base: SchemaBase::default(),
                name: "Bob".into(),
                age: 50,
                color: None,
            })
            .await
            .check(ctx);
        let pkid = created.base.pkid.clone();
        let read = |pkid: String| {
            let ops = ops.clone();
            async move {
                let mut select = UpdUser::select();
                select.and_where(UpdUser::col("pkid").eq(pkid));
                ops.read_one_record::<UpdUser>(&select).await
            }
        };
        tokio::time::sleep(Duration::from_millis(10)).await;

        let updated = ops
            .update_one::<UpdUser>(pkid.clone(), json!({"age": 31, "color": "blue"}))
            .await
            .check(ctx);
        assert_eq!((updated.age, updated.color.as_deref()), (31, Some("blue")));
        assert_eq!(updated.name, "Ann", "[{ctx}]");
        assert_eq!(updated.base.pkid, pkid, "[{ctx}]");
        assert_eq!(
            updated.base.date_created, created.base.date_created,
            "[{ctx}]"
        );
        assert!(
            updated.base.date_updated > created.base.date_updated,
            "[{ctx}] date_updated {} should be after {}",
            updated.base.date_updated,
            created.base.date_updated
        );
        assert_eq!(read(pkid.clone()).await.check(ctx).as_ref(), Some(&updated));

        // Back to NULL.
        let cleared = ops
            .update_one::<UpdUser>(pkid.clone(), json!({"color": null}))
            .await
            .check(ctx);
        assert_eq!(cleared.color, None, "[{ctx}]");

        // The primary key and date_created are never changed; other values still are.
        let moved = ops
            .update_one::<UpdUser>(
                pkid.clone(),
                json!({"pkid": "hijacked", "date_created": "2000-01-01T00:00:00Z", "age": 40}),
            )
            .await
            .check(ctx);
        assert_eq!(moved.base.pkid, pkid, "[{ctx}]");
        assert_eq!(
            moved.base.date_created, created.base.date_created,
            "[{ctx}]"
        );
        assert_eq!(moved.age, 40, "[{ctx}]");
        assert!(
            read("hijacked".into()).await.check(ctx).is_none(),
            "[{ctx}]"
        );

        // Bad input changes nothing.
        let err = expect_err(
            ops.update_one::<UpdUser>(pkid.clone(), json!({"nope": 1, "age": 1}))
                .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains("nope"), "[{ctx}] {err}");
        let err = expect_err(
            ops.update_one::<UpdUser>(pkid.clone(), json!({"age": "thirty"}))
                .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains("age"), "[{ctx}] {err}");
        expect_err(
            ops.update_one::<UpdUser>(pkid.clone(), json!({"name": null}))
                .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        expect_err(
            ops.update_one::<UpdUser>(pkid.clone(), json!(["age", 1]))
                .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert_eq!(read(pkid.clone()).await.check(ctx).map(|u| u.age), Some(40));

        // A duplicate unique value through update.
        let err = expect_err(
            ops.update_one::<UpdUser>(pkid.clone(), json!({"name": "Bob"}))
                .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert!(err.is_unique_violation(), "[{ctx}] {err:?}");

        // No such row.
        let err = expect_err(
            ops.update_one::<UpdUser>("no-such-pkid", json!({"age": 1}))
                .await,
            ErrorKind::RecordNotFound,
            ctx,
        );
        assert!(err.details().contains("no-such-pkid"), "[{ctx}] {err}");
        assert_eq!(read(other.base.pkid.clone()).await.check(ctx), Some(other));
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// delete_one, delete_many

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_del_users")]
struct DelUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 100)]
    name: String,
    #[model(size = 20)]
    color: String,
}

#[tokio::test]
async fn delete_one_and_delete_many_remove_rows() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<DelUser>();
        })
        .await;
        let users = ops
            .create_many(
                (0..10)
                    .map(|i| DelUser {
                        base: SchemaBase::default(),
                        name: format!("d{i}"),
                        color: if i % 2 == 0 { "red" } else { "blue" }.into(),
                    })
                    .collect(),
            )
            .await
            .check(ctx);
        let pkid = |i: usize| users[i].base.pkid.clone();

        ops.delete_one::<DelUser>(pkid(0)).await.check(ctx);
        let mut first = DelUser::select();
        first.and_where(DelUser::col("pkid").eq(pkid(0)));
        assert!(
            ops.read_one_record::<DelUser>(&first)
                .await
                .check(ctx)
                .is_none(),
            "[{ctx}]"
        );
        assert_eq!(ops.count_query(&DelUser::select()).await.check(ctx), 9);
        let err = expect_err(
            ops.delete_one::<DelUser>(pkid(0)).await,
            ErrorKind::RecordNotFound,
            ctx,
        );
        assert!(err.details().contains(&pkid(0)), "[{ctx}] {err}");

        // By primary key: only the rows that exist count.
        let deleted = ops
            .delete_many::<DelUser>(
                "pkid",
                [pkid(0), pkid(1), pkid(2), pkid(3), "missing".into()],
            )
            .await
            .check(ctx);
        assert_eq!(deleted, 3, "[{ctx}]");
        // By another column.
        let deleted = ops
            .delete_many::<DelUser>("color", ["red"])
            .await
            .check(ctx);
        assert_eq!(deleted, 3, "[{ctx}] d4, d6, d8");
        let left: Vec<String> = ops
            .read_query(&text("SELECT name FROM ops_del_users ORDER BY name"))
            .await
            .check(ctx);
        assert_eq!(left, ["d5", "d7", "d9"], "[{ctx}]");

        let err = expect_err(
            ops.delete_many::<DelUser>("no_such_column", ["x"]).await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains("no_such_column"), "[{ctx}] {err}");
        let none: [&str; 0] = [];
        assert_eq!(ops.delete_many::<DelUser>("pkid", none).await.check(ctx), 0);
        assert_eq!(ops.count_query(&DelUser::select()).await.check(ctx), 3);
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone)]
#[model(table = "ops_del_bulk")]
struct DelBulk {
    #[model(flatten)]
    base: SchemaBase,
    n: i64,
}

#[tokio::test]
async fn delete_many_takes_70_000_ids_in_one_call() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<DelBulk>();
        })
        .await;
        let rows = ops
            .create_many(
                (0..70_001)
                    .map(|n| DelBulk {
                        base: SchemaBase::default(),
                        n,
                    })
                    .collect(),
            )
            .await
            .check(ctx);
        let keep = rows[35_000].base.pkid.clone();
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.base.pkid.clone())
            .filter(|p| *p != keep)
            .collect();
        assert_eq!(ids.len(), 70_000);
        let deleted = ops.delete_many::<DelBulk>("pkid", ids).await.check(ctx);
        assert_eq!(deleted, 70_000, "[{ctx}]");
        let left: Vec<String> = ops
            .read_query(&text("SELECT pkid FROM ops_del_bulk"))
            .await
            .check(ctx);
        assert_eq!(left, [keep], "[{ctx}]");
        db.disconnect().await;
    }
}
