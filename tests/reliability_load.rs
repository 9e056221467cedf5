//! Load: many tasks writing at once through one `AsyncDatabase` lose nothing and report no
//! errors — `create_one` from 64 tasks, `update_one` of one row from 32 tasks, and read-then-
//! write `execute_many` transactions from 16 tasks.
//!
//! Runs on in-memory SQLite, a SQLite file (removed afterwards) and, when
//! `DSG_TEST_POSTGRES_URL` / `DSG_TEST_MYSQL_URL` are set, PostgreSQL and MySQL/MariaDB.
//! Every backend is tried before the test fails, so one failure lists them all.

mod common;
mod ops_support;
mod reliability_support;

use std::time::Instant;

use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::DatabaseError;
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::{Text, text};
use ops_support::fresh;
use reliability_support::{load_backends, session, summarize, within};
use serde_json::json;

/// Joins `tasks` (each returning its errors) within `secs`; returns every error.
async fn join_errors(
    label: &str,
    secs: u64,
    tasks: Vec<tokio::task::JoinHandle<Vec<DatabaseError>>>,
) -> Vec<DatabaseError> {
    within(
        secs,
        format!("[{label}] the tasks"),
        futures_util::future::join_all(tasks),
    )
    .await
    .into_iter()
    .flat_map(|joined| joined.unwrap_or_else(|e| panic!("[{label}] a task panicked: {e}")))
    .collect()
}

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_load_create")]
struct LoadRow {
    #[model(flatten)]
    base: SchemaBase,
    worker: i64,
    seq: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_one_from_64_tasks_stores_every_row() {
    const TASKS: i64 = 64;
    const EACH: i64 = 100;
    let mut problems = Vec::new();
    for (backend, _file) in load_backends("dsg_rel_load_create") {
        let label = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<LoadRow>();
        })
        .await;
        let started = Instant::now();
        let tasks = (0..TASKS)
            .map(|worker| {
                let ops = ops.clone();
                tokio::spawn(async move {
                    let mut errors = Vec::new();
                    for seq in 0..EACH {
                        let row = LoadRow {
                            base: SchemaBase::new(),
                            worker,
                            seq,
                        };
                        if let Err(e) = ops.create_one(row).await {
                            errors.push(e);
                        }
                    }
                    errors
                })
            })
            .collect();
        let errors = join_errors(label, 300, tasks).await;
        let took = started.elapsed();
        let stored = within(
            30,
            format!("[{label}] count"),
            ops.count_query(&LoadRow::select()),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] count: {e}"));
        eprintln!(
            "[{label}] {} create_one from {TASKS} tasks: {took:.1?}",
            TASKS * EACH
        );
        if !errors.is_empty() || stored != (TASKS * EACH) as u64 {
            problems.push(format!(
                "[{label}] {} of {} create_one failed ({}); {stored} rows stored",
                errors.len(),
                TASKS * EACH,
                summarize(&errors)
            ));
        }
        let _ = within(30, format!("[{label}] drop_tables"), db.drop_tables()).await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_load_update")]
struct Counter {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 40)]
    name: String,
    version: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_one_of_one_row_from_32_tasks_all_succeed() {
    const TASKS: i64 = 32;
    let mut problems = Vec::new();
    for (backend, _file) in load_backends("dsg_rel_load_update") {
        let label = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<Counter>();
        })
        .await;
        let original = within(
            30,
            format!("[{label}] create_one"),
            ops.create_one(Counter {
                base: SchemaBase::new(),
                name: "writer-none".into(),
                version: -1,
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] create_one: {e}"));
        let id = original.base.pkid.clone();
        let tasks = (0..TASKS)
            .map(|version| {
                let (ops, id) = (ops.clone(), id.clone());
                tokio::spawn(async move {
                    let name = format!("writer-{version}");
                    match ops
                        .update_one::<Counter>(id, json!({ "name": name, "version": version }))
                        .await
                    {
                        Ok(row) if row.name == name && row.version == version => Vec::new(),
                        Ok(row) => panic!("update_one {version} returned another write: {row:?}"),
                        Err(e) => vec![e],
                    }
                })
            })
            .collect();
        let errors = join_errors(label, 120, tasks).await;
        if !errors.is_empty() {
            problems.push(format!(
                "[{label}] {} of {TASKS} concurrent update_one failed ({})",
                errors.len(),
                summarize(&errors)
            ));
        }
        let rows: Vec<Counter> = within(
            30,
            format!("[{label}] read"),
            ops.read_query(&Counter::select()),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] read: {e}"));
        match rows.as_slice() {
            [row] => {
                let consistent = row.base.pkid == original.base.pkid
                    && row.base.date_created == original.base.date_created
                    && row.base.date_updated >= original.base.date_updated
                    && (0..TASKS).contains(&row.version)
                    && row.name == format!("writer-{}", row.version);
                if !consistent {
                    problems.push(format!(
                        "[{label}] the row after {TASKS} updates is inconsistent: {row:?} \
                         (created as {original:?})"
                    ));
                }
            }
            other => problems.push(format!(
                "[{label}] expected the one row, found {}",
                other.len()
            )),
        }
        let _ = within(30, format!("[{label}] drop_tables"), db.drop_tables()).await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Creates `{table}_items` and `{table}_total` (one row, n = 0) on `backend`.
async fn create_counting_tables(backend: &Backend, db_ops: &DatabaseOperations, table: &str) {
    let label = backend.name;
    let mut s = session(db_ops.database(), label).await;
    for sql in [
        format!(
            "CREATE TABLE {table}_items (id BIGINT PRIMARY KEY, worker BIGINT NOT NULL, \
             seq BIGINT NOT NULL)"
        ),
        format!("CREATE TABLE {table}_total (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)"),
        format!("INSERT INTO {table}_total (id, n) VALUES (1, 0)"),
    ] {
        within(30, format!("[{label}] {sql}"), s.execute_sql(&sql))
            .await
            .unwrap_or_else(|e| panic!("[{label}] {sql}: {e}"));
    }
    within(30, format!("[{label}] commit"), s.commit())
        .await
        .unwrap_or_else(|e| panic!("[{label}] commit: {e}"));
}

/// One read-then-write transaction: count the items, add one, bump the total.
fn read_then_write(table: &str, worker: i64, seq: i64) -> Vec<Text> {
    vec![
        text(format!("SELECT count(*) FROM {table}_items")),
        text(format!(
            "INSERT INTO {table}_items (id, worker, seq) VALUES (:id, :worker, :seq)"
        ))
        .bind("id", worker * 1000 + seq)
        .bind("worker", worker)
        .bind("seq", seq),
        text(format!("UPDATE {table}_total SET n = n + 1 WHERE id = 1")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_then_write_transactions_from_16_tasks_all_commit() {
    const TASKS: i64 = 16;
    const EACH: i64 = 25;
    let mut problems = Vec::new();
    for (backend, _file) in load_backends("dsg_rel_load_rw") {
        let label = backend.name;
        let table = common::unique_table("t_rel_load_rw");
        let db = backend.database(json!({}));
        let ops = DatabaseOperations::new(db.clone());
        create_counting_tables(&backend, &ops, &table).await;
        let started = Instant::now();
        let tasks = (0..TASKS)
            .map(|worker| {
                let (ops, table) = (ops.clone(), table.clone());
                tokio::spawn(async move {
                    let mut errors = Vec::new();
                    for seq in 0..EACH {
                        if let Err(e) = ops.execute_many(read_then_write(&table, worker, seq)).await
                        {
                            errors.push(e);
                        }
                    }
                    errors
                })
            })
            .collect();
        let errors = join_errors(label, 300, tasks).await;
        let took = started.elapsed();
        let counts: Vec<(i64, i64)> = within(
            30,
            format!("[{label}] counts"),
            ops.read_query(&text(format!(
                "SELECT (SELECT count(*) FROM {table}_items), \
                 (SELECT n FROM {table}_total WHERE id = 1)"
            ))),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] counts: {e}"));
        eprintln!(
            "[{label}] {} read-then-write transactions from {TASKS} tasks: {took:.1?}",
            TASKS * EACH
        );
        let total = TASKS * EACH;
        if !errors.is_empty() || counts != vec![(total, total)] {
            problems.push(format!(
                "[{label}] {} of {total} read-then-write execute_many failed ({}); (items, total) \
                 = {counts:?}, expected ({total}, {total}), and a failed transaction must \
                 leave neither",
                errors.len(),
                summarize(&errors)
            ));
        }
        let mut s = session(&db, label).await;
        for suffix in ["items", "total"] {
            let _ = s.execute_sql(&format!("DROP TABLE {table}_{suffix}")).await;
        }
        let _ = s.commit().await;
        within(30, format!("[{label}] disconnect"), db.disconnect()).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
