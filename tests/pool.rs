//! Pool and session keys of the config have real effects: size and overflow, timeout,
//! isolation level, connect args, echo and hide_parameters, recycle, pre-ping, statement cache.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Backend, servers};
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::session::Session;
use dsg_lib::async_database_functions::statement::text;
use serde_json::json;

fn sqlite() -> Backend {
    common::backends()
        .into_iter()
        .find(Backend::is_sqlite)
        .expect("sqlite is always a backend")
}

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

/// Asserts that getting a session fails with a pool timeout after about `expected`.
async fn assert_pool_timeout(db: &AsyncDatabase, backend: &Backend) {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), db.get_db_session())
        .await
        .unwrap_or_else(|_| panic!("{}: get_db_session ignored pool_timeout", backend.name));
    let waited = started.elapsed();
    let err = result.expect_err("every connection is held, so no session is free");
    assert_eq!(
        err.kind(),
        ErrorKind::PoolTimeout,
        "{}: {err}",
        backend.name
    );
    assert!(
        waited >= Duration::from_millis(800) && waited <= Duration::from_secs(5),
        "{}: pool_timeout 1 s, but waited {waited:?}",
        backend.name
    );
}

#[tokio::test]
async fn a_full_pool_times_out_after_pool_timeout() {
    for backend in servers() {
        let db = backend.database(json!({ "pool_size": 1, "max_overflow": 0, "pool_timeout": 1 }));
        let held = session(&db, &backend).await;
        assert_pool_timeout(&db, &backend).await;
        // Once the held session ends, its connection is free again.
        held.commit().await.unwrap();
        let next = session(&db, &backend).await;
        next.commit().await.unwrap();
        db.disconnect().await;
    }
}

#[tokio::test]
async fn pool_size_plus_max_overflow_is_the_connection_limit() {
    for backend in servers() {
        let db = backend.database(json!({ "pool_size": 2, "max_overflow": 1, "pool_timeout": 1 }));
        let mut held = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let mut s = session(&db, &backend).await;
            ids.push(connection_id(&mut s, &backend).await);
            held.push(s);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            3,
            "{}: three sessions on three connections",
            backend.name
        );
        assert_eq!(db.pool_status().0, 3, "{}", backend.name);
        assert_pool_timeout(&db, &backend).await;
        for s in held {
            s.rollback().await.unwrap();
        }
        let s = session(&db, &backend).await;
        s.commit().await.unwrap();
        db.disconnect().await;
    }
}

/// The isolation level the current session runs its transaction at, as the server spells it.
async fn isolation_of(session: &mut Session, backend: &Backend) -> String {
    let sql = match backend.name {
        "postgres" => "SHOW transaction_isolation",
        "mysql" => "SELECT @@tx_isolation",
        other => panic!("{other}"),
    };
    let level: Option<String> = session
        .fetch_optional(&text(sql))
        .await
        .unwrap_or_else(|e| panic!("{}: {sql}: {e}", backend.name));
    level
        .expect("one row")
        .to_ascii_uppercase()
        .replace('-', " ")
}

#[tokio::test]
async fn isolation_level_applies_to_every_session_on_the_servers() {
    for backend in servers() {
        for (config, expected) in [
            (json!({ "isolation_level": "SERIALIZABLE" }), "SERIALIZABLE"),
            (
                json!({ "isolation_level": "READ COMMITTED" }),
                "READ COMMITTED",
            ),
            (
                json!({ "execution_options": {"isolation_level": "REPEATABLE READ"} }),
                "REPEATABLE READ",
            ),
        ] {
            let db = backend.database(config);
            // Several sessions, held at once so that each has its own connection.
            let mut held = Vec::new();
            for _ in 0..3 {
                let mut s = session(&db, &backend).await;
                assert_eq!(
                    isolation_of(&mut s, &backend).await,
                    expected,
                    "{}",
                    backend.name
                );
                held.push(s);
            }
            for s in held {
                s.commit().await.unwrap();
            }
            // And a session on a reused connection.
            let mut s = session(&db, &backend).await;
            assert_eq!(
                isolation_of(&mut s, &backend).await,
                expected,
                "{}",
                backend.name
            );
            s.commit().await.unwrap();
            db.disconnect().await;
        }
    }
}

