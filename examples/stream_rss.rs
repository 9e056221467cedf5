//! Streaming in constant memory: the peak RSS of streaming 1 000 rows and 1 000 000 rows of a
//! table through `DatabaseOperations::read_stream`, each in a separate child process, and the
//! difference, which must stay under 50 MiB (the process exits with an error otherwise).
//!
//! ```sh
//! cargo run --release --example stream_rss                        # SQLite file in the temp dir
//! cargo run --release --example stream_rss -- --uri postgres://postgres@127.0.0.1:5432/test
//! cargo run --release --example stream_rss -- --uri mysql://root@127.0.0.1:3306/test
//! cargo run --example stream_rss -- --quick                       # 1 000 vs 100 000 rows, for CI
//! cargo run --release --example stream_rss -- --rows 2000000      # a bigger table
//! ```
//!
//! The table (`stream_rss_users`, the seed's user shape) is created and filled by this
//! process, then dropped. Each child opens its own database, streams the first N rows into
//! the typed model one at a time, checks it saw N rows, and prints its peak RSS (`VmHWM` of
//! `/proc/self/status`, Linux only).

use std::process::ExitCode;

use dsg_lib::prelude::*;
use futures_util::TryStreamExt;

#[derive(Model, Debug, Clone)]
#[model(table = "stream_rss_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    color: Option<String>,
}

/// The largest difference allowed between the two peaks.
const LIMIT_KIB: u64 = 50 * 1024;
/// The environment variable a child reads its database URI from.
const CHILD_URI: &str = "DSG_STREAM_RSS_CHILD_URI";
/// Rows per `create_many` call while filling.
const FILL_CHUNK: usize = 10_000;

struct Args {
    /// `None`: a SQLite file in the temporary directory.
    uri: Option<String>,
    small: usize,
    large: usize,
    /// Internal: stream this many rows of `uri` and print the peak RSS.
    child: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        uri: std::env::var("DSG_BENCH_URI")
            .ok()
            .filter(|u| !u.is_empty()),
        small: 1_000,
        large: 1_000_000,
        child: None,
    };
    let mut it = std::env::args().skip(1);
    let number = |value: Option<String>, flag: &str| -> Result<usize, String> {
        value
            .and_then(|n| n.replace('_', "").parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{flag} takes a positive number of rows"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--uri" => args.uri = Some(it.next().ok_or("--uri takes a database URI")?),
            "--quick" => args.large = 100_000,
            "--rows" => args.large = number(it.next(), "--rows")?,
            "--small" => args.small = number(it.next(), "--small")?,
            "--child" => args.child = Some(number(it.next(), "--child")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; see the top of examples/stream_rss.rs"
                ));
            }
        }
    }
    if args.small > args.large {
        return Err("--small must not be larger than --rows".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("stream_rss: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.child {
        Some(rows) => child(&std::env::var(CHILD_URI).unwrap_or_default(), rows).await,
        None => parent(&args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // DatabaseError's text never carries a password.
            eprintln!("stream_rss: {e}");
            ExitCode::FAILURE
        }
    }
}

fn users(count: usize, offset: usize) -> Vec<User> {
    (offset..offset + count)
        .map(|i| User {
            base: SchemaBase::default(),
            name: format!("user-{i:08}"),
            color: Some(["red", "green", "blue"][i % 3].to_string()),
        })
        .collect()
}

fn database(uri: &str) -> Result<AsyncDatabase, DatabaseError> {
    Ok(AsyncDatabase::new(DBConfig::new(
        serde_json::json!({ "database_uri": uri }),
    )?))
}

async fn parent(args: &Args) -> Result<(), DatabaseError> {
    // In-memory databases are private to a process: the children share a temporary file.
    let file = std::env::temp_dir().join(format!("dsg-stream-rss-{}.db", std::process::id()));
    let uri = match &args.uri {
        Some(uri) => uri.clone(),
        None => format!("sqlite:///{}", file.display()),
    };
    let result = measure(args, &uri).await;
    if args.uri.is_none() {
        for path in [
            file.clone(),
            file.with_extension("db-wal"),
            file.with_extension("db-shm"),
        ] {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

async fn measure(args: &Args, uri: &str) -> Result<(), DatabaseError> {
    let db = database(uri)?;
    let dialect = db.config().dialect().name();
    db.register::<User>();
    db.drop_tables().await?;
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());
    let started = std::time::Instant::now();
    let mut filled = 0;
    while filled < args.large {
        let rows = Ord::min(FILL_CHUNK, args.large - filled);
        ops.create_many(users(rows, filled)).await?;
        filled += rows;
    }
    println!(
        "{dialect}: {} rows in stream_rss_users, filled in {:.1} s",
        args.large,
        started.elapsed().as_secs_f64()
    );

    let mut peaks = Vec::new();
    for rows in [args.small, args.large] {
        let started = std::time::Instant::now();
        let kib = run_child(uri, rows)?;
        println!(
            "peak RSS streaming {rows:>9} rows: {:>7.1} MiB ({:.1} s)",
            kib as f64 / 1024.0,
            started.elapsed().as_secs_f64()
        );
        peaks.push(kib);
    }
    db.drop_tables().await?;
    db.disconnect().await;

    let difference = peaks[1].saturating_sub(peaks[0]);
    println!(
        "difference: {:.1} MiB (limit {} MiB)",
        difference as f64 / 1024.0,
        LIMIT_KIB / 1024
    );
    if difference >= LIMIT_KIB {
        return Err(DatabaseError::invalid_input(format!(
            "streaming {} rows took {:.1} MiB more than streaming {}: not constant memory",
            args.large,
            difference as f64 / 1024.0,
            args.small
        )));
    }
    Ok(())
}

/// Runs this program as a child that streams `rows` rows; returns its peak RSS in KiB.
fn run_child(uri: &str, rows: usize) -> Result<u64, DatabaseError> {
    let io = |e: std::io::Error| DatabaseError::invalid_input(format!("child process: {e}"));
    // The URI goes by the environment, so that a password stays out of the process list.
    let out = std::process::Command::new(std::env::current_exe().map_err(io)?)
        .env(CHILD_URI, uri)
        .args(["--child", &rows.to_string()])
        .output()
        .map_err(io)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.trim().parse::<u64>() {
        Ok(kib) if out.status.success() => Ok(kib),
        _ => Err(DatabaseError::invalid_input(format!(
            "the child streaming {rows} rows failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// The child: stream the first `rows` rows into the model, then print the peak RSS (KiB).
async fn child(uri: &str, rows: usize) -> Result<(), DatabaseError> {
    let db = database(uri)?;
    let ops = DatabaseOperations::new(db.clone());
    let mut select = User::select();
    select.limit(u64::try_from(rows).unwrap_or(u64::MAX));
    let mut stream = ops.read_stream::<User>(&select);
    let mut seen = 0usize;
    let mut name_bytes = 0usize;
    while let Some(user) = stream.try_next().await? {
        seen += 1;
        name_bytes += user.name.len();
    }
    drop(stream);
    db.disconnect().await;
    if seen != rows || name_bytes == 0 {
        return Err(DatabaseError::invalid_input(format!(
            "streamed {seen} rows, expected {rows}"
        )));
    }
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| {
        DatabaseError::invalid_input(format!("/proc/self/status (Linux only): {e}"))
    })?;
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| DatabaseError::invalid_input("no VmHWM in /proc/self/status"))?;
    println!("{peak}");
    Ok(())
}
