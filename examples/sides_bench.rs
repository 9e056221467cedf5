//! The library against hand-written sqlx 0.9 with **each side in a process of its own**
//! (issues 23 and 26), on PostgreSQL or MySQL/MariaDB:
//!
//! - `--work reads` (the default): point reads by primary key, 16 in flight; the library at its
//!   defaults (`pool_size` 5 + `max_overflow` 10) and at `pool_size` 16, sqlx on a pool of 16;
//! - `--work load`: eager loading, `ops.load::<Order>(&parents)` of 1 000 parents' 10 000
//!   children against the hand-written two-step of `examples/bench.rs` (`= ANY($1)` on
//!   PostgreSQL, one `IN` list on MySQL, grouped through a `HashMap`).
//!
//! ```sh
//! cargo run --release --example sides_bench -- --uri mysql://root@127.0.0.1:3306/test
//! cargo run --release --example sides_bench -- --uri mysql://root@127.0.0.1:3306/test \
//!     --runs 7 --rounds 15 --ops 1000 --sides sqlx,lib,lib16,sqlx-2 [--tasks]
//! cargo run --release --example sides_bench -- --uri mysql://root@127.0.0.1:3306/test \
//!     --work load --sides sqlx,lib
//! ```
//!
//! The driver (this process, without `--side`) creates the tables `sides_users` (10 000 rows of
//! the benchmark's user model), `sides_parents` (1 000) and `sides_orders` (10 per parent)
//! through the library, then, `--runs` times, starts one process per side. Each side's process
//! opens its pool, runs `--warm` untimed rounds (2 by default: every connection it will use is
//! open and has prepared its statements), then waits for the driver. A round is `--ops`
//! operations (1 000 point reads 16 in flight, by `buffer_unordered(16)` on one task as
//! `examples/bench.rs` does it or with `--tasks` by 16 spawned tasks taking keys in turn; or 5
//! loads one after another). The driver runs the sides' rounds one after the other, the order
//! rotated each round, so that only one process works at a time and noise lasting longer than a
//! round falls on every side.
//!
//! Per process generation (a run), a side's figure is the median of its rounds, and its ratio
//! the median of the rounds' paired ratios (its round over the first side's round of the same
//! round). The table gives the median over the runs with their [min–max]: a process keeps its
//! connections, and with them which core each server thread shares with which client thread,
//! for its whole life, so only fresh processes sample that. CPU: the side process's utime +
//! stime (`/proc/self/stat`, in ticks of 10 ms, summed over its timed rounds) per operation.
//!
//! Side names: `sqlx` (16 connections, no test before acquire, as in `examples/bench.rs`),
//! `sqlxN` (N connections), `lib` (a `DBConfig` with just the URI), `libN` (`pool_size` N),
//! `lib-pk` / `libN-pk` (point reads with `read_by_pk` instead of `read_one_record`), and any
//! `lib…-recycle` (`pool_recycle` 3600, which turns the library's hot connections off). Any name
//! may end in `-2` to run again in a process of its own: `sqlx,sqlx-2` compares sqlx with
//! itself, what the method reads as even.
//!
//! For instruction counts, run a side alone under callgrind, feeding it the driver's lines:
//! `seq 0 4 | sed 's/^/round /' | valgrind --tool=callgrind target/release/examples/sides_bench
//! --side lib --uri URI --warm 1`, once with 5 rounds and once with none; the difference over
//! the operations of the 5 rounds is the client's instructions per operation.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::NaiveDateTime;
use dsg_lib::prelude::*;
use futures_util::StreamExt;

/// The benchmark's user model (`examples/bench.rs`), in a table of its own.
#[derive(Model, Debug, Clone)]
#[model(table = "sides_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

/// The parents of the eager-loading work.
#[derive(Model, Debug, Clone)]
#[model(table = "sides_parents")]
struct Parent {
    #[model(primary_key, size = 36)]
    pkid: String,
    #[model(size = 100)]
    name: String,
}

/// A child of `Parent`: `ops.load::<Order>(&parents)`.
#[derive(Model, Debug, Clone)]
#[model(table = "sides_orders")]
struct Order {
    #[model(primary_key)]
    id: i64,
    #[model(belongs_to = Parent, size = 36, index)]
    user_id: String,
    total: i64,
}

