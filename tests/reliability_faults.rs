//! Faults: server connections killed while idle and in the middle of a long batch, a down or
//! unreachable server, bad credentials, an exhausted pool, futures cancelled at random points,
//! and `disconnect()` under load or while the calling task holds a session.
//!
//! Runs on in-memory SQLite always and on PostgreSQL / MySQL-MariaDB when
//! `DSG_TEST_POSTGRES_URL` / `DSG_TEST_MYSQL_URL` are set. Only this test's own pool
//! connections are ever killed: their ids are read from sessions of that pool (or found by a
//! unique `application_name` on PostgreSQL). `DSG_TEST_SEED` replays the random cancellations.

// The fault tests nest whole operations (with their retry loops) inside spawned, timed
// futures: deeper than rustc's default layout query depth when only `mysql` is built.
#![recursion_limit = "256"]

mod common;
mod ops_support;
mod reliability_support;

use std::future::Future;
use std::time::{Duration, Instant};

use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::{Statement, text};
use dsg_lib::sea_query::{Expr, InsertStatement, Query};
use ops_support::{Check, fresh};
use reliability_support::{Admin, Rng, open_connections, servers, session, unique_app, within};
use serde_json::{Value, json};

/// A query of one BIGINT row (1) on every backend.
const ONE: &str = "SELECT count(*) FROM (SELECT 1 AS x) AS one";

/// Config keys for a pool on `backend`; on PostgreSQL its connections carry `app`.
fn pool_config(backend: &Backend, mut keys: Value, app: &str) -> Value {
    if backend.name == "postgres" {
        keys["connect_args"] = json!({ "application_name": app });
    }
    keys
}

/// A database at `uri` with `extra` config keys.
fn database_at(uri: &str, extra: Value) -> AsyncDatabase {
    let mut map = json!({ "database_uri": uri });
    if let (Some(m), Some(e)) = (map.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    AsyncDatabase::new(DBConfig::new(map).unwrap_or_else(|e| panic!("config for {uri}: {e}")))
}

/// `(index, error)` pairs, one per line.
fn describe(failures: &[(usize, DatabaseError)]) -> String {
    failures
        .iter()
        .map(|(i, e)| format!("\n    operation {i}: {e} (code {:?})", e.code()))
        .collect()
}

/// The sea-query INSERT of one model, as `tests/common::insert` builds it.
fn insert_of<M: dsg_lib::async_database_functions::model::Model>(
    db: &AsyncDatabase,
    model: &M,
) -> InsertStatement {
    let mut values = Vec::new();
    model.push_values(db.config().dialect(), &mut values);
    let mut insert = Query::insert();
    insert
        .into_table(M::TABLE)
        .columns(M::columns().iter().map(|c| c.name))
        .values_panic(values.into_iter().map(Expr::val));
    insert
}

// ---------------------------------------------------------------------------------------------
// Idle connections killed by the server

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_fault_probe")]
struct Probe {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 40)]
    name: String,
}

