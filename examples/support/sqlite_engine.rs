//! SQLite at engine speed (issue 12): the SQLite workloads with three columns, the engine
//! itself (rusqlite on one thread, cached statements), hand-written sqlx 0.9 and dsg_lib; then
//! 16 tasks of point reads on a WAL file, the longest gap of a 1 ms ticker while a 200 000-row
//! `create_many` runs, and 64 tasks × 100 `create_one` on a file.
//!
//! Run by `examples/bench.rs` on SQLite (`--only engine` runs only these).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use dsg_lib::prelude::*;

#[derive(Model, Debug, Clone)]
#[model(table = "engine_users")]
pub struct EUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug)]
struct Plain {
    pkid: String,
    date_created: NaiveDateTime,
    date_updated: NaiveDateTime,
    name: String,
    color: Option<String>,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for Plain {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        Ok(Plain {
            pkid: row.try_get(0)?,
            date_created: row.try_get(1)?,
            date_updated: row.try_get(2)?,
            name: row.try_get(3)?,
            color: row.try_get(4)?,
        })
    }
}

const COLUMNS: &str = "pkid, date_created, date_updated, name, color";
const DDL: &str = "CREATE TABLE engine_users (pkid VARCHAR(36) NOT NULL PRIMARY KEY, \
     date_created DATETIME NOT NULL, date_updated DATETIME NOT NULL, \
     name VARCHAR(100) NOT NULL, color TEXT NULL); \
     CREATE INDEX ix_engine_users_date_created ON engine_users (date_created); \
     CREATE INDEX ix_engine_users_date_updated ON engine_users (date_updated); \
     CREATE UNIQUE INDEX ix_engine_users_name ON engine_users (name);";

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.naive_utc().format("%F %T%.f").to_string()
}

fn e<E: std::fmt::Display>(err: E) -> DatabaseError {
    DatabaseError::invalid_input(format!("bench: {err}"))
}

