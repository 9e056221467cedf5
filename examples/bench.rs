//! The benchmark: every workload through dsg_lib and through hand-written sqlx 0.9 doing the
//! same work the best way sqlx allows, alternated in one run, with medians, spreads and the
//! ratio ours / sqlx. Then, in a separate process each, the peak RSS of reading 100 000 rows
//! into the typed model on both sides.
//!
//! ```sh
//! cargo run --release --example bench                                   # SQLite in memory
//! cargo run --release --example bench -- --uri postgres://postgres@127.0.0.1:5432/test
//! cargo run --release --example bench -- --uri mysql://root@127.0.0.1:3306/test --rows 10000
//! cargo run --release --example bench -- --quick                        # under 30 s, for CI
//! cargo run --release --example bench -- --uri URI --keep-awake         # every core kept busy
//! cargo run --release --example bench -- --uri "$DSG_TEST_GALERA_URL"   # the contended counter on a cluster
//! cargo run --release --example bench -- --uri "$DSG_TEST_PG_PRIMARY_URL" --replica "$DSG_TEST_PG_STANDBY_URL"
//! ```
//!
//! After the table: what `retry` costs when nothing conflicts (servers: the update_one row
//! with `retry` on and off), and the throughput of a contended counter (8 tasks incrementing
//! one row, each increment a transaction), with the transactions run again after a conflict.
//!
//! The last row compares the library with itself: point reads with no tracing subscriber (as
//! in every other row) and with one listening, to show what the spans cost when nobody listens.
//!
//! The model is the seed's user (`SchemaBase` + unique indexed `name VARCHAR(100)` + `color`).
//! Both sides have one pool each with the same settings (no test before acquire), their own
//! table of the same shape, the same data, and alternate rounds (the first side alternates
//! too), so that machine noise falls on both alike.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use dsg_lib::prelude::*;
use futures_util::StreamExt;

// SQLite at engine speed (issue 12): the engine itself as a third column.
#[path = "support/sqlite_engine.rs"]
mod sqlite_engine;

#[derive(Model, Debug, Clone)]
#[model(table = "bench_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

/// The same table shape for the hand-written side (created by the library on the servers).
#[derive(Model, Debug, Clone)]
#[model(table = "bench_sqlx_users")]
struct SqlxTable {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

/// The parents of the eager-loading row (issue 26), a table of their own (`create_many` rows
/// TRUNCATE `bench_users`, which a foreign key to it would forbid).
#[derive(Model, Debug, Clone)]
#[model(table = "bench_parents")]
struct BenchParent {
    #[model(primary_key, size = 36)]
    pkid: String,
    #[model(size = 100)]
    name: String,
}

/// A child of `BenchParent`: `ops.load::<BenchOrder>(&parents)`.
#[derive(Model, Debug, Clone)]
#[model(table = "bench_orders")]
struct BenchOrder {
    #[model(primary_key)]
    id: i64,
    #[model(belongs_to = BenchParent, size = 36, index)]
    user_id: String,
    total: i64,
}

/// What the hand-written side decodes an order into.
#[allow(dead_code)]
#[derive(Debug)]
struct OrderRow {
    id: i64,
    user_id: String,
    total: i64,
}

macro_rules! order_from_row {
    ($row:ty) => {
        impl<'r> sqlx::FromRow<'r, $row> for OrderRow {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok(OrderRow {
                    id: row.try_get(0)?,
                    user_id: row.try_get(1)?,
                    total: row.try_get(2)?,
                })
            }
        }
    };
}
order_from_row!(sqlx::sqlite::SqliteRow);
order_from_row!(sqlx::postgres::PgRow);
order_from_row!(sqlx::mysql::MySqlRow);

/// What the hand-written side decodes a row into.
#[allow(dead_code)]
#[derive(Debug)]
struct Row {
    pkid: String,
    date_created: NaiveDateTime,
    date_updated: NaiveDateTime,
    name: String,
    color: Option<String>,
}

macro_rules! from_row {
    ($row:ty) => {
        impl<'r> sqlx::FromRow<'r, $row> for Row {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok(Row {
                    pkid: row.try_get(0)?,
                    date_created: row.try_get(1)?,
                    date_updated: row.try_get(2)?,
                    name: row.try_get(3)?,
                    color: row.try_get(4)?,
                })
            }
        }
    };
}
from_row!(sqlx::sqlite::SqliteRow);
from_row!(sqlx::postgres::PgRow);
from_row!(sqlx::mysql::MySqlRow);

const COLUMNS: &str = "pkid, date_created, date_updated, name, color";
/// The SQLite DDL the library emits for this model (the sqlx side's in-memory copy).
const SQLITE_DDL: &[&str] = &[
    "CREATE TABLE bench_sqlx_users (pkid VARCHAR(36) NOT NULL PRIMARY KEY, \
     date_created DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')), \
     date_updated DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')), \
     name VARCHAR(100) NOT NULL, color TEXT NULL)",
    "CREATE INDEX ix_bench_sqlx_users_date_created ON bench_sqlx_users (date_created)",
    "CREATE INDEX ix_bench_sqlx_users_date_updated ON bench_sqlx_users (date_updated)",
    "CREATE UNIQUE INDEX ix_bench_sqlx_users_name ON bench_sqlx_users (name)",
];

