//! What a user checks of results and errors (issue 28): a statement that ran is not reported
//! as failed because its result has a type the dynamic `Record` cannot map, the driver's
//! error behind `source()` downcasts to a public type on every backend, `violates` answers
//! for a column and for its index on every backend, and a locking read makes concurrent
//! read-then-write transactions lose no update.
//!
//! SQLite always; PostgreSQL and MySQL/MariaDB when their URLs are set.

mod common;

use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::statement::text;
use serde_json::{Value, json};

/// `execute_one` on PostgreSQL functions that return `void` succeeds and gives `null` for
/// the column: `pg_sleep` and `pg_advisory_lock` (the lock is then really held by the pool's
/// one connection, and released by the next call).
#[tokio::test]
async fn void_results_read_as_null_and_the_statement_succeeds() {
    let Some(backend) = common::servers().into_iter().find(|b| b.name == "postgres") else {
        eprintln!("DSG_TEST_POSTGRES_URL not set: PostgreSQL's void is not tested");
        return;
    };
    // One connection, so the unlock runs where the lock was taken.
    let db = backend.database(json!({"pool_size": 1, "max_overflow": 0}));
    let ops = DatabaseOperations::new(db.clone());

    let slept = ops
        .execute_one(&text("SELECT pg_sleep(0.1)"))
        .await
        .unwrap_or_else(|e| panic!("SELECT pg_sleep(0.1): {e:?}"));
    assert_eq!(slept.rowcount, 1, "{slept:?}");
    assert_eq!(slept.rows.len(), 1, "{slept:?}");
    assert_eq!(
        slept.rows[0].get("pg_sleep"),
        Some(&Value::Null),
        "{slept:?}"
    );

    let locked = ops
        .execute_one(&text("SELECT pg_advisory_lock(4242)"))
        .await
        .unwrap_or_else(|e| panic!("SELECT pg_advisory_lock(4242): {e:?}"));
    assert_eq!(
        locked.rows[0].get("pg_advisory_lock"),
        Some(&Value::Null),
        "{locked:?}"
    );
    // Another client sees the lock held.
    let other = DatabaseOperations::new(backend.database(json!({})));
    let held: Option<i64> = other
        .read_one_record(&text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 \
             AND granted",
        ))
        .await
        .expect("pg_locks");
    assert_eq!(held, Some(1), "the advisory lock is held after execute_one");
    // The same connection releases it: pg_advisory_unlock says it held it.
    let unlocked = ops
        .execute_one(&text("SELECT pg_advisory_unlock(4242)"))
        .await
        .expect("pg_advisory_unlock");
    assert_eq!(
        unlocked.rows[0].get("pg_advisory_unlock"),
        Some(&Value::Bool(true)),
        "{unlocked:?}"
    );
    let held: Option<i64> = other
        .read_one_record(&text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242",
        ))
        .await
        .expect("pg_locks");
    assert_eq!(held, Some(0), "the advisory lock is released");

    // A type the Record cannot map in a row with others: the others still decode.
    let mixed = ops
        .execute_one(&text(
            "SELECT 7 AS n, pg_sleep(0) AS nothing, ARRAY[1, 2] AS list, 'x' AS s",
        ))
        .await
        .unwrap_or_else(|e| panic!("mixed row: {e:?}"));
    let row = &mixed.rows[0];
    assert_eq!(row.get("n"), Some(&json!(7)));
    assert_eq!(row.get("nothing"), Some(&Value::Null));
    assert_eq!(row.get("list"), Some(&Value::Null));
    assert_eq!(row.get("s"), Some(&json!("x")));
    db.disconnect().await;
    other.database().disconnect().await;
}