fn users(n: usize, round: usize) -> Vec<EUser> {
    (0..n)
        .map(|i| EUser {
            base: SchemaBase::default(),
            name: format!("user-{round}-{i}"),
            color: Some(["red", "blue", "green"][i % 3].into()),
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (median, min, max) in ms.
fn stats(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    (
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
    )
}

fn report3(label: &str, engine: &mut [Duration], sqlx: &mut [Duration], ours: &mut [Duration]) {
    let (en, en0, en1) = stats(engine);
    let (sq, sq0, sq1) = stats(sqlx);
    let (o, o0, o1) = stats(ours);
    println!(
        "{label:<34} {en:>8.2} [{en0:.2}–{en1:.2}]  {sq:>8.2} [{sq0:.2}–{sq1:.2}]  {o:>8.2} [{o0:.2}–{o1:.2}]   sqlx/ours {:>6.1}×  ours/engine {:>5.2}×",
        sq / o,
        o / en
    );
}

/// The engine side: one rusqlite connection, cached statements, on this thread.
struct Engine(rusqlite::Connection);

impl Engine {
    fn open() -> Engine {
        let conn = rusqlite::Connection::open_in_memory().expect("engine");
        conn.execute_batch(DDL).expect("ddl");
        Engine(conn)
    }

    fn insert(&self, data: &[EUser]) -> Duration {
        self.0.execute_batch("DELETE FROM engine_users").unwrap();
        let start = Instant::now();
        self.0.execute_batch("BEGIN").unwrap();
        {
            let mut stmt = self
                .0
                .prepare_cached(&format!(
                    "INSERT INTO engine_users ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                ))
                .unwrap();
            for u in data {
                stmt.execute(rusqlite::params![
                    u.base.pkid,
                    ts(u.base.date_created),
                    ts(u.base.date_updated),
                    u.name,
                    u.color
                ])
                .unwrap();
            }
        }
        self.0.execute_batch("COMMIT").unwrap();
        start.elapsed()
    }

    fn read_all(&self, n: usize) -> Duration {
        let start = Instant::now();
        let mut stmt = self
            .0
            .prepare_cached(&format!("SELECT {COLUMNS} FROM engine_users"))
            .unwrap();
        let rows: Vec<EUser> = stmt
            .query_map([], user_row)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), n);
        start.elapsed()
    }

    fn point_reads(&self, ids: &[String], point: usize) -> Duration {
        let start = Instant::now();
        let mut stmt = self
            .0
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM engine_users WHERE pkid = ?"
            ))
            .unwrap();
        for i in 0..point {
            let user = stmt.query_row([&ids[i % ids.len()]], user_row).unwrap();
            assert!(!user.name.is_empty());
        }
        start.elapsed()
    }

    fn updates(&self, ids: &[String], point: usize, round: usize) -> Duration {
        let start = Instant::now();
        let mut stmt = self
            .0
            .prepare_cached(&format!(
                "UPDATE engine_users SET color = ?, date_updated = ? WHERE pkid = ? RETURNING {COLUMNS}"
            ))
            .unwrap();
        for i in 0..point {
            let color = format!("e{round}-{i}");
            let now = ts(chrono::Utc::now());
            // The whole row, as the other two columns decode it.
            let user = stmt
                .query_row(rusqlite::params![color, now, ids[i % ids.len()]], user_row)
                .unwrap();
            assert_eq!(user.color.as_deref(), Some(color.as_str()));
        }
        start.elapsed()
    }
}

/// A row of `SELECT {COLUMNS}` into the model, the engine's way.
fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EUser> {
    Ok(EUser {
        base: SchemaBase {
            pkid: r.get(0)?,
            date_created: parse(&r.get::<_, String>(1)?),
            date_updated: parse(&r.get::<_, String>(2)?),
        },
        name: r.get(3)?,
        color: r.get(4)?,
    })
}

/// The engine's ceiling for the WAL row: one rusqlite connection per core, each reading its
/// share of the `total` point reads with a cached statement on its own thread (opened before
/// the clock starts).
fn engine_concurrent(path: &std::path::Path, ids: &[String], total: usize) -> Duration {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let conns: Vec<rusqlite::Connection> = (0..threads)
        .map(|_| {
            let conn = rusqlite::Connection::open(path).expect("engine");
            conn.busy_timeout(Duration::from_secs(5))
                .expect("busy timeout");
            conn
        })
        .collect();
    let start = std::sync::Barrier::new(threads + 1);
    let sql = format!("SELECT {COLUMNS} FROM engine_users WHERE pkid = ?");
    std::thread::scope(|scope| {
        let (start, sql) = (&start, &sql);
        for (t, conn) in conns.into_iter().enumerate() {
            scope.spawn(move || {
                let mut stmt = conn.prepare_cached(sql).expect("prepare");
                start.wait();
                for i in 0..total / threads {
                    let user = stmt
                        .query_row([&ids[(t * 7919 + i) % ids.len()]], user_row)
                        .expect("engine read");
                    assert!(!user.name.is_empty());
                }
            });
        }
        start.wait();
        let clock = Instant::now();
        // The scope joins every thread before it returns.
        clock
    })
    .elapsed()
}

fn parse(text: &str) -> chrono::DateTime<chrono::Utc> {
    NaiveDateTime::parse_from_str(text, "%F %T%.f")
        .expect("timestamp")
        .and_utc()
}

async fn sqlx_memory() -> Result<sqlx::SqlitePool, DatabaseError> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(5)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .connect(&format!(
            "sqlite:file:bench-engine-sqlx-{}?mode=memory&cache=shared",
            std::process::id()
        ))
        .await
        .map_err(e)?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(DDL))
        .execute(&pool)
        .await
        .map_err(e)?;
    Ok(pool)
}