struct Args {
    uri: String,
    rows: usize,
    point_ops: usize,
    rounds: usize,
    /// Processes the side-by-side rows run in, one after the other (see `runs`).
    runs: usize,
    /// Internal: this process is one of those runs; it prints its rows for the parent.
    run_child: bool,
    /// Keep every core busy with idle-priority spinners during the side-by-side rows.
    keep_awake: bool,
    rss_rows: usize,
    /// Run only the workloads whose label contains this (for profiling).
    only: Option<String>,
    /// Internal: run one side's RSS measurement in this process.
    rss_child: Option<String>,
    /// A read replica of `uri`: run the replica-routing row only.
    replica: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        uri: std::env::var("DSG_BENCH_URI").unwrap_or_else(|_| "sqlite::memory:".into()),
        rows: 10_000,
        point_ops: 1_000,
        rounds: 7,
        runs: 5,
        run_child: false,
        keep_awake: false,
        rss_rows: 100_000,
        only: None,
        rss_child: None,
        replica: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--uri" => args.uri = it.next().expect("--uri URI"),
            "--rows" => args.rows = it.next().and_then(|n| n.parse().ok()).expect("--rows N"),
            "--rounds" => args.rounds = it.next().and_then(|n| n.parse().ok()).expect("--rounds N"),
            "--runs" => args.runs = it.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            "--run-child" => args.run_child = true,
            "--keep-awake" => args.keep_awake = true,
            "--quick" => {
                args.rows = 2_000;
                args.point_ops = 200;
                args.rounds = 3;
                args.runs = 1;
                args.rss_rows = 20_000;
            }
            "--rss-child" => args.rss_child = it.next(),
            "--only" => args.only = it.next(),
            "--replica" => args.replica = it.next(),
            "--rss-rows" => {
                args.rss_rows = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--rss-rows N")
            }
            other => panic!("unknown argument {other}; see the top of examples/bench.rs"),
        }
    }
    args
}

/// The hand-written side's pool.
enum Sqlx {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool and `$db` to its database type.
macro_rules! with_pool {
    ($sqlx:expr, $pool:ident, $db:ident => $body:expr) => {
        match $sqlx {
            Sqlx::Sqlite($pool) => {
                type $db = sqlx::Sqlite;
                $body
            }
            Sqlx::Pg($pool) => {
                type $db = sqlx::Postgres;
                $body
            }
            Sqlx::My($pool) => {
                type $db = sqlx::MySql;
                $body
            }
        }
    };
}

impl Sqlx {
    /// `?` placeholders, rewritten to `$n` for PostgreSQL.
    fn sql(&self, sql: &str) -> String {
        match self {
            Sqlx::Pg(_) => {
                let mut out = String::new();
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        out.push_str(&format!("${n}"));
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            _ => sql.to_string(),
        }
    }

    fn max_binds(&self) -> usize {
        match self {
            Sqlx::Sqlite(_) => 32_766,
            _ => 65_535,
        }
    }
}

async fn sqlx_pool(uri: &str, memory: bool) -> Result<Sqlx, sqlx::Error> {
    Ok(if uri.starts_with("sqlite") {
        let url = if memory {
            format!(
                "sqlite:file:bench-sqlx-{}?mode=memory&cache=shared",
                std::process::id()
            )
        } else {
            uri.replace("sqlite:///", "sqlite://")
        };
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(5)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect(&url)
            .await?;
        Sqlx::Sqlite(pool)
    } else if uri.starts_with("postgres") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(15)
            .test_before_acquire(false)
            .connect(uri)
            .await?;
        Sqlx::Pg(pool)
    } else {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(15)
            .test_before_acquire(false)
            .connect(&uri.replace("mariadb://", "mysql://"))
            .await?;
        Sqlx::My(pool)
    })
}

fn users(n: usize, round: usize) -> Vec<User> {
    (0..n)
        .map(|i| User {
            base: SchemaBase::default(),
            name: format!("user-{round}-{i}"),
            color: Some(["red", "blue", "green"][i % 3].into()),
        })
        .collect()
}

fn stats(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
    )
}

