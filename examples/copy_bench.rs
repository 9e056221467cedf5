//! COPY against `INSERT … SELECT unnest(…)` for `create_many` on PostgreSQL (issue 24: "COPY
//! for `create_many` where it beats `INSERT … SELECT unnest` (measure)").
//!
//! ```sh
//! cargo run --release --example copy_bench -- --uri postgres://postgres@127.0.0.1:5432/test \
//!     [--rows 10000] [--rounds 15]
//! cargo run --release --features pg-pipeline --example copy_bench -- --uri …   # the library on
//!                                                                              # tokio-postgres
//! ```
//!
//! Four sides insert the same `--rows` rows of the benchmark's user model (`pkid`
//! `VARCHAR(36)`, two `TIMESTAMPTZ`, `name` `VARCHAR(100)` unique, `color` nullable) into the
//! same table, emptied (untimed) before every sample, the order of the sides rotated each
//! round:
//! - **lib**: `ops.create_many(rows)`, the library at its defaults (one transaction of
//!   `INSERT … SELECT unnest($1::text[], …)` statements, no `RETURNING`: every column is given);
//! - **unnest**: the same statement by hand on one tokio-postgres connection (prepared once, one
//!   statement for all the rows, in a transaction);
//! - **copy**: `COPY … FROM STDIN (FORMAT binary)` on that connection, in a transaction
//!   (`BinaryCopyInWriter`, the column types named);
//! - **copy-text**: `COPY … FROM STDIN` in the text format (the rows written as tab-separated
//!   text), the other way a driver can send COPY without knowing the columns' binary types.
//!
//! Prints each side's median [min–max] in ms and its paired ratio to `unnest`.

use std::time::{Duration, Instant};

use dsg_lib::prelude::*;
use futures::SinkExt;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

#[derive(Model, Debug, Clone)]
#[model(table = "copy_bench_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

struct Args {
    uri: String,
    rows: usize,
    rounds: usize,
}