#[tokio::test]
async fn sqlite_isolation_level_sets_read_uncommitted() {
    let backend = sqlite();
    for (level, expected) in [("READ UNCOMMITTED", 1i64), ("SERIALIZABLE", 0)] {
        let db = backend.database(json!({ "isolation_level": level }));
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = session(&db, &backend).await;
            let value: Option<i64> = s
                .fetch_optional(&text("PRAGMA read_uncommitted"))
                .await
                .unwrap();
            assert_eq!(value, Some(expected), "{level}");
            held.push(s);
        }
        for s in held {
            s.commit().await.unwrap();
        }
        db.disconnect().await;
    }
}

#[tokio::test]
async fn connect_args_application_name_on_postgres() {
    for backend in servers().into_iter().filter(|b| b.name == "postgres") {
        let db = backend.database(json!({ "connect_args": {"application_name": "dsg-test-app"} }));
        let mut s = session(&db, &backend).await;
        let name: Option<String> = s
            .fetch_optional(&text("SELECT current_setting('application_name')"))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("dsg-test-app"));
        s.commit().await.unwrap();
        db.disconnect().await;

        // server_settings reach the session too.
        let db = backend.database(
            json!({ "connect_args": {"server_settings": {"statement_timeout": "4321"}} }),
        );
        let mut s = session(&db, &backend).await;
        let timeout: Option<String> = s
            .fetch_optional(&text("SHOW statement_timeout"))
            .await
            .unwrap();
        assert_eq!(timeout.as_deref(), Some("4321ms"));
        s.commit().await.unwrap();
        db.disconnect().await;
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogBuffer {
    /// The captured lines logged under target `dsg_lib::sql`.
    fn sql_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains("dsg_lib::sql"))
            .map(str::to_string)
            .collect()
    }
}