/// Prints a row: each side's median and min–max, and the median of the rounds' paired ratios
/// with their interquartile range. Each round's two samples were taken side by side, so a
/// ratio of the pair cancels what the machine did slowly (another process, a frequency step)
/// better than a ratio of two medians taken over the whole run.
fn report(label: &str, ours: &mut [Duration], theirs: &mut [Duration]) {
    let mut ratios: Vec<f64> = ours
        .iter()
        .zip(theirs.iter())
        .map(|(o, t)| o.as_secs_f64() / t.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let quartile = |q: usize| ratios[(ratios.len() - 1) * q / 4];
    let (ours, theirs) = (stats(ours), stats(theirs));
    if RUN_CHILD.load(std::sync::atomic::Ordering::Relaxed) {
        // For the parent (`runs`): the medians and the paired ratio.
        println!("row\t{label}\t{}\t{}\t{}", ours.0, theirs.0, quartile(2));
    } else {
        print_row(label, ours, theirs, (quartile(2), quartile(1), quartile(3)));
    }
}

/// Set in a process that runs the rows for a parent (`--run-child`).
static RUN_CHILD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One row: each side's figure (ms) and ratio, each with its range.
fn print_row(label: &str, ours: (f64, f64, f64), theirs: (f64, f64, f64), ratio: (f64, f64, f64)) {
    let ((o, omin, omax), (t, tmin, tmax)) = (ours, theirs);
    println!(
        "{label:<34} {o:>9.2} ms [{omin:>8.2}–{omax:<8.2}]  {t:>9.2} ms [{tmin:>8.2}–{tmax:<8.2}]  {:>6.2}× [{:.2}–{:.2}]",
        ratio.0, ratio.1, ratio.2
    );
}

fn e(err: sqlx::Error) -> DatabaseError {
    DatabaseError::invalid_input(format!("hand-written sqlx: {err}"))
}

/// Times `ours` and `theirs` alternately, `rounds` times each. With `ops` (and `per`), a round
/// runs `ops` operations a side one at a time, alternating sides at every operation (the first
/// side alternating too), and its sample is the sum of each side's `ops` times divided by
/// `per`: noise that lasts longer than one operation falls on both sides alike. Each closure
/// gets the round and the operation's number and returns the time it measured (so that set-up
/// such as emptying a table stays out of it).
macro_rules! pair {
    ($args:expr, $label:expr, $ours:expr, $theirs:expr) => {
        pair!($args, $label, 1, 1, $ours, $theirs)
    };
    ($args:expr, $label:expr, $ops:expr, $per:expr, $ours:expr, $theirs:expr) => {{
        let label: &str = $label;
        if $args
            .only
            .as_deref()
            .is_none_or(|only| label.contains(only) || label.starts_with("create_many"))
        {
            let (ops, per): (usize, u32) = ($ops, $per);
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            for round in 0..$args.rounds {
                let (mut o, mut t) = (Duration::ZERO, Duration::ZERO);
                for i in 0..ops {
                    let first = (round + i) % 2;
                    for side in [first, 1 - first] {
                        if side == 0 {
                            o += $ours(round, i).await?;
                        } else {
                            t += $theirs(round, i).await?;
                        }
                    }
                }
                ours.push(o / per);
                theirs.push(t / per);
            }
            report(label, &mut ours, &mut theirs);
        }
    }};
}

#[tokio::main]
async fn main() -> Result<(), DatabaseError> {
    let args = args();
    RUN_CHILD.store(args.run_child, std::sync::atomic::Ordering::Relaxed);
    if let Some(side) = &args.rss_child {
        return rss_child(&args, side).await;
    }
    let db = AsyncDatabase::new(DBConfig::new(
        serde_json::json!({ "database_uri": args.uri }),
    )?);
    if let Some(replica) = args.replica.clone() {
        return replica_reads(&args, &replica).await;
    }
    if db.config().hosts().len() > 1 {
        // A cluster (several hosts): hand-written sqlx takes one host only, so the
        // side-by-side rows do not apply; the contended counter does.
        println!(
            "{} cluster {}",
            db.config().dialect(),
            db.config().redacted_uri()
        );
        // Eight writers on one row conflict on nearly every commit: more runs than the default.
        let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({
            "database_uri": args.uri,
            "retry": {"max_attempts": 100, "base_delay_ms": 2, "max_delay_ms": 100},
        }))?);
        counter(&args, &db).await?;
        db.disconnect().await;
        return Ok(());
    }
    let memory = db.config().dialect().name() == "sqlite";
    // Children inherit the spinners of their parent.
    let _awake = (args.keep_awake && !args.run_child)
        .then(KeepAwake::start)
        .transpose()?;
    if args.runs > 1 && !args.run_child {
        runs(&args, &db)?;
    } else {
        side_by_side(&args, &db, memory).await?;
    }
    if args.run_child {
        db.disconnect().await;
        return Ok(());
    }

    if args
        .only
        .as_deref()
        .is_none_or(|only| "conflicting counter".contains(only))
    {
        counter(&args, &db).await?;
    }

    if memory
        && args
            .only
            .as_deref()
            .is_none_or(|only| "engine".contains(only) || only.starts_with("engine "))
    {
        // `--only "engine updates"`: one part of the engine rows (for profiling).
        let part = args.only.as_deref().and_then(|o| o.strip_prefix("engine "));
        sqlite_engine::run(args.rounds, args.rows, args.point_ops, part).await?;
    }

    db.disconnect().await;
    if args.only.is_some() {
        return Ok(());
    }
    rss(&args).await
}

/// `--keep-awake`: one spinning process per core at the lowest priority (`nice -n 19`), for
/// as long as this lives. An idle core of this machine takes tens of microseconds to wake for a
/// server's answer; a side that leaves work behind in the background (sqlx's release ping)
/// keeps a core awake for the next operation of either side. With every core kept awake, both
/// sides answer at the speed of their own work.
struct KeepAwake(Vec<std::process::Child>);

