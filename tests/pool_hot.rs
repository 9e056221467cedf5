//! Hot connections (PostgreSQL, MySQL/MariaDB): a connection whose session ended cleanly is
//! reused at once, the most recent first, without sqlx's release round trip (also when it is
//! handed to a caller waiting on a full pool); a connection whose session was cut short is not;
//! callers waiting on a full pool, the raw sqlx pool,
//! `disconnect` and a connection killed by the server all still get what they got before.

#![cfg(any(feature = "postgres", feature = "mysql"))]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, servers};
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::session::Session;
use dsg_lib::async_database_functions::statement::text;
use serde_json::json;

async fn session(db: &AsyncDatabase, backend: &Backend) -> Session {
    tokio::time::timeout(Duration::from_secs(30), db.get_db_session())
        .await
        .unwrap_or_else(|_| panic!("{}: get_db_session hung", backend.name))
        .unwrap_or_else(|e| panic!("{}: get_db_session: {e}", backend.name))
}

/// The server's id of the connection a session runs on.
async fn connection_id(session: &mut Session, backend: &Backend) -> i64 {
    let id: Option<i64> = session
        .fetch_optional(&text(backend.connection_id_sql()))
        .await
        .unwrap_or_else(|e| panic!("{}: connection id: {e}", backend.name));
    id.expect("one row")
}

/// The connection id a `read_one_record` runs on (a read on a session of its own).
async fn read_id(ops: &DatabaseOperations, backend: &Backend) -> i64 {
    let id: Option<i64> = ops
        .read_one_record(&text(backend.connection_id_sql()))
        .await
        .unwrap_or_else(|e| panic!("{}: read: {e}", backend.name));
    id.expect("one row")
}

#[tokio::test]
async fn the_connection_used_last_is_used_next() {
    for backend in servers() {
        let db = backend.database(json!({ "pool_size": 4, "max_overflow": 0 }));
        // Four connections open at once, then all returned.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(session(&db, &backend).await);
        }
        let mut last = 0;
        for mut s in held {
            last = connection_id(&mut s, &backend).await;
            s.commit().await.unwrap();
        }
        assert_eq!(db.pool_stats().idle, 4, "{}: all four idle", backend.name);

        // Twenty operations one after the other all run on the one returned last (sqlx's own
        // pool hands its idle connections out oldest first, in turn).
        let ops = DatabaseOperations::new(db.clone());
        for i in 0..20 {
            assert_eq!(
                read_id(&ops, &backend).await,
                last,
                "{}: read {i}",
                backend.name
            );
        }
        assert_eq!(db.pool_stats().size, 4, "{}", backend.name);
        assert_eq!(db.pool_stats().in_use, 0, "{}", backend.name);
        db.disconnect().await;
    }
}

#[tokio::test]
async fn a_transaction_left_open_is_rolled_back_before_the_connection_is_reused() {
    for backend in servers() {
        let table = common::unique_table("hot_tx");
        let db = backend.database(json!({ "pool_size": 1, "max_overflow": 0 }));
        let ops = DatabaseOperations::new(db.clone());
        ops.execute_one(&text(format!("CREATE TABLE {table} (id INT PRIMARY KEY)")))
            .await
            .unwrap();

        let mut s = session(&db, &backend).await;
        s.execute(&text(format!("INSERT INTO {table} (id) VALUES (1)")))
            .await
            .unwrap();
        drop(s); // no commit

        // The one connection again, with nothing of the dropped transaction.
        let mut s = session(&db, &backend).await;
        let rows: Vec<i64> = s
            .fetch_all(&text(format!(
                "SELECT CAST(id AS {}) FROM {table}",
                int(&backend)
            )))
            .await
            .unwrap();
        assert!(
            rows.is_empty(),
            "{}: rolled back, got {rows:?}",
            backend.name
        );
        s.execute(&text(format!("INSERT INTO {table} (id) VALUES (2)")))
            .await
            .unwrap();
        s.commit().await.unwrap();
        let count: Option<i64> = ops
            .read_one_record(&text(format!("SELECT COUNT(*) FROM {table}")))
            .await
            .unwrap();
        assert_eq!(count, Some(1), "{}", backend.name);
        ops.execute_one(&text(format!("DROP TABLE {table}")))
            .await
            .unwrap();
        db.disconnect().await;
    }
}

