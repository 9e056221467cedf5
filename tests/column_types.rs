//! The narrower column types (`i16`, `u32`, `f32`, `chrono::NaiveTime`, and
//! `rust_decimal::Decimal` with the `decimal` feature) and enums stored as text
//! (`#[derive(SqlEnum)]`): created, inserted, read back and updated through `update_one`, on
//! every configured backend; and `update_one` refusing what a field's type cannot hold.

mod common;
mod ops_support;

use chrono::NaiveTime;
use dsg_lib::async_database_functions::database_config::Dialect;
use dsg_lib::async_database_functions::field::SqlField;
use dsg_lib::async_database_functions::model::SqlType;
use dsg_lib::async_database_functions::row::{DecodeError, RowRef};
use dsg_lib::prelude::*;
use dsg_lib::sea_query::Query;
use dsg_lib::sea_query::Value;
use ops_support::{Check, expect_err, fresh};
use serde_json::json;

/// The tests of one table take turns (each drops and creates it).
static CT_VALUES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static CT_ACCOUNTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ct_values")]
struct CtValues {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 40)]
    name: String,
    small: i16,
    unsigned: u32,
    ratio: f32,
    at: NaiveTime,
    opt_small: Option<i16>,
    opt_unsigned: Option<u32>,
    opt_ratio: Option<f32>,
    opt_at: Option<NaiveTime>,
}

fn time(h: u32, m: u32, s: u32, micro: u32) -> NaiveTime {
    NaiveTime::from_hms_micro_opt(h, m, s, micro).unwrap()
}

fn values(name: &str, n: i16) -> CtValues {
    CtValues {
        base: SchemaBase::default(),
        name: name.into(),
        small: n,
        unsigned: u32::MAX - n.unsigned_abs() as u32,
        ratio: f32::from(n) / 4.0,
        at: time(23, 59, 59, 123_456),
        opt_small: Some(i16::MIN),
        opt_unsigned: Some(0),
        opt_ratio: Some(0.1),
        opt_at: None,
    }
}

#[tokio::test]
async fn narrow_types_map_per_dialect() {
    let _turn = CT_VALUES.lock().await;
    for b in common::backends() {
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<CtValues>();
        })
        .await;
        let details = ops.get_columns_details::<CtValues>().await.check(b.name);
        let types: Vec<&str> = ["small", "unsigned", "ratio", "at"]
            .iter()
            .map(|c| details[*c].sql_type.as_str())
            .collect();
        let expected = match b.name {
            "sqlite" => ["INTEGER", "INTEGER", "REAL", "TIME"],
            "postgres" => ["SMALLINT", "BIGINT", "REAL", "TIME"],
            _ => ["SMALLINT", "INT UNSIGNED", "FLOAT", "TIME(6)"],
        };
        assert_eq!(types, expected, "[{}]", b.name);
        assert!(details["opt_small"].nullable && !details["small"].nullable);
        db.disconnect().await;
    }
}

