//! Server restarts: a pool outlives its server going away and coming back. After a restart at
//! most one operation fails (a ConnectionError), then everything works again.
//!
//! DISRUPTIVE, so OFF by default: this test restarts the local PostgreSQL cluster
//! (`pg_ctlcluster --skip-systemctl-redirect <version> main restart`, the version read from
//! `/etc/postgresql`) and the local MariaDB (`start-stop-daemon --stop/--start --pidfile
//! /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd`: by its pid file, so that the Galera
//! bed's `mariadbd` nodes are left alone), which breaks every other client's connections. It runs only when
//! `DSG_TEST_RESTART=1` is set in addition to `DSG_TEST_POSTGRES_URL` / `DSG_TEST_MYSQL_URL`
//! (each server whose URL is set is restarted; the URL must point at this machine). It is the
//! only test in this file, so that `cargo test`, which runs test binaries one after another,
//! never runs it beside another test. It needs root. A guard starts each server again when
//! the test ends, also when an assertion fails.

mod common;
mod ops_support;
mod reliability_support;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
use dsg_lib::async_database_functions::model::Model as _;
use ops_support::fresh;
use reliability_support::{open_connections, servers, unique_app, within};
use serde_json::json;

/// Runs a command with no standard streams (a daemon it starts must not hold our pipes);
/// returns whether it exited 0.
fn run(command: &[String]) -> bool {
    Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether something accepts connections on 127.0.0.1:`port`.
fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

/// How to restart one local server.
struct Server {
    name: &'static str,
    port: u16,
    /// Commands that take the server down and up again.
    restart: Vec<Vec<String>>,
    /// The command that starts it (harmless when it runs).
    start: Vec<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

impl Server {
    fn of(backend: &Backend) -> Server {
        let url = url::Url::parse(&backend.uri).expect("a server URL");
        let host = url.host_str().unwrap_or_default();
        assert!(
            matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]"),
            "[{}] DSG_TEST_RESTART restarts the local server, but the URL points at {host}",
            backend.name
        );
        match backend.name {
            "postgres" => {
                let version = std::fs::read_dir("/etc/postgresql")
                    .expect("/etc/postgresql: a Debian PostgreSQL install")
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|v| v.parse::<u32>().is_ok())
                    .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
                    .expect("a PostgreSQL version under /etc/postgresql");
                let ctl = format!("pg_ctlcluster --skip-systemctl-redirect {version} main");
                Server {
                    name: "postgres",
                    port: url.port().unwrap_or(5432),
                    restart: vec![words(&format!("{ctl} restart"))],
                    start: words(&format!("{ctl} start")),
                }
            }
            _ => Server {
                name: "mysql",
                port: url.port().unwrap_or(3306),
                restart: vec![
                    words(
                        "start-stop-daemon --stop --retry TERM/60/KILL/5 \
                         --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd",
                    ),
                    words(
                        "start-stop-daemon --start --oknodo --background \
                         --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd",
                    ),
                ],
                start: words(
                    "start-stop-daemon --start --oknodo --background \
                     --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd",
                ),
            },
        }
    }

    /// Waits up to `secs` for the port to accept connections.
    fn wait_listening(&self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if listening(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

/// Starts the server again when dropped, whatever happened in between.
struct StartOnDrop<'a>(&'a Server);

impl Drop for StartOnDrop<'_> {
    fn drop(&mut self) {
        if !listening(self.0.port) {
            run(&self.0.start);
        }
        if !self.0.wait_listening(120) {
            eprintln!(
                "[{}] the server did not come back on port {}; start it with: {}",
                self.0.name,
                self.0.port,
                self.0.start.join(" ")
            );
        }
    }
}

/// Waits until a new pool on `backend` can run a query.
async fn wait_ready(backend: &Backend) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let db = backend.database(json!({ "pool_timeout": 5 }));
        let ops = DatabaseOperations::new(db.clone());
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            ops.read_query::<i64>(&dsg_lib::async_database_functions::statement::text(
                "SELECT count(*) FROM (SELECT 1 AS x) AS one",
            )),
        )
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(10), db.disconnect()).await;
        if matches!(answer, Ok(Ok(_))) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "[{}] the server does not answer 120 s after the restart: {answer:?}",
            backend.name
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_restart")]
struct RestartRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 40)]
    name: String,
}

/// Operation `i` of a sequence: a count, a read or a write, in turn.
async fn operation(ops: &DatabaseOperations, i: usize) -> Result<(), DatabaseError> {
    match i % 3 {
        0 => ops.count_query(&RestartRow::select()).await.map(drop),
        1 => ops
            .read_query::<RestartRow>(&RestartRow::select())
            .await
            .map(drop),
        _ => ops
            .create_one(RestartRow {
                base: SchemaBase::new(),
                name: format!("after-{i}"),
            })
            .await
            .map(drop),
    }
}

/// Runs `n` operations one after another; returns the failures.
async fn run_operations(
    ops: &DatabaseOperations,
    label: &str,
    n: usize,
) -> Vec<(usize, DatabaseError)> {
    let mut failures = Vec::new();
    for i in 0..n {
        if let Err(e) = within(30, format!("[{label}] operation {i}"), operation(ops, i)).await {
            failures.push((i, e));
        }
    }
    failures
}

#[tokio::test]
async fn a_server_restart_fails_at_most_one_operation() {
    if std::env::var("DSG_TEST_RESTART").as_deref() != Ok("1") {
        return;
    }
    for backend in servers() {
        let label = backend.name;
        let server = Server::of(&backend);
        let mut extra = json!({ "pool_size": 4, "max_overflow": 0, "pool_timeout": 10 });
        if label == "postgres" {
            extra["connect_args"] = json!({ "application_name": unique_app("dsg-rel-restart") });
        }
        let (db, ops) = fresh(&backend, extra, |db| {
            db.register::<RestartRow>();
        })
        .await;
        open_connections(&db, &backend, 4).await;
        let before = run_operations(&ops, label, 6).await;
        assert!(
            before.is_empty(),
            "[{label}] before the restart: {before:?}"
        );

        let guard = StartOnDrop(&server);
        let started = Instant::now();
        for command in &server.restart {
            assert!(run(command), "[{label}] `{}` failed", command.join(" "));
        }
        assert!(
            server.wait_listening(120),
            "[{label}] the server did not listen again"
        );
        wait_ready(&backend).await;
        let downtime = started.elapsed();

        let after = run_operations(&ops, label, 10).await;
        assert!(
            after.len() <= 1,
            "[{label}] {} of 10 operations failed after the server restarted (at most 1 may): \
             {after:?}",
            after.len()
        );
        for (i, e) in &after {
            assert_eq!(
                e.kind(),
                ErrorKind::ConnectionError,
                "[{label}] operation {i} after the restart: {e}"
            );
        }
        let settled = run_operations(&ops, label, 10).await;
        assert!(
            settled.is_empty(),
            "[{label}] operations still fail after the first ones: {settled:?}"
        );
        eprintln!(
            "[{label}] restarted in {downtime:.1?}; {} operation(s) failed afterwards",
            after.len()
        );
        drop(guard);

        let _ = within(30, format!("[{label}] drop_tables"), db.drop_tables()).await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
    }
}
