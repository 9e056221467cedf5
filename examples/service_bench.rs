//! The service benchmark (issue 23): a TechEmpower-style service (`/db`, `/queries?q=20`,
//! `/updates?q=20`, `/fortunes`) on axum 0.8, written four ways (three on each database), each
//! server in a process of its own, driven by `wrk` with 32 connections:
//!
//! - `crate`: this library the way docs/batch.md teaches, at its defaults (a `DBConfig` with
//!   just the URI): `read_by_pk` for `/db`, `read_by_pks` for `/queries`, `read_by_pks` +
//!   `update_many_no_return` for `/updates`, `read_all` for `/fortunes`.
//!   The same process also serves the "first try" way on `/first/queries` (20 × `read_by_pk`),
//!   `/first/updates` (20 × `read_by_pk`, then 20 × `update_one`) and `/first/fortunes`
//!   (`read_query(&Fortune::select())`), the `crate-first` rows,
//!   and on PostgreSQL the fastest way to write them by hand through the library, the
//!   `crate-text` rows: `/text/queries` (one `text()` `= ANY(:ids)` read) and `/text/updates`
//!   (that read, then one `text()` `UPDATE … FROM UNNEST(:ids::int[], :n::int[])`);
//! - `sqlx`: hand-written sqlx 0.9 on a `PgPool` / `MySqlPool` of 15 connections (the library's
//!   default maximum: `pool_size` 5 + `max_overflow` 10): a request's reads one after another
//!   (sqlx does not pipeline), its updates in one `UPDATE … FROM (SELECT unnest($1::int[]), …)`
//!   on PostgreSQL and one `UPDATE … SET randomnumber = CASE id WHEN ? THEN ? … END` on MySQL;
//! - `tokio-postgres` (PostgreSQL only): as TechEmpower's `axum [postgresql]` entry does it,
//!   one current-thread runtime per core, each with its own listener (`SO_REUSEPORT`) and its
//!   own connection, statements prepared once, a request's reads pipelined with
//!   `futures::future::try_join_all`, its updates in the one `unnest` statement;
//! - `crate-per-core` (PostgreSQL only): the `crate` routes in the `tokio-postgres` variant's
//!   shape: one current-thread runtime per core, each with its own listener and its own
//!   `AsyncDatabase` at its defaults (what the crate costs, without a work-stealing runtime's
//!   wake-ups between threads).
//! - `mysql_async` (MySQL/MariaDB only, issue 24): mysql_async 0.37 on a `mysql_async::Pool` of
//!   up to 15 connections, as sqlx's, not reset when they come back (so each keeps its
//!   prepared statements: `exec_first` / `exec` / `exec_drop` with `?` parameters prepare a
//!   statement once per connection and take it from the connection's cache after that). One
//!   connection checked out per request: mysql_async does not pipeline (a `Conn` runs one
//!   statement at a time), so a request's 20 reads run one after another on it, then its
//!   updates in the one `CASE id WHEN ? THEN ? … END` statement, as sqlx's MySQL side.
//!
//! The same hand-written HTML template (sorted, escaped, with the extra fortune) and the same
//! JSON for all of them. Rounds are interleaved: every round runs every route on every variant,
//! the order of the variants rotated from round to round. For each route it prints each
//! variant's req/s and the server's CPU µs per request (utime + stime from `/proc/<pid>/stat`
//! before and after the run, over the requests wrk counted), and the paired ratios of the
//! rounds (this round's req/s, or CPU per request, over the other's in the same round) as
//! median [min–max].
//!
//! ```sh
//! scripts/bench_service.sh                      # --release, both servers, 5 rounds of 5 s
//! cargo run --release --example service_bench -- --uri postgres://postgres@127.0.0.1:5432/test \
//!     --uri mysql://root@127.0.0.1:3306/test --rounds 5 --secs 5
//! cargo run --example service_bench -- --quick  # one round of 2 s a route: CI, timings not judged
//! cargo run --release --example service_bench -- --route '/updates?q=20'  # one route (repeatable)
//! cargo run --release --example service_bench -- --route /fortunes \
//!     --variant crate --variant tokio-postgres --rounds 30 --secs 2   # one pair, side by side
//! ```
//!
//! Tables `bench_world` (10 000 rows) and `bench_fortune` (TechEmpower's 12 rows) are dropped
//! and created again at the start, in the database of each URI. TLS is off everywhere
//! (`sslmode=disable` is appended to every URI; mysql_async, built here without TLS, gets the
//! URI without it, as its `Opts::from_url` wants). The servers read their stdin and exit when it
//! closes, so they end with the driver however it ends.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use dsg_lib::prelude::*;
use serde::Serialize;

#[derive(Model, Debug, Clone)]
#[model(table = "bench_world")]
struct World {
    #[model(primary_key)]
    id: i32,
    randomnumber: i32,
}

#[derive(Model, Debug, Clone)]
#[model(table = "bench_fortune")]
struct Fortune {
    #[model(primary_key)]
    id: i32,
    #[model(size = 2048)]
    message: String,
}

/// What `/db`, `/queries` and `/updates` answer, the same for every variant.
#[derive(Serialize)]
struct Out {
    id: i32,
    #[serde(rename = "randomNumber")]
    random_number: i32,
}

impl From<&World> for Out {
    fn from(w: &World) -> Self {
        Out {
            id: w.id,
            random_number: w.randomnumber,
        }
    }
}

const ROWS: i32 = 10_000;