impl KeepAwake {
    fn start() -> Result<Self, DatabaseError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let spinners = (0..cores)
            .map(|_| {
                std::process::Command::new("nice")
                    .args(["-n", "19", "sh", "-c", "while :; do :; done"])
                    .spawn()
                    .map_err(io)
            })
            .collect::<Result<_, _>>()?;
        Ok(KeepAwake(spinners))
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The header of the side-by-side table.
fn header(db: &AsyncDatabase, args: &Args, how: &str) {
    println!(
        "{} — {} rows, {} point operations, {how}",
        db.config().dialect(),
        args.rows,
        args.point_ops,
    );
    println!(
        "{:<34} {:>9} {:<21}  {:>9} {:<21}  {:>7}",
        "workload", "dsg_lib", " [min–max]", "sqlx", " [min–max]", "ratio"
    );
}

/// The side-by-side rows in `args.runs` processes, one after the other, and per row the
/// median of the processes' figures with their min–max. A process keeps its connections (and
/// with them which core each server backend shares with which client thread) for its whole
/// run; that alone moved one process's paired ratio of the same point reads anywhere from
/// 0.73× to 1.30× here, steady within the process. Only fresh processes sample it.
fn runs(args: &Args, db: &AsyncDatabase) -> Result<(), DatabaseError> {
    header(
        db,
        args,
        &format!(
            "{} processes × {} rounds each side, alternating; medians of the processes, \
             [min–max] over them; ratio: median of each process's paired ratio",
            args.runs, args.rounds
        ),
    );
    let mut rows: Vec<(String, Vec<[f64; 3]>)> = Vec::new();
    for _ in 0..args.runs {
        let out = std::process::Command::new(std::env::current_exe().map_err(io)?)
            .args(std::env::args().skip(1))
            .arg("--run-child")
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(io)?;
        if !out.status.success() {
            return Err(DatabaseError::invalid_input(format!(
                "a run of the side-by-side rows failed: {}",
                String::from_utf8_lossy(&out.stdout)
            )));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut fields = line.split('\t');
            if fields.next() != Some("row") {
                continue;
            }
            let label = fields.next().unwrap_or_default().to_string();
            let mut figures = [0.0; 3];
            for (figure, field) in figures.iter_mut().zip(fields) {
                *figure = field
                    .parse()
                    .map_err(|_| DatabaseError::invalid_input(format!("a run printed {line:?}")))?;
            }
            match rows.iter_mut().find(|(l, _)| *l == label) {
                Some((_, samples)) => samples.push(figures),
                None => rows.push((label, vec![figures])),
            }
        }
    }
    for (label, samples) in rows {
        let column = |k: usize| {
            let mut v: Vec<f64> = samples.iter().map(|s| s[k]).collect();
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        print_row(&label, column(0), column(1), column(2));
    }
    Ok(())
}

/// Every workload through both sides, alternating, in this process.
async fn side_by_side(args: &Args, db: &AsyncDatabase, memory: bool) -> Result<(), DatabaseError> {
    db.register::<User>();
    db.register::<BenchParent>();
    db.register::<BenchOrder>();
    let ops = DatabaseOperations::new(db.clone());
    let sqlx = sqlx_pool(&args.uri, memory).await.map_err(e)?;
    if memory {
        if let Sqlx::Sqlite(pool) = &sqlx {
            for ddl in SQLITE_DDL {
                sqlx::query(*ddl).execute(pool).await.map_err(e)?;
            }
        }
    } else {
        db.register::<SqlxTable>();
    }
    db.drop_tables().await?;
    db.create_tables().await?;

    if !args.run_child {
        header(
            db,
            args,
            &format!(
                "{} rounds each side, alternating; ratio: median of the rounds' paired ratios \
                 [interquartile range]",
                args.rounds
            ),
        );
    }

    let sqlx = &sqlx;
    let ops = &ops;
    let n = args.rows;

    // create_many: the table is emptied (untimed) before every sample, on the servers by
    // TRUNCATE: a DELETE leaves the last sample's 10 000 dead rows and index entries behind
    // (until autovacuum comes), and each insert then pays the server more than the last (a
    // 10 000-row UNNEST insert in psql: 60, 87, 116 ms after successive DELETEs, 69 ms after
    // TRUNCATE), which measures the table's history rather than the two clients.
    let empty = |table: &str| {
        if memory {
            format!("DELETE FROM {table}")
        } else {
            format!("TRUNCATE TABLE {table}")
        }
    };
    let (empty_ours, empty_sqlx) = (&empty("bench_users"), &empty("bench_sqlx_users"));
    pair!(
        args,
        &format!("create_many of {n}"),
        |round: usize, _| async move {
            ops.execute_one(&text(empty_ours.as_str())).await?;
            let data = users(n, round);
            let start = Instant::now();
            ops.create_many(data).await?;
            Ok::<_, DatabaseError>(start.elapsed())
        },
        |round: usize, _| async move {
            let data = users(n, round);
            with_pool!(sqlx, pool, DB => {
                sqlx::query(sqlx::AssertSqlSafe(empty_sqlx.as_str())).execute(pool).await.map_err(e)?;
                let start = Instant::now();
                let mut tx = pool.begin().await.map_err(e)?;
                for chunk in data.chunks(sqlx.max_binds() / 5) {
                    let mut insert = sqlx::QueryBuilder::<DB>::new(format!("INSERT INTO bench_sqlx_users ({COLUMNS}) "));
                    insert.push_values(chunk, |mut row, u| {
                        row.push_bind(u.base.pkid.clone())
                            .push_bind(u.base.date_created.naive_utc())
                            .push_bind(u.base.date_updated.naive_utc())
                            .push_bind(u.name.clone())
                            .push_bind(u.color.clone());
                    });
                    insert.build().execute(&mut *tx).await.map_err(e)?;
                }
                tx.commit().await.map_err(e)?;
                Ok::<_, DatabaseError>(start.elapsed())
            })
        }
    );
    let ids: Vec<String> = ops
        .read_query(&text("SELECT pkid FROM bench_users"))
        .await?;
    let sqlx_ids: Vec<String> = with_pool!(sqlx, pool, DB => {
        sqlx::query_scalar::<DB, String>("SELECT pkid FROM bench_sqlx_users").fetch_all(pool).await.map_err(e)?
    });
    // On a server both sides read and update the library's table from here on: the same
    // pages, so that what is timed is the two clients. (In memory each side has a database of
    // its own.)
    let (table, sqlx_ids) = if memory {
        ("bench_sqlx_users", &sqlx_ids)
    } else {
        ("bench_users", &ids)
    };
    let ids = &ids;

    pair!(
        args,
        &format!("read_query of all {n}"),
        |_, _| async move {
            let start = Instant::now();
            let rows: Vec<User> = ops.read_query(&User::select()).await?;
            assert_eq!(rows.len(), n);
            Ok::<_, DatabaseError>(start.elapsed())
        },
        |_, _| async move {
            let sql = format!("SELECT {COLUMNS} FROM {table}");
            with_pool!(sqlx, pool, DB => {
                let start = Instant::now();
                let rows: Vec<Row> = sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await.map_err(e)?;
                assert_eq!(rows.len(), n);
                Ok::<_, DatabaseError>(start.elapsed())
            })
        }
    );

    pair!(
        args,
        &format!("read_stream of all {n}"),
        |_, _| async move {
            let start = Instant::now();
            let mut rows = ops.read_stream::<User>(&User::select());
            let mut count = 0;
            while let Some(user) = rows.next().await {
                std::hint::black_box(user?);
                count += 1;
            }
            let elapsed = start.elapsed();
            assert_eq!(count, n);
            Ok::<_, DatabaseError>(elapsed)
        },
        |_, _| async move {
            let sql = format!("SELECT {COLUMNS} FROM {table}");
            with_pool!(sqlx, pool, DB => {
                let start = Instant::now();
                let mut rows = sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(sql.as_str())).fetch(pool);
                let mut count = 0;
                while let Some(row) = rows.next().await {
                    std::hint::black_box(row.map_err(e)?);
                    count += 1;
                }
                let elapsed = start.elapsed();
                assert_eq!(count, n);
                Ok::<_, DatabaseError>(elapsed)
            })
        }
    );

    // Eager loading (issue 26): the orders of 1 000 users, 10 each, grouped per user in the
    // users' order. Both sides read the same table (in memory through `sqlite_pool()`, the
    // same database); the hand-written side binds the keys as one array on PostgreSQL and in
    // one `IN` list elsewhere, and groups through a HashMap, as one writes it by hand.
    ops.execute_one(&text("DELETE FROM bench_orders")).await?;
    ops.execute_one(&text("DELETE FROM bench_parents")).await?;
    let parents: Vec<BenchParent> = ops
        .create_many(
            (0..1_000)
                .map(|i| BenchParent {
                    pkid: uuid::Uuid::new_v4().to_string(),
                    name: format!("parent {i}"),
                })
                .collect(),
        )
        .await?;
    ops.create_many(
        parents
            .iter()
            .enumerate()
            .flat_map(|(i, u)| {
                (0..10).map(move |j| BenchOrder {
                    id: (i * 10 + j) as i64,
                    user_id: u.pkid.clone(),
                    total: j as i64,
                })
            })
            .collect(),
    )
    .await?;
    let same_db = match db.sqlite_pool().await? {
        Some(pool) if memory => Sqlx::Sqlite(pool),
        _ => sqlx_pool(&args.uri, memory).await.map_err(e)?,
    };
    let (parents, same_db) = (&parents, &same_db);
    let children = parents.len() * 10;
    pair!(
        args,
        &format!("load 1 000 parents' {children} children"),
        |_, _| async move {
            let start = Instant::now();
            let groups = ops.load::<BenchOrder>(parents).await?;
            let elapsed = start.elapsed();
            assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), children);
            Ok::<_, DatabaseError>(elapsed)
        },
        |_, _| async move {
            let keys: Vec<String> = parents.iter().map(|u| u.pkid.clone()).collect();
            let start = Instant::now();
            let rows: Vec<OrderRow> = match same_db {
                Sqlx::Pg(pool) => sqlx::query_as::<sqlx::Postgres, OrderRow>(
                    "SELECT id, user_id, total FROM bench_orders WHERE user_id = ANY($1)",
                )
                .bind(&keys)
                .fetch_all(pool)
                .await
                .map_err(e)?,
                other => {
                    let list = vec!["?"; keys.len()].join(", ");
                    let sql = format!(
                        "SELECT id, user_id, total FROM bench_orders WHERE user_id IN ({list})"
                    );
                    with_pool!(other, pool, DB => {
                        let mut query = sqlx::query_as::<DB, OrderRow>(sqlx::AssertSqlSafe(sql.as_str()));
                        for key in &keys {
                            query = query.bind(key);
                        }
                        query.fetch_all(pool).await.map_err(e)?
                    })
                }
            };
            let mut by_user: std::collections::HashMap<String, Vec<OrderRow>> =
                std::collections::HashMap::new();
            for row in rows {
                by_user.entry(row.user_id.clone()).or_default().push(row);
            }
            let groups: Vec<Vec<OrderRow>> = keys
                .iter()
                .map(|k| {
                    let mut group = by_user.remove(k).unwrap_or_default();
                    group.sort_by_key(|o| o.id);
                    group
                })
                .collect();
            let elapsed = start.elapsed();
            assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), children);
            Ok::<_, DatabaseError>(elapsed)
        }
    );

    // The quick queries: CALLS calls a side a round, alternating call by call; the time per call.
    const CALLS: usize = 20;
    pair!(
        args,
        "count_query with a filter",
        CALLS,
        CALLS as u32,
        |_, _| async move {
            let mut select = User::select();
            select.and_where(User::col("color").eq("red"));
            let start = Instant::now();
            let total = ops.count_query(&select).await?;
            assert!(total > 0);
            Ok::<_, DatabaseError>(start.elapsed())
        },
        |_, _| async move {
            let sql = sqlx.sql(&format!("SELECT COUNT(*) FROM {table} WHERE color = ?"));
            with_pool!(sqlx, pool, DB => {
                let start = Instant::now();
                let total: i64 = sqlx::query_scalar::<DB, i64>(sqlx::AssertSqlSafe(sql.as_str())).bind("red").fetch_one(pool).await.map_err(e)?;
                assert!(total > 0);
                Ok::<_, DatabaseError>(start.elapsed())
            })
        }
    );

    pair!(
        args,
        "paginate_query page 5 of 100",
        CALLS,
        CALLS as u32,
        |_, _| async move {
            let mut select = User::select();
            select.order_by("name", Order::Asc);
            let start = Instant::now();
            let page = ops.paginate_query::<User>(&select, 5, 100).await?;
            assert_eq!(page.items.len(), Ord::min(100, n.saturating_sub(400)));
            Ok::<_, DatabaseError>(start.elapsed())
        },
        |_, _| async move {
            let sql = sqlx.sql(&format!(
                "SELECT {COLUMNS} FROM {table} ORDER BY name LIMIT ? OFFSET ?"
            ));
            let count = format!("SELECT COUNT(*) FROM {table}");
            with_pool!(sqlx, pool, DB => {
                let start = Instant::now();
                let mut conn = pool.acquire().await.map_err(e)?;
                let total: i64 = sqlx::query_scalar::<DB, i64>(sqlx::AssertSqlSafe(count.as_str()))
                    .fetch_one(&mut *conn).await.map_err(e)?;
                let rows: Vec<Row> = sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(sql.as_str())).bind(100_i64).bind(400_i64)
                    .fetch_all(&mut *conn).await.map_err(e)?;
                assert!(total > 0);
                assert_eq!(rows.len(), Ord::min(100, n.saturating_sub(400)));
                Ok::<_, DatabaseError>(start.elapsed())
            })
        }
    );

    // upsert_many: every row of the table given again with a new color, so that each sample
    // updates all of them (the same work every round); the rows as stored come back.
    let stored: Vec<User> = ops
        .read_query(&text(format!("SELECT {COLUMNS} FROM bench_users")))
        .await?;
    let sqlx_stored: Vec<Row> = with_pool!(sqlx, pool, DB => {
        let sql = format!("SELECT {COLUMNS} FROM {table}");
        sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await.map_err(e)?
    });
    let (stored, sqlx_stored) = (&stored, &sqlx_stored);
    let upsert_sql = &match sqlx {
        Sqlx::My(_) => "ON DUPLICATE KEY UPDATE date_updated = VALUES(date_updated), \
                        name = VALUES(name), color = VALUES(color)"
            .to_string(),
        _ => format!(
            "ON CONFLICT (pkid) DO UPDATE SET date_updated = excluded.date_updated, \
             name = excluded.name, color = excluded.color RETURNING {COLUMNS}"
        ),
    };
    pair!(
        args,
        &format!("upsert_many of {n}, every row updated"),
        |round: usize, _| async move {
            let color = format!("u{round}");
            let data: Vec<User> = stored
                .iter()
                .map(|u| User {
                    color: Some(color.clone()),
                    ..u.clone()
                })
                .collect();
            let start = Instant::now();
            let rows = ops.upsert_many(data).await?;
            let elapsed = start.elapsed();
            assert_eq!(rows.len(), n);
            assert_eq!(rows[n - 1].color.as_deref(), Some(color.as_str()));
            Ok::<_, DatabaseError>(elapsed)
        },
        |round: usize, _| async move {
            let color = format!("s{round}");
            with_pool!(sqlx, pool, DB => {
                let start = Instant::now();
                let now = chrono::Utc::now().naive_utc();
                let mut tx = pool.begin().await.map_err(e)?;
                let mut rows: Vec<Row> = Vec::with_capacity(n);
                for chunk in sqlx_stored.chunks(sqlx.max_binds() / 5) {
                    let mut insert = sqlx::QueryBuilder::<DB>::new(format!("INSERT INTO {table} ({COLUMNS}) "));
                    insert.push_values(chunk, |mut row, u| {
                        row.push_bind(u.pkid.as_str())
                            .push_bind(u.date_created)
                            .push_bind(now)
                            .push_bind(u.name.as_str())
                            .push_bind(color.as_str());
                    });
                    insert.push(" ");
                    insert.push(upsert_sql.as_str());
                    if matches!(sqlx, Sqlx::My(_)) {
                        // No RETURNING: the rows read back in the same transaction.
                        insert.build().execute(&mut *tx).await.map_err(e)?;
                        let mut select = sqlx::QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM {table} WHERE pkid IN ("));
                        let mut keys = select.separated(", ");
                        for u in chunk {
                            keys.push_bind(u.pkid.as_str());
                        }
                        select.push(")");
                        rows.extend(select.build_query_as::<Row>().fetch_all(&mut *tx).await.map_err(e)?);
                    } else {
                        rows.extend(insert.build_query_as::<Row>().fetch_all(&mut *tx).await.map_err(e)?);
                    }
                }
                tx.commit().await.map_err(e)?;
                let elapsed = start.elapsed();
                assert_eq!(rows.len(), n);
                assert!(rows.iter().all(|r| r.color.as_deref() == Some(color.as_str())));
                Ok::<_, DatabaseError>(elapsed)
            })
        }
    );

    // The point rows alternate the two sides read by read (update by update).
    let point = args.point_ops;
    let point_select = &sqlx.sql(&format!("SELECT {COLUMNS} FROM {table} WHERE pkid = ?"));
    let sqlx_read = |i: usize| async move {
        with_pool!(sqlx, pool, DB => {
            let start = Instant::now();
            let row: Option<Row> = sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(point_select.as_str()))
                .bind(sqlx_ids[i % sqlx_ids.len()].as_str())
                .fetch_optional(pool).await.map_err(e)?;
            assert!(row.is_some());
            Ok::<_, DatabaseError>(start.elapsed())
        })
    };
    pair!(
        args,
        &format!("{point} × read_one_record by pkid"),
        point,
        1,
        |_, i| point_read(ops, ids, i),
        |_, i| sqlx_read(i)
    );

    // The same work: stamp date_updated, and return the stored row.
    let returning = !matches!(sqlx, Sqlx::My(_));
    let update = &sqlx.sql(&if returning {
        format!("UPDATE {table} SET color = ?, date_updated = ? WHERE pkid = ? RETURNING {COLUMNS}")
    } else {
        format!("UPDATE {table} SET color = ?, date_updated = ? WHERE pkid = ?")
    });
    pair!(
        args,
        &format!("{point} × update_one by pkid"),
        point,
        1,
        |round: usize, i| point_update(ops, ids, i, format!("c{round}-{i}")),
        |round: usize, i: usize| async move {
            with_pool!(sqlx, pool, DB => {
                let color = format!("c{round}-{i}");
                let id = sqlx_ids[i % sqlx_ids.len()].as_str();
                let start = Instant::now();
                let now = chrono::Utc::now().naive_utc();
                let row: Option<Row> = if returning {
                    sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(update.as_str())).bind(color.as_str()).bind(now).bind(id)
                        .fetch_optional(pool).await.map_err(e)?
                } else {
                    // No UPDATE … RETURNING: the update and the read back in one
                    // transaction, so the row read is the one written (as the library).
                    let mut tx = pool.begin().await.map_err(e)?;
                    sqlx::query::<DB>(sqlx::AssertSqlSafe(update.as_str())).bind(color.as_str()).bind(now).bind(id)
                        .execute(&mut *tx).await.map_err(e)?;
                    let row = sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(point_select.as_str())).bind(id)
                        .fetch_optional(&mut *tx).await.map_err(e)?;
                    tx.commit().await.map_err(e)?;
                    row
                };
                let elapsed = start.elapsed();
                assert_eq!(row.and_then(|r| r.color).as_deref(), Some(color.as_str()));
                Ok::<_, DatabaseError>(elapsed)
            })
        }
    );

    // 16 in flight: the sides alternate every BURST reads (each burst 16 at a time).
    const BURST: usize = 100;
    pair!(
        args,
        &format!("{point} point reads, 16 in flight"),
        point.div_ceil(BURST),
        1,
        |_, b: usize| async move {
            let start = Instant::now();
            let found = futures_util::stream::iter(b * BURST..((b + 1) * BURST).min(point))
                .map(|i| async move {
                    let mut select = User::select();
                    select.and_where(User::col("pkid").eq(ids[i % ids.len()].as_str()));
                    ops.read_one_record::<User>(&select).await
                })
                .buffer_unordered(16)
                .filter(|r| std::future::ready(matches!(r, Ok(Some(_)))))
                .count()
                .await;
            let elapsed = start.elapsed();
            assert_eq!(found, BURST.min(point - b * BURST));
            Ok::<_, DatabaseError>(elapsed)
        },
        |_, b: usize| async move {
            with_pool!(sqlx, pool, DB => {
                let start = Instant::now();
                let found = futures_util::stream::iter(b * BURST..((b + 1) * BURST).min(point))
                    .map(|i| async move {
                        sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(point_select.as_str()))
                            .bind(sqlx_ids[i % sqlx_ids.len()].as_str())
                            .fetch_optional(pool).await
                    })
                    .buffer_unordered(16)
                    .filter(|r| std::future::ready(matches!(r, Ok(Some(_)))))
                    .count()
                    .await;
                let elapsed = start.elapsed();
                assert_eq!(found, BURST.min(point - b * BURST));
                Ok::<_, DatabaseError>(elapsed)
            })
        }
    );

    // What the method itself reads as a difference: hand-written sqlx against itself, read by
    // read as above. A row's ratio within this row's spread is even.
    pair!(
        args,
        &format!("{point} × sqlx point read, sqlx/sqlx"),
        point,
        1,
        |_, i| sqlx_read(i),
        |_, i| sqlx_read(i)
    );

    // What the tracing spans cost: the same point reads with no subscriber (every row above)
    // and with one listening at INFO. Without a subscriber a span is a disabled handle.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let dispatch = &tracing::Dispatch::new(subscriber);
    pair!(
        args,
        &format!("{point} × read_one_record, spans off/on"),
        point,
        1,
        |_, i| point_read(ops, ids, i),
        |_, i| async move {
            // The read runs on this thread (the runtime's block_on thread) in one poll or
            // several; the subscriber listens for each of them.
            let _listening = tracing::dispatcher::set_default(dispatch);
            point_read(ops, ids, i).await
        }
    );

    // What re-running transactions costs when nothing conflicts: the update_one row again,
    // through this database (`retry` on, the default) and through a second one on the same
    // server with `"retry": false`. Servers only: a second in-memory SQLite would be empty.
    if !memory {
        let once = AsyncDatabase::new(DBConfig::new(
            serde_json::json!({ "database_uri": args.uri, "retry": false }),
        )?);
        let once_ops = &DatabaseOperations::new(once.clone());
        pair!(
            args,
            &format!("{point} × update_one, retry on/off"),
            point,
            1,
            |round: usize, i| point_update(ops, ids, i, format!("r{round}-{i}")),
            |round: usize, i| point_update(once_ops, ids, i, format!("o{round}-{i}"))
        );
        once.disconnect().await;
    }

    db.drop_tables().await?;
    Ok(())
}

