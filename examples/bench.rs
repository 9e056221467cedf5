//! Side-by-side timing of dsg_lib operations and the same work written by hand with sqlx, in
//! one run, printing medians and the ratio (ours / sqlx).
//!
//! ```sh
//! cargo run --release --example bench                        # SQLite in memory
//! DSG_BENCH_URI=postgres://postgres@127.0.0.1:5432/test cargo run --release --example bench
//! ```
//!
//! Both sides use one pool each with the same settings (no test before acquire), the same SQL
//! shape, and alternate rounds so
//! that machine noise falls on both alike.

use std::time::{Duration, Instant};

use dsg_lib::Model;
use dsg_lib::async_database_functions::{
    async_database::AsyncDatabase, base_schema::SchemaBase, database_config::DBConfig,
    database_operations::DatabaseOperations, error::DatabaseError, model::Model as _,
};
use dsg_lib::sea_query::ExprTrait;
use sqlx::Row;

#[derive(Model, Debug, Clone)]
#[model(table = "bench_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 100)]
    name: String,
    color: Option<String>,
    age: i64,
}

const ROWS: usize = 1000;
const ROUNDS: usize = 15;
const PER_ROUND: usize = 200;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn time<F, Fut>(n: usize, mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    for i in 0..n {
        f(i).await;
    }
    start.elapsed() / n as u32
}

macro_rules! pair {
    ($label:expr, $ours:expr, $theirs:expr) => {{
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..ROUNDS {
            ours.push(time(PER_ROUND, $ours).await);
            theirs.push(time(PER_ROUND, $theirs).await);
        }
        let (o, t) = (median(ours), median(theirs));
        println!(
            "{:<28} dsg_lib {:>9.1} µs   sqlx {:>9.1} µs   ratio {:.3}",
            $label,
            o.as_secs_f64() * 1e6,
            t.as_secs_f64() * 1e6,
            o.as_secs_f64() / t.as_secs_f64()
        );
    }};
}

/// The pairs, generic over the hand-written pool's backend by macro (sqlx's generic bounds
/// would dwarf the benchmark).
macro_rules! run_pairs {
    ($pool:expr, $ops:expr, $ids:expr, $p:literal) => {{
        let pool = &$pool;
        let ops = &$ops;
        let ids = &$ids;
        pair!(
            "read_one_record (by pkid)",
            |i| async move {
                let u: Option<User> = ops
                    .read_one_record(User::select().and_where(User::col("pkid").eq(ids[i % ids.len()].as_str())))
                    .await
                    .expect("read");
                assert!(u.is_some());
            },
            |i| async move {
                let row = sqlx::query(concat!(
                    "SELECT pkid, date_created, date_updated, name, color, age FROM bench_users WHERE pkid = ",
                    $p
                ))
                .bind(ids[i % ids.len()].as_str())
                .fetch_optional(pool)
                .await
                .expect("read");
                let row = row.expect("row");
                let _: (String, chrono::NaiveDateTime, chrono::NaiveDateTime, String, Option<String>, i64) = (
                    row.get(0),
                    row.get(1),
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                );
            }
        );
        pair!(
            "read_query (100 rows)",
            |_| async move {
                let mut select = User::select();
                select.and_where(User::col("age").lt(100));
                let u: Vec<User> = ops.read_query(&select).await.expect("read");
                assert_eq!(u.len(), 100);
            },
            |_| async move {
                let rows = sqlx::query(concat!(
                    "SELECT pkid, date_created, date_updated, name, color, age FROM bench_users WHERE age < ",
                    $p
                ))
                .bind(100_i64)
                .fetch_all(pool)
                .await
                .expect("read");
                let users: Vec<(String, chrono::NaiveDateTime, chrono::NaiveDateTime, String, Option<String>, i64)> = rows
                    .iter()
                    .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
                    .collect();
                assert_eq!(users.len(), 100);
            }
        );
        pair!(
            "count_query (filtered)",
            |_| async move {
                let mut select = User::select();
                select.and_where(User::col("color").eq("red"));
                assert!(ops.count_query(&select).await.expect("count") > 0);
            },
            |_| async move {
                let n: i64 = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM bench_users WHERE color = ", $p))
                    .bind("red")
                    .fetch_one(pool)
                    .await
                    .expect("count");
                assert!(n > 0);
            }
        );
    }};
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), DatabaseError> {
    let uri = std::env::var("DSG_BENCH_URI").unwrap_or_else(|_| "sqlite::memory:".into());
    let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({ "database_uri": uri }))?);
    db.register::<User>();
    db.drop_tables().await?;
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());
    let users: Vec<User> = (0..ROWS)
        .map(|i| User {
            base: SchemaBase::default(),
            name: format!("user{i}"),
            color: Some(["red", "blue", "green"][i % 3].into()),
            age: i as i64,
        })
        .collect();
    let users = ops.create_many(users).await?;
    let ids: Vec<String> = users.iter().map(|u| u.base.pkid.clone()).collect();
    println!(
        "{} — {} rows, {} rounds × {} calls, medians per call",
        db.config().dialect(),
        ROWS,
        ROUNDS,
        PER_ROUND
    );

    // The hand-written side: its own pool on the same database.
    match db.config().dialect().name() {
        "sqlite" => {
            // An in-memory database is private to its pool; give sqlx its own copy.
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(5)
                .test_before_acquire(false)
                .connect("sqlite::memory:")
                .await
                .map_err(|e| DatabaseError::invalid_input(e.to_string()))?;
            sqlx::query("CREATE TABLE bench_users (pkid VARCHAR(36) PRIMARY KEY, date_created DATETIME NOT NULL, date_updated DATETIME NOT NULL, name VARCHAR(100) NOT NULL, color TEXT, age INTEGER NOT NULL)")
                .execute(&pool)
                .await
                .map_err(|e| DatabaseError::invalid_input(e.to_string()))?;
            for u in &users {
                sqlx::query("INSERT INTO bench_users VALUES (?, ?, ?, ?, ?, ?)")
                    .bind(&u.base.pkid)
                    .bind(u.base.date_created.naive_utc())
                    .bind(u.base.date_updated.naive_utc())
                    .bind(&u.name)
                    .bind(&u.color)
                    .bind(u.age)
                    .execute(&pool)
                    .await
                    .map_err(|e| DatabaseError::invalid_input(e.to_string()))?;
            }
            run_pairs!(pool, ops, ids, "?");
        }
        "postgresql" | "cockroachdb" => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(15)
                .test_before_acquire(false)
                .connect(&std::env::var("DSG_BENCH_URI").unwrap_or_default())
                .await
                .map_err(|e| DatabaseError::invalid_input(e.to_string()))?;
            run_pairs!(pool, ops, ids, "$1");
        }
        _ => {
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(15)
                .test_before_acquire(false)
                .connect(&std::env::var("DSG_BENCH_URI").unwrap_or_default())
                .await
                .map_err(|e| DatabaseError::invalid_input(e.to_string()))?;
            run_pairs!(pool, ops, ids, "?");
        }
    }
    db.drop_tables().await?;
    db.disconnect().await;
    Ok(())
}