/// Runs one statement with a bound marker value on a database with `extra` config, capturing
/// the logs; returns the `dsg_lib::sql` lines.
async fn logged_lines(backend: &Backend, extra: serde_json::Value, marker: &str) -> Vec<String> {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = backend.database(extra);
    let mut s = session(&db, backend).await;
    s.execute(&text("SELECT :marker_value").bind("marker_value", marker.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
    s.commit().await.unwrap();
    db.disconnect().await;
    buffer.sql_lines()
}

#[tokio::test]
async fn echo_logs_statements_with_values_unless_hidden() {
    for backend in common::backends() {
        let marker = format!("echo-marker-{}", uuid::Uuid::new_v4().simple());

        let lines = logged_lines(&backend, json!({ "echo": true }), &marker).await;
        let statement: Vec<&String> = lines.iter().filter(|l| l.contains("SELECT")).collect();
        assert!(
            !statement.is_empty(),
            "{}: echo logged no statement: {lines:?}",
            backend.name
        );
        assert!(
            statement.iter().any(|l| l.contains(&marker)),
            "{}: echo should log the bound value: {lines:?}",
            backend.name
        );

        let lines = logged_lines(
            &backend,
            json!({ "echo": true, "hide_parameters": true }),
            &marker,
        )
        .await;
        assert!(
            lines.iter().any(|l| l.contains("SELECT")),
            "{}: echo with hide_parameters still logs the statement: {lines:?}",
            backend.name
        );
        assert!(
            lines.iter().all(|l| !l.contains(&marker)),
            "{}: hide_parameters leaked the value: {lines:?}",
            backend.name
        );

        let lines = logged_lines(&backend, json!({ "echo": false }), &marker).await;
        assert!(
            lines.is_empty(),
            "{}: echo off logged statements: {lines:?}",
            backend.name
        );
    }
}

#[tokio::test]
async fn hide_parameters_keeps_values_out_of_error_details() {
    for backend in common::backends() {
        let table = match backend.name {
            "sqlite" => "t_pool_hide_sqlite",
            "postgres" => "t_pool_hide_pg",
            _ => "t_pool_hide_my",
        };
        let marker = format!("secret-value-{}", uuid::Uuid::new_v4().simple());
        // SQLite: one database file, so that the databases below (one per config) share it.
        let file = backend.is_sqlite().then(|| {
            std::env::temp_dir().join(format!(
                "dsg_pool_hide_{}.db",
                uuid::Uuid::new_v4().simple()
            ))
        });
        let database = |hide: bool| match &file {
            Some(path) => backend.database(json!({
                "database_uri": format!("sqlite:///{}", path.display()),
                "hide_parameters": hide,
            })),
            None => backend.database(json!({ "hide_parameters": hide })),
        };
        let setup = database(false);
        let mut s = session(&setup, &backend).await;
        s.execute_sql(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .unwrap();
        s.execute_sql(&format!(
            "CREATE TABLE {table} (code VARCHAR(100) PRIMARY KEY, qty BIGINT)"
        ))
        .await
        .unwrap();
        s.execute(
            &text(format!("INSERT INTO {table} (code, qty) VALUES (:c, 1)"))
                .bind("c", marker.clone()),
        )
        .await
        .unwrap();
        s.commit().await.unwrap();

        for hide in [false, true] {
            let db = database(hide);
            let mut s = session(&db, &backend).await;
            let err = s
                .execute(
                    &text(format!("INSERT INTO {table} (code, qty) VALUES (:c, 2)"))
                        .bind("c", marker.clone()),
                )
                .await
                .expect_err("duplicate primary key");
            assert_eq!(
                err.kind(),
                ErrorKind::IntegrityError,
                "{}: {err}",
                backend.name
            );
            assert!(err.is_unique_violation(), "{}: {err}", backend.name);
            if hide {
                assert!(
                    !err.to_string().contains(&marker),
                    "{}: value in {err}",
                    backend.name
                );
            } else if backend.name == "mysql" {
                // Without hide_parameters MySQL's message quotes the value: the check above can fail.
                assert!(err.details().contains(&marker), "{}: {err}", backend.name);
            }
            s.rollback().await.unwrap();

            if !backend.is_sqlite() {
                // A value the server cannot convert, quoted by the server's message.
                let sql = match backend.name {
                    "postgres" => {
                        format!("INSERT INTO {table} (code, qty) VALUES ('x', CAST(:q AS BIGINT))")
                    }
                    _ => format!("INSERT INTO {table} (code, qty) VALUES ('x', :q)"),
                };
                let mut s = session(&db, &backend).await;
                let err = s
                    .execute(&text(sql).bind("q", marker.clone()))
                    .await
                    .expect_err("not a number");
                assert_eq!(
                    err.kind(),
                    ErrorKind::InvalidInput,
                    "{}: {err}",
                    backend.name
                );
                if hide {
                    assert!(
                        !err.to_string().contains(&marker),
                        "{}: value in {err}",
                        backend.name
                    );
                } else {
                    assert!(err.details().contains(&marker), "{}: {err}", backend.name);
                }
                s.rollback().await.unwrap();
            }
            db.disconnect().await;
        }
        let mut s = session(&setup, &backend).await;
        s.execute_sql(&format!("DROP TABLE {table}")).await.unwrap();
        s.commit().await.unwrap();
        setup.disconnect().await;
        if let Some(path) = file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

#[tokio::test]
async fn pool_recycle_replaces_old_connections() {
    for backend in servers() {
        for (recycle, should_change) in [(json!(1), true), (json!(3600), false)] {
            let db = backend
                .database(json!({ "pool_recycle": recycle, "pool_size": 1, "max_overflow": 0 }));
            let mut s = session(&db, &backend).await;
            let first = connection_id(&mut s, &backend).await;
            s.commit().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1600)).await;
            let mut s = session(&db, &backend).await;
            let second = connection_id(&mut s, &backend).await;
            s.commit().await.unwrap();
            if should_change {
                assert_ne!(
                    first, second,
                    "{}: pool_recycle 1 reused a 1.6 s old connection",
                    backend.name
                );
            } else {
                assert_eq!(
                    first, second,
                    "{}: an idle connection should be reused",
                    backend.name
                );
            }
            db.disconnect().await;
        }
    }
}

#[tokio::test]
async fn sqlite_pool_recycle_replaces_old_connections() {
    let backend = sqlite();
    for (recycle, should_change) in [(1, true), (3600, false)] {
        let db = backend.database(json!({ "pool_recycle": recycle }));
        // A TEMP table lives only on the connection that made it.
        let mut s = session(&db, &backend).await;
        s.execute_sql("CREATE TEMP TABLE t_pool_conn_marker (x INTEGER)")
            .await
            .unwrap();
        s.commit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let mut s = session(&db, &backend).await;
        let seen: Option<i64> = s
            .fetch_optional(&text(
                "SELECT count(*) FROM sqlite_temp_master WHERE name = 't_pool_conn_marker'",
            ))
            .await
            .unwrap();
        s.commit().await.unwrap();
        let same_connection = seen == Some(1);
        assert_eq!(same_connection, !should_change, "pool_recycle {recycle}");
        db.disconnect().await;
    }
}

#[tokio::test]
async fn pool_pre_ping_skips_connections_killed_by_the_server() {
    for backend in servers() {
        let db = backend.database(
            json!({ "pool_pre_ping": true, "pool_size": 1, "max_overflow": 0, "pool_timeout": 10 }),
        );
        let mut s = session(&db, &backend).await;
        let victim = connection_id(&mut s, &backend).await;
        s.commit().await.unwrap();

        // Kill the idle pooled connection from elsewhere.
        let admin = backend.database(json!({}));
        let mut a = session(&admin, &backend).await;
        match backend.name {
            "postgres" => {
                let killed: Option<bool> = a
                    .fetch_optional(
                        &text("SELECT pg_terminate_backend(CAST(:pid AS INTEGER))")
                            .bind("pid", victim),
                    )
                    .await
                    .unwrap();
                assert_eq!(killed, Some(true));
            }
            _ => {
                a.execute_sql(&format!("KILL {victim}")).await.unwrap();
            }
        }
        a.commit().await.unwrap();
        admin.disconnect().await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        // The next session is not handed the dead connection.
        let mut s = session(&db, &backend).await;
        let now = connection_id(&mut s, &backend).await;
        assert_ne!(now, victim, "{}", backend.name);
        let one: Option<i64> = s
            .fetch_optional(&text("SELECT :one + 0").bind("one", 1i64))
            .await
            .unwrap_or_else(|e| panic!("{}: session after kill: {e}", backend.name));
        assert_eq!(one, Some(1), "{}", backend.name);
        s.commit().await.unwrap();
        db.disconnect().await;
    }
}

#[tokio::test]
async fn query_cache_size_controls_prepared_statements_on_postgres() {
    for backend in servers().into_iter().filter(|b| b.name == "postgres") {
        for (cache, expect_cached) in [(json!(0), false), (json!(100), true)] {
            let db = backend
                .database(json!({ "query_cache_size": cache, "pool_size": 1, "max_overflow": 0 }));
            let mut s = session(&db, &backend).await;
            for i in 0..3i64 {
                let _: Option<i64> = s
                    .fetch_optional(&text("SELECT CAST(:i AS BIGINT) + 1").bind("i", i))
                    .await
                    .unwrap();
            }
            let prepared: Option<i64> = s
                .fetch_optional(&text("SELECT count(*) FROM pg_prepared_statements"))
                .await
                .unwrap();
            s.commit().await.unwrap();
            let prepared = prepared.unwrap();
            assert_eq!(
                prepared > 0,
                expect_cached,
                "query_cache_size {cache}: {prepared} prepared statements"
            );
            db.disconnect().await;
        }
    }
}
