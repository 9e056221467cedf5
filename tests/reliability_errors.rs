//! What a user checks of results and errors (issue 28): a statement that ran is not reported
//! as failed because its result has a type the dynamic `Record` cannot map, the driver's
//! error behind `source()` downcasts to a public type on every backend, `violates` answers
//! for a column and for its index on every backend, and a locking read makes concurrent
//! read-then-write transactions lose no update.
//!
//! SQLite always; PostgreSQL and MySQL/MariaDB when their URLs are set.

mod common;

use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::DatabaseError;
use dsg_lib::async_database_functions::statement::text;
use serde_json::{Value, json};

/// The tests of this file share their tables: one at a time.
static TABLES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database on `backend` with `extra` config keys, whose registered tables were just
/// dropped and created again.
async fn fresh(
    backend: &Backend,
    extra: Value,
    register: impl FnOnce(&AsyncDatabase),
) -> (AsyncDatabase, DatabaseOperations) {
    let db = backend.database(extra);
    register(&db);
    db.drop_tables()
        .await
        .unwrap_or_else(|e| panic!("[{}] drop_tables: {e}", backend.name));
    db.create_tables()
        .await
        .unwrap_or_else(|e| panic!("[{}] create_tables: {e}", backend.name));
    (db.clone(), DatabaseOperations::new(db))
}

#[derive(Model, Debug, Clone)]
#[model(table = "relerr_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    email: String,
    #[model(unique, size = 100)]
    handle: String,
    #[model(size = 100)]
    name: String,
}

fn user(email: &str, handle: &str) -> User {
    User {
        base: SchemaBase::new(),
        email: email.into(),
        handle: handle.into(),
        name: "n".into(),
    }
}

/// A second user with `email` and `handle`, which must fail.
async fn duplicate(ops: &DatabaseOperations, backend: &Backend, u: User) -> DatabaseError {
    match ops.create_one(u).await {
        Ok(u) => panic!("[{}] a duplicate was stored: {u:?}", backend.name),
        Err(e) => {
            assert!(e.is_unique_violation(), "[{}] {e:?}", backend.name);
            e
        }
    }
}

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

/// `source()` of a driver error downcasts to a public type on every backend, with the
/// backend's own fields: `dsg_lib::rusqlite::Error` on SQLite (its extended result code),
/// `sqlx::Error` on PostgreSQL (`PgDatabaseError`: SQLSTATE, constraint) and MySQL/MariaDB
/// (`MySqlDatabaseError`: the error number; with `mysql-async`, the driver's own error below
/// sqlx's `DatabaseError`).
#[tokio::test]
// Names each backend's own error type: built with all three backends.
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn the_source_downcasts_to_each_backends_public_error_type() {
    use std::error::Error as _;
    let _tables = TABLES.lock().await;
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<User>();
        })
        .await;
        ops.create_one(user("a@example.com", "a")).await.unwrap();
        let err = duplicate(&ops, &backend, user("a@example.com", "b")).await;
        let source = err
            .source()
            .unwrap_or_else(|| panic!("[{name}] no source: {err:?}"));
        match name {
            "sqlite" => {
                let engine = source
                    .downcast_ref::<dsg_lib::rusqlite::Error>()
                    .unwrap_or_else(|| {
                        panic!("[sqlite] source is not rusqlite::Error: {source:?}")
                    });
                let dsg_lib::rusqlite::Error::SqliteFailure(failure, message) = engine else {
                    panic!("[sqlite] not a SqliteFailure: {engine:?}");
                };
                // SQLITE_CONSTRAINT_UNIQUE.
                assert_eq!(failure.extended_code, 2067, "{engine:?}");
                assert_eq!(
                    failure.code,
                    dsg_lib::rusqlite::ErrorCode::ConstraintViolation
                );
                assert_eq!(err.code(), Some("2067"));
                assert!(
                    message.as_deref().is_some_and(|m| m.contains("email")),
                    "{message:?}"
                );
            }
            // The tokio-postgres executor: sqlx's `DatabaseError` trait gives the SQLSTATE
            // and names, its source the driver's own error with every field.
            #[cfg(feature = "pg-pipeline")]
            "postgres" => {
                let driver = source
                    .downcast_ref::<sqlx::Error>()
                    .unwrap_or_else(|| panic!("[postgres] source is not sqlx::Error: {source:?}"));
                let db = driver
                    .as_database_error()
                    .unwrap_or_else(|| panic!("[postgres] not a database error: {driver:?}"));
                assert_eq!(db.code().as_deref(), Some("23505"));
                assert_eq!(db.constraint(), Some("ix_relerr_users_email"));
                assert_eq!(db.table(), Some("relerr_users"));
                let pg = db
                    .as_error()
                    .source()
                    .and_then(|s| s.downcast_ref::<dsg_lib::tokio_postgres::Error>())
                    .and_then(|e| e.as_db_error())
                    .unwrap_or_else(|| panic!("[postgres] no tokio_postgres DbError: {db:?}"));
                assert_eq!(pg.code().code(), "23505");
                assert_eq!(pg.constraint(), Some("ix_relerr_users_email"));
                assert_eq!(pg.table(), Some("relerr_users"));
            }
            #[cfg(not(feature = "pg-pipeline"))]
            "postgres" => {
                let driver = source
                    .downcast_ref::<sqlx::Error>()
                    .unwrap_or_else(|| panic!("[postgres] source is not sqlx::Error: {source:?}"));
                let pg = driver
                    .as_database_error()
                    .and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
                    .unwrap_or_else(|| panic!("[postgres] not a PgDatabaseError: {driver:?}"));
                assert_eq!(pg.code(), "23505");
                assert_eq!(pg.constraint(), Some("ix_relerr_users_email"));
                assert_eq!(pg.table(), Some("relerr_users"));
            }
            // The mysql_async executor: sqlx's `DatabaseError` trait gives the SQLSTATE, its
            // source the driver's own error with the error number.
            #[cfg(feature = "mysql-async")]
            _ => {
                let driver = source
                    .downcast_ref::<sqlx::Error>()
                    .unwrap_or_else(|| panic!("[{name}] source is not sqlx::Error: {source:?}"));
                let db = driver
                    .as_database_error()
                    .unwrap_or_else(|| panic!("[{name}] not a database error: {driver:?}"));
                assert_eq!(db.code().as_deref(), Some("23000"));
                assert_eq!(err.code(), Some("1062"), "ER_DUP_ENTRY");
                let my = db
                    .as_error()
                    .source()
                    .and_then(|s| s.downcast_ref::<dsg_lib::mysql_async::Error>())
                    .unwrap_or_else(|| panic!("[{name}] no mysql_async error: {db:?}"));
                let dsg_lib::mysql_async::Error::Server(server) = my else {
                    panic!("[{name}] not a server error: {my:?}");
                };
                assert_eq!(server.code, 1062, "ER_DUP_ENTRY");
                assert_eq!(server.state, "23000");
            }
            #[cfg(not(feature = "mysql-async"))]
            _ => {
                let driver = source
                    .downcast_ref::<sqlx::Error>()
                    .unwrap_or_else(|| panic!("[{name}] source is not sqlx::Error: {source:?}"));
                let my = driver
                    .as_database_error()
                    .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
                    .unwrap_or_else(|| panic!("[{name}] not a MySqlDatabaseError: {driver:?}"));
                assert_eq!(my.number(), 1062, "ER_DUP_ENTRY");
                assert_eq!(my.code(), Some("23000"));
            }
        }
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