#[tokio::test]
async fn narrow_types_round_trip() {
    let _turn = CT_VALUES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<CtValues>();
        })
        .await;

        // Extremes through create_one, then read back whole and as scalars.
        let mut edge = values("edge", i16::MAX);
        edge.unsigned = u32::MAX;
        edge.opt_at = Some(time(0, 0, 0, 1));
        let stored = ops.create_one(edge.clone()).await.check(ctx);
        let read = ops
            .read_by_pk::<CtValues>(stored.base.pkid.clone())
            .await
            .check(ctx)
            .unwrap_or_else(|| panic!("[{ctx}] row not found"));
        assert_eq!(read.small, i16::MAX, "[{ctx}]");
        assert_eq!(read.unsigned, u32::MAX, "[{ctx}]");
        assert_eq!(read.ratio, edge.ratio, "[{ctx}]");
        assert_eq!(read.at, edge.at, "[{ctx}]");
        assert_eq!(read.opt_small, Some(i16::MIN), "[{ctx}]");
        assert_eq!(read.opt_unsigned, Some(0), "[{ctx}]");
        assert_eq!(read.opt_ratio, Some(0.1), "[{ctx}]");
        assert_eq!(read.opt_at, Some(time(0, 0, 0, 1)), "[{ctx}]");

        // Several rows through create_many (PostgreSQL's UNNEST path), NULLs included.
        let mut many: Vec<CtValues> = (1..=5).map(|n| values(&format!("m{n}"), -n)).collect();
        many[2].opt_small = None;
        many[2].opt_unsigned = None;
        many[2].opt_ratio = None;
        many[3].opt_at = Some(time(12, 0, 0, 0));
        let stored_many = ops.create_many(many.clone()).await.check(ctx);
        assert_eq!(stored_many.len(), 5, "[{ctx}]");
        let mut select = CtValues::select();
        select
            .and_where(CtValues::NAME.like("m%"))
            .order_by(CtValues::NAME, Order::Asc);
        let rows: Vec<CtValues> = ops.read_query(&select).await.check(ctx);
        assert_eq!(rows, stored_many, "[{ctx}]");
        for (row, given) in rows.iter().zip(&many) {
            assert_eq!(
                (row.small, row.unsigned, row.ratio, row.at),
                (given.small, given.unsigned, given.ratio, given.at),
                "[{ctx}]"
            );
            assert_eq!(
                (row.opt_small, row.opt_unsigned, row.opt_ratio, row.opt_at),
                (
                    given.opt_small,
                    given.opt_unsigned,
                    given.opt_ratio,
                    given.opt_at
                ),
                "[{ctx}]"
            );
        }

        // Typed comparisons bind the Rust values.
        let hits: Vec<String> = ops
            .read_query(
                Query::select()
                    .column(CtValues::NAME)
                    .from(CtValues::TABLE)
                    .and_where(CtValues::UNSIGNED.eq(u32::MAX))
                    .and_where(CtValues::SMALL.gt(0i16)),
            )
            .await
            .check(ctx);
        assert_eq!(hits, ["edge"], "[{ctx}]");
        let unsigned: Vec<u32> = ops
            .read_query(
                Query::select()
                    .column(CtValues::UNSIGNED)
                    .from(CtValues::TABLE)
                    .and_where(CtValues::NAME.eq("edge")),
            )
            .await
            .check(ctx);
        assert_eq!(unsigned, [u32::MAX], "[{ctx}]");
        let times: Vec<(NaiveTime, Option<NaiveTime>)> = ops
            .read_query(
                Query::select()
                    .columns([CtValues::AT, CtValues::OPT_AT])
                    .from(CtValues::TABLE)
                    .and_where(CtValues::NAME.eq("m4")),
            )
            .await
            .check(ctx);
        assert_eq!(
            times,
            [(time(23, 59, 59, 123_456), Some(time(12, 0, 0, 0)))]
        );

        // Dynamic records decode every new type.
        let records: Vec<Record> = ops
            .read_query(
                Query::select()
                    .columns([
                        CtValues::SMALL,
                        CtValues::UNSIGNED,
                        CtValues::RATIO,
                        CtValues::AT,
                    ])
                    .columns([CtValues::OPT_SMALL, CtValues::OPT_RATIO, CtValues::OPT_AT])
                    .from(CtValues::TABLE)
                    .and_where(CtValues::NAME.eq("edge")),
            )
            .await
            .check(ctx);
        let record = serde_json::Value::from(records[0].clone());
        assert_eq!(
            record,
            json!({
                "small": i16::MAX, "unsigned": u32::MAX, "ratio": f64::from(edge.ratio),
                "at": "23:59:59.123456", "opt_small": i16::MIN, "opt_ratio": f64::from(0.1f32),
                "opt_at": "00:00:00.000001",
            }),
            "[{ctx}]"
        );

        // update_one from JSON, read back.
        let updated = ops
            .update_one::<CtValues>(
                stored.base.pkid.clone(),
                json!({
                    "small": -32768, "unsigned": 4_000_000_000u64, "ratio": 2.25, "at": "08:30:15.5",
                    "opt_small": null, "opt_unsigned": 7, "opt_ratio": null, "opt_at": "18:45",
                }),
            )
            .await
            .check(ctx);
        let again = ops
            .read_by_pk::<CtValues>(stored.base.pkid.clone())
            .await
            .check(ctx)
            .unwrap_or_else(|| panic!("[{ctx}] row not found"));
        assert_eq!(updated, again, "[{ctx}]");
        assert_eq!(again.small, i16::MIN, "[{ctx}]");
        assert_eq!(again.unsigned, 4_000_000_000, "[{ctx}]");
        assert_eq!(again.ratio, 2.25, "[{ctx}]");
        assert_eq!(again.at, time(8, 30, 15, 500_000), "[{ctx}]");
        assert_eq!(again.opt_small, None, "[{ctx}]");
        assert_eq!(again.opt_unsigned, Some(7), "[{ctx}]");
        assert_eq!(again.opt_ratio, None, "[{ctx}]");
        assert_eq!(again.opt_at, Some(time(18, 45, 0, 0)), "[{ctx}]");
        db.disconnect().await;
    }
}