/// What the hand-written side decodes a user into.
#[allow(dead_code)]
#[derive(Debug)]
struct Row {
    pkid: String,
    date_created: NaiveDateTime,
    date_updated: NaiveDateTime,
    name: String,
    color: Option<String>,
}

/// What the hand-written side decodes an order into.
#[allow(dead_code)]
#[derive(Debug)]
struct OrderRow {
    id: i64,
    user_id: String,
    total: i64,
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
from_row!(sqlx::postgres::PgRow);
from_row!(sqlx::mysql::MySqlRow);

const USERS: usize = 10_000;
const PARENTS: usize = 1_000;
const CHILDREN_EACH: usize = 10;
const IN_FLIGHT: usize = 16;

type Res<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[derive(Clone, Copy, PartialEq)]
enum Work {
    Reads,
    Load,
}

struct Options {
    uri: String,
    work: Work,
    runs: usize,
    rounds: usize,
    ops: usize,
    tasks: bool,
    warm: usize,
    sides: Vec<String>,
}

fn options(args: &[String]) -> Res<Options> {
    let value = |name: &str| args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone());
    let num = |name: &str, default: usize| -> Res<usize> {
        value(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{name} takes a number, got {v:?}"))
        })
    };
    let work = match value("--work").as_deref() {
        None | Some("reads") => Work::Reads,
        Some("load") => Work::Load,
        Some(other) => return Err(format!("--work reads|load, got {other:?}")),
    };
    Ok(Options {
        uri: value("--uri").unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into()),
        work,
        runs: num("--runs", 5)?,
        rounds: num("--rounds", 15)?,
        ops: num("--ops", if work == Work::Reads { 1_000 } else { 5 })?,
        tasks: args.iter().any(|a| a == "--tasks"),
        warm: num("--warm", 2)?,
        sides: value("--sides")
            .unwrap_or_else(|| {
                if work == Work::Reads {
                    "sqlx,lib,lib16".into()
                } else {
                    "sqlx,lib".into()
                }
            })
            .split(',')
            .map(str::to_string)
            .collect(),
    })
}

// ------------------------------------------------------------------ one side, in its process

/// The client of one side.
enum Client {
    Lib { ops: DatabaseOperations, pk: bool },
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

/// One side: its client and the keys it reads (users' for reads, parents' for load).
struct Side {
    client: Client,
    work: Work,
    keys: Vec<String>,
    /// Load: the parents as the library takes them (only their key is read).
    parents: Vec<Parent>,
    /// The hand-written statement.
    sql: String,
}

impl Side {
    async fn open(name: &str, o: &Options) -> Res<Side> {
        let uri = o.uri.as_str();
        // A trailing `-2` names a second process of the same side.
        let name = name.strip_suffix("-2").unwrap_or(name);
        let (name, recycle) = match name.strip_suffix("-recycle") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let (base, pk) = match name.strip_suffix("-pk") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let client = if let Some(n) = base.strip_prefix("lib") {
            let mut config = serde_json::json!({ "database_uri": uri });
            if recycle {
                // Turns the hot connections off: every checkout and return goes through sqlx's
                // pool (with its return ping), as a hand-written sqlx pool does.
                config["pool_recycle"] = 3600.into();
            }
            if !n.is_empty() {
                let n: u32 = n.parse().map_err(|_| format!("unknown side {name}"))?;
                config["pool_size"] = n.into();
            }
            let db = AsyncDatabase::new(DBConfig::new(config).map_err(err)?);
            db.register::<User>();
            Client::Lib {
                ops: DatabaseOperations::new(db),
                pk,
            }
        } else if let Some(n) = base.strip_prefix("sqlx") {
            let max = if n.is_empty() {
                IN_FLIGHT as u32
            } else {
                n.parse().map_err(|_| format!("unknown side {name}"))?
            };
            if uri.starts_with("postgres") {
                Client::Pg(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(max)
                        .test_before_acquire(false)
                        .connect(uri)
                        .await
                        .map_err(err)?,
                )
            } else {
                Client::My(
                    sqlx::mysql::MySqlPoolOptions::new()
                        .max_connections(max)
                        .test_before_acquire(false)
                        .connect(&uri.replace("mariadb://", "mysql://"))
                        .await
                        .map_err(err)?,
                )
            }
        } else {
            return Err(format!("unknown side {name}"));
        };
        let table = if o.work == Work::Reads {
            "sides_users"
        } else {
            "sides_parents"
        };
        let keys_sql = format!("SELECT pkid FROM {table} ORDER BY pkid");
        let keys: Vec<String> = match &client {
            Client::Lib { ops, .. } => ops
                .read_query(&text(keys_sql.as_str()))
                .await
                .map_err(err)?,
            Client::Pg(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(keys_sql))
                .fetch_all(pool)
                .await
                .map_err(err)?,
            Client::My(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(keys_sql))
                .fetch_all(pool)
                .await
                .map_err(err)?,
        };
        if keys.len() < IN_FLIGHT {
            return Err(format!("{table} is empty: run the driver"));
        }
        let pg = matches!(client, Client::Pg(_));
        let sql = match o.work {
            Work::Reads => format!(
                "SELECT pkid, date_created, date_updated, name, color FROM sides_users \
                 WHERE pkid = {}",
                if pg { "$1" } else { "?" }
            ),
            Work::Load if pg => {
                "SELECT id, user_id, total FROM sides_orders WHERE user_id = ANY($1)".into()
            }
            Work::Load => format!(
                "SELECT id, user_id, total FROM sides_orders WHERE user_id IN ({})",
                vec!["?"; keys.len()].join(", ")
            ),
        };
        let parents = keys
            .iter()
            .map(|k| Parent {
                pkid: k.clone(),
                name: String::new(),
            })
            .collect();
        Ok(Side {
            client,
            work: o.work,
            keys,
            parents,
            sql,
        })
    }