thread_local! {
    static RNG: Cell<u64> = Cell::new(std::collections::hash_map::RandomState::new().build_hasher().finish() | 1);
}

/// A world id in 1..=10 000 (xorshift, one state per thread).
fn rand_id() -> i32 {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x % ROWS as u64) as i32 + 1
    })
}

/// TechEmpower's rule: `q` clamped to 1..=500, 1 when missing or not a number.
fn q_of(raw: Option<String>) -> usize {
    raw.as_deref()
        .and_then(|s| s.split('&').find_map(|kv| kv.strip_prefix("q=")))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 500)
}

fn ids(q: usize) -> Vec<i32> {
    (0..q).map(|_| rand_id()).collect()
}

/// The new numbers of an update, sorted by id with the last value of an id given twice (the
/// hand-written sides sort, as TechEmpower's entries do, so that concurrent updates lock rows
/// in one order).
fn by_id(worlds: &[Out]) -> (Vec<i32>, Vec<i32>) {
    let map: BTreeMap<i32, i32> = worlds.iter().map(|w| (w.id, w.random_number)).collect();
    map.into_iter().unzip()
}

fn fortunes_html(mut rows: Vec<(i32, String)>) -> Html<String> {
    rows.push((0, "Additional fortune added at request time.".into()));
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    let mut s = String::with_capacity(2048);
    s.push_str("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>");
    for (id, message) in &rows {
        let _ = write!(s, "<tr><td>{id}</td><td>");
        for c in message.chars() {
            match c {
                '&' => s.push_str("&amp;"),
                '<' => s.push_str("&lt;"),
                '>' => s.push_str("&gt;"),
                '"' => s.push_str("&quot;"),
                '\'' => s.push_str("&#x27;"),
                c => s.push(c),
            }
        }
        s.push_str("</td></tr>");
    }
    s.push_str("</table></body></html>");
    Html(s)
}