#[tokio::test]
async fn update_one_refuses_values_the_narrow_types_cannot_hold() {
    let _turn = CT_VALUES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<CtValues>();
        })
        .await;
        let stored = ops.create_one(values("keep", 3)).await.check(ctx);
        for (column, bad) in [
            ("small", json!(32768)),
            ("small", json!(1.5)),
            ("unsigned", json!(-1)),
            ("unsigned", json!(4_294_967_296u64)),
            ("ratio", json!(1e39)),
            ("ratio", json!("fast")),
            ("at", json!("25:00:00")),
            ("at", json!(830)),
            ("small", json!(null)),
            ("opt_unsigned", json!(-5)),
        ] {
            let err = expect_err(
                ops.update_one::<CtValues>(
                    stored.base.pkid.clone(),
                    json!({ column: bad, "name": "changed" }),
                )
                .await,
                ErrorKind::InvalidInput,
                ctx,
            );
            assert!(
                err.to_string().contains(&format!("ct_values.{column}")),
                "[{ctx}] {column} = {bad}: {err}"
            );
        }
        let read = ops
            .read_by_pk::<CtValues>(stored.base.pkid.clone())
            .await
            .check(ctx);
        assert_eq!(read, Some(stored), "[{ctx}] nothing written");
        db.disconnect().await;
    }
}

/// A role stored as text, with the derive's attributes.
#[derive(SqlEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[sql_enum(rename_all = "snake_case", size = 20)]
enum Role {
    Admin,
    TeamMember,
    #[sql_enum(rename = "guest")]
    Visitor,
}

/// Stored by its names as written, in the default VARCHAR(64).
#[derive(SqlEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Shade {
    Light,
    Dark,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ct_accounts")]
struct CtAccount {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 40)]
    name: String,
    #[model(index)]
    role: Role,
    previous: Option<Role>,
    shade: Shade,
}

#[test]
fn sql_enum_names_and_types() {
    assert_eq!(Role::VARIANTS, ["admin", "team_member", "guest"]);
    assert_eq!(Role::TeamMember.as_sql_str(), "team_member");
    assert_eq!(Role::from_sql_str("guest"), Some(Role::Visitor));
    assert_eq!(Role::from_sql_str("Visitor"), None);
    assert_eq!(Shade::VARIANTS, ["Light", "Dark"]);
    let columns = CtAccount::columns();
    let ty = |name: &str| columns.iter().find(|c| c.name == name).unwrap().sql_type;
    assert_eq!(ty("role"), SqlType::String(Some(20)));
    assert_eq!(ty("shade"), SqlType::String(Some(64)));
    assert!(
        columns
            .iter()
            .find(|c| c.name == "previous")
            .unwrap()
            .nullable
    );
    assert_eq!(
        dsg_lib::sea_query::Value::from(Role::Admin),
        dsg_lib::sea_query::Value::String(Some("admin".into()))
    );
}

fn account(name: &str, role: Role) -> CtAccount {
    CtAccount {
        base: SchemaBase::default(),
        name: name.into(),
        role,
        previous: None,
        shade: Shade::Dark,
    }
}