    /// One point read of key `i`: whether the row was found.
    async fn read(&self, i: usize) -> Res<bool> {
        let id = self.keys[i % self.keys.len()].as_str();
        let sql = sqlx::AssertSqlSafe(self.sql.as_str());
        match &self.client {
            Client::Lib { ops, pk: false } => {
                let mut select = User::select();
                select.and_where(User::col("pkid").eq(id));
                let found = ops.read_one_record::<User>(&select).await;
                found.map(|r| r.is_some()).map_err(err)
            }
            Client::Lib { ops, pk: true } => {
                let found = ops.read_by_pk::<User>(id).await;
                found.map(|r| r.is_some()).map_err(err)
            }
            Client::Pg(pool) => sqlx::query_as::<_, Row>(sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map(|r| r.is_some())
                .map_err(err),
            Client::My(pool) => sqlx::query_as::<_, Row>(sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map(|r| r.is_some())
                .map_err(err),
        }
    }

    /// The children of every parent, grouped per parent in the parents' order: how many.
    async fn load(&self) -> Res<usize> {
        let sql = sqlx::AssertSqlSafe(self.sql.as_str());
        let rows: Vec<OrderRow> = match &self.client {
            Client::Lib { ops, .. } => {
                let groups = ops.load::<Order>(&self.parents).await.map_err(err)?;
                return Ok(groups.iter().map(Vec::len).sum());
            }
            Client::Pg(pool) => sqlx::query_as::<_, OrderRow>(sql)
                .bind(&self.keys)
                .fetch_all(pool)
                .await
                .map_err(err)?,
            Client::My(pool) => {
                let mut query = sqlx::query_as::<_, OrderRow>(sql);
                for key in &self.keys {
                    query = query.bind(key);
                }
                query.fetch_all(pool).await.map_err(err)?
            }
        };
        let mut by_parent: HashMap<String, Vec<OrderRow>> = HashMap::new();
        for row in rows {
            by_parent.entry(row.user_id.clone()).or_default().push(row);
        }
        let groups: Vec<Vec<OrderRow>> = self
            .keys
            .iter()
            .map(|k| {
                let mut group = by_parent.remove(k).unwrap_or_default();
                group.sort_by_key(|o| o.id);
                group
            })
            .collect();
        Ok(groups.iter().map(Vec::len).sum())
    }

    /// One round of `ops` operations starting at key `from`: the wall time in seconds.
    async fn round(self: &Arc<Self>, from: usize, ops: usize, tasks: bool) -> Res<f64> {
        let start = Instant::now();
        let (done, want) = match self.work {
            Work::Load => {
                let mut children = 0;
                for _ in 0..ops {
                    children += self.load().await?;
                }
                (children, ops * self.keys.len() * CHILDREN_EACH)
            }
            Work::Reads if tasks => {
                let next = Arc::new(AtomicUsize::new(0));
                let mut handles = Vec::new();
                for _ in 0..IN_FLIGHT {
                    let (side, next) = (self.clone(), next.clone());
                    handles.push(tokio::spawn(async move {
                        let mut found = 0;
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= ops {
                                return Ok::<_, String>(found);
                            }
                            found += usize::from(side.read(from + i).await?);
                        }
                    }));
                }
                let mut found = 0;
                for handle in handles {
                    found += handle.await.map_err(err)??;
                }
                (found, ops)
            }
            Work::Reads => {
                let results: Vec<Res<bool>> = futures_util::stream::iter(0..ops)
                    .map(|i| self.read(from + i))
                    .buffer_unordered(IN_FLIGHT)
                    .collect()
                    .await;
                let mut found = 0;
                for r in results {
                    found += usize::from(r?);
                }
                (found, ops)
            }
        };
        let elapsed = start.elapsed().as_secs_f64();
        if done != want {
            return Err(format!("a round found {done} rows of {want}"));
        }
        Ok(elapsed)
    }
}

/// utime + stime of this process, in clock ticks.
fn cpu_ticks() -> Res<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(err)?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |k: usize| -> Res<u64> {
        fields
            .get(k)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| "unreadable /proc/self/stat".to_string())
    };
    // utime and stime are fields 14 and 15 of proc(5); `rest` starts at field 3.
    Ok(field(11)? + field(12)?)
}