/// Waits until the pool holds `n` connections, all idle (sessions return them asynchronously).
async fn wait_idle(db: &AsyncDatabase, n: usize, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while db.pool_status() != (n as u32, n) {
        assert!(
            Instant::now() < deadline,
            "[{label}] the pool should hold {n} idle connections, has (open, idle) = {:?}",
            db.pool_status()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Operation `i` of a sequence: alternately a count and a read of the one probe row.
async fn probe(ops: &DatabaseOperations, i: usize) -> Result<usize, DatabaseError> {
    if i.is_multiple_of(2) {
        ops.count_query(&Probe::select()).await.map(|n| n as usize)
    } else {
        ops.read_query::<Probe>(&Probe::select())
            .await
            .map(|rows| rows.len())
    }
}

/// Runs `n` probe operations one after another; returns the failures.
async fn run_probes(
    ops: &DatabaseOperations,
    label: &str,
    n: usize,
) -> Vec<(usize, DatabaseError)> {
    let mut failures = Vec::new();
    for i in 0..n {
        match within(30, format!("[{label}] operation {i}"), probe(ops, i)).await {
            Ok(rows) => assert_eq!(rows, 1, "[{label}] operation {i} saw {rows} probe rows"),
            Err(e) => failures.push((i, e)),
        }
    }
    failures
}

#[tokio::test]
async fn killing_every_idle_connection_fails_at_most_one_operation() {
    let mut problems = Vec::new();
    for backend in servers() {
        for pre_ping in [false, true] {
            let label = format!("{} pool_pre_ping={pre_ping}", backend.name);
            let extra = pool_config(
                &backend,
                json!({ "pool_size": 4, "max_overflow": 0, "pool_timeout": 10,
                        "pool_pre_ping": pre_ping }),
                &unique_app("dsg-rel-idle"),
            );
            let (db, ops) = fresh(&backend, extra, |db| {
                db.register::<Probe>();
            })
            .await;
            ops.create_one(Probe {
                base: SchemaBase::new(),
                name: "probe".into(),
            })
            .await
            .check(&label);
            let ids = open_connections(&db, &backend, 4).await;
            wait_idle(&db, 4, &label).await;

            let admin = Admin::new(&backend);
            for id in &ids {
                admin.kill(*id).await;
            }
            admin.wait_gone(&ids).await;

            let failures = run_probes(&ops, &label, 10).await;
            let allowed = if pre_ping { 0 } else { 1 };
            if failures.len() > allowed {
                problems.push(format!(
                    "[{label}] {} of 10 operations failed after all 4 idle connections were \
                     killed (at most {allowed} may):{}",
                    failures.len(),
                    describe(&failures)
                ));
            }
            if let Some((i, e)) = failures
                .iter()
                .find(|(_, e)| e.kind() != ErrorKind::ConnectionError)
            {
                problems.push(format!(
                    "[{label}] operation {i} on a killed connection should be a ConnectionError: {e}"
                ));
            }
            let _ = within(30, format!("[{label}] drop_tables"), db.drop_tables()).await;
            within(30, format!("[{label}] disconnect"), db.disconnect()).await;
            admin.disconnect().await;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// A down or unreachable server, bad credentials, an exhausted pool

/// Asks `db` for a session; returns how long the answer took and the error, if any.
async fn try_session(db: &AsyncDatabase, what: &str) -> (Duration, Result<(), DatabaseError>) {
    let started = Instant::now();
    let result = within(60, what, db.get_db_session()).await.map(drop);
    (started.elapsed(), result)
}

/// Runs an operation on `db`; returns how long it took and the error, if any.
async fn try_operation(db: &AsyncDatabase, what: &str) -> (Duration, Result<(), DatabaseError>) {
    let ops = DatabaseOperations::new(db.clone());
    let started = Instant::now();
    let result = within(60, what, ops.read_query::<i64>(&text(ONE))).await;
    (started.elapsed(), result.map(drop))
}

#[tokio::test]
async fn a_closed_port_is_a_prompt_connection_error_naming_the_cause() {
    // Nothing listens on port 1; pool_timeout stays at its default of 30 s.
    let attempts = [
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
    ]
    .map(|uri| async move {
        let db = database_at(uri, json!({}));
        let (session_what, operation_what) = (
            format!("get_db_session on {uri}"),
            format!("read_query on {uri}"),
        );
        let (session_try, operation_try) = tokio::join!(
            try_session(&db, &session_what),
            try_operation(&db, &operation_what),
        );
        within(10, format!("[{uri}] disconnect"), db.disconnect()).await;
        [
            (uri, "get_db_session", session_try),
            (uri, "read_query", operation_try),
        ]
    });
    let mut problems = Vec::new();
    for (uri, what, (took, result)) in futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .flatten()
    {
        match result {
            Ok(()) => problems.push(format!("[{uri}] {what} succeeded on a closed port")),
            Err(e) => {
                let prompt = took < Duration::from_secs(2);
                let named = e.details().to_ascii_lowercase().contains("refused");
                if e.kind() != ErrorKind::ConnectionError || !prompt || !named {
                    problems.push(format!(
                        "[{uri}] {what}: expected a ConnectionError saying \"refused\" within \
                         ~1 s, got after {took:.1?}: {e}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn an_unanswering_server_is_a_connection_error_after_pool_timeout() {
    // 10.255.255.1 is not routed (or accepts and never answers): a blackhole.
    let mut problems = Vec::new();
    for uri in [
        "postgres://postgres@10.255.255.1:5432/test",
        "mysql://root@10.255.255.1:3306/test",
    ] {
        let db = database_at(uri, json!({ "pool_timeout": 2 }));
        let (took, result) = try_session(&db, &format!("get_db_session on {uri}")).await;
        match result {
            Ok(()) => problems.push(format!("[{uri}] got a session from a blackhole")),
            Err(e) => {
                if e.kind() != ErrorKind::ConnectionError || took > Duration::from_millis(4500) {
                    problems.push(format!(
                        "[{uri}] expected a ConnectionError after about pool_timeout (2 s), got \
                         after {took:.1?}: {e}"
                    ));
                }
            }
        }
        within(10, format!("[{uri}] disconnect"), db.disconnect()).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn an_exhausted_pool_is_a_pool_timeout_after_pool_timeout() {
    for backend in servers() {
        let label = backend.name;
        let db = backend.database(json!({ "pool_size": 2, "max_overflow": 0, "pool_timeout": 2 }));
        let held = [session(&db, label).await, session(&db, label).await];
        for (what, (took, result)) in [
            (
                "get_db_session",
                try_session(&db, &format!("[{label}] get_db_session")).await,
            ),
            (
                "read_query",
                try_operation(&db, &format!("[{label}] read_query")).await,
            ),
        ] {
            let e = result.expect_err("both connections are held");
            assert_eq!(
                e.kind(),
                ErrorKind::PoolTimeout,
                "[{label}] {what} with every connection held: {e}"
            );
            assert!(
                took >= Duration::from_millis(1500) && took <= Duration::from_secs(5),
                "[{label}] {what}: pool_timeout 2 s, but the PoolTimeout came after {took:?}"
            );
        }
        for s in held {
            s.rollback().await.unwrap();
        }
        let (_, result) = try_operation(&db, &format!("[{label}] read_query")).await;
        result.unwrap_or_else(|e| panic!("[{label}] after the sessions ended: {e}"));
        within(10, format!("[{label}] disconnect"), db.disconnect()).await;
    }
}

#[tokio::test]
async fn bad_credentials_and_unknown_databases_are_connection_errors() {
    let mut cases: Vec<(String, String, &str)> = Vec::new();
    for backend in servers() {
        let url = url::Url::parse(&backend.uri).expect("a server URL");
        let with = |change: &dyn Fn(&mut url::Url)| {
            let mut u = url.clone();
            change(&mut u);
            u.to_string()
        };
        if backend.name == "mysql" {
            cases.push((
                "mysql wrong password (1045)".into(),
                with(&|u| u.set_password(Some("dsg-wrong-password")).unwrap()),
                "dsg-wrong-password",
            ));
            cases.push((
                "mysql unknown database (1049)".into(),
                with(&|u| u.set_path("/dsg_no_such_db")),
                "",
            ));
        } else {
            cases.push((
                "postgres unknown database (3D000)".into(),
                with(&|u| u.set_path("/dsg_no_such_db")),
                "",
            ));
            cases.push((
                "postgres unknown role (28000)".into(),
                with(&|u| u.set_username("dsg_no_such_role").unwrap()),
                "",
            ));
        }
    }
    let mut problems = Vec::new();
    for (label, uri, secret) in cases {
        let db = database_at(&uri, json!({}));
        let (took, result) = try_session(&db, &format!("[{label}] get_db_session")).await;
        match result {
            Ok(()) => problems.push(format!("[{label}] got a session")),
            Err(e) => {
                if e.kind() != ErrorKind::ConnectionError || took > Duration::from_secs(5) {
                    problems.push(format!(
                        "[{label}] expected a prompt ConnectionError, got after {took:.1?}: {e} \
                         (code {:?})",
                        e.code()
                    ));
                }
                if !secret.is_empty() && e.to_string().contains(secret) {
                    problems.push(format!("[{label}] the password shows in the error: {e}"));
                }
            }
        }
        within(10, format!("[{label}] disconnect"), db.disconnect()).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// A connection killed in the middle of a long batch

/// Spawns `work`, waits until connection `id` writes (into `table`), kills it, and returns the
/// operation's result with the time until the kill and from the kill to the result.
async fn kill_while_writing(
    admin: &Admin,
    id: i64,
    table: &str,
    label: &str,
    work: impl Future<Output = Result<usize, DatabaseError>> + Send + 'static,
) -> (Result<usize, DatabaseError>, Duration, Duration) {
    let started = Instant::now();
    let handle = tokio::spawn(work);
    let deadline = started + Duration::from_secs(180);
    loop {
        assert!(
            !handle.is_finished(),
            "[{label}] the operation finished after {:?}, before it was seen writing",
            started.elapsed()
        );
        if admin.writing(id, table).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "[{label}] connection {id} was not seen writing within 180 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Well inside the batch.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !handle.is_finished(),
        "[{label}] the operation finished after {:?}, before its connection was killed",
        started.elapsed()
    );
    admin.kill(id).await;
    let until_kill = started.elapsed();
    let killed = Instant::now();
    let result = within(
        60,
        format!("[{label}] the operation after its connection was killed"),
        handle,
    )
    .await
    .unwrap_or_else(|e| panic!("[{label}] the operation panicked: {e}"));
    (result, until_kill, killed.elapsed())
}

/// A pool of one connection on `backend`, without re-running of failed transactions (so
/// that a killed one fails).
fn single_connection(backend: &Backend, app: &str) -> Value {
    pool_config(
        backend,
        json!({ "pool_size": 1, "max_overflow": 0, "pool_timeout": 10, "retry": false }),
        app,
    )
}

/// Checks the result of a killed operation, that nothing was stored and that the pool works.
async fn after_kill(
    label: &str,
    result: Result<usize, DatabaseError>,
    admin: &Admin,
    ops: &DatabaseOperations,
    table: &str,
) {
    match result {
        Ok(n) => panic!(
            "[{label}] the operation succeeded ({n} results) although its connection was killed"
        ),
        Err(e) => assert_ne!(
            e.kind(),
            ErrorKind::PoolTimeout,
            "[{label}] a killed connection is not a pool timeout: {e}"
        ),
    }
    assert_eq!(
        admin.count(table).await,
        0,
        "[{label}] rows of the killed batch were stored"
    );
    let seen: Vec<i64> = within(
        30,
        format!("[{label}] the next operation"),
        ops.read_query(&text(format!("SELECT count(*) FROM {table}"))),
    )
    .await
    .unwrap_or_else(|e| panic!("[{label}] the next operation on the pool failed: {e}"));
    assert_eq!(seen, vec![0], "[{label}]");
}

#[tokio::test]
async fn a_connection_killed_mid_execute_many_stores_nothing() {
    const STATEMENTS: i64 = 50_000;
    for backend in servers() {
        let label = format!("{} execute_many of {STATEMENTS}", backend.name);
        let table = common::unique_table("t_rel_kill_exec");
        let admin = Admin::new(&backend);
        admin
            .execute(format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, batch BIGINT NOT NULL, \
                 note VARCHAR(40))"
            ))
            .await;
        let db = backend.database(single_connection(&backend, &unique_app("dsg-rel-kill")));
        let ops = DatabaseOperations::new(db.clone());
        let id = open_connections(&db, &backend, 1).await[0];
        let sql = format!("INSERT INTO {table} (id, batch, note) VALUES (:id, :batch, :note)");
        let statements: Vec<_> = (0..STATEMENTS)
            .map(|i| {
                text(sql.clone())
                    .bind("id", i)
                    .bind("batch", 1i64)
                    .bind("note", "kill me")
            })
            .collect();
        let work = {
            let ops = ops.clone();
            async move { ops.execute_many(statements).await.map(|r| r.len()) }
        };
        let (result, until_kill, to_error) =
            kill_while_writing(&admin, id, &table, &label, work).await;
        eprintln!("[{label}] killed after {until_kill:.1?}, error {to_error:.1?} later");
        after_kill(&label, result, &admin, &ops, &table).await;
        admin.execute(format!("DROP TABLE {table}")).await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
        admin.disconnect().await;
    }
}

/// With the default `retry`, a transaction whose connection was killed before its commit was
/// sent is run again on a new connection: the batch is stored exactly once.
#[tokio::test]
async fn a_connection_killed_mid_execute_many_is_run_again_once() {
    const STATEMENTS: i64 = 20_000;
    for backend in servers() {
        let label = format!("{} execute_many of {STATEMENTS}, retried", backend.name);
        let table = common::unique_table("t_rel_kill_retry");
        let admin = Admin::new(&backend);
        admin
            .execute(format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, note VARCHAR(40))"
            ))
            .await;
        let config = pool_config(
            &backend,
            json!({ "pool_size": 1, "max_overflow": 0, "pool_timeout": 10 }),
            &unique_app("dsg-rel-kill-retry"),
        );
        let db = backend.database(config);
        let ops = DatabaseOperations::new(db.clone());
        let id = open_connections(&db, &backend, 1).await[0];
        let sql = format!("INSERT INTO {table} (id, note) VALUES (:id, :note)");
        let statements: Vec<_> = (0..STATEMENTS)
            .map(|i| text(sql.clone()).bind("id", i).bind("note", "kill me"))
            .collect();
        let work = {
            let ops = ops.clone();
            async move { ops.execute_many(statements).await.map(|r| r.len()) }
        };
        let (result, until_kill, to_end) =
            kill_while_writing(&admin, id, &table, &label, work).await;
        eprintln!("[{label}] killed after {until_kill:.1?}, done {to_end:.1?} later");
        let n = result.unwrap_or_else(|e| panic!("[{label}] not run again: {e}"));
        assert_eq!(n, STATEMENTS as usize, "[{label}]");
        assert_eq!(
            admin.count(&table).await,
            STATEMENTS,
            "[{label}] stored once"
        );
        assert_eq!(db.retries(), 1, "[{label}] one run again");
        admin.execute(format!("DROP TABLE {table}")).await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
        admin.disconnect().await;
    }
}

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_fault_kill_many")]
struct KillRow {
    #[model(flatten)]
    base: SchemaBase,
    batch: i64,
    seq: i64,
}

#[tokio::test]
async fn a_connection_killed_mid_create_many_stores_nothing() {
    const ROWS: i64 = 200_000;
    for backend in servers() {
        let label = format!("{} create_many of {ROWS}", backend.name);
        let admin = Admin::new(&backend);
        let (db, ops) = fresh(
            &backend,
            single_connection(&backend, &unique_app("dsg-rel-kill")),
            |db| {
                db.register::<KillRow>();
            },
        )
        .await;
        let id = open_connections(&db, &backend, 1).await[0];
        let rows: Vec<KillRow> = (0..ROWS)
            .map(|seq| KillRow {
                base: SchemaBase::new(),
                batch: 1,
                seq,
            })
            .collect();
        let work = {
            let ops = ops.clone();
            async move { ops.create_many(rows).await.map(|r| r.len()) }
        };
        let (result, until_kill, to_error) =
            kill_while_writing(&admin, id, KillRow::TABLE, &label, work).await;
        eprintln!("[{label}] killed after {until_kill:.1?}, error {to_error:.1?} later");
        after_kill(&label, result, &admin, &ops, KillRow::TABLE).await;
        let _ = within(60, format!("[{label}] drop_tables"), db.drop_tables()).await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
        admin.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Futures cancelled at random points

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_fault_cancel")]
struct CancelRow {
    #[model(flatten)]
    base: SchemaBase,
    batch: i64,
    seq: i64,
}

const PER_BATCH: i64 = 10;
const CANCELLED_FUTURES: i64 = 300;

/// What batch `n` does; each writes `PER_BATCH` rows tagged with its number.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Work {
    ExecuteMany,
    CreateMany,
    /// A session that writes and is dropped without commit.
    Uncommitted,
    /// A session that writes and commits.
    Committed,
}

impl Work {
    fn of(batch: i64) -> Work {
        match batch % 4 {
            0 => Work::ExecuteMany,
            1 => Work::CreateMany,
            2 => Work::Uncommitted,
            _ => Work::Committed,
        }
    }

    /// The rows the batch stores when it runs to its end.
    fn full(self) -> i64 {
        match self {
            Work::Uncommitted => 0,
            _ => PER_BATCH,
        }
    }
}

async fn run_batch(
    db: AsyncDatabase,
    ops: DatabaseOperations,
    batch: i64,
) -> Result<(), DatabaseError> {
    let rows: Vec<CancelRow> = (0..PER_BATCH)
        .map(|seq| CancelRow {
            base: SchemaBase::new(),
            batch,
            seq,
        })
        .collect();
    match Work::of(batch) {
        Work::ExecuteMany => {
            let inserts: Vec<InsertStatement> = rows.iter().map(|r| insert_of(&db, r)).collect();
            ops.execute_many(inserts).await.map(drop)
        }
        Work::CreateMany => ops.create_many(rows).await.map(drop),
        work @ (Work::Uncommitted | Work::Committed) => {
            let mut session = db.get_db_session().await?;
            for row in &rows {
                session.execute(&insert_of(&db, row)).await?;
            }
            if work == Work::Committed {
                session.commit().await?;
            }
            Ok(())
        }
    }
}

/// How a cancelled future ended.
#[derive(Debug)]
enum Ending {
    Finished(Result<(), DatabaseError>),
    Cancelled,
    Panicked(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_futures_leave_no_partial_batch_and_a_working_pool() {
    let mut rng = Rng::from_env();
    let seed = rng.seed();
    let mut problems = Vec::new();
    for backend in common::backends() {
        let label = format!("{} seed={seed}", backend.name);
        let app = unique_app("dsg-rel-cancel");
        let (db, ops) = fresh(&backend, pool_config(&backend, json!({}), &app), |db| {
            db.register::<CancelRow>();
        })
        .await;

        // One uncancelled batch of each kind sets the scale of the random cancel points.
        let mut slowest = Duration::ZERO;
        for batch in CANCELLED_FUTURES..CANCELLED_FUTURES + 4 {
            let started = Instant::now();
            within(
                30,
                format!("[{label}] batch {batch}"),
                run_batch(db.clone(), ops.clone(), batch),
            )
            .await
            .check(&label);
            slowest = slowest.max(started.elapsed());
        }
        // Cancel points are drawn from 0..span; span adapts after each wave so that some
        // batches finish and most are cancelled somewhere inside.
        let mut span = (slowest * 3).max(Duration::from_millis(3)).as_micros() as u64;

        let mut endings = Vec::new();
        let batches: Vec<i64> = (0..CANCELLED_FUTURES).collect();
        for wave in batches.chunks(25) {
            let mut handles = Vec::new();
            for &batch in wave {
                let delay = Duration::from_micros(rng.below(span + 1));
                let abort = rng.below(2) == 0;
                let (db, ops) = (db.clone(), ops.clone());
                handles.push(tokio::spawn(async move {
                    if abort {
                        let inner = tokio::spawn(run_batch(db, ops, batch));
                        tokio::time::sleep(delay).await;
                        inner.abort();
                        match inner.await {
                            Ok(result) => Ending::Finished(result),
                            Err(e) if e.is_cancelled() => Ending::Cancelled,
                            Err(e) => Ending::Panicked(e.to_string()),
                        }
                    } else {
                        match tokio::time::timeout(delay, run_batch(db, ops, batch)).await {
                            Ok(result) => Ending::Finished(result),
                            Err(_) => Ending::Cancelled,
                        }
                    }
                }));
            }
            let mut finished_in_wave = 0;
            for (handle, &batch) in handles.into_iter().zip(wave) {
                let ending = within(60, format!("[{label}] batch {batch}"), handle)
                    .await
                    .unwrap_or_else(|e| Ending::Panicked(e.to_string()));
                finished_in_wave += usize::from(matches!(ending, Ending::Finished(_)));
                endings.push((batch, ending));
            }
            if finished_in_wave * 5 < wave.len() {
                span = span * 3 / 2;
            } else if finished_in_wave * 2 > wave.len() {
                span = span * 2 / 3;
            }
        }

        if backend.name == "postgres" {
            let admin = Admin::new(&backend);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let idle = admin.idle_in_transaction(&app).await;
                if idle == 0 {
                    break;
                }
                if Instant::now() > deadline {
                    problems.push(format!(
                        "[{label}] {idle} connections of the pool still idle in transaction 5 s \
                         after the cancellations"
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            admin.disconnect().await;
        }

        let counts: Vec<(i64, i64)> = within(
            30,
            format!("[{label}] counting rows per batch"),
            ops.read_query(&text(format!(
                "SELECT batch, count(*) FROM {} GROUP BY batch",
                CancelRow::TABLE
            ))),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] counting rows per batch: {e}"));
        let stored = |batch: i64| {
            counts
                .iter()
                .find(|(b, _)| *b == batch)
                .map_or(0, |(_, n)| *n)
        };
        let (mut finished, mut cancelled) = (0, 0);
        for (batch, ending) in &endings {
            let work = Work::of(*batch);
            let n = stored(*batch);
            let wrong = match ending {
                Ending::Finished(Ok(())) => {
                    finished += 1;
                    n != work.full()
                }
                Ending::Finished(Err(e)) => {
                    problems.push(format!("[{label}] batch {batch} ({work:?}) failed: {e}"));
                    n != 0
                }
                Ending::Cancelled => {
                    cancelled += 1;
                    n != 0 && n != work.full()
                }
                Ending::Panicked(e) => {
                    problems.push(format!("[{label}] batch {batch} ({work:?}) panicked: {e}"));
                    false
                }
            };
            if wrong {
                problems.push(format!(
                    "[{label}] batch {batch} ({work:?}) ended {ending:?} with {n} of {PER_BATCH} \
                     rows stored"
                ));
            }
        }
        eprintln!("[{label}] {finished} finished, {cancelled} cancelled");

        // The pool still works.
        for i in 0..20 {
            within(
                30,
                format!("[{label}] operation {i} after the cancellations"),
                ops.count_query(&CancelRow::select()),
            )
            .await
            .unwrap_or_else(|e| panic!("[{label}] operation {i} after the cancellations: {e}"));
        }
        within(
            30,
            format!("[{label}] a batch after the cancellations"),
            run_batch(db.clone(), ops.clone(), CANCELLED_FUTURES + 4),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] a batch after the cancellations: {e}"));
        let _ = within(30, format!("[{label}] drop_tables"), db.drop_tables()).await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// disconnect()

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_fault_disc")]
struct DiscRow {
    #[model(flatten)]
    base: SchemaBase,
    worker: i64,
}

/// Whether `e` is what an operation may end with once the database is being disconnected.
fn ends_by_disconnect(e: &DatabaseError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Disconnected | ErrorKind::ConnectionError
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_under_load_ends_every_operation_cleanly() {
    let mut problems = Vec::new();
    for backend in common::backends() {
        let label = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<DiscRow>();
        })
        .await;
        let give_up = Instant::now() + Duration::from_secs(20);
        let mut tasks = Vec::new();
        for worker in 0..16i64 {
            let (db, ops) = (db.clone(), ops.clone());
            tasks.push(tokio::spawn(async move {
                // (operations that succeeded, unexpected errors, ended by the disconnect)
                let mut ok = 0u32;
                let mut unexpected = Vec::new();
                let mut i = 0i64;
                loop {
                    i += 1;
                    let row = DiscRow {
                        base: SchemaBase::new(),
                        worker,
                    };
                    let result = match (worker + i) % 3 {
                        0 => ops.create_one(row).await.map(drop),
                        1 => ops.count_query(&DiscRow::select()).await.map(drop),
                        _ => {
                            let statements: Vec<Box<dyn Statement>> = vec![
                                Box::new(insert_of(&db, &row)),
                                Box::new(text(format!("SELECT count(*) FROM {}", DiscRow::TABLE))),
                            ];
                            ops.execute_many(statements).await.map(drop)
                        }
                    };
                    match result {
                        Ok(()) => ok += 1,
                        Err(e) if ends_by_disconnect(&e) => return (ok, unexpected, true),
                        Err(e) => {
                            unexpected.push(e);
                            if unexpected.len() >= 3 {
                                return (ok, unexpected, false);
                            }
                        }
                    }
                    if Instant::now() > give_up {
                        return (ok, unexpected, false);
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let returned = tokio::time::timeout(Duration::from_secs(10), db.disconnect())
            .await
            .is_ok();
        let took = started.elapsed();
        if !returned || took > Duration::from_secs(5) {
            problems.push(format!(
                "[{label}] disconnect under load took {took:.1?} (returned: {returned})"
            ));
        }
        let mut total_ok = 0;
        for (worker, task) in tasks.into_iter().enumerate() {
            match tokio::time::timeout(Duration::from_secs(15), task).await {
                Err(_) => problems.push(format!(
                    "[{label}] worker {worker} still running 15 s after disconnect"
                )),
                Ok(Err(e)) => problems.push(format!("[{label}] worker {worker} panicked: {e}")),
                Ok(Ok((ok, unexpected, ended))) => {
                    total_ok += ok;
                    for e in unexpected {
                        problems.push(format!(
                            "[{label}] worker {worker}: an operation failed with neither \
                             Disconnected nor ConnectionError: {e}"
                        ));
                    }
                    if !ended {
                        problems.push(format!(
                            "[{label}] worker {worker} never saw the disconnect"
                        ));
                    }
                }
            }
        }
        if total_ok == 0 {
            problems.push(format!(
                "[{label}] no operation succeeded before disconnect"
            ));
        }
        if !backend.is_sqlite() {
            // Clean up with a new database: this one is disconnected.
            let cleanup = backend.database(json!({}));
            cleanup.register::<DiscRow>();
            let _ = within(30, format!("[{label}] drop_tables"), cleanup.drop_tables()).await;
            within(30, format!("[{label}] disconnect"), cleanup.disconnect()).await;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn disconnect_while_this_task_holds_a_session_returns_and_ends_the_session() {
    let mut problems = Vec::new();
    for backend in common::backends() {
        let label = backend.name;
        let db = backend.database(json!({}));
        let ops = DatabaseOperations::new(db.clone());
        let mut held = session(&db, label).await;
        let one: Option<i64> = within(
            30,
            format!("[{label}] {ONE}"),
            held.fetch_optional(&text(ONE)),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] {ONE}: {e}"));
        assert_eq!(one, Some(1), "[{label}]");

        // The same task holds `held` while it waits for disconnect.
        let started = Instant::now();
        let returned = tokio::time::timeout(Duration::from_secs(10), db.disconnect())
            .await
            .is_ok();
        if !returned {
            problems.push(format!(
                "[{label}] disconnect() did not return within 10 s while the calling task held \
                 a session"
            ));
        }
        let took = started.elapsed();

        let started = Instant::now();
        match within(5, format!("[{label}] get_db_session"), db.get_db_session()).await {
            Ok(_) => problems.push(format!("[{label}] a new session after disconnect")),
            Err(e) if e.kind() == ErrorKind::Disconnected => {}
            Err(e) => problems.push(format!(
                "[{label}] get_db_session after disconnect: expected Disconnected, got {e}"
            )),
        }
        match within(
            5,
            format!("[{label}] read_query"),
            ops.read_query::<i64>(&text(ONE)),
        )
        .await
        {
            Ok(_) => problems.push(format!("[{label}] an operation succeeded after disconnect")),
            Err(e) if e.kind() == ErrorKind::Disconnected => {}
            Err(e) => problems.push(format!(
                "[{label}] read_query after disconnect: expected Disconnected, got {e}"
            )),
        }
        if started.elapsed() > Duration::from_secs(1) {
            problems.push(format!(
                "[{label}] calls after disconnect took {:.1?}, not at once",
                started.elapsed()
            ));
        }
        let next: Result<Option<i64>, _> = within(
            10,
            format!("[{label}] the held session after disconnect"),
            held.fetch_optional(&text(ONE)),
        )
        .await;
        match next {
            Ok(v) => problems.push(format!(
                "[{label}] the held session still ran a statement after disconnect ({took:.1?}) \
                 returned: {v:?}"
            )),
            Err(e) if e.kind() == ErrorKind::Disconnected => {}
            Err(e) => problems.push(format!(
                "[{label}] the held session after disconnect: expected Disconnected, got {e}"
            )),
        }
        drop(held);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