#[tokio::test]
async fn enum_columns_round_trip_and_update() {
    let _turn = CT_ACCOUNTS.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<CtAccount>();
        })
        .await;
        let ann = ops
            .create_one(account("ann", Role::TeamMember))
            .await
            .check(ctx);
        ops.create_many(vec![
            account("bob", Role::Admin),
            account("cy", Role::Visitor),
        ])
        .await
        .check(ctx);

        // Stored as the names, read back as the enum, compared as the enum.
        let raw: Vec<String> = ops
            .read_query(&text("SELECT role FROM ct_accounts ORDER BY name"))
            .await
            .check(ctx);
        assert_eq!(raw, ["team_member", "admin", "guest"], "[{ctx}]");
        let admins: Vec<CtAccount> = ops
            .read_query(CtAccount::select().and_where(CtAccount::ROLE.eq(Role::Admin)))
            .await
            .check(ctx);
        assert_eq!(admins.len(), 1, "[{ctx}]");
        assert_eq!(admins[0].name, "bob", "[{ctx}]");
        let roles: Vec<Role> = ops
            .read_query(
                Query::select()
                    .column(CtAccount::ROLE)
                    .from(CtAccount::TABLE)
                    .order_by(CtAccount::NAME, Order::Asc),
            )
            .await
            .check(ctx);
        assert_eq!(
            roles,
            [Role::TeamMember, Role::Admin, Role::Visitor],
            "[{ctx}]"
        );

        // A name the enum knows updates; null clears the nullable one.
        let updated = ops
            .update_one::<CtAccount>(
                ann.base.pkid.clone(),
                json!({"role": "admin", "previous": "team_member", "shade": "Light"}),
            )
            .await
            .check(ctx);
        assert_eq!(
            (updated.role, updated.previous, updated.shade),
            (Role::Admin, Some(Role::TeamMember), Shade::Light),
            "[{ctx}]"
        );
        let updated = ops
            .update_one::<CtAccount>(ann.base.pkid.clone(), json!({"previous": null}))
            .await
            .check(ctx);
        assert_eq!(updated.previous, None, "[{ctx}]");

        // Anything else is refused, naming the column, and nothing is written.
        let before = ops
            .read_by_pk::<CtAccount>(ann.base.pkid.clone())
            .await
            .check(ctx);
        for (column, bad, says) in [
            ("role", json!("owner"), "unknown Role value"),
            (
                "role",
                json!("Admin"),
                "expected one of \"admin\", \"team_member\", \"guest\"",
            ),
            ("role", json!(1), "as a string"),
            ("role", json!(null), "not nullable"),
            ("previous", json!("root"), "unknown Role value \"root\""),
            ("shade", json!("light"), "unknown Shade value"),
        ] {
            let err = expect_err(
                ops.update_one::<CtAccount>(
                    ann.base.pkid.clone(),
                    json!({ "name": "renamed", column: bad }),
                )
                .await,
                ErrorKind::InvalidInput,
                ctx,
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!("ct_accounts.{column}")),
                "[{ctx}] {text}"
            );
            assert!(text.contains(says), "[{ctx}] {text}");
        }
        let after = ops
            .read_by_pk::<CtAccount>(ann.base.pkid.clone())
            .await
            .check(ctx);
        assert_eq!(after, before, "[{ctx}] the row is unchanged");
        let all: Vec<CtAccount> = ops.read_query(&CtAccount::select()).await.check(ctx);
        assert_eq!(all.len(), 3, "[{ctx}] the table is still readable");
        db.disconnect().await;
    }
}

#[tokio::test]
async fn enum_hidden_values_and_foreign_rows() {
    let _turn = CT_ACCOUNTS.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        // With hide_parameters the refused value is not repeated in the error.
        let (db, ops) = fresh(&b, json!({"hide_parameters": true}), |db| {
            db.register::<CtAccount>();
        })
        .await;
        let ann = ops.create_one(account("ann", Role::Admin)).await.check(ctx);
        let err = expect_err(
            ops.update_one::<CtAccount>(ann.base.pkid.clone(), json!({"role": "s3cret-role"}))
                .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(
            err.to_string().contains("ct_accounts.role"),
            "[{ctx}] {err}"
        );
        assert!(!err.to_string().contains("s3cret-role"), "[{ctx}] {err}");

        // A row another client wrote with a name the enum does not know: reading it is a
        // decode error naming the column and the value, not a panic.
        ops.execute_one(
            &text("UPDATE ct_accounts SET role = :r WHERE name = 'ann'").bind("r", "owner"),
        )
        .await
        .check(ctx);
        let err = ops
            .read_query::<CtAccount>(&CtAccount::select())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("role"), "[{ctx}] {text}");
        assert!(text.contains("unknown Role value"), "[{ctx}] {text}");
        db.disconnect().await;
    }
}