/// A side's process: open, warm up, say `ready`, then one round per `round K` line on stdin,
/// answering `done SECONDS CPU_TICKS`; ends when stdin closes.
async fn side_main(name: &str, o: &Options) -> Res<()> {
    let side = Arc::new(Side::open(name, o).await?);
    for w in 0..o.warm {
        side.round(w * 7_919, o.ops, o.tasks).await?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").map_err(err)?;
    out.flush().map_err(err)?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(err)?;
        let Some(k) = line.strip_prefix("round ") else {
            break;
        };
        let k: usize = k.parse().map_err(|_| format!("bad line {line:?}"))?;
        let before = cpu_ticks()?;
        let secs = side.round(k * o.ops, o.ops, o.tasks).await?;
        let ticks = cpu_ticks()? - before;
        writeln!(out, "done {secs} {ticks}").map_err(err)?;
        out.flush().map_err(err)?;
    }
    if let Client::Lib { ops, .. } = &side.client {
        ops.database().disconnect().await;
    }
    Ok(())
}

// ------------------------------------------------------------------ the driver

/// A side's process, as the driver sees it.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Proc {
    fn start(name: &str, o: &Options) -> Res<Proc> {
        let mut cmd = Command::new(std::env::current_exe().map_err(err)?);
        cmd.args(["--side", name, "--uri", &o.uri])
            .args(["--ops", &o.ops.to_string(), "--warm", &o.warm.to_string()])
            .args([
                "--work",
                if o.work == Work::Reads {
                    "reads"
                } else {
                    "load"
                },
            ]);
        if o.tasks {
            cmd.arg("--tasks");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(err)?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut proc = Proc {
            child,
            stdin,
            stdout,
        };
        let line = proc.line()?;
        if line != "ready" {
            return Err(format!("side {name} said {line:?}"));
        }
        Ok(proc)
    }

    fn line(&mut self) -> Res<String> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).map_err(err)?;
        if line.is_empty() {
            return Err("a side's process ended early".into());
        }
        Ok(line.trim_end().to_string())
    }

    /// Runs round `k`: (seconds, CPU ticks).
    fn round(&mut self, k: usize) -> Res<(f64, u64)> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "round {k}").map_err(err)?;
        stdin.flush().map_err(err)?;
        let line = self.line()?;
        let mut fields = line.split(' ').skip(1);
        let secs = fields.next().and_then(|f| f.parse().ok());
        let ticks = fields.next().and_then(|f| f.parse().ok());
        secs.zip(ticks)
            .ok_or_else(|| format!("a side said {line:?}"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Closing stdin ends the side's loop.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn min_max(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

async fn setup(uri: &str) -> Res<()> {
    let db =
        AsyncDatabase::new(DBConfig::new(serde_json::json!({ "database_uri": uri })).map_err(err)?);
    db.register::<User>();
    db.register::<Parent>();
    db.register::<Order>();
    let ops = DatabaseOperations::new(db.clone());
    db.drop_tables().await.map_err(err)?;
    db.create_tables().await.map_err(err)?;
    let users: Vec<User> = (0..USERS)
        .map(|i| User {
            base: SchemaBase::default(),
            name: format!("user-{i}"),
            color: Some(["red", "blue", "green"][i % 3].into()),
        })
        .collect();
    ops.create_many(users).await.map_err(err)?;
    let parents: Vec<Parent> = (0..PARENTS)
        .map(|i| Parent {
            pkid: uuid::Uuid::new_v4().to_string(),
            name: format!("parent {i}"),
        })
        .collect();
    let orders: Vec<Order> = parents
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            (0..CHILDREN_EACH).map(move |j| Order {
                id: (i * CHILDREN_EACH + j) as i64,
                user_id: p.pkid.clone(),
                total: j as i64,
            })
        })
        .collect();
    ops.create_many(parents).await.map_err(err)?;
    ops.create_many(orders).await.map_err(err)?;
    db.disconnect().await;
    Ok(())
}