fn args() -> Args {
    let mut args = Args {
        uri: "postgres://postgres@127.0.0.1:5432/test".into(),
        rows: 10_000,
        rounds: 15,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--uri" => args.uri = value,
            "--rows" => args.rows = value.parse().expect("--rows N"),
            "--rounds" => args.rounds = value.parse().expect("--rounds N"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn users(n: usize, round: usize) -> Vec<User> {
    (0..n)
        .map(|i| User {
            base: SchemaBase::default(),
            name: format!("user-{round}-{i}"),
            color: (i % 4 != 0).then(|| ["red", "blue", "green"][i % 3].to_string()),
        })
        .collect()
}

const COLUMNS: &str = r#""pkid", "date_created", "date_updated", "name", "color""#;

fn unnest_sql() -> String {
    format!(
        r#"INSERT INTO "copy_bench_users" ({COLUMNS}) SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[])"#
    )
}

async fn unnest(
    client: &mut tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    rows: &[User],
) -> Result<(), DynError> {
    let tx = client.transaction().await?;
    let pkid: Vec<&str> = rows.iter().map(|u| u.base.pkid.as_str()).collect();
    let created: Vec<_> = rows.iter().map(|u| u.base.date_created).collect();
    let updated: Vec<_> = rows.iter().map(|u| u.base.date_updated).collect();
    let name: Vec<&str> = rows.iter().map(|u| u.name.as_str()).collect();
    let color: Vec<Option<&str>> = rows.iter().map(|u| u.color.as_deref()).collect();
    tx.execute(statement, &[&pkid, &created, &updated, &name, &color])
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn copy_binary(client: &mut tokio_postgres::Client, rows: &[User]) -> Result<(), DynError> {
    let tx = client.transaction().await?;
    let sink = tx
        .copy_in(&format!(
            r#"COPY "copy_bench_users" ({COLUMNS}) FROM STDIN (FORMAT binary)"#
        ))
        .await?;
    let types = [
        Type::VARCHAR,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::VARCHAR,
        Type::VARCHAR,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for u in rows {
        let row: [&(dyn ToSql + Sync); 5] = [
            &u.base.pkid,
            &u.base.date_created,
            &u.base.date_updated,
            &u.name,
            &u.color,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    tx.commit().await?;
    Ok(())
}

async fn copy_text(client: &mut tokio_postgres::Client, rows: &[User]) -> Result<(), DynError> {
    let tx = client.transaction().await?;
    let sink = tx
        .copy_in(&format!(
            r#"COPY "copy_bench_users" ({COLUMNS}) FROM STDIN"#
        ))
        .await?;
    let mut sink = std::pin::pin!(sink);
    let mut text = String::with_capacity(rows.len() * 96);
    for u in rows {
        use std::fmt::Write as _;
        // The values here hold no tab, newline nor backslash: nothing to escape.
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}",
            u.base.pkid,
            u.base.date_created.format("%Y-%m-%d %H:%M:%S%.6f+00"),
            u.base.date_updated.format("%Y-%m-%d %H:%M:%S%.6f+00"),
            u.name,
            u.color.as_deref().unwrap_or("\\N")
        );
    }
    sink.send(bytes::Bytes::from(text)).await?;
    sink.as_mut().finish().await?;
    tx.commit().await?;
    Ok(())
}

type DynError = Box<dyn std::error::Error + Send + Sync>;

const SIDES: [&str; 4] = ["lib", "unnest", "copy", "copy-text"];

#[tokio::main]
async fn main() -> Result<(), DynError> {
    let args = args();
    let db = AsyncDatabase::new(DBConfig::new(
        serde_json::json!({ "database_uri": args.uri }),
    )?);
    db.register::<User>();
    db.drop_tables().await?;
    db.create_tables().await?;
    let ops = DatabaseOperations::new(db.clone());
    let (mut client, connection) =
        tokio_postgres::connect(&args.uri, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let statement = client.prepare(&unnest_sql()).await?;

    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); SIDES.len()];
    // One untimed round first: every side's statements prepared, the table's pages warm.
    for round in 0..=args.rounds {
        for k in 0..SIDES.len() {
            let side = (round + k) % SIDES.len();
            client
                .batch_execute(r#"TRUNCATE "copy_bench_users""#)
                .await?;
            let rows = users(args.rows, round);
            let started = Instant::now();
            match SIDES[side] {
                "lib" => {
                    ops.create_many(rows).await?;
                }
                "unnest" => unnest(&mut client, &statement, &rows).await?,
                "copy" => copy_binary(&mut client, &rows).await?,
                _ => copy_text(&mut client, &rows).await?,
            }
            let took = started.elapsed();
            let count: i64 = client
                .query_one(r#"SELECT count(*) FROM "copy_bench_users""#, &[])
                .await?
                .get(0);
            assert_eq!(count as usize, args.rows, "{}: rows stored", SIDES[side]);
            if round > 0 {
                samples[side].push(took);
            }
        }
    }
    println!(
        "{} rows, {} rounds, {} (executor: {})",
        args.rows,
        args.rounds,
        db.config().redacted_uri(),
        if cfg!(feature = "pg-pipeline") {
            "tokio-postgres"
        } else {
            "sqlx"
        }
    );
    let base = samples[1].clone();
    for (side, times) in SIDES.iter().zip(&samples) {
        let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        let mut ratios: Vec<f64> = times
            .iter()
            .zip(&base)
            .map(|(t, b)| t.as_secs_f64() / b.as_secs_f64())
            .collect();
        ms.sort_by(f64::total_cmp);
        ratios.sort_by(f64::total_cmp);
        println!(
            "{side:>10}: {:7.2} ms [{:.2}–{:.2}]  ÷ unnest {:.2}× [{:.2}–{:.2}]",
            ms[ms.len() / 2],
            ms[0],
            ms[ms.len() - 1],
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
    db.drop_tables().await?;
    db.disconnect().await;
    Ok(())
}