/// One column of every other field type, each also nullable: what `create_many` binds as one
/// typed array per column on PostgreSQL (`UNNEST`).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ct_every_type")]
struct CtEveryType {
    #[model(primary_key, auto_increment)]
    id: i64,
    text: String,
    int: i32,
    big: i64,
    double: f64,
    flag: bool,
    utc: chrono::DateTime<chrono::Utc>,
    naive: chrono::NaiveDateTime,
    day: chrono::NaiveDate,
    key: uuid::Uuid,
    doc: serde_json::Value,
    blob: Vec<u8>,
    opt_text: Option<String>,
    opt_int: Option<i32>,
    opt_big: Option<i64>,
    opt_double: Option<f64>,
    opt_flag: Option<bool>,
    opt_utc: Option<chrono::DateTime<chrono::Utc>>,
    opt_naive: Option<chrono::NaiveDateTime>,
    opt_day: Option<chrono::NaiveDate>,
    opt_key: Option<uuid::Uuid>,
    opt_doc: Option<serde_json::Value>,
    opt_blob: Option<Vec<u8>>,
}

fn every_type(n: i32) -> CtEveryType {
    let day = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let naive = day.and_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    CtEveryType {
        id: 0,
        // What an array's text form would have to quote or escape.
        text: format!("it's \"{n}\", {{x}} \\ NULL"),
        int: i32::MIN + n,
        big: i64::MAX - i64::from(n),
        double: -1.5e300 / f64::from(n + 1),
        flag: n % 2 == 0,
        utc: naive.and_utc(),
        naive,
        day,
        key: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cd00 + n as u128),
        doc: json!({"n": n, "list": [1, "two", null], "quote": "\"{,}\""}),
        blob: vec![0, b'\\', b'"', 0xff, n as u8],
        opt_text: Some("NULL".into()),
        opt_int: Some(n),
        opt_big: Some(-i64::from(n)),
        opt_double: Some(0.1),
        opt_flag: Some(false),
        opt_utc: Some(naive.and_utc()),
        opt_naive: Some(naive),
        opt_day: Some(day),
        opt_key: Some(uuid::Uuid::nil()),
        opt_doc: Some(json!("text")),
        opt_blob: Some(Vec::new()),
    }
}

#[tokio::test]
async fn every_type_round_trips_through_create_many() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<CtEveryType>();
        })
        .await;
        let mut rows: Vec<CtEveryType> = (0..4).map(every_type).collect();
        // A row of NULLs, and one with a JSON null (not SQL NULL).
        rows[1] = CtEveryType {
            opt_text: None,
            opt_int: None,
            opt_big: None,
            opt_double: None,
            opt_flag: None,
            opt_utc: None,
            opt_naive: None,
            opt_day: None,
            opt_key: None,
            opt_doc: None,
            opt_blob: None,
            ..rows[1].clone()
        };
        rows[2].opt_doc = Some(serde_json::Value::Null);
        let stored = ops.create_many(rows.clone()).await.check(ctx);
        assert_eq!(
            stored.iter().map(|r| r.id).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "[{ctx}] ids"
        );
        let mut select = CtEveryType::select();
        select.order_by(CtEveryType::ID, Order::Asc);
        let read: Vec<CtEveryType> = ops.read_query(&select).await.check(ctx);
        assert_eq!(read, stored, "[{ctx}]");
        for (row, given) in read.iter().zip(&rows) {
            let row = CtEveryType {
                id: 0,
                ..row.clone()
            };
            assert_eq!(&row, given, "[{ctx}]");
        }
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