/// A duplicate in a `unique, index` column is a violation of both the column and its index on
/// every backend, though MariaDB names only the index and SQLite only the column: the library
/// fills in the other from the registered model. A duplicate in a `unique` column (no index)
/// is a violation of that column.
#[tokio::test]
async fn violates_answers_for_the_column_and_its_index_on_every_backend() {
    let _tables = TABLES.lock().await;
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<User>();
        })
        .await;
        ops.create_one(user("a@example.com", "a")).await.unwrap();

        let email = duplicate(&ops, &backend, user("a@example.com", "b")).await;
        assert!(email.violates("email"), "[{name}] {email:?}");
        assert!(
            email.violates("ix_relerr_users_email"),
            "[{name}] {email:?}"
        );
        assert!(!email.violates("handle"), "[{name}] {email:?}");
        assert!(
            !email.violates("ix_relerr_users_handle"),
            "[{name}] {email:?}"
        );
        assert_eq!(
            email.constraint_name(),
            Some("ix_relerr_users_email"),
            "[{name}] {email:?}"
        );
        assert_eq!(email.columns(), ["email"], "[{name}] {email:?}");
        assert_eq!(email.table(), Some("relerr_users"), "[{name}] {email:?}");

        let handle = duplicate(&ops, &backend, user("b@example.com", "a")).await;
        assert!(handle.violates("handle"), "[{name}] {handle:?}");
        assert!(!handle.violates("email"), "[{name}] {handle:?}");
        assert!(
            !handle.violates("ix_relerr_users_email"),
            "[{name}] {handle:?}"
        );

        // The same inside a caller's transaction.
        let mut session = db.get_db_session().await.unwrap();
        let err = session
            .create_one(user("a@example.com", "c"))
            .await
            .unwrap_err();
        assert!(
            err.violates("email") && err.violates("ix_relerr_users_email"),
            "[{name}] {err:?}"
        );
        drop(session);

        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone)]
#[model(table = "relerr_counters")]
struct Counter {
    #[model(primary_key, size = 20)]
    name: String,
    value: i64,
}

/// 32 concurrent `transaction`s each read a counter with `read_by_pk_for_update` and write it
/// back plus one: all 32 land on every backend (with a plain read, the servers' default
/// isolation lets concurrent transactions overwrite each other's increments).
#[tokio::test]
async fn thirty_two_concurrent_locked_increments_all_land_on_every_backend() {
    let _tables = TABLES.lock().await;
    for backend in common::backends() {
        let name = backend.name;
        let extra = if backend.is_sqlite() {
            json!({})
        } else {
            json!({"pool_size": 8, "max_overflow": 0})
        };
        let (db, ops) = fresh(&backend, extra, |db| {
            db.register::<Counter>();
        })
        .await;
        ops.create_one(Counter {
            name: "hits".into(),
            value: 0,
        })
        .await
        .unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.transaction(|tx| {
                        Box::pin(async move {
                            let counter = tx
                                .read_by_pk_for_update::<Counter>("hits")
                                .await?
                                .ok_or_else(|| DatabaseError::not_found("no counter"))?;
                            tx.update_one::<Counter>("hits", json!({"value": counter.value + 1}))
                                .await?;
                            Ok(())
                        })
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("[{name}] increment: {e:?}"));
        }
        let counter = ops.read_by_pk::<Counter>("hits").await.unwrap();
        assert_eq!(
            counter.map(|c| c.value),
            Some(32),
            "[{name}] every increment lands (retries: {})",
            db.retries()
        );
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}