fn int(backend: &Backend) -> &'static str {
    match backend.name {
        "postgres" => "BIGINT",
        _ => "SIGNED",
    }
}

#[tokio::test]
async fn a_statement_cut_short_closes_its_connection() {
    for backend in servers() {
        // Two connections: the closing one stays counted until the server lets it go (its
        // sleep ends), and the next operation does not wait for that.
        let db = backend.database(json!({ "pool_size": 2, "max_overflow": 0 }));
        let ops = DatabaseOperations::new(db.clone());
        let before = read_id(&ops, &backend).await;
        let sleep = match backend.name {
            "postgres" => "SELECT CAST(1 AS BIGINT) FROM pg_sleep(3)",
            _ => "SELECT CAST(SLEEP(3) AS SIGNED)",
        };
        let cut = tokio::time::timeout(
            Duration::from_millis(300),
            ops.read_one_record::<i64>(&text(sleep)),
        )
        .await;
        assert!(cut.is_err(), "{}: the sleep was cut short", backend.name);

        // The next operation runs on another connection, at once, and answers.
        let started = Instant::now();
        let after = read_id(&ops, &backend).await;
        assert_ne!(
            after, before,
            "{}: the cut-short connection was reused",
            backend.name
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{}: waited {:?}",
            backend.name,
            started.elapsed()
        );
        db.disconnect().await;
    }
}

#[tokio::test]
async fn callers_waiting_on_a_full_pool_all_get_a_connection() {
    for backend in servers() {
        let db = backend.database(json!({ "pool_size": 2, "max_overflow": 0, "pool_timeout": 5 }));
        let ops = DatabaseOperations::new(db.clone());
        let started = Instant::now();
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let ops = ops.clone();
                tokio::spawn(async move {
                    for i in 0..25i64 {
                        let v: Option<i64> = ops
                            .read_one_record(&text("SELECT :v + 0").bind("v", t * 100 + i))
                            .await?;
                        assert_eq!(v, Some(t * 100 + i));
                    }
                    Ok::<_, dsg_lib::async_database_functions::error::DatabaseError>(())
                })
            })
            .collect();
        for task in tasks {
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: a waiting caller failed: {e}", backend.name));
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}: 400 reads over 2 connections took {:?}",
            backend.name,
            started.elapsed()
        );
        let stats = db.pool_stats();
        assert!(stats.size <= 2, "{}: {stats:?}", backend.name);
        assert_eq!(stats.waiting, 0, "{}", backend.name);
        db.disconnect().await;
    }
}

/// MySQL/MariaDB: the pings (`COM_PING`, counted in `Com_admin_commands`) a connection has
/// answered, read on that connection.
async fn pings(session: &mut Session) -> i64 {
    let sql = "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.SESSION_STATUS \
               WHERE VARIABLE_NAME = 'COM_ADMIN_COMMANDS'";
    let n: Option<i64> = session
        .fetch_optional(&text(sql))
        .await
        .expect("session status");
    n.expect("one row")
}