/// The four workloads of the table, three columns each.
///
/// `part`: run only the rows whose name contains it (`insert`, `read all`, `point reads`,
/// `updates`, `WAL`, `ticker`, `create_one`), for profiling; the in-memory rows insert their
/// data once even when the insert row is not asked for.
pub async fn run(
    rounds: usize,
    rows: usize,
    point: usize,
    part: Option<&str>,
) -> Result<(), DatabaseError> {
    let want = |name: &str| part.is_none_or(|p| name.contains(p));
    if !["insert", "read all", "point reads", "updates"]
        .iter()
        .any(|name| want(name))
    {
        if want("WAL") {
            concurrency(rounds, rows, point).await?;
        }
        if want("ticker") {
            fairness().await?;
        }
        if want("create_one") {
            create_one_storm().await?;
        }
        return Ok(());
    }
    println!();
    println!(
        "SQLite at engine speed — {rows} rows in memory, {point} point operations, {rounds} rounds, medians [min–max] in ms"
    );
    println!(
        "{:<34} {:>8} {:<15}  {:>8} {:<15}  {:>8}",
        "workload", "engine", "", "sqlx", "", "dsg_lib"
    );
    let engine = Engine::open();
    let pool = sqlx_memory().await?;
    let db = AsyncDatabase::new(DBConfig::new(
        serde_json::json!({ "database_uri": "sqlite::memory:" }),
    )?);
    db.register::<EUser>();
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());

    // Insert rows in one transaction.
    let (mut en, mut sq, mut o) = (Vec::new(), Vec::new(), Vec::new());
    let insert_rounds = if want("insert") { rounds } else { 1 };
    for round in 0..insert_rounds {
        let data = users(rows, round);
        en.push(engine.insert(&data));
        sqlx::query("DELETE FROM engine_users")
            .execute(&pool)
            .await
            .map_err(e)?;
        let start = Instant::now();
        let mut tx = pool.begin().await.map_err(e)?;
        for chunk in data.chunks(32_766 / 5) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
                "INSERT INTO engine_users ({COLUMNS}) "
            ));
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
        sq.push(start.elapsed());
        ops.execute_one(&text("DELETE FROM engine_users")).await?;
        let start = Instant::now();
        ops.create_many(data).await?;
        o.push(start.elapsed());
    }
    if want("insert") {
        report3(
            &format!("insert {rows} rows, one transaction"),
            &mut en,
            &mut sq,
            &mut o,
        );
    }

    let ids: Vec<String> = ops
        .read_query(&text("SELECT pkid FROM engine_users"))
        .await?;
    let engine_ids: Vec<String> = engine
        .0
        .prepare("SELECT pkid FROM engine_users")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let sqlx_ids: Vec<String> = sqlx::query_scalar("SELECT pkid FROM engine_users")
        .fetch_all(&pool)
        .await
        .map_err(e)?;

    let (mut en, mut sq, mut o) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..if want("read all") { rounds } else { 0 } {
        en.push(engine.read_all(rows));
        let start = Instant::now();
        let all: Vec<Plain> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM engine_users"
        )))
        .fetch_all(&pool)
        .await
        .map_err(e)?;
        assert_eq!(all.len(), rows);
        sq.push(start.elapsed());
        let start = Instant::now();
        let all: Vec<EUser> = ops.read_query(&EUser::select()).await?;
        assert_eq!(all.len(), rows);
        o.push(start.elapsed());
    }
    if want("read all") {
        report3(
            &format!("read all {rows} rows into structs"),
            &mut en,
            &mut sq,
            &mut o,
        );
    }

    let (mut en, mut sq, mut o) = (Vec::new(), Vec::new(), Vec::new());
    let select_one = format!("SELECT {COLUMNS} FROM engine_users WHERE pkid = ?");
    for _ in 0..if want("point reads") { rounds } else { 0 } {
        en.push(engine.point_reads(&engine_ids, point));
        let start = Instant::now();
        for i in 0..point {
            let row: Option<Plain> = sqlx::query_as(sqlx::AssertSqlSafe(select_one.as_str()))
                .bind(sqlx_ids[i % sqlx_ids.len()].as_str())
                .fetch_optional(&pool)
                .await
                .map_err(e)?;
            assert!(row.is_some());
        }
        sq.push(start.elapsed());
        let start = Instant::now();
        for i in 0..point {
            let user = ops.read_by_pk::<EUser>(ids[i % ids.len()].clone()).await?;
            assert!(user.is_some());
        }
        o.push(start.elapsed());
    }
    if want("point reads") {
        report3(
            &format!("{point} sequential point reads"),
            &mut en,
            &mut sq,
            &mut o,
        );
    }

    let (mut en, mut sq, mut o) = (Vec::new(), Vec::new(), Vec::new());
    let update = format!(
        "UPDATE engine_users SET color = ?, date_updated = ? WHERE pkid = ? RETURNING {COLUMNS}"
    );
    for round in 0..if want("updates") { rounds } else { 0 } {
        en.push(engine.updates(&engine_ids, point, round));
        let start = Instant::now();
        for i in 0..point {
            let color = format!("s{round}-{i}");
            let row: Option<Plain> = sqlx::query_as(sqlx::AssertSqlSafe(update.as_str()))
                .bind(color.as_str())
                .bind(chrono::Utc::now().naive_utc())
                .bind(sqlx_ids[i % sqlx_ids.len()].as_str())
                .fetch_optional(&pool)
                .await
                .map_err(e)?;
            assert_eq!(row.and_then(|r| r.color).as_deref(), Some(color.as_str()));
        }
        sq.push(start.elapsed());
        let start = Instant::now();
        for i in 0..point {
            let color = format!("o{round}-{i}");
            let user: EUser = ops
                .update_one::<EUser>(
                    ids[i % ids.len()].clone(),
                    serde_json::json!({ "color": color }),
                )
                .await?;
            assert_eq!(user.color.as_deref(), Some(color.as_str()));
        }
        o.push(start.elapsed());
    }
    if want("updates") {
        report3(
            &format!("{point} sequential updates, each committed"),
            &mut en,
            &mut sq,
            &mut o,
        );
    }
    pool.close().await;
    db.disconnect().await;

    if want("WAL") {
        concurrency(rounds, rows, point).await?;
    }
    if want("ticker") {
        fairness().await?;
    }
    if want("create_one") {
        create_one_storm().await?;
    }
    Ok(())
}

fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("dsg-bench-{name}-{}.db", std::process::id()))
}

fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// 16 tasks doing point reads at once on a WAL file: throughput (reads/s) of sqlx and ours.
async fn concurrency(rounds: usize, rows: usize, point: usize) -> Result<(), DatabaseError> {
    const TASKS: usize = 16;
    let path = temp_file("concurrency");
    remove(&path);
    let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({
        "database_uri": format!("sqlite:///{}", path.display())
    }))?);
    db.register::<EUser>();
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());
    ops.create_many(users(rows, 0)).await?;
    let ids: Arc<Vec<String>> = Arc::new(
        ops.read_query(&text("SELECT pkid FROM engine_users"))
            .await?,
    );
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(5)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
        )
        .await
        .map_err(e)?;
    let per_task = point;
    let select_one = Arc::new(format!("SELECT {COLUMNS} FROM engine_users WHERE pkid = ?"));
    let (mut en, mut sq, mut o) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        en.push(engine_concurrent(&path, &ids, TASKS * per_task));
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (pool, ids, sql) = (pool.clone(), ids.clone(), select_one.clone());
                tokio::spawn(async move {
                    for i in 0..per_task {
                        let row: Option<Plain> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(ids[(t * 7919 + i) % ids.len()].as_str())
                            .fetch_optional(&pool)
                            .await
                            .expect("sqlx read");
                        assert!(row.is_some());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.map_err(e)?;
        }
        sq.push(start.elapsed());
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (ops, ids) = (ops.clone(), ids.clone());
                tokio::spawn(async move {
                    for i in 0..per_task {
                        let user = ops
                            .read_by_pk::<EUser>(ids[(t * 7919 + i) % ids.len()].clone())
                            .await
                            .expect("read");
                        assert!(user.is_some());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.map_err(e)?;
        }
        o.push(start.elapsed());
    }
    let (n, n0, n1) = stats(&mut en);
    let (s, s0, s1) = stats(&mut sq);
    let (m, m0, m1) = stats(&mut o);
    let total = (TASKS * per_task) as f64;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "{TASKS} tasks × {per_task} point reads, WAL file: engine ({threads} threads) {n:.1} ms [{n0:.1}–{n1:.1}] ({:.0}/s), sqlx {s:.1} ms [{s0:.1}–{s1:.1}] ({:.0}/s), dsg_lib {m:.1} ms [{m0:.1}–{m1:.1}] ({:.0}/s): throughput {:.1}× sqlx ({:.1}× for the engine itself), {:.2}× the engine's",
        total / n * 1e3,
        total / s * 1e3,
        total / m * 1e3,
        s / m,
        s / n,
        n / m
    );
    pool.close().await;
    db.disconnect().await;
    remove(&path);
    Ok(())
}

/// A task ticking every millisecond on the runtime, recording its longest gap.
struct Ticker {
    stop: Arc<AtomicBool>,
    longest: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Ticker {
    /// Starts ticking; the gaps of the first 20 ms (the task getting going) are not counted.
    async fn start() -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let longest = Arc::new(AtomicU64::new(0));
        let task = {
            let (stop, longest) = (stop.clone(), longest.clone());
            tokio::spawn(async move {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let gap = last.elapsed();
                    last = Instant::now();
                    longest.fetch_max(
                        u64::try_from(gap.as_micros()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        longest.store(0, Ordering::Relaxed);
        Ticker {
            stop,
            longest,
            task,
        }
    }

    /// Stops ticking; the longest gap in ms.
    async fn stop(self) -> Result<f64, DatabaseError> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.map_err(e)?;
        Ok(self.longest.load(Ordering::Relaxed) as f64 / 1e3)
    }
}

/// The longest gap of a 1 ms ticker on the same runtime while a 200 000-row `create_many`
/// runs (in memory). Beside it, the baseline: the longest gap while the engine itself inserts
/// the same rows on a thread of its own, no library involved (the gaps the machine's scheduler
/// makes when one more thread is busy).
async fn fairness() -> Result<(), DatabaseError> {
    const ROWS: usize = 200_000;
    let data = users(ROWS, 9);

    let engine = Engine::open();
    let rows = data.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let ticker = Ticker::start().await;
    std::thread::spawn(move || {
        let took = engine.insert(&rows);
        let _ = tx.send(took);
    });
    let engine_took = rx.await.map_err(e)?;
    let baseline = ticker.stop().await?;

    let db = AsyncDatabase::new(DBConfig::new(
        serde_json::json!({ "database_uri": "sqlite::memory:" }),
    )?);
    db.register::<EUser>();
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());
    let ticker = Ticker::start().await;
    let start = Instant::now();
    ops.create_many(data).await?;
    let took = start.elapsed();
    let longest = ticker.stop().await?;
    println!(
        "create_many of {ROWS} rows: {:.0} ms; longest gap of a 1 ms ticker meanwhile: {longest:.2} ms \
         (baseline, the engine inserting them on its own thread: {:.0} ms, longest gap {baseline:.2} ms)",
        ms(took),
        ms(engine_took),
    );
    db.disconnect().await;
    Ok(())
}

/// 64 tasks × 100 `create_one` on a WAL file: rows stored and errors.
async fn create_one_storm() -> Result<(), DatabaseError> {
    let path = temp_file("storm");
    remove(&path);
    let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({
        "database_uri": format!("sqlite:///{}", path.display())
    }))?);
    db.register::<EUser>();
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());
    let start = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let ops = ops.clone();
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for i in 0..100 {
                    let user = EUser {
                        base: SchemaBase::default(),
                        name: format!("storm-{t}-{i}"),
                        color: None,
                    };
                    if let Err(err) = ops.create_one(user).await {
                        errors.push(err.to_string());
                    }
                }
                errors
            })
        })
        .collect();
    let mut errors = Vec::new();
    for t in tasks {
        errors.extend(t.await.map_err(e)?);
    }
    let took = start.elapsed();
    let n = ops.count_query(&EUser::select()).await?;
    let locked = errors.iter().filter(|e| e.contains("locked")).count();
    println!(
        "64 tasks × 100 create_one, WAL file: {n} rows in {:.0} ms ({:.0}/s), {} errors ({locked} \"database is locked\")",
        ms(took),
        6400.0 / took.as_secs_f64(),
        errors.len()
    );
    if let Some(first) = errors.first() {
        println!("  first error: {first}");
    }
    db.disconnect().await;
    remove(&path);
    Ok(())
}