#[cfg(feature = "decimal")]
mod decimal {
    use super::*;
    use dsg_lib::rust_decimal::Decimal;

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "ct_decimals")]
    struct CtDecimal {
        #[model(primary_key, auto_increment)]
        id: i64,
        amount: Decimal,
        fee: Option<Decimal>,
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn decimals_round_trip_exactly() {
        for b in common::backends() {
            let ctx = b.name;
            let (db, ops) = fresh(&b, json!({}), |db| {
                db.register::<CtDecimal>();
            })
            .await;
            let details = ops.get_columns_details::<CtDecimal>().await.check(ctx);
            let expected = match ctx {
                "sqlite" => "TEXT",
                "postgres" => "NUMERIC",
                _ => "DECIMAL(65, 30)",
            };
            assert_eq!(details["amount"].sql_type, expected, "[{ctx}]");

            let amounts = [
                "12.34",
                "-0.000001",
                "79228162514264337593543950335",
                "0.1234567890123456789012345678",
            ];
            let rows: Vec<CtDecimal> = amounts
                .iter()
                .map(|a| CtDecimal {
                    id: 0,
                    amount: dec(a),
                    fee: None,
                })
                .collect();
            let stored = ops.create_many(rows).await.check(ctx);
            let mut select = CtDecimal::select();
            select.order_by(CtDecimal::ID, Order::Asc);
            let read: Vec<CtDecimal> = ops.read_query(&select).await.check(ctx);
            assert_eq!(read, stored, "[{ctx}]");
            assert_eq!(
                read.iter().map(|r| r.amount).collect::<Vec<_>>(),
                amounts.map(dec),
                "[{ctx}]"
            );
            let one = ops
                .create_one(CtDecimal {
                    id: 0,
                    amount: dec("1.5"),
                    fee: Some(dec("0.25")),
                })
                .await
                .check(ctx);
            assert_eq!(one.fee, Some(dec("0.25")), "[{ctx}]");
            let sums: Vec<Decimal> = ops
                .read_query(
                    Query::select()
                        .column(CtDecimal::AMOUNT)
                        .from(CtDecimal::TABLE)
                        .and_where(CtDecimal::AMOUNT.eq(dec("12.34"))),
                )
                .await
                .check(ctx);
            assert_eq!(sums, [dec("12.34")], "[{ctx}]");

            let updated = ops
                .update_one::<CtDecimal>(one.id, json!({"amount": "99.99", "fee": 2.5}))
                .await
                .check(ctx);
            assert_eq!(
                (updated.amount, updated.fee),
                (dec("99.99"), Some(dec("2.5")))
            );
            let updated = ops
                .update_one::<CtDecimal>(one.id, json!({"fee": null}))
                .await
                .check(ctx);
            assert_eq!(updated.fee, None, "[{ctx}]");
            for bad in [json!("abc"), json!(true), json!(null)] {
                let err = expect_err(
                    ops.update_one::<CtDecimal>(one.id, json!({ "amount": bad }))
                        .await,
                    ErrorKind::InvalidInput,
                    ctx,
                );
                assert!(
                    err.to_string().contains("ct_decimals.amount"),
                    "[{ctx}] {err}"
                );
            }
            let records: Vec<Record> = ops
                .read_query(
                    &text("SELECT amount, fee FROM ct_decimals WHERE id = :id").bind("id", one.id),
                )
                .await
                .check(ctx);
            let amount = records[0].get("amount").cloned();
            let amount = match amount {
                Some(serde_json::Value::String(s)) => dec(&s),
                Some(serde_json::Value::Number(n)) => dec(&n.to_string()),
                other => panic!("[{ctx}] amount as {other:?}"),
            };
            assert_eq!(amount, dec("99.99"), "[{ctx}]");
            let again = ops.read_by_pk::<CtDecimal>(one.id).await.check(ctx);
            assert_eq!(again.map(|r| r.amount), Some(dec("99.99")), "[{ctx}]");
            db.disconnect().await;
        }
    }
}

/// A column type of the user's own, written without any driver's types: decoded through
/// `RowRef::get::<String>` and converted, its errors plain `DecodeError`s.
#[derive(Debug, Clone, PartialEq)]
struct Point(i32, i32);