#[tokio::test]
async fn a_caller_waiting_on_a_full_pool_is_handed_the_connection_without_a_round_trip() {
    for backend in servers() {
        let name = backend.name;
        let db = backend.database(json!({ "pool_size": 1, "max_overflow": 0, "pool_timeout": 5 }));
        let mut first = session(&db, &backend).await;
        let id = connection_id(&mut first, &backend).await;
        let mysql = name == "mysql";
        let before = if mysql { pings(&mut first).await } else { 0 };
        // A second caller waits: the pool's one connection is in use.
        let waiter = {
            let (db, backend) = (db.clone(), backend.clone());
            tokio::spawn(async move {
                let mut second = session(&db, &backend).await;
                let id = connection_id(&mut second, &backend).await;
                let after = if mysql { pings(&mut second).await } else { 0 };
                second.commit().await.expect("commit");
                (id, after)
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            db.pool_stats().waiting,
            1,
            "{name}: the second caller waits"
        );
        let handed_at = Instant::now();
        first.commit().await.expect("commit");
        let (second_id, after) = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap_or_else(|_| panic!("{name}: the waiting caller was never served"))
            .expect("waiter");
        assert_eq!(second_id, id, "{name}: the same connection");
        assert!(
            handed_at.elapsed() < Duration::from_secs(2),
            "{name}: {:?}",
            handed_at.elapsed()
        );
        // Handed over as it was: sqlx's release would have pinged it first.
        assert_eq!(after, before, "{name}: pings answered in between");
        db.disconnect().await;
    }
}

#[tokio::test]
async fn the_raw_sqlx_pool_gets_the_connections_the_library_returned() {
    for backend in servers() {
        let db = backend.database(json!({ "pool_size": 1, "max_overflow": 0, "pool_timeout": 3 }));
        let ops = DatabaseOperations::new(db.clone());
        read_id(&ops, &backend).await;
        #[cfg(feature = "postgres")]
        let pg = db.pg_pool().await.unwrap();
        #[cfg(feature = "mysql")]
        let my = db.mysql_pool().await.unwrap();
        for round in 0..2 {
            let started = Instant::now();
            let mut answered = 0;
            #[cfg(feature = "postgres")]
            if let Some(pool) = &pg {
                let one: i64 = dsg_lib::sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                answered += one;
            }
            #[cfg(feature = "mysql")]
            if let Some(pool) = &my {
                let one: i64 = dsg_lib::sqlx::query_scalar("SELECT CAST(1 AS SIGNED)")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                answered += one;
            }
            assert_eq!(answered, 1, "{}: the raw pool answered", backend.name);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{}: round {round}: the raw pool waited {:?} for the one connection",
                backend.name,
                started.elapsed()
            );
            // The library's next operation returns the connection to sqlx's pool.
            read_id(&ops, &backend).await;
        }
        db.disconnect().await;
    }
}

#[tokio::test]
async fn disconnect_does_not_wait_for_returned_connections() {
    for backend in servers() {
        let db = backend.database(json!({ "pool_size": 3 }));
        let ops = DatabaseOperations::new(db.clone());
        for _ in 0..5 {
            read_id(&ops, &backend).await;
        }
        let started = Instant::now();
        db.disconnect().await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}: disconnect took {:?}",
            backend.name,
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_connection_killed_by_the_server_is_not_handed_out_again() {
    for backend in servers() {
        let db = backend.database(json!({ "pool_size": 1, "max_overflow": 0, "pool_timeout": 10 }));
        let ops = DatabaseOperations::new(db.clone());
        let victim = read_id(&ops, &backend).await;

        let admin = backend.database(json!({}));
        let kill = match backend.name {
            "postgres" => format!("SELECT pg_terminate_backend({victim})"),
            _ => format!("KILL {victim}"),
        };
        DatabaseOperations::new(admin.clone())
            .execute_one(&text(&kill))
            .await
            .unwrap();
        admin.disconnect().await;
        tokio::time::sleep(Duration::from_millis(200)).await;

        // The read finds its connection gone and runs once more on a fresh one.
        let now = read_id(&ops, &backend).await;
        assert_ne!(now, victim, "{}", backend.name);
        // And the operations after it run on live connections.
        let one: Option<i64> = ops
            .read_one_record(&text("SELECT :one + 0").bind("one", 1i64))
            .await
            .unwrap();
        assert_eq!(one, Some(1), "{}", backend.name);
        db.disconnect().await;
    }
}
