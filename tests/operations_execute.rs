//! `DatabaseOperations`: `execute_one`, `execute_many` in one transaction, and hostile strings
//! stored byte-identical — on every configured backend.

mod common;
mod ops_support;

use chrono::Utc;
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::{Text, text};
use dsg_lib::sea_query::Query;
use ops_support::{Check, expect_err, fresh};
use serde_json::json;

/// Whether the server behind `ops` is MariaDB (which has `INSERT … RETURNING`).
async fn is_mariadb(ops: &DatabaseOperations) -> bool {
    let version: Option<String> = ops
        .read_one_record(&text("SELECT VERSION()"))
        .await
        .check("mysql");
    version.is_some_and(|v| v.contains("MariaDB"))
}

// ---------------------------------------------------------------------------------------------
// execute_one

#[derive(Model, Debug, Clone)]
#[model(table = "ops_exec_counters")]
struct ExecCounter {
    #[model(primary_key, auto_increment)]
    id: i64,
    #[model(size = 50)]
    label: String,
    qty: i64,
}

fn insert_counter(label: &str, qty: i64) -> Text {
    text("INSERT INTO ops_exec_counters (label, qty) VALUES (:label, :qty)")
        .bind("label", label)
        .bind("qty", qty)
}

#[tokio::test]
async fn execute_one_reports_rowcounts_ids_and_rows() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<ExecCounter>();
        })
        .await;
        // PostgreSQL reports no inserted id (use RETURNING there).
        let id = |n: i64| (b.name != "postgres").then_some(n);

        for (n, label) in [(1, "a"), (2, "b"), (3, "c")] {
            let result = ops.execute_one(&insert_counter(label, n)).await.check(ctx);
            assert_eq!(result.rowcount, 1, "[{ctx}] insert {label}");
            assert_eq!(result.inserted_primary_key, id(n), "[{ctx}] insert {label}");
            assert!(result.rows.is_empty(), "[{ctx}] {result:?}");
        }
        // A sea-query INSERT too.
        let mut insert = Query::insert();
        insert
            .into_table(ExecCounter::TABLE)
            .columns(["label", "qty"])
            .values_panic(["d".into(), 4i64.into()]);
        let result = ops.execute_one(&insert).await.check(ctx);
        assert_eq!(
            (result.rowcount, result.inserted_primary_key),
            (1, id(4)),
            "[{ctx}]"
        );

        let update = text("UPDATE ops_exec_counters SET qty = qty + :by WHERE qty >= :min")
            .bind("by", 10i64)
            .bind("min", 2i64);
        let result = ops.execute_one(&update).await.check(ctx);
        assert_eq!(result.rowcount, 3, "[{ctx}] update");
        assert_eq!(result.inserted_primary_key, None, "[{ctx}]");
        let none = text("UPDATE ops_exec_counters SET qty = 0 WHERE label = :l").bind("l", "zz");
        assert_eq!(ops.execute_one(&none).await.check(ctx).rowcount, 0);

        let delete = text("DELETE FROM ops_exec_counters WHERE label IN (:a, :d)")
            .bind("a", "a")
            .bind("d", "d");
        let result = ops.execute_one(&delete).await.check(ctx);
        assert_eq!(result.rowcount, 2, "[{ctx}] delete");

        let select = text("SELECT id, label, qty FROM ops_exec_counters ORDER BY id");
        let result = ops.execute_one(&select).await.check(ctx);
        assert_eq!(result.rowcount, 2, "[{ctx}] select");
        assert_eq!(
            serde_json::to_value(&result.rows).unwrap(),
            json!([{"id": 2, "label": "b", "qty": 12}, {"id": 3, "label": "c", "qty": 13}]),
            "[{ctx}]"
        );

        // INSERT … RETURNING: SQLite, PostgreSQL, and MariaDB (not MySQL).
        if b.name != "mysql" || is_mariadb(&ops).await {
            let returning = text(
                "INSERT INTO ops_exec_counters (label, qty) VALUES (:label, :qty) RETURNING id, label",
            )
            .bind("label", "r")
            .bind("qty", 5i64);
            let result = ops.execute_one(&returning).await.check(ctx);
            assert_eq!(
                serde_json::to_value(&result.rows).unwrap(),
                json!([{"id": 5, "label": "r"}]),
                "[{ctx}] returning"
            );
            assert_eq!(result.rowcount, 1, "[{ctx}] returning: {result:?}");
        }

        // Committed: a new database handle on the same data sees it.
        let count = ops.count_query(&ExecCounter::select()).await.check(ctx);
        let expected = if b.name != "mysql" || is_mariadb(&ops).await {
            3
        } else {
            2
        };
        assert_eq!(count, expected, "[{ctx}]");
        if !b.is_sqlite() {
            let other = DatabaseOperations::new(b.database(json!({})));
            let seen = other.count_query(&ExecCounter::select()).await.check(ctx);
            assert_eq!(seen, expected, "[{ctx}] from another pool");
            other.database().disconnect().await;
        }
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// execute_many

