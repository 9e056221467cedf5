//! A large statement and the connection that carried it (servers only). MySQL and MariaDB keep
//! a connection's network buffer as large as the largest packet it received, for the
//! connection's life, and fill it with a result's rows before sending any: a connection that
//! sent a statement over 128 KiB is closed when its session ends, and a bulk insert or delete is
//! split so that no statement reaches that size. PostgreSQL keeps no such buffer: its
//! connection goes on being reused.

#![cfg(any(feature = "postgres", feature = "mysql"))]

mod common;
mod ops_support;

use std::time::{Duration, Instant};

use common::{Backend, servers};
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::text;
use ops_support::{Check, fresh};
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "pool_large_rows")]
struct LargeRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 100)]
    label: String,
    n: i64,
}

/// The same columns, for the bulk test's own table (the tests run at once).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "pool_large_bulk")]
struct BulkRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 100)]
    label: String,
    n: i64,
}

/// The server's id of the connection a read runs on (a session of its own).
async fn read_id(ops: &DatabaseOperations, backend: &Backend) -> i64 {
    let id: Option<i64> = ops
        .read_one_record(&text(backend.connection_id_sql()))
        .await
        .check(backend.name);
    id.expect("one row")
}

/// Whether the server still has a connection with this id.
async fn server_has(ops: &DatabaseOperations, backend: &Backend, id: i64) -> bool {
    let sql = match backend.name {
        "postgres" => "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_stat_activity WHERE pid = :id",
        _ => "SELECT CAST(COUNT(*) AS SIGNED) FROM information_schema.PROCESSLIST WHERE ID = :id",
    };
    let count: Option<i64> = ops
        .read_one_record(&text(sql).bind("id", id))
        .await
        .check(backend.name);
    count == Some(1)
}

/// The memory the MariaDB server holds for the connection a read runs on, in bytes.
async fn server_memory(ops: &DatabaseOperations, backend: &Backend) -> i64 {
    let sql = "SELECT CAST(MEMORY_USED AS SIGNED) FROM information_schema.PROCESSLIST \
               WHERE ID = CONNECTION_ID()";
    let memory: Option<i64> = ops.read_one_record(&text(sql)).await.check(backend.name);
    memory.expect("one row")
}

fn rows(count: usize, label: &str) -> Vec<BulkRow> {
    (0..count)
        .map(|n| BulkRow {
            base: SchemaBase::default(),
            label: format!("{label}-{n:06}-{}", "x".repeat(80)),
            n: n as i64,
        })
        .collect()
}

#[tokio::test]
async fn a_connection_that_sent_a_large_statement_is_not_reused_on_mysql() {
    for backend in servers() {
        let ctx = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<LargeRow>();
        })
        .await;
        let before = read_id(&ops, &backend).await;
        assert_eq!(read_id(&ops, &backend).await, before, "[{ctx}] reused");

        // One row whose text is 1 MB: one statement of about 1 MB.
        let label = "y".repeat(1 << 20);
        let insert = format!(
            "INSERT INTO {} (pkid, date_created, date_updated, label, n) \
             VALUES ('large-1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :label, 1)",
            LargeRow::TABLE
        );
        // A column of 100 characters would refuse 1 MB: the text goes into a wider one.
        let widen = match ctx {
            "postgres" => "ALTER TABLE pool_large_rows ALTER COLUMN label TYPE TEXT",
            _ => "ALTER TABLE pool_large_rows MODIFY label LONGTEXT",
        };
        ops.execute_one(&text(widen)).await.check(ctx);
        assert_eq!(
            read_id(&ops, &backend).await,
            before,
            "[{ctx}] DDL is small"
        );
        let done = ops
            .execute_one(&text(insert).bind("label", label.clone()))
            .await
            .check(ctx);
        assert_eq!(done.rowcount, 1, "[{ctx}]");
        let stored: Option<String> = ops
            .read_one_record(&text(
                "SELECT label FROM pool_large_rows WHERE pkid = 'large-1'",
            ))
            .await
            .check(ctx);
        assert_eq!(
            stored.as_deref(),
            Some(label.as_str()),
            "[{ctx}] stored whole"
        );

        if ctx == "postgres" {
            assert_eq!(read_id(&ops, &backend).await, before, "[{ctx}] kept");
        } else {
            let after = read_id(&ops, &backend).await;
            assert_ne!(after, before, "[{ctx}] the connection was reused");
            // Closed, not left open beside the pool.
            let deadline = Instant::now() + Duration::from_secs(10);
            while server_has(&ops, &backend, before).await {
                assert!(
                    Instant::now() < deadline,
                    "[{ctx}] still open on the server"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(
                server_memory(&ops, &backend).await < 512 * 1024,
                "[{ctx}] the next connection is a fresh one"
            );
        }
        db.disconnect().await;
    }
}

#[tokio::test]
async fn a_bulk_insert_upsert_and_delete_keep_their_connection() {
    for backend in servers() {
        let ctx = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<BulkRow>();
        })
        .await;
        let before = read_id(&ops, &backend).await;

        // 20 000 rows of about 140 bytes: 2.8 MB of values.
        let given = rows(20_000, "bulk");
        let stored = ops.create_many(given.clone()).await.check(ctx);
        let labels = |rows: &[BulkRow]| rows.iter().map(|r| r.label.clone()).collect::<Vec<_>>();
        assert!(
            labels(&stored) == labels(&given),
            "[{ctx}] returned in order"
        );
        let count = ops.count_query(&BulkRow::select()).await.check(ctx);
        assert_eq!(count, 20_000, "[{ctx}] every row stored");

        // Split into statements small enough that the connection stays in use (a statement
        // over the limit would have retired it, as the test above shows).
        assert_eq!(read_id(&ops, &backend).await, before, "[{ctx}] kept");

        // An upsert of them all, each row changed.
        let changed: Vec<BulkRow> = given
            .iter()
            .map(|r| BulkRow {
                n: r.n + 1,
                ..r.clone()
            })
            .collect();
        let upserted = ops.upsert_many(changed).await.check(ctx);
        assert_eq!(upserted.len(), 20_000, "[{ctx}]");
        let mut ns: Vec<i64> = ops
            .read_query(&text("SELECT n FROM pool_large_bulk"))
            .await
            .check(ctx);
        ns.sort_unstable();
        assert!(
            ns == (1..=20_000).collect::<Vec<i64>>(),
            "[{ctx}] every row updated"
        );
        assert_eq!(read_id(&ops, &backend).await, before, "[{ctx}] kept");

        let ids: Vec<String> = given.iter().map(|r| r.base.pkid.clone()).collect();
        let deleted = ops.delete_many::<BulkRow>("pkid", ids).await.check(ctx);
        assert_eq!(deleted, 20_000, "[{ctx}]");
        assert_eq!(read_id(&ops, &backend).await, before, "[{ctx}] kept");
        db.disconnect().await;
    }
}
