//! Typed columns (`User::NAME`, `User::PKID`) and the model-aware statement builders
//! (`User::insert()`, `User::update()`, `User::delete()`) — on every configured backend.

mod common;
mod ops_support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::{SchemaBase, SchemaBaseColumns};
use dsg_lib::async_database_functions::database_config::Dialect;
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::model::{Col, Model as _};
use dsg_lib::async_database_functions::statement::Statement;
use dsg_lib::sea_query::{Expr, ExprTrait, Order};
use ops_support::{Check, fresh};
use serde_json::json;

/// The two tests writing `tc_writes` drop and create it on the shared servers: one at a time.
static TC_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Fields named like the trait's methods (`select`, `columns`) do not clash with them.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tc_users")]
struct TcUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    color: Option<String>,
    #[model(column = "kind_of")]
    kind: Option<String>,
    select: Option<i32>,
    columns: Option<i32>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tc_writes")]
struct TcWrite {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    color: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tc_counters")]
struct TcCounter {
    #[model(primary_key, auto_increment)]
    id: i64,
    label: String,
}

#[test]
fn typed_columns_are_copy_idents_of_the_model() {
    let name: Col<TcUser> = TcUser::NAME;
    let copy = name;
    assert_eq!(name, copy);
    assert_eq!(name.name(), "name");
    assert_eq!(name.table(), "tc_users");
    assert_eq!(name.qualified(), ("tc_users", "name"));
    assert_eq!(TcUser::KIND.name(), "kind_of");
    assert_eq!(TcUser::SELECT.name(), "select");
    assert_eq!(TcUser::COLUMNS.name(), "columns");
    assert_eq!(TcUser::PKID.name(), "pkid");
    assert_eq!(TcUser::DATE_CREATED.name(), "date_created");
    assert_eq!(TcUser::DATE_UPDATED.table(), "tc_users");
    // The trait's items are still there beside the fields' columns.
    assert_eq!(TcUser::TABLE, "tc_users");
    assert_eq!(TcUser::columns().len(), 8);
    assert_eq!(format!("{:?}", TcUser::NAME), "Col(tc_users.name)");

    // As an identifier it renders unqualified; as an expression, table-qualified.
    let mut select = TcUser::select();
    select
        .and_where(Expr::col(TcUser::NAME).eq("x"))
        .and_where(TcUser::COLOR.is_null())
        .order_by(TcUser::NAME, Order::Asc);
    let sql = select.render(Dialect::Sqlite).unwrap().sql;
    assert!(sql.contains(r#"WHERE "name" = ?"#), "{sql}");
    assert!(sql.contains(r#""tc_users"."color" IS NULL"#), "{sql}");
    assert!(sql.ends_with(r#"ORDER BY "name" ASC"#), "{sql}");

    let sql = TcUser::delete()
        .and_where(TcUser::PKID.eq("k"))
        .render(Dialect::Postgresql)
        .unwrap()
        .sql;
    assert_eq!(
        sql,
        r#"DELETE FROM "tc_users" WHERE "tc_users"."pkid" = $1"#
    );
    let sql = TcUser::update()
        .value(TcUser::NAME, "n")
        .render(Dialect::Mysql)
        .unwrap()
        .sql;
    assert_eq!(sql, "UPDATE `tc_users` SET `date_updated` = ?, `name` = ?");
    // A model without SchemaBase has nothing to stamp.
    let sql = TcCounter::update()
        .value(TcCounter::LABEL, "x")
        .render(Dialect::Sqlite)
        .unwrap()
        .sql;
    assert_eq!(sql, r#"UPDATE "tc_counters" SET "label" = ?"#);
}

#[test]
fn insert_renders_defaults_in_column_order() {
    let sql = TcWrite::insert()
        .value(TcWrite::NAME, "a")
        .render(Dialect::Sqlite)
        .unwrap()
        .sql;
    assert_eq!(
        sql,
        r#"INSERT INTO "tc_writes" ("pkid", "date_created", "date_updated", "name") VALUES (?, ?, ?, ?)"#
    );
    let err = TcWrite::insert().render(Dialect::Sqlite).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = TcWrite::insert()
        .value(TcWrite::NAME, "a")
        .value(TcWrite::NAME, "b")
        .render(Dialect::Sqlite)
        .unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
    let err = TcWrite::insert()
        .values([(TcWrite::NAME, "a")])
        .values([(TcWrite::NAME, "b"), (TcWrite::COLOR, "c")])
        .render(Dialect::Sqlite)
        .unwrap_err();
    assert!(err.to_string().contains("same columns"), "{err}");
}

fn close_to_now(t: DateTime<Utc>, ctx: &str) {
    let age = Utc::now() - t;
    assert!(
        age > chrono::TimeDelta::seconds(-5) && age < chrono::TimeDelta::seconds(60),
        "[{ctx}] {t} is not now"
    );
}

#[tokio::test]
async fn typed_columns_in_queries() {
    for b in common::backends() {
        let ctx = b.name;
        let (_db, ops) = fresh(&b, json!({}), |db| {
            db.register::<TcUser>();
        })
        .await;
        for (name, color, select) in [("Mike", "red", 1), ("Ann", "blue", 2), ("Zed", "red", 3)] {
            let result = ops
                .execute_one(
                    TcUser::insert()
                        .value(TcUser::NAME, name)
                        .value(TcUser::COLOR, color)
                        .value(TcUser::SELECT, select),
                )
                .await
                .check(ctx);
            assert_eq!(result.rowcount, 1, "[{ctx}]");
        }
        let red: Vec<TcUser> = ops
            .read_query(
                TcUser::select()
                    .and_where(Expr::col(TcUser::COLOR).eq("red"))
                    .order_by(TcUser::NAME, Order::Desc),
            )
            .await
            .check(ctx);
        let names: Vec<&str> = red.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["Zed", "Mike"], "[{ctx}]");

        let ann: Vec<TcUser> = ops
            .read_query(
                TcUser::select()
                    .and_where(TcUser::NAME.eq("Ann"))
                    .and_where(TcUser::SELECT.gt(1))
                    .and_where(TcUser::KIND.is_null()),
            )
            .await
            .check(ctx);
        assert_eq!(ann.len(), 1, "[{ctx}]");
        let pkid = ann[0].base.pkid.clone();
        let by_pk: Vec<TcUser> = ops
            .read_query(TcUser::select().and_where(TcUser::PKID.eq(pkid.clone())))
            .await
            .check(ctx);
        assert_eq!(by_pk, ann, "[{ctx}]");
        let newest: Vec<TcUser> = ops
            .read_query(
                TcUser::select()
                    .order_by(TcUser::DATE_CREATED, Order::Desc)
                    .order_by(TcUser::NAME, Order::Asc)
                    .limit(1),
            )
            .await
            .check(ctx);
        assert_eq!(newest.len(), 1, "[{ctx}]");
        // `M::col` stays for names known only at run time.
        let dynamic: Vec<TcUser> = ops
            .read_query(TcUser::select().and_where(TcUser::col("select").eq(3)))
            .await
            .check(ctx);
        assert_eq!(dynamic[0].name, "Zed", "[{ctx}]");
    }
}

#[tokio::test]
async fn insert_applies_the_model_defaults() {
    let _table = TC_WRITES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (_db, ops) = fresh(&b, json!({}), |db| {
            db.register::<TcWrite>().register::<TcCounter>();
        })
        .await;

        // Named values: a fresh pkid and both stamps, as Python's insert(User).values(...).
        let result = ops
            .execute_one(TcWrite::insert().value(TcWrite::NAME, "plain"))
            .await
            .check(ctx);
        assert_eq!(result.rowcount, 1, "[{ctx}]");
        let plain: TcWrite = ops
            .read_one_record(TcWrite::select().and_where(TcWrite::NAME.eq("plain")))
            .await
            .check(ctx)
            .unwrap_or_else(|| panic!("[{ctx}] no row"));
        assert_eq!(plain.base.pkid.len(), 36, "[{ctx}]");
        assert!(uuid::Uuid::parse_str(&plain.base.pkid).is_ok(), "[{ctx}]");
        assert_eq!(plain.base.date_created, plain.base.date_updated, "[{ctx}]");
        close_to_now(plain.base.date_created, ctx);
        assert_eq!(plain.color, None, "[{ctx}]");

        // Given values win over the defaults.
        let when: DateTime<Utc> = "2020-01-02T03:04:05.123456Z".parse().unwrap();
        ops.execute_one(
            TcWrite::insert()
                .value(TcWrite::PKID, "my-own-key")
                .value(TcWrite::DATE_CREATED, when)
                .value(TcWrite::NAME, "given"),
        )
        .await
        .check(ctx);
        let given: TcWrite = ops
            .read_by_pk::<TcWrite>("my-own-key")
            .await
            .check(ctx)
            .unwrap_or_else(|| panic!("[{ctx}] no row"));
        assert_eq!(given.base.date_created, when, "[{ctx}]");
        close_to_now(given.base.date_updated, ctx);

        // Several rows in one statement, each with its own pkid.
        let result = ops
            .execute_one(
                TcWrite::insert()
                    .values([(TcWrite::NAME, "r1"), (TcWrite::COLOR, "red")])
                    .values([(TcWrite::NAME, "r2"), (TcWrite::COLOR, "blue")]),
            )
            .await
            .check(ctx);
        assert_eq!(result.rowcount, 2, "[{ctx}]");
        let rows: Vec<TcWrite> = ops
            .read_query(
                TcWrite::select()
                    .and_where(TcWrite::NAME.is_in(["r1", "r2"]))
                    .order_by(TcWrite::NAME, Order::Asc),
            )
            .await
            .check(ctx);
        assert_eq!(rows.len(), 2, "[{ctx}]");
        assert_ne!(rows[0].base.pkid, rows[1].base.pkid, "[{ctx}]");
        assert_eq!(rows[1].color.as_deref(), Some("blue"), "[{ctx}]");

        // Whole models, stamped as create_one stamps them; their pkid kept.
        let old = SchemaBase {
            date_created: when,
            ..SchemaBase::default()
        };
        let m1 = TcWrite {
            base: old,
            name: "m1".into(),
            color: Some("green".into()),
        };
        let m2 = TcWrite {
            base: SchemaBase::default(),
            name: "m2".into(),
            color: None,
        };
        let keys = [m1.base.pkid.clone(), m2.base.pkid.clone()];
        ops.execute_one(TcWrite::insert().models([m1, m2]))
            .await
            .check(ctx);
        for key in keys {
            let stored = ops
                .read_by_pk::<TcWrite>(key)
                .await
                .check(ctx)
                .unwrap_or_else(|| panic!("[{ctx}] model row missing"));
            close_to_now(stored.base.date_created, ctx);
        }

        // A unique violation is reported as with any insert.
        let err = ops
            .execute_one(TcWrite::insert().value(TcWrite::NAME, "plain"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IntegrityError, "[{ctx}] {err}");

        // An auto-increment key left at 0 is filled by the database.
        let result = ops
            .execute_one(
                TcWrite::insert()
                    .value(TcWrite::NAME, "x")
                    .value(TcWrite::COLOR, "y"),
            )
            .await
            .check(ctx);
        assert_eq!(result.rowcount, 1, "[{ctx}]");
        ops.execute_one(TcCounter::insert().models([
            TcCounter {
                id: 0,
                label: "a".into(),
            },
            TcCounter {
                id: 0,
                label: "b".into(),
            },
        ]))
        .await
        .check(ctx);
        ops.execute_one(TcCounter::insert().value(TcCounter::LABEL, "c"))
            .await
            .check(ctx);
        let counters: Vec<TcCounter> = ops
            .read_query(TcCounter::select().order_by(TcCounter::ID, Order::Asc))
            .await
            .check(ctx);
        let labels: Vec<&str> = counters.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "c"], "[{ctx}]");
        assert!(counters.iter().all(|c| c.id > 0), "[{ctx}]");
    }
}

#[tokio::test]
async fn update_stamps_date_updated_and_delete_deletes() {
    let _table = TC_WRITES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (_db, ops) = fresh(&b, json!({}), |db| {
            db.register::<TcWrite>();
        })
        .await;
        ops.execute_one(
            TcWrite::insert()
                .values([(TcWrite::NAME, "u1"), (TcWrite::COLOR, "red")])
                .values([(TcWrite::NAME, "u2"), (TcWrite::COLOR, "red")]),
        )
        .await
        .check(ctx);
        let before: TcWrite = ops
            .read_one_record(TcWrite::select().and_where(TcWrite::NAME.eq("u1")))
            .await
            .check(ctx)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;

        let result = ops
            .execute_one(
                TcWrite::update()
                    .value(TcWrite::COLOR, "blue")
                    .and_where(TcWrite::PKID.eq(before.base.pkid.clone())),
            )
            .await
            .check(ctx);
        assert_eq!(result.rowcount, 1, "[{ctx}]");
        let after = ops
            .read_by_pk::<TcWrite>(before.base.pkid.clone())
            .await
            .check(ctx)
            .unwrap();
        assert_eq!(after.color.as_deref(), Some("blue"), "[{ctx}]");
        assert_eq!(after.base.date_created, before.base.date_created, "[{ctx}]");
        assert!(
            after.base.date_updated > before.base.date_updated,
            "[{ctx}] {} !> {}",
            after.base.date_updated,
            before.base.date_updated
        );
        // The other row is untouched.
        let other: TcWrite = ops
            .read_one_record(TcWrite::select().and_where(TcWrite::NAME.eq("u2")))
            .await
            .check(ctx)
            .unwrap();
        assert_eq!(other.color.as_deref(), Some("red"), "[{ctx}]");
        assert_eq!(other.base.date_updated, other.base.date_created, "[{ctx}]");

        let result = ops
            .execute_one(TcWrite::delete().and_where(TcWrite::NAME.eq("u1")))
            .await
            .check(ctx);
        assert_eq!(result.rowcount, 1, "[{ctx}]");
        assert!(
            ops.read_by_pk::<TcWrite>(before.base.pkid.clone())
                .await
                .check(ctx)
                .is_none(),
            "[{ctx}]"
        );
        let result = ops
            .execute_one(TcWrite::delete().and_where(TcWrite::COLOR.eq("red")))
            .await
            .check(ctx);
        assert_eq!(result.rowcount, 1, "[{ctx}]");
        let left: Vec<TcWrite> = ops.read_query(&TcWrite::select()).await.check(ctx);
        assert!(left.is_empty(), "[{ctx}]");
    }
}