/// Declares a batch model; one per test, so that tests running at the same time on one server
/// never share a table.
macro_rules! batch_model {
    ($name:ident, $table:tt) => {
        #[derive(Model, Debug, Clone)]
        #[model(table = $table)]
        struct $name {
            #[model(primary_key, auto_increment)]
            id: i64,
            #[model(unique, size = 50)]
            name: String,
            n: i64,
        }
    };
}

batch_model!(BatchItem, "ops_batch_items");
batch_model!(BatchFailItem, "ops_batch_fail_items");

fn insert_batch_item(table: &str, name: &str, n: i64) -> Text {
    text(format!("INSERT INTO {table} (name, n) VALUES (:name, :n)"))
        .bind("name", name)
        .bind("n", n)
}

async fn batch_items(ops: &DatabaseOperations, table: &str, ctx: &str) -> Vec<(String, i64)> {
    ops.read_query(&text(format!("SELECT name, n FROM {table} ORDER BY name")))
        .await
        .check(ctx)
}

#[tokio::test]
async fn execute_many_applies_every_statement_in_order() {
    for b in common::backends() {
        let ctx = b.name;
        const T: &str = BatchItem::TABLE;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<BatchItem>();
        })
        .await;
        let results = ops
            .execute_many(vec![
                insert_batch_item(T, "a", 1),
                insert_batch_item(T, "b", 2),
                text("UPDATE ops_batch_items SET n = n + 10 WHERE name = :name").bind("name", "a"),
                // Sees the batch's own uncommitted writes.
                text("SELECT name, n FROM ops_batch_items ORDER BY name"),
                text("DELETE FROM ops_batch_items WHERE name = :name").bind("name", "b"),
                insert_batch_item(T, "c", 3),
            ])
            .await
            .check(ctx);
        let rowcounts: Vec<u64> = results.iter().map(|r| r.rowcount).collect();
        assert_eq!(rowcounts, [1, 1, 1, 2, 1, 1], "[{ctx}]");
        assert_eq!(
            serde_json::to_value(&results[3].rows).unwrap(),
            json!([{"name": "a", "n": 11}, {"name": "b", "n": 2}]),
            "[{ctx}] the SELECT inside the batch"
        );
        if b.name != "postgres" {
            assert_eq!(results[0].inserted_primary_key, Some(1), "[{ctx}]");
            assert_eq!(results[5].inserted_primary_key, Some(3), "[{ctx}]");
        }
        assert_eq!(
            batch_items(&ops, T, ctx).await,
            [("a".to_string(), 11), ("c".to_string(), 3)],
            "[{ctx}]"
        );
        // An empty batch does nothing.
        assert!(
            ops.execute_many(Vec::<Text>::new())
                .await
                .check(ctx)
                .is_empty()
        );
        db.disconnect().await;
    }
}