fn drive(o: &Options) -> Res<()> {
    let rt = tokio::runtime::Runtime::new().map_err(err)?;
    rt.block_on(setup(&o.uri))?;
    drop(rt);
    let n = o.sides.len();
    let what = match o.work {
        Work::Reads => format!(
            "{} point reads a round, {IN_FLIGHT} in flight ({})",
            o.ops,
            if o.tasks {
                "16 tasks"
            } else {
                "buffer_unordered on one task"
            }
        ),
        Work::Load => format!(
            "{} loads a round of {PARENTS} parents' {} children",
            o.ops,
            PARENTS * CHILDREN_EACH
        ),
    };
    println!(
        "{what}; {} runs of fresh processes × {} rounds per side, one process per side, the \
         order rotated each round",
        o.runs, o.rounds
    );
    // Per side, per run: (median ms a round, median paired ratio to side 0, CPU µs an op).
    let mut per_run: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); n];
    for run in 0..o.runs {
        let mut procs = Vec::new();
        for name in &o.sides {
            procs.push(Proc::start(name, o)?);
        }
        let mut secs: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut ticks = vec![0u64; n];
        for round in 0..o.rounds {
            for j in 0..n {
                let side = (round + run + j) % n;
                let (s, t) = procs[side].round(round)?;
                secs[side].push(s);
                ticks[side] += t;
            }
        }
        drop(procs);
        // USER_HZ is 100 on Linux.
        let tick_us = 10_000.0;
        let mut line = format!("run {}:", run + 1);
        for side in 0..n {
            let ratios: Vec<f64> = secs[side]
                .iter()
                .zip(&secs[0])
                .map(|(s, base)| s / base)
                .collect();
            let ms = median(secs[side].clone()) * 1e3;
            let ratio = median(ratios);
            let cpu = ticks[side] as f64 * tick_us / (o.rounds * o.ops) as f64;
            let first = secs[side][0] * 1e3;
            line += &format!(
                "  {} {ms:.2} ms {ratio:.2}× {cpu:.0} µs (first round {first:.1} ms)",
                o.sides[side]
            );
            per_run[side].push((ms, ratio, cpu));
        }
        println!("{line}");
    }
    println!(
        "\n{:<10} {:>24} {:>24} {:>24}",
        "side",
        "ms a round [min–max]",
        format!("÷ {} [min–max]", o.sides[0]),
        "CPU µs/op [min–max]"
    );
    for (side, runs) in per_run.iter().enumerate() {
        let col = |f: fn(&(f64, f64, f64)) -> f64| {
            let v: Vec<f64> = runs.iter().map(f).collect();
            let (lo, hi) = min_max(&v);
            (median(v), lo, hi)
        };
        let (ms, ratio, cpu) = (col(|r| r.0), col(|r| r.1), col(|r| r.2));
        println!(
            "{:<10} {:>8.2} [{:.2}–{:.2}] {:>12.2}× [{:.2}–{:.2}] {:>10.1} [{:.1}–{:.1}]",
            o.sides[side], ms.0, ms.1, ms.2, ratio.0, ratio.1, ratio.2, cpu.0, cpu.1, cpu.2
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let side = args
        .windows(2)
        .find(|w| w[0] == "--side")
        .map(|w| w[1].clone());
    let result = options(&args).and_then(|o| match side {
        Some(side) => tokio::runtime::Runtime::new()
            .map_err(err)
            .and_then(|rt| rt.block_on(side_main(&side, &o))),
        None => drive(&o),
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sides_bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