impl SqlField for Point {
    const SQL_TYPE: SqlType = SqlType::String(Some(23));
    fn to_value(&self, _: Dialect) -> Value {
        Value::String(Some(format!("{},{}", self.0, self.1)))
    }
    fn null_value(_: Dialect) -> Value {
        Value::String(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        let text: String = row.get(index)?;
        let (x, y) = text.split_once(',').ok_or("expected \"x,y\"")?;
        Ok(Point(x.parse()?, y.parse()?))
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ct_points")]
struct CtPoint {
    #[model(primary_key, auto_increment)]
    id: i64,
    at: Point,
    near: Option<Point>,
}

static CT_POINTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn custom_column_types_decode_the_same_on_every_backend() {
    let _turn = CT_POINTS.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<CtPoint>();
        })
        .await;
        let one = ops
            .create_one(CtPoint {
                id: 0,
                at: Point(3, -4),
                near: None,
            })
            .await
            .check(ctx);
        let many = ops
            .create_many(vec![
                CtPoint {
                    id: 0,
                    at: Point(1, 2),
                    near: Some(Point(0, 0)),
                },
                CtPoint {
                    id: 0,
                    at: Point(-7, 9),
                    near: None,
                },
            ])
            .await
            .check(ctx);
        let mut all: Vec<CtPoint> = ops
            .read_query(CtPoint::select().order_by("id", Order::Asc))
            .await
            .check(ctx);
        all.sort_by_key(|p| p.id);
        assert_eq!(all.len(), 3, "[{ctx}]");
        assert_eq!(all[0], one, "[{ctx}]");
        assert_eq!(&all[1..], &many[..], "[{ctx}]");
        assert_eq!(all[1].near, Some(Point(0, 0)), "[{ctx}]");
        // In tuples, and in a dynamic Record (there the stored text).
        let ats: Vec<(Point,)> = ops
            .read_query(&text("SELECT at FROM ct_points ORDER BY id"))
            .await
            .check(ctx);
        let ats: Vec<Point> = ats.into_iter().map(|(p,)| p).collect();
        assert_eq!(ats, [Point(3, -4), Point(1, 2), Point(-7, 9)], "[{ctx}]");
        let pairs: Vec<(i64, Option<Point>)> = ops
            .read_query(&text("SELECT id, near FROM ct_points ORDER BY id"))
            .await
            .check(ctx);
        assert_eq!(pairs[1].1, Some(Point(0, 0)), "[{ctx}]");
        let records: Vec<Record> = ops
            .read_query(&text("SELECT at FROM ct_points ORDER BY id"))
            .await
            .check(ctx);
        assert_eq!(records[0].get("at"), Some(&json!("3,-4")), "[{ctx}]");

        // A stored value the type cannot read: a decode error naming the column and the cause.
        ops.execute_one(
            &text("UPDATE ct_points SET at = 'north' WHERE id = :id").bind("id", one.id),
        )
        .await
        .check(ctx);
        let err = expect_err(
            ops.read_by_pk::<CtPoint>(one.id).await,
            ErrorKind::DecodeError,
            ctx,
        );
        assert!(err.to_string().contains("(at)"), "[{ctx}] {err}");
        assert!(
            err.to_string().contains("expected \"x,y\""),
            "[{ctx}] {err}"
        );
        ops.execute_one(&text("UPDATE ct_points SET at = '1,x' WHERE id = :id").bind("id", one.id))
            .await
            .check(ctx);
        let err = expect_err(
            ops.read_by_pk::<CtPoint>(one.id).await,
            ErrorKind::DecodeError,
            ctx,
        );
        assert!(err.to_string().contains("invalid digit"), "[{ctx}] {err}");
        db.disconnect().await;
    }
}

/// A NULL read into a type that cannot hold it is a decode error that names the column and
/// says to read it as an `Option`, on every backend and for every kind of type.
#[tokio::test]
async fn a_null_into_a_non_option_says_to_use_an_option() {
    for b in common::backends() {
        let ctx = b.name;
        let db = b.database(json!({}));
        let ops = DatabaseOperations::new(db.clone());
        let null = "SELECT NULL AS empty";
        let err = expect_err(
            ops.read_query::<String>(&text(null)).await,
            ErrorKind::DecodeError,
            ctx,
        );
        assert!(err.to_string().contains("(empty) is NULL"), "[{ctx}] {err}");
        assert!(
            err.to_string().contains("Option<alloc::string::String>"),
            "[{ctx}] {err}"
        );
        let err = expect_err(
            ops.read_query::<(i64, Point)>(&text("SELECT 1 AS one, NULL AS at"))
                .await,
            ErrorKind::DecodeError,
            ctx,
        );
        assert!(
            err.to_string().contains("column 1 (at) is NULL"),
            "[{ctx}] {err}"
        );
        let err = expect_err(
            ops.read_query::<(Vec<u8>,)>(&text(null)).await,
            ErrorKind::DecodeError,
            ctx,
        );
        assert!(
            err.to_string().contains("is NULL; read it as Option"),
            "[{ctx}] {err}"
        );
        // A 32- or 16-bit integer widens into an i64 (PostgreSQL's `SELECT 1` is INT4).
        let widened: Vec<(i64, i64)> = ops
            .read_query(&text(if b.name == "postgres" {
                "SELECT 1, CAST(-2 AS SMALLINT)"
            } else {
                "SELECT 1, -2"
            }))
            .await
            .check(ctx);
        assert_eq!(widened, [(1, -2)], "[{ctx}]");
        // The same NULL as an Option is None.
        let read: Vec<Option<i64>> = ops.read_query(&text(null)).await.check(ctx);
        assert_eq!(read, [None], "[{ctx}]");
        db.disconnect().await;
    }
}