#[tokio::test]
async fn execute_many_rolls_back_everything_when_a_statement_fails() {
    for b in common::backends() {
        let ctx = b.name;
        const T: &str = BatchFailItem::TABLE;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<BatchFailItem>();
        })
        .await;
        ops.execute_one(&insert_batch_item(T, "x", 1))
            .await
            .check(ctx);
        let before = batch_items(&ops, T, ctx).await;

        // Statement 2 repeats a unique name.
        let err = expect_err(
            ops.execute_many(vec![
                insert_batch_item(T, "p", 5),
                text("UPDATE ops_batch_fail_items SET n = 99 WHERE name = 'x'"),
                insert_batch_item(T, "x", 7),
                insert_batch_item(T, "q", 8),
            ])
            .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert_eq!(err.statement_index(), Some(2), "[{ctx}] {err}");
        assert!(err.details().contains("statement 2"), "[{ctx}] {err}");
        assert!(err.is_unique_violation(), "[{ctx}] {err:?}");
        assert_eq!(
            batch_items(&ops, T, ctx).await,
            before,
            "[{ctx}] nothing may remain"
        );
        assert_eq!(
            ops.count_query(&BatchFailItem::select()).await.check(ctx),
            1,
            "[{ctx}]"
        );

        // A statement that is not valid SQL, and one with an unbound parameter.
        let err = expect_err(
            ops.execute_many(vec![
                insert_batch_item(T, "p", 5),
                text("UPDATE ops_batch_fail_items SET no_such_column = 1"),
            ])
            .await,
            ErrorKind::DatabaseError,
            ctx,
        );
        assert_eq!(err.statement_index(), Some(1), "[{ctx}] {err}");
        let err = expect_err(
            ops.execute_many(vec![
                insert_batch_item(T, "p", 5),
                insert_batch_item(T, "r", 6),
                insert_batch_item(T, "s", 7),
                text("DELETE FROM ops_batch_fail_items WHERE name = :unbound"),
            ])
            .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert_eq!(err.statement_index(), Some(3), "[{ctx}] {err}");
        assert!(err.details().contains(":unbound"), "[{ctx}] {err}");
        assert_eq!(
            batch_items(&ops, T, ctx).await,
            before,
            "[{ctx}] nothing may remain"
        );

        // The pool is still usable afterwards.
        ops.execute_many(vec![insert_batch_item(T, "p", 5)])
            .await
            .check(ctx);
        assert_eq!(
            ops.count_query(&BatchFailItem::select()).await.check(ctx),
            2,
            "[{ctx}]"
        );
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile strings

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_hostile_notes")]
struct HostileNote {
    #[model(flatten)]
    base: SchemaBase,
    body: String,
}

fn hostile_strings() -> Vec<String> {
    let mut big = String::new();
    while big.len() < 1 << 20 {
        big.push_str("Zoë 🚀 日本 '\"\\ ;-- DROP TABLE ops_hostile_notes; :x ? $1 ");
    }
    vec![
        "O'Brien".into(),
        "''".into(),
        "'; DROP TABLE ops_hostile_notes; --".into(),
        "\"; DROP TABLE ops_hostile_notes; --".into(),
        "Robert'); DROP TABLE ops_hostile_notes;--".into(),
        "back\\slash \\' \\\\ \\0".into(),
        "Zoë 🚀 日本".into(),
        ":name :pkid ? $1 %s {}".into(),
        "line\nbreak\ttab\r".into(),
        "   trailing spaces   ".into(),
        big,
    ]
}

#[tokio::test]
async fn hostile_strings_are_stored_byte_identical() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<HostileNote>();
        })
        .await;
        let strings = hostile_strings();
        for body in &strings {
            let short: String = body.chars().take(40).collect();
            // Through create_one.
            let stored = ops
                .create_one(HostileNote {
                    base: SchemaBase::default(),
                    body: body.clone(),
                })
                .await
                .check(ctx);
            assert!(
                stored.body == *body,
                "[{ctx}] create_one returned {short:?} changed"
            );
            let mut by_pkid = HostileNote::select();
            by_pkid.and_where(HostileNote::col("pkid").eq(stored.base.pkid.clone()));
            let read: Option<HostileNote> = ops.read_one_record(&by_pkid).await.check(ctx);
            assert!(
                read.as_ref()
                    .is_some_and(|r| r.body.as_bytes() == body.as_bytes()),
                "[{ctx}] {short:?} read back differently"
            );

            // Through text() parameters.
            let pkid = uuid::Uuid::new_v4().to_string();
            ops.execute_one(
                &text(
                    "INSERT INTO ops_hostile_notes (pkid, date_created, date_updated, body) \
                     VALUES (:pkid, :now, :now, :body)",
                )
                .bind("pkid", pkid.clone())
                .bind("now", Utc::now().naive_utc())
                .bind("body", body.clone()),
            )
            .await
            .check(ctx);
            let read: Vec<String> = ops
                .read_query(
                    &text("SELECT body FROM ops_hostile_notes WHERE pkid = :pkid")
                        .bind("pkid", pkid),
                )
                .await
                .check(ctx);
            assert!(
                read.len() == 1 && read[0].as_bytes() == body.as_bytes(),
                "[{ctx}] {short:?} through text() read back differently"
            );
        }
        // Short strings can be found by value too.
        let found: Vec<String> = ops
            .read_query(
                &text("SELECT pkid FROM ops_hostile_notes WHERE body = :body")
                    .bind("body", "'; DROP TABLE ops_hostile_notes; --"),
            )
            .await
            .check(ctx);
        assert_eq!(found.len(), 2, "[{ctx}]");
        // The table is still there, with every row.
        assert_eq!(
            ops.count_query(&HostileNote::select()).await.check(ctx),
            2 * strings.len() as u64,
            "[{ctx}]"
        );
        db.disconnect().await;
    }
}