/// Point reads routed to a read replica by the library (with its read-your-writes check)
/// against the same reads sent straight to the replica with sqlx: the cost of the routing.
async fn replica_reads(args: &Args, replica: &str) -> Result<(), DatabaseError> {
    let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({
        "database_uri": args.uri, "read_replica_uris": [replica],
    }))?);
    db.register::<User>();
    db.drop_tables().await?;
    db.create_tables().await?;
    let ops = &DatabaseOperations::new(db.clone());
    ops.create_many(users(args.rows.min(10_000), 0)).await?;
    let ids: &Vec<String> = &ops
        .on_primary()
        .read_query(&text("SELECT pkid FROM bench_users"))
        .await?;
    let sqlx = &sqlx_pool(replica, false).await.map_err(e)?;
    // The same rows on the replica, for sqlx's side.
    let want = ids.len() as i64;
    with_pool!(sqlx, pool, DB => {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n: i64 = sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM bench_users").fetch_one(pool).await.map_err(e)?;
            if n == want || Instant::now() > deadline { break; }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let point = args.point_ops;
    println!(
        "{} primary {} + replica {} — {point} point reads, {} rounds each side",
        db.config().dialect(),
        db.config().redacted_uri(),
        db.config().read_replicas().join(", "),
        args.rounds
    );
    let sql = &sqlx.sql(&format!("SELECT {COLUMNS} FROM bench_users WHERE pkid = ?"));
    pair!(
        args,
        &format!("{point} × read_one_record on the replica"),
        point,
        1,
        |_, i| point_read(ops, ids, i),
        |_, i: usize| async move {
            with_pool!(sqlx, pool, DB => {
                let start = Instant::now();
                let row: Option<Row> = sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(ids[i % ids.len()].as_str())
                    .fetch_optional(pool).await.map_err(e)?;
                let elapsed = start.elapsed();
                assert!(row.is_some());
                Ok::<_, DatabaseError>(elapsed)
            })
        }
    );
    db.drop_tables().await?;
    db.disconnect().await;
    Ok(())
}

/// One `read_one_record` by pkid through `ops` (the `i`-th id, round the list); it finds its row.
async fn point_read(
    ops: &DatabaseOperations,
    ids: &[String],
    i: usize,
) -> Result<Duration, DatabaseError> {
    let start = Instant::now();
    let mut select = User::select();
    select.and_where(User::col("pkid").eq(ids[i % ids.len()].as_str()));
    let user: Option<User> = ops.read_one_record(&select).await?;
    let elapsed = start.elapsed();
    assert!(user.is_some());
    Ok(elapsed)
}

/// One `update_one` by pkid through `ops` (the `i`-th id, round the list) setting `color`, and
/// checking the row returned.
async fn point_update(
    ops: &DatabaseOperations,
    ids: &[String],
    i: usize,
    color: String,
) -> Result<Duration, DatabaseError> {
    let start = Instant::now();
    let user: User = ops
        .update_one::<User>(
            ids[i % ids.len()].clone(),
            serde_json::json!({ "color": color.as_str() }),
        )
        .await?;
    let elapsed = start.elapsed();
    assert_eq!(user.color.as_deref(), Some(color.as_str()));
    Ok(elapsed)
}

/// Throughput of a contended counter: 8 tasks incrementing one row with `execute_many`, each
/// increment its own transaction. On one server the row lock queues them; on a multi-primary
/// cluster (`--uri` with the Galera bed's three hosts) they conflict at commit and are run
/// again (the `retry` key), so every increment lands; the runs again are printed.
async fn counter(args: &Args, db: &AsyncDatabase) -> Result<(), DatabaseError> {
    const TASKS: usize = 8;
    let per_task = (args.point_ops / 5).max(10);
    let ops = DatabaseOperations::new(db.clone());
    let _ = ops
        .execute_one(&text("DROP TABLE IF EXISTS bench_counter"))
        .await;
    ops.execute_many([
        text("CREATE TABLE bench_counter (id INT PRIMARY KEY, n BIGINT NOT NULL)"),
        text("INSERT INTO bench_counter (id, n) VALUES (1, 0)"),
    ])
    .await?;
    let retries = db.retries();
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let ops = ops.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    ops.execute_many([text("UPDATE bench_counter SET n = n + 1 WHERE id = 1")])
                        .await?;
                }
                Ok::<_, DatabaseError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| DatabaseError::new(ErrorKind::DatabaseError, e.to_string()))??;
    }
    let elapsed = start.elapsed();
    // On a multi-primary cluster another node may not have applied the last writes yet:
    // read causally there (Galera's `wsrep_sync_wait`).
    let mut session = db.get_db_session().await?;
    let causal = db.config().hosts().len() > 1;
    if causal {
        session
            .execute_sql("SET SESSION wsrep_sync_wait = 1")
            .await?;
    }
    let n: Vec<i64> = session
        .fetch_all(&text("SELECT n FROM bench_counter WHERE id = 1"))
        .await?;
    if causal {
        session
            .execute_sql("SET SESSION wsrep_sync_wait = 0")
            .await?;
    }
    session.commit().await?;
    let total = TASKS * per_task;
    assert_eq!(n, [total as i64], "every increment lands");
    println!(
        "conflicting counter: {TASKS} tasks × {per_task} increments in {:.1} ms: {:.0} commits/s, {} runs again",
        elapsed.as_secs_f64() * 1000.0,
        total as f64 / elapsed.as_secs_f64(),
        db.retries() - retries
    );
    ops.execute_one(&text("DROP TABLE bench_counter")).await?;
    Ok(())
}