fn internal(e: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

// ------------------------------------------------------------- the library, as docs/batch.md teaches

async fn crate_db(State(ops): State<DatabaseOperations>) -> Result<Json<Out>, DatabaseError> {
    let id = rand_id();
    let world = ops
        .read_by_pk::<World>(id)
        .await?
        .ok_or_else(|| DatabaseError::not_found(format!("no world {id}")))?;
    Ok(Json(Out::from(&world)))
}

async fn crate_queries(
    State(ops): State<DatabaseOperations>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, DatabaseError> {
    let worlds: Vec<World> = ops
        .read_by_pks::<World>(ids(q_of(raw)))
        .await?
        .into_iter()
        .flatten()
        .collect();
    Ok(Json(worlds.iter().map(Out::from).collect()))
}

async fn crate_updates(
    State(ops): State<DatabaseOperations>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, DatabaseError> {
    let worlds: Vec<World> = ops
        .read_by_pks::<World>(ids(q_of(raw)))
        .await?
        .into_iter()
        .flatten()
        .map(|w| World {
            randomnumber: rand_id(),
            ..w
        })
        .collect();
    ops.update_many_no_return(worlds.clone()).await?;
    Ok(Json(worlds.iter().map(Out::from).collect()))
}

async fn crate_fortunes(
    State(ops): State<DatabaseOperations>,
) -> Result<Html<String>, DatabaseError> {
    let fortunes = ops.read_all::<Fortune>().await?;
    Ok(fortunes_html(
        fortunes.into_iter().map(|f| (f.id, f.message)).collect(),
    ))
}

/// The first try: `read_query` of `Fortune::select()`, the statement built and rendered on
/// every request.
async fn crate_first_fortunes(
    State(ops): State<DatabaseOperations>,
) -> Result<Html<String>, DatabaseError> {
    let fortunes: Vec<Fortune> = ops.read_query(&Fortune::select()).await?;
    Ok(fortunes_html(
        fortunes.into_iter().map(|f| (f.id, f.message)).collect(),
    ))
}

/// The first try: one `read_by_pk` per id.
async fn crate_first_queries(
    State(ops): State<DatabaseOperations>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, DatabaseError> {
    let mut out = Vec::new();
    for id in ids(q_of(raw)) {
        if let Some(w) = ops.read_by_pk::<World>(id).await? {
            out.push(Out::from(&w));
        }
    }
    Ok(Json(out))
}

/// The first try: one `read_by_pk` per id, then one `update_one` per row.
async fn crate_first_updates(
    State(ops): State<DatabaseOperations>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, DatabaseError> {
    let mut worlds = Vec::new();
    for id in ids(q_of(raw)) {
        if let Some(w) = ops.read_by_pk::<World>(id).await? {
            worlds.push(w);
        }
    }
    let mut out = Vec::with_capacity(worlds.len());
    for w in worlds {
        let stored: World = ops
            .update_one::<World>(w.id, serde_json::json!({ "randomnumber": rand_id() }))
            .await?;
        out.push(Out::from(&stored));
    }
    Ok(Json(out))
}

/// The fastest way by hand (PostgreSQL): one `= ANY` read, `text()` binding the ids as an
/// array.
/// One world per id asked for, in that order (an id drawn twice is answered twice, as
/// TechEmpower asks; `= ANY` gives its row once).
async fn text_read(ops: &DatabaseOperations, ids: Vec<i32>) -> Result<Vec<World>, DatabaseError> {
    let rows: Vec<World> = ops
        .read_query(
            &text("SELECT id, randomnumber FROM bench_world WHERE id = ANY(:ids::int[])")
                .bind("ids", ids.clone()),
        )
        .await?;
    let by_id: std::collections::HashMap<i32, i32> =
        rows.iter().map(|w| (w.id, w.randomnumber)).collect();
    Ok(ids
        .into_iter()
        .filter_map(|id| {
            by_id
                .get(&id)
                .map(|&randomnumber| World { id, randomnumber })
        })
        .collect())
}

async fn crate_text_queries(
    State(ops): State<DatabaseOperations>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, DatabaseError> {
    let worlds = text_read(&ops, ids(q_of(raw))).await?;
    Ok(Json(worlds.iter().map(Out::from).collect()))
}

/// That read, then one `UPDATE … FROM UNNEST` of the new numbers (sorted by id, as the
/// hand-written sides send them).
async fn crate_text_updates(
    State(ops): State<DatabaseOperations>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, DatabaseError> {
    let worlds: Vec<World> = text_read(&ops, ids(q_of(raw)))
        .await?
        .into_iter()
        .map(|w| World {
            randomnumber: rand_id(),
            ..w
        })
        .collect();
    let out: Vec<Out> = worlds.iter().map(Out::from).collect();
    let (ids, numbers) = by_id(&out);
    ops.execute_one(
        &text(
            "UPDATE bench_world SET randomnumber = v.n FROM UNNEST(:ids::int[], :n::int[]) AS v(id, n) \
             WHERE bench_world.id = v.id",
        )
        .bind("ids", ids)
        .bind("n", numbers),
    )
    .await?;
    Ok(Json(out))
}

/// The library at its defaults: a `DBConfig` with just the URI.
async fn crate_ops(uri: &str) -> Result<DatabaseOperations, String> {
    let db = AsyncDatabase::new(
        DBConfig::new(serde_json::json!({ "database_uri": uri })).map_err(|e| e.to_string())?,
    );
    let ops = DatabaseOperations::new(db);
    // Connected before "ready", as the others are.
    ops.read_by_pk::<World>(1)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ops)
}

fn crate_app(ops: DatabaseOperations) -> Router {
    Router::new()
        .route("/db", get(crate_db))
        .route("/queries", get(crate_queries))
        .route("/updates", get(crate_updates))
        .route("/fortunes", get(crate_fortunes))
        .route("/first/queries", get(crate_first_queries))
        .route("/first/updates", get(crate_first_updates))
        .route("/first/fortunes", get(crate_first_fortunes))
        .route("/text/queries", get(crate_text_queries))
        .route("/text/updates", get(crate_text_updates))
        .with_state(ops)
}

async fn serve_crate(uri: &str) -> Result<(), String> {
    serve_one(crate_app(crate_ops(uri).await?)).await
}

/// The library in the tokio-postgres variant's shape: one current-thread runtime per core,
/// each with its own listener and its own `AsyncDatabase` at its defaults.
fn serve_crate_per_core(uri: &str) -> Result<(), String> {
    per_core(|| async { Ok(crate_app(crate_ops(uri).await?)) })
}

/// Binds an ephemeral port, says `ready PORT` on stdout, serves.
async fn serve_one(app: Router) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    println!("ready {port}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- hand-written sqlx

#[derive(Clone)]
enum Sqlx {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

async fn sqlx_world(s: &Sqlx, id: i32) -> Result<Out, sqlx::Error> {
    let (id, random_number): (i32, i32) = match s {
        Sqlx::Pg(p) => {
            sqlx::query_as("SELECT id, randomnumber FROM bench_world WHERE id = $1")
                .bind(id)
                .fetch_one(p)
                .await?
        }
        Sqlx::My(p) => {
            sqlx::query_as("SELECT id, randomnumber FROM bench_world WHERE id = ?")
                .bind(id)
                .fetch_one(p)
                .await?
        }
    };
    Ok(Out { id, random_number })
}

async fn sqlx_db(State(s): State<Sqlx>) -> Result<Json<Out>, Response> {
    Ok(Json(sqlx_world(&s, rand_id()).await.map_err(internal)?))
}

async fn sqlx_reads(s: &Sqlx, q: usize) -> Result<Vec<Out>, Response> {
    let mut out = Vec::with_capacity(q);
    for id in ids(q) {
        out.push(sqlx_world(s, id).await.map_err(internal)?);
    }
    Ok(out)
}

async fn sqlx_queries(
    State(s): State<Sqlx>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, Response> {
    Ok(Json(sqlx_reads(&s, q_of(raw)).await?))
}

async fn sqlx_updates(
    State(s): State<Sqlx>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, Response> {
    let mut worlds = sqlx_reads(&s, q_of(raw)).await?;
    for w in &mut worlds {
        w.random_number = rand_id();
    }
    let (ids, numbers) = by_id(&worlds);
    match &s {
        Sqlx::Pg(p) => {
            sqlx::query(
                "UPDATE bench_world SET randomnumber = w.r \
                 FROM (SELECT unnest($1::int[]) AS i, unnest($2::int[]) AS r) AS w \
                 WHERE bench_world.id = w.i",
            )
            .bind(&ids)
            .bind(&numbers)
            .execute(p)
            .await
            .map_err(internal)?;
        }
        Sqlx::My(p) => {
            let mut sql = String::from("UPDATE bench_world SET randomnumber = CASE id");
            for _ in &ids {
                sql.push_str(" WHEN ? THEN ?");
            }
            sql.push_str(" END WHERE id IN (");
            for i in 0..ids.len() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
            }
            sql.push(')');
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (id, n) in ids.iter().zip(&numbers) {
                query = query.bind(id).bind(n);
            }
            for id in &ids {
                query = query.bind(id);
            }
            query.execute(p).await.map_err(internal)?;
        }
    }
    Ok(Json(worlds))
}

async fn sqlx_fortunes(State(s): State<Sqlx>) -> Result<Html<String>, Response> {
    let rows: Vec<(i32, String)> = match &s {
        Sqlx::Pg(p) => {
            sqlx::query_as("SELECT id, message FROM bench_fortune")
                .fetch_all(p)
                .await
        }
        Sqlx::My(p) => {
            sqlx::query_as("SELECT id, message FROM bench_fortune")
                .fetch_all(p)
                .await
        }
    }
    .map_err(internal)?;
    Ok(fortunes_html(rows))
}

async fn serve_sqlx(uri: &str) -> Result<(), String> {
    let state = if uri.starts_with("mysql") {
        Sqlx::My(
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(15)
                .connect(uri)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        Sqlx::Pg(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(15)
                .connect(uri)
                .await
                .map_err(|e| e.to_string())?,
        )
    };
    let app = Router::new()
        .route("/db", get(sqlx_db))
        .route("/queries", get(sqlx_queries))
        .route("/updates", get(sqlx_updates))
        .route("/fortunes", get(sqlx_fortunes))
        .with_state(state);
    serve_one(app).await
}

// ---------------------------------------------------------------- axum + tokio-postgres, TechEmpower's way

struct Tp {
    client: tokio_postgres::Client,
    world: tokio_postgres::Statement,
    fortune: tokio_postgres::Statement,
    update: tokio_postgres::Statement,
}

fn tp_out(row: &tokio_postgres::Row) -> Out {
    Out {
        id: row.get(0),
        random_number: row.get(1),
    }
}

async fn tp_reads(tp: &Tp, q: usize) -> Result<Vec<Out>, Response> {
    let ids = ids(q);
    let rows = futures::future::try_join_all(
        ids.into_iter()
            .map(|id| async move { tp.client.query_one(&tp.world, &[&id]).await }),
    )
    .await
    .map_err(internal)?;
    Ok(rows.iter().map(tp_out).collect())
}

async fn tp_db(State(tp): State<Arc<Tp>>) -> Result<Json<Out>, Response> {
    let row = tp
        .client
        .query_one(&tp.world, &[&rand_id()])
        .await
        .map_err(internal)?;
    Ok(Json(tp_out(&row)))
}

async fn tp_queries(
    State(tp): State<Arc<Tp>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, Response> {
    Ok(Json(tp_reads(&tp, q_of(raw)).await?))
}

async fn tp_updates(
    State(tp): State<Arc<Tp>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, Response> {
    let mut worlds = tp_reads(&tp, q_of(raw)).await?;
    for w in &mut worlds {
        w.random_number = rand_id();
    }
    let (ids, numbers) = by_id(&worlds);
    tp.client
        .execute(&tp.update, &[&ids, &numbers])
        .await
        .map_err(internal)?;
    Ok(Json(worlds))
}

async fn tp_fortunes(State(tp): State<Arc<Tp>>) -> Result<Html<String>, Response> {
    let rows = tp.client.query(&tp.fortune, &[]).await.map_err(internal)?;
    Ok(fortunes_html(
        rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
    ))
}

async fn tp_connect(uri: &str) -> Result<Tp, String> {
    let (client, connection) = tokio_postgres::connect(uri, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("tokio-postgres connection: {e}");
        }
    });
    let prepare = |sql: &'static str| {
        let client = &client;
        async move { client.prepare(sql).await.map_err(|e| e.to_string()) }
    };
    let world = prepare("SELECT id, randomnumber FROM bench_world WHERE id = $1").await?;
    let fortune = prepare("SELECT id, message FROM bench_fortune").await?;
    let update = prepare(
        "UPDATE bench_world SET randomnumber = w.r \
         FROM (SELECT unnest($1::int[]) AS i, unnest($2::int[]) AS r) AS w \
         WHERE bench_world.id = w.i",
    )
    .await?;
    Ok(Tp {
        client,
        world,
        fortune,
        update,
    })
}

/// One current-thread runtime per core, each with its own connection and its own listener
/// on the one port (`SO_REUSEPORT`: the kernel spreads the connections over them).
fn serve_tp(uri: &str) -> Result<(), String> {
    per_core(|| async {
        let tp = tp_connect(uri).await?;
        Ok(Router::new()
            .route("/db", get(tp_db))
            .route("/queries", get(tp_queries))
            .route("/updates", get(tp_updates))
            .route("/fortunes", get(tp_fortunes))
            .with_state(Arc::new(tp)))
    })
}

/// One current-thread runtime per core, each with its own listener on one port
/// (`SO_REUSEPORT`) and its own app from `make` (built on that runtime); says `ready PORT`.
fn per_core<F, Fut>(make: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Router, String>>,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut port = 0u16;
    let mut threads = Vec::new();
    for _ in 0..cores {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (listener, app) = rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket.set_reuseaddr(true).map_err(|e| e.to_string())?;
            socket.set_reuseport(true).map_err(|e| e.to_string())?;
            socket
                .bind(SocketAddr::from(([127, 0, 0, 1], port)))
                .map_err(|e| e.to_string())?;
            let listener = socket.listen(1024).map_err(|e| e.to_string())?;
            Ok::<_, String>((listener, make().await?))
        })?;
        port = listener.local_addr().map_err(|e| e.to_string())?.port();
        threads.push(std::thread::spawn(move || {
            rt.block_on(async move { axum::serve(listener, app).await })
        }));
    }
    println!("ready {port}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    for t in threads {
        t.join()
            .map_err(|_| "a server thread panicked".to_string())?
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

// ---------------------------------------------------------------- axum + mysql_async

const MA_WORLD: &str = "SELECT id, randomnumber FROM bench_world WHERE id = ?";

/// One world on a checked-out connection: `exec_first` prepares the statement on the
/// connection's first use of it and takes it from the connection's cache after that.
async fn ma_world(conn: &mut mysql_async::Conn, id: i32) -> Result<Out, Response> {
    use mysql_async::prelude::Queryable;
    let (id, random_number): (i32, i32) = conn
        .exec_first(MA_WORLD, (id,))
        .await
        .map_err(internal)?
        .ok_or_else(|| internal(format!("no world {id}")))?;
    Ok(Out { id, random_number })
}

/// The reads of a request one after another on one checked-out connection: mysql_async does
/// not pipeline (a `Conn` runs one statement at a time, `&mut self`).
async fn ma_reads(conn: &mut mysql_async::Conn, q: usize) -> Result<Vec<Out>, Response> {
    let mut out = Vec::with_capacity(q);
    for id in ids(q) {
        out.push(ma_world(conn, id).await?);
    }
    Ok(out)
}

async fn ma_db(State(pool): State<mysql_async::Pool>) -> Result<Json<Out>, Response> {
    let mut conn = pool.get_conn().await.map_err(internal)?;
    Ok(Json(ma_world(&mut conn, rand_id()).await?))
}

async fn ma_queries(
    State(pool): State<mysql_async::Pool>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, Response> {
    let mut conn = pool.get_conn().await.map_err(internal)?;
    Ok(Json(ma_reads(&mut conn, q_of(raw)).await?))
}

async fn ma_updates(
    State(pool): State<mysql_async::Pool>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Out>>, Response> {
    use mysql_async::prelude::Queryable;
    let mut conn = pool.get_conn().await.map_err(internal)?;
    let mut worlds = ma_reads(&mut conn, q_of(raw)).await?;
    for w in &mut worlds {
        w.random_number = rand_id();
    }
    let (ids, numbers) = by_id(&worlds);
    let mut sql = String::from("UPDATE bench_world SET randomnumber = CASE id");
    for _ in &ids {
        sql.push_str(" WHEN ? THEN ?");
    }
    sql.push_str(" END WHERE id IN (");
    for i in 0..ids.len() {
        sql.push_str(if i == 0 { "?" } else { ", ?" });
    }
    sql.push(')');
    let mut params: Vec<mysql_async::Value> = Vec::with_capacity(ids.len() * 3);
    for (id, n) in ids.iter().zip(&numbers) {
        params.push((*id).into());
        params.push((*n).into());
    }
    params.extend(ids.iter().map(|id| mysql_async::Value::from(*id)));
    conn.exec_drop(sql, params).await.map_err(internal)?;
    Ok(Json(worlds))
}

async fn ma_fortunes(State(pool): State<mysql_async::Pool>) -> Result<Html<String>, Response> {
    use mysql_async::prelude::Queryable;
    let mut conn = pool.get_conn().await.map_err(internal)?;
    let rows: Vec<(i32, String)> = conn
        .exec("SELECT id, message FROM bench_fortune", ())
        .await
        .map_err(internal)?;
    Ok(fortunes_html(rows))
}

/// The URI as mysql_async's `Opts::from_url` takes it: `mysql://user:pass@host:port/db`, less
/// the TLS parameters of sqlx's and the driver's (`sslmode`, `ssl-mode`), which it refuses.
fn mysql_async_url(uri: &str) -> String {
    match uri.split_once('?') {
        None => uri.to_string(),
        Some((base, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| {
                    let key = kv.split('=').next().unwrap_or_default();
                    !kv.is_empty() && key != "sslmode" && key != "ssl-mode"
                })
                .collect();
            if kept.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", kept.join("&"))
            }
        }
    }
}

/// A `mysql_async::Pool` of up to 15 connections, as sqlx's (idle ones kept 10 minutes, as
/// sqlx's `idle_timeout`; mysql_async's default would close every connection above `min`
/// as it comes back), not reset when they come back (the default `COM_RESET_CONNECTION`
/// costs a round trip and empties the connection's prepared-statement cache).
async fn serve_mysql_async(uri: &str) -> Result<(), String> {
    let opts = mysql_async::Opts::from_url(&mysql_async_url(uri)).map_err(|e| e.to_string())?;
    let constraints = mysql_async::PoolConstraints::new(0, 15).expect("0 <= 15");
    let pool = mysql_async::Pool::new(
        mysql_async::OptsBuilder::from_opts(opts).pool_opts(
            mysql_async::PoolOpts::default()
                .with_constraints(constraints)
                .with_inactive_connection_ttl(Duration::from_secs(600))
                .with_reset_connection(false),
        ),
    );
    // Connected before "ready", as the others are.
    {
        use mysql_async::prelude::Queryable;
        let mut conn = pool.get_conn().await.map_err(|e| e.to_string())?;
        conn.ping().await.map_err(|e| e.to_string())?;
    }
    let app = Router::new()
        .route("/db", get(ma_db))
        .route("/queries", get(ma_queries))
        .route("/updates", get(ma_updates))
        .route("/fortunes", get(ma_fortunes))
        .with_state(pool);
    serve_one(app).await
}

fn serve(variant: &str, uri: &str) -> Result<(), String> {
    // The driver holds our stdin: when it goes, whatever way, so do we.
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        while std::io::stdin().read(&mut buf).is_ok_and(|n| n > 0) {}
        std::process::exit(0);
    });
    let multi = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    };
    match variant {
        "crate" => multi()?.block_on(serve_crate(uri)),
        "sqlx" => multi()?.block_on(serve_sqlx(uri)),
        "tokio-postgres" => serve_tp(uri),
        "crate-per-core" => serve_crate_per_core(uri),
        "mysql_async" => multi()?.block_on(serve_mysql_async(uri)),
        other => Err(format!("unknown variant {other}")),
    }
}

// ---------------------------------------------------------------- the driver

const FORTUNES: [&str; 12] = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    "フレームワークのベンチマーク",
];

fn with_param(uri: &str, param: &str) -> String {
    format!("{uri}{}{param}", if uri.contains('?') { '&' } else { '?' })
}

/// Drops and creates `bench_world` and `bench_fortune`, with their rows.
async fn setup(uri: &str) -> Result<(), String> {
    let e = |e: sqlx::Error| e.to_string();
    let mut values = String::new();
    let mut worlds = Vec::new();
    for id in 1..=ROWS {
        let _ = write!(
            values,
            "{}({id}, {})",
            if values.is_empty() { "" } else { ", " },
            rand_id()
        );
        if id % 1000 == 0 {
            worlds.push(format!(
                "INSERT INTO bench_world (id, randomnumber) VALUES {}",
                std::mem::take(&mut values)
            ));
        }
    }
    if uri.starts_with("mysql") {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&with_param(uri, "ssl-mode=disabled"))
            .await
            .map_err(e)?;
        for sql in [
            "DROP TABLE IF EXISTS bench_world",
            "DROP TABLE IF EXISTS bench_fortune",
            "CREATE TABLE bench_world (id INT NOT NULL PRIMARY KEY, randomnumber INT NOT NULL) ENGINE=InnoDB",
            "CREATE TABLE bench_fortune (id INT NOT NULL PRIMARY KEY, message VARCHAR(2048) NOT NULL) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ] {
            sqlx::raw_sql(sql).execute(&pool).await.map_err(e)?;
        }
        for sql in &worlds {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&pool)
                .await
                .map_err(e)?;
        }
        for (i, m) in FORTUNES.iter().enumerate() {
            sqlx::query("INSERT INTO bench_fortune (id, message) VALUES (?, ?)")
                .bind(i as i32 + 1)
                .bind(*m)
                .execute(&pool)
                .await
                .map_err(e)?;
        }
        sqlx::raw_sql("ANALYZE TABLE bench_world, bench_fortune")
            .execute(&pool)
            .await
            .map_err(e)?;
        pool.close().await;
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&with_param(uri, "sslmode=disable"))
            .await
            .map_err(e)?;
        for sql in [
            "DROP TABLE IF EXISTS bench_world",
            "DROP TABLE IF EXISTS bench_fortune",
            "CREATE TABLE bench_world (id integer PRIMARY KEY, randomnumber integer NOT NULL)",
            "CREATE TABLE bench_fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL)",
        ] {
            sqlx::raw_sql(sql).execute(&pool).await.map_err(e)?;
        }
        for sql in &worlds {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&pool)
                .await
                .map_err(e)?;
        }
        for (i, m) in FORTUNES.iter().enumerate() {
            sqlx::query("INSERT INTO bench_fortune (id, message) VALUES ($1, $2)")
                .bind(i as i32 + 1)
                .bind(*m)
                .execute(&pool)
                .await
                .map_err(e)?;
        }
        sqlx::raw_sql("VACUUM ANALYZE bench_world")
            .execute(&pool)
            .await
            .map_err(e)?;
        sqlx::raw_sql("VACUUM ANALYZE bench_fortune")
            .execute(&pool)
            .await
            .map_err(e)?;
        pool.close().await;
    }
    Ok(())
}

struct Server {
    variant: &'static str,
    port: u16,
    child: Child,
}

/// The servers of a run: killed when it ends, also on an error or a panic.
struct Servers(Vec<Server>);

impl Drop for Servers {
    fn drop(&mut self) {
        for s in &mut self.0 {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}

impl Servers {
    fn start(&mut self, variant: &'static str, uri: &str) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--serve", variant, "--uri", uri])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting the {variant} server: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        let read = BufReader::new(stdout).read_line(&mut line);
        // Kept with the others before anything can fail, so that it is killed too.
        self.0.push(Server {
            variant,
            port: 0,
            child,
        });
        read.map_err(|e| e.to_string())?;
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("the {variant} server did not start (said {line:?})"))?;
        self.0.last_mut().expect("pushed").port = port;
        Ok(())
    }

    fn index(&self, variant: &str) -> usize {
        self.0
            .iter()
            .position(|s| s.variant == variant)
            .expect("started")
    }

    fn get(&self, variant: &str) -> &Server {
        &self.0[self.index(variant)]
    }
}

/// One GET over a fresh connection: status and body.
fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

/// Every route of every variant answers as it should before anything is timed.
fn check(port: u16, path: &str) -> Result<(), String> {
    let (status, body) = http_get(port, path)?;
    let ok = status == 200
        && match path {
            "/db" => body.contains("\"randomNumber\""),
            "/fortunes" | "/first/fortunes" => {
                body.matches("<tr>").count() == 14
                    && body.contains("<td>11</td><td>&lt;script&gt;alert(&quot;")
                    && body.contains("Additional fortune added at request time.")
                    && body.contains("フレームワークのベンチマーク")
                    && body.find("A bad random") < body.find("A computer program")
            }
            // q=20: twenty worlds (a missing id would be a bug: every id 1..=10 000 exists).
            _ => body.matches("\"randomNumber\"").count() == 20,
        };
    if ok {
        Ok(())
    } else {
        Err(format!("port {port} {path}: {status} {body:.300}"))
    }
}

struct Run {
    rps: f64,
    cpu_us: f64,
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let after = &stat[stat.rfind(')').ok_or("bad stat")? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let n = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or("bad stat")
    };
    Ok(n(11)? + n(12)?)
}

struct Wrk {
    threads: u32,
    conns: u32,
}

impl Wrk {
    fn run(&self, server: &mut Server, path: &str, secs: f64, ticks: f64) -> Result<Run, String> {
        let pid = server.child.id();
        if let Some(status) = server.child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("the {} server exited: {status}", server.variant));
        }
        let before = cpu_ticks(pid)?;
        let out = Command::new("wrk")
            .args([
                format!("-t{}", self.threads),
                format!("-c{}", self.conns),
                format!("-d{}s", secs.round().max(1.0) as u64),
                format!("http://127.0.0.1:{}{path}", server.port),
            ])
            .output()
            .map_err(|e| format!("wrk: {e} (install it: apt-get install -y wrk)"))?;
        let after = cpu_ticks(pid)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "wrk failed: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if let Some(line) = text.lines().find(|l| l.contains("Non-2xx")) {
            return Err(format!("{} {path}: {}", server.variant, line.trim()));
        }
        let requests: f64 = text
            .lines()
            .find(|l| l.contains(" requests in "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no request count in wrk's output: {text}"))?;
        let rps: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no Requests/sec in wrk's output: {text}"))?;
        let cpu_us = (after - before) as f64 / ticks * 1e6 / requests.max(1.0);
        Ok(Run { rps, cpu_us })
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.2}× [{min:.2}–{max:.2}]", median(v.to_vec()))
}

struct Options {
    uris: Vec<String>,
    rounds: usize,
    secs: f64,
    warmup: f64,
    wrk: Wrk,
    /// The routes measured (`--route`, repeatable): all of [`ROUTES`] by default.
    routes: Vec<&'static str>,
    /// The rows measured (`--variant LABEL`, repeatable): all by default. Two of them
    /// (`--variant crate --variant tokio-postgres`) put a pair's rounds next to each other, so
    /// that the machine's slower spells fall on both of a pair's runs alike.
    only: Vec<String>,
}

impl Options {
    /// The rows of `route` this run measures.
    fn variants(&self, route: &str, pg: bool) -> Vec<(&'static str, &'static str, String)> {
        let mut v = variants(route, pg);
        v.retain(|(label, _, _)| self.only.is_empty() || self.only.iter().any(|o| o == label));
        v
    }
}

/// The rows of a route: (label, server variant, path).
fn variants(route: &str, pg: bool) -> Vec<(&'static str, &'static str, String)> {
    let mut v = vec![
        ("crate", "crate", route.to_string()),
        ("sqlx", "sqlx", route.to_string()),
    ];
    if pg {
        v.push(("tokio-postgres", "tokio-postgres", route.to_string()));
        v.push(("crate-per-core", "crate-per-core", route.to_string()));
    } else {
        v.push(("mysql_async", "mysql_async", route.to_string()));
    }
    if route.starts_with("/queries") || route.starts_with("/updates") || route == "/fortunes" {
        v.push(("crate-first", "crate", format!("/first{route}")));
        if pg && route != "/fortunes" {
            v.push(("crate-text", "crate", format!("/text{route}")));
        }
    }
    v
}

const ROUTES: [&str; 4] = ["/db", "/queries?q=20", "/updates?q=20", "/fortunes"];

fn drive_one(uri: &str, o: &Options, ticks: f64) -> Result<(), String> {
    let pg = !uri.starts_with("mysql");
    let served = with_param(uri, "sslmode=disable");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(setup(uri))?;
    let mut servers = Servers(Vec::new());
    servers.start("crate", &served)?;
    if pg {
        servers.start("sqlx", &served)?;
        servers.start("tokio-postgres", &served)?;
        servers.start("crate-per-core", &served)?;
    } else {
        servers.start("sqlx", &with_param(uri, "ssl-mode=disabled"))?;
        servers.start("mysql_async", &served)?;
    }
    for route in ROUTES {
        for (_, server, path) in o.variants(route, pg) {
            check(servers.get(server).port, &path)?;
        }
    }
    println!(
        "\n{} ({}): wrk -t{} -c{}, {} round(s) of {} s per route and variant, order rotated each round",
        if pg { "PostgreSQL" } else { "MySQL/MariaDB" },
        uri,
        o.wrk.threads,
        o.wrk.conns,
        o.rounds,
        o.secs
    );
    if o.warmup > 0.0 {
        for route in &o.routes {
            for (_, server, path) in o.variants(route, pg) {
                let i = servers.index(server);
                o.wrk.run(&mut servers.0[i], &path, o.warmup, ticks)?;
            }
        }
    }
    // results[route][variant][round]
    let mut results: Vec<Vec<Vec<Run>>> = o
        .routes
        .iter()
        .map(|r| o.variants(r, pg).iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 0..o.rounds {
        for (r, route) in o.routes.iter().enumerate() {
            let vs = o.variants(route, pg);
            for k in 0..vs.len() {
                let v = (k + round) % vs.len();
                let (_, server, path) = &vs[v];
                let i = servers.index(server);
                let run = o.wrk.run(&mut servers.0[i], path, o.secs, ticks)?;
                results[r][v].push(run);
            }
        }
        eprintln!("round {} of {} done", round + 1, o.rounds);
    }
    println!(
        "{:<14} {:<15} {:>22} {:>11} {:>22} {:>22} {:>22} {:>22} {:>22}",
        "route",
        "variant",
        "req/s median [min–max]",
        "CPU µs/req",
        "÷ sqlx",
        "CPU ÷ sqlx",
        "÷ tokio-pg|mysql_async",
        "CPU ÷ tokio-pg|m_async",
        "÷ crate"
    );
    for (r, route) in o.routes.iter().enumerate() {
        let vs = o.variants(route, pg);
        let col = |label: &str| vs.iter().position(|v| v.0 == label);
        let paired = |v: usize, other: Option<usize>, f: fn(&Run) -> f64| match other {
            Some(o) if o != v => {
                let ratios: Vec<f64> = results[r][v]
                    .iter()
                    .zip(&results[r][o])
                    .map(|(a, b)| f(a) / f(b))
                    .collect();
                spread(&ratios)
            }
            _ => String::new(),
        };
        let ratio = |v: usize, other: Option<usize>| paired(v, other, |x| x.rps);
        for (v, (label, _, _)) in vs.iter().enumerate() {
            let rps: Vec<f64> = results[r][v].iter().map(|x| x.rps).collect();
            let min = rps.iter().copied().fold(f64::INFINITY, f64::min);
            let max = rps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let cpu = median(results[r][v].iter().map(|x| x.cpu_us).collect());
            let fastest = col("tokio-postgres").or(col("mysql_async"));
            let crate_row = label.starts_with("crate");
            println!(
                "{:<14} {:<15} {:>22} {:>11.0} {:>22} {:>22} {:>22} {:>22} {:>22}",
                route,
                label,
                format!("{:.0} [{min:.0}–{max:.0}]", median(rps.clone())),
                cpu,
                ratio(v, col("sqlx")),
                paired(v, col("sqlx"), |x| x.cpu_us),
                if crate_row {
                    ratio(v, fastest)
                } else {
                    String::new()
                },
                if crate_row {
                    paired(v, fastest, |x| x.cpu_us)
                } else {
                    String::new()
                },
                if *label == "crate-first" || *label == "crate-text" {
                    ratio(v, col("crate"))
                } else {
                    String::new()
                },
            );
        }
    }
    Ok(())
}

fn drive(args: &[String]) -> Result<(), String> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let quick = args.iter().any(|a| a == "--quick");
    let mut uris: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--uri")
        .map(|w| w[1].clone())
        .collect();
    if uris.is_empty() {
        uris = vec![
            std::env::var("DSG_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
            std::env::var("DSG_TEST_MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
        ];
    }
    let num = |name: &str, default: f64| -> Result<f64, String> {
        value(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{name} wants a number, got {v}"))
        })
    };
    let o = Options {
        uris,
        rounds: num("--rounds", if quick { 1.0 } else { 5.0 })? as usize,
        secs: num("--secs", if quick { 2.0 } else { 5.0 })?,
        warmup: num("--warmup", if quick { 0.0 } else { 2.0 })?,
        wrk: Wrk {
            threads: num("--wrk-threads", 2.0)? as u32,
            conns: num("--connections", 32.0)? as u32,
        },
        routes: {
            let asked: Vec<&String> = args
                .windows(2)
                .filter(|w| w[0] == "--route")
                .map(|w| &w[1])
                .collect();
            let routes: Vec<&'static str> = ROUTES
                .into_iter()
                .filter(|r| asked.is_empty() || asked.iter().any(|a| a == r))
                .collect();
            if routes.len() < asked.len().max(1) {
                return Err(format!("--route takes one of {ROUTES:?}"));
            }
            routes
        },
        only: args
            .windows(2)
            .filter(|w| w[0] == "--variant")
            .map(|w| w[1].clone())
            .collect(),
    };
    let mut labels: Vec<&str> = ROUTES
        .iter()
        .flat_map(|r| variants(r, true).into_iter().chain(variants(r, false)))
        .map(|(label, _, _)| label)
        .collect();
    labels.sort_unstable();
    labels.dedup();
    if let Some(unknown) = o.only.iter().find(|v| !labels.contains(&v.as_str())) {
        return Err(format!(
            "--variant {unknown}: not a row of this benchmark ({})",
            labels.join(", ")
        ));
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed (apt-get install -y wrk)".into());
    }
    let ticks = clock_ticks();
    for uri in &o.uris {
        drive_one(uri, &o, ticks)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let result = match value("--serve") {
        Some(variant) => match value("--uri") {
            Some(uri) => serve(&variant, &uri),
            None => Err("--serve needs --uri".into()),
        },
        None => drive(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("service_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