/// Peak RSS of reading `rss_rows` rows into the typed model, each side in a process of its own.
async fn rss(args: &Args) -> Result<(), DatabaseError> {
    // In-memory databases are private to a process: the children share a temporary file.
    let file = std::env::temp_dir().join(format!("dsg-bench-rss-{}.db", std::process::id()));
    let uri = if args.uri.starts_with("sqlite") {
        format!("sqlite:///{}", file.display())
    } else {
        args.uri.clone()
    };
    let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({ "database_uri": uri }))?);
    db.register::<User>();
    db.drop_tables().await?;
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());
    for chunk in 0..args.rss_rows.div_ceil(10_000) {
        let rows = Ord::min(10_000, args.rss_rows - chunk * 10_000);
        ops.create_many(users(rows, 1_000 + chunk)).await?;
    }
    let mut peaks = Vec::new();
    for side in ["dsg_lib", "sqlx"] {
        let out = std::process::Command::new(std::env::current_exe().map_err(io)?)
            .args(["--uri", &uri, "--rss-child", side])
            .args(["--rss-rows", &args.rss_rows.to_string()])
            .output()
            .map_err(io)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let kb: u64 = text.trim().parse().map_err(|_| {
            DatabaseError::invalid_input(format!(
                "rss child {side} failed: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        })?;
        peaks.push(kb);
    }
    println!(
        "peak RSS reading {} rows into the model: dsg_lib {:.1} MiB, sqlx {:.1} MiB, {:.2}×",
        args.rss_rows,
        peaks[0] as f64 / 1024.0,
        peaks[1] as f64 / 1024.0,
        peaks[0] as f64 / peaks[1] as f64
    );
    db.drop_tables().await?;
    db.disconnect().await;
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(file.with_extension("db-wal"));
    let _ = std::fs::remove_file(file.with_extension("db-shm"));
    Ok(())
}

fn io(err: std::io::Error) -> DatabaseError {
    DatabaseError::invalid_input(err.to_string())
}

/// One side of the RSS measurement: read every row into the model, print the peak RSS (KiB).
async fn rss_child(args: &Args, side: &str) -> Result<(), DatabaseError> {
    let rows = if side == "dsg_lib" {
        let db = AsyncDatabase::new(DBConfig::new(
            serde_json::json!({ "database_uri": args.uri }),
        )?);
        let users: Vec<User> = DatabaseOperations::new(db.clone())
            .read_query(&User::select())
            .await?;
        users.len()
    } else {
        let sqlx = sqlx_pool(&args.uri, false).await.map_err(e)?;
        let sql = format!("SELECT {COLUMNS} FROM bench_users");
        with_pool!(&sqlx, pool, DB => {
            let rows: Vec<Row> = sqlx::query_as::<DB, Row>(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await.map_err(e)?;
            rows.len()
        })
    };
    assert_eq!(rows, args.rss_rows);
    let status = std::fs::read_to_string("/proc/self/status").map_err(io)?;
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{peak}");
    Ok(())
}
