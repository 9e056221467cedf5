//! `create_many` of many rows on PostgreSQL (issue 24): on the tokio-postgres executor
//! (`pg-pipeline`) from 2 000 rows whose every column is given it is one binary COPY (the echo
//! log says `COPY`); on either executor what a user checks is the same: every value stored as
//! given, NULLs included; a value COPY cannot write in its column's type is inserted the other
//! way, with the server's own error when the server refuses it; a duplicate stores nothing; a
//! call cut short stores all or nothing and the pool goes on working.

mod common;

use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, NaiveTime};
use dsg_lib::prelude::*;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;

/// The tests take turns: each drops and creates the tables.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(SqlEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[sql_enum(rename_all = "snake_case", size = 20)]
enum Tier {
    Free,
    Paid,
}

/// One column of each type COPY writes, most also nullable.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "copy_every")]
struct Every {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 40)]
    name: String,
    small: i16,
    int: i32,
    big: i64,
    unsigned: u32,
    ratio: f32,
    double: f64,
    flag: bool,
    naive: chrono::NaiveDateTime,
    day: NaiveDate,
    at: NaiveTime,
    key: uuid::Uuid,
    doc: serde_json::Value,
    blob: Vec<u8>,
    tier: Tier,
    opt_text: Option<String>,
    opt_int: Option<i32>,
    opt_double: Option<f64>,
    opt_doc: Option<serde_json::Value>,
    opt_tier: Option<Tier>,
}

fn every(n: i32) -> Every {
    let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let some = n % 3 != 0;
    Every {
        base: SchemaBase::default(),
        name: format!("row {n:06}"),
        small: (n % 30_000) as i16 - 15_000,
        int: i32::MIN + n,
        big: i64::MAX - i64::from(n),
        unsigned: u32::MAX - n as u32,
        ratio: n as f32 / 8.0,
        double: -1.5e300 / f64::from(n + 1),
        flag: n % 2 == 0,
        naive: day
            .and_hms_micro_opt(23, 59, 58, n as u32 % 1_000_000)
            .unwrap(),
        day,
        at: NaiveTime::from_hms_micro_opt(1, 2, 3, 456_789).unwrap(),
        key: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_0000 + n as u128),
        doc: json!({"n": n, "list": [1, "two", null], "quote": "\"\t\\"}),
        blob: vec![0, b'\\', b'\t', 0xff, n as u8],
        tier: if some { Tier::Paid } else { Tier::Free },
        opt_text: some.then(|| "tab\there, \\N and NULL".to_string()),
        opt_int: some.then_some(n),
        opt_double: some.then_some(0.1),
        opt_doc: some.then(|| json!("text")),
        opt_tier: some.then_some(Tier::Free),
    }
}

/// A model whose `big` column is made `INTEGER` on the server behind its back.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "copy_narrowed")]
struct Narrowed {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 40)]
    name: String,
    big: i64,
}

/// The statements the library logs (`echo`, target `dsg_lib::sql`).
#[derive(Clone, Default)]
struct Echo(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Echo {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "dsg_lib::sql" {
            return;
        }
        struct Text<'a>(&'a mut String);
        impl tracing::field::Visit for Text<'_> {
            fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write as _;
                let _ = write!(self.0, "{value:?}");
            }
        }
        let mut text = String::new();
        event.record(&mut Text(&mut text));
        self.0.lock().unwrap().push(text);
    }
}

impl Echo {
    fn copies(&self) -> usize {
        let logged = std::mem::take(&mut *self.0.lock().unwrap());
        logged.iter().filter(|s| s.starts_with("COPY ")).count()
    }
}

fn postgres() -> Option<common::Backend> {
    common::servers().into_iter().find(|b| b.name == "postgres")
}

async fn fresh(backend: &common::Backend) -> (AsyncDatabase, DatabaseOperations) {
    let db = backend.database(json!({"echo": true, "hide_parameters": true}));
    db.register::<Every>();
    db.register::<Narrowed>();
    db.drop_tables().await.unwrap();
    db.create_tables().await.unwrap();
    let ops = DatabaseOperations::new(db.clone());
    (db, ops)
}

async fn count<M: Model>(ops: &DatabaseOperations) -> u64 {
    ops.count_query(&M::select()).await.unwrap()
}

#[tokio::test]
async fn many_rows_of_every_type_are_stored_as_given() {
    let Some(backend) = postgres() else { return };
    let _turn = TURN.lock().await;
    let echo = Echo::default();
    let _log = tracing::subscriber::set_default(tracing_subscriber::registry().with(echo.clone()));
    let (db, ops) = fresh(&backend).await;
    echo.copies();

    let given: Vec<Every> = (0..3_000).map(every).collect();
    let stored = ops.create_many(given.clone()).await.unwrap();
    // As given, but for the dates `create_many` stamps.
    assert_eq!(stored.len(), given.len());
    for (s, g) in stored.iter().zip(&given) {
        let as_given = Every {
            base: s.base.clone(),
            ..g.clone()
        };
        assert!(*s == as_given, "row {} returned as given", g.name);
    }
    assert_eq!(
        echo.copies(),
        usize::from(cfg!(feature = "pg-pipeline")),
        "one COPY on the tokio-postgres executor, none on sqlx's"
    );
    let mut read: Vec<Every> = ops.read_query(&Every::select()).await.unwrap();
    read.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(read.len(), stored.len());
    for (r, s) in read.iter().zip(&stored) {
        assert!(r == s, "row {} stored as returned: {r:?}", s.name);
    }

    // Below the threshold: the insert, not COPY.
    ops.create_many((3_000..3_010).map(every).collect())
        .await
        .unwrap();
    assert_eq!(echo.copies(), 0, "10 rows are not sent by COPY");
    assert_eq!(count::<Every>(&ops).await, 3_010);
    db.drop_tables().await.unwrap();
    db.disconnect().await;
}

#[tokio::test]
async fn a_value_copy_cannot_write_is_inserted_the_other_way_with_the_servers_error() {
    let Some(backend) = postgres() else { return };
    let _turn = TURN.lock().await;
    let echo = Echo::default();
    let _log = tracing::subscriber::set_default(tracing_subscriber::registry().with(echo.clone()));
    let (db, ops) = fresh(&backend).await;
    ops.execute_one(&text(
        "ALTER TABLE copy_narrowed ALTER COLUMN big TYPE INTEGER",
    ))
    .await
    .unwrap();
    let rows = |top: i64| -> Vec<Narrowed> {
        (0..2_500)
            .map(|n| Narrowed {
                base: SchemaBase::default(),
                name: format!("n{n}"),
                big: if n == 1_234 { top } else { n },
            })
            .collect()
    };
    echo.copies();

    // Every value fits the narrowed column: written as INTEGER by COPY.
    ops.create_many(rows(i64::from(i32::MAX))).await.unwrap();
    assert_eq!(echo.copies(), usize::from(cfg!(feature = "pg-pipeline")));
    let top: Vec<i64> = ops
        .read_query(&text("SELECT CAST(MAX(big) AS BIGINT) FROM copy_narrowed"))
        .await
        .unwrap();
    assert_eq!(top, [i64::from(i32::MAX)]);
    ops.execute_one(&text("DELETE FROM copy_narrowed"))
        .await
        .unwrap();

    // One does not: the insert runs instead and the server refuses it, storing nothing.
    let err = ops
        .create_many(rows(i64::from(i32::MAX) + 1))
        .await
        .unwrap_err();
    assert_eq!(echo.copies(), 0, "no COPY sent for a value it cannot write");
    assert_eq!(err.code(), Some("22003"), "out of range: {err}");
    assert_eq!(count::<Narrowed>(&ops).await, 0);
    db.drop_tables().await.unwrap();
    db.disconnect().await;
}

#[tokio::test]
async fn a_duplicate_in_a_large_insert_stores_nothing() {
    let Some(backend) = postgres() else { return };
    let _turn = TURN.lock().await;
    let (db, ops) = fresh(&backend).await;
    let mut rows: Vec<Every> = (0..2_500).map(every).collect();
    rows[2_499].name = rows[0].name.clone();
    let err = ops.create_many(rows).await.unwrap_err();
    assert!(err.is_unique_violation(), "{err}");
    assert!(err.violates("name"), "{err:?}");
    assert_eq!(count::<Every>(&ops).await, 0);
    db.drop_tables().await.unwrap();
    db.disconnect().await;
}

/// The row count once it has stopped changing for a second: a statement whose caller went
/// away may still be running on the server, and commits if it was a statement of its own.
async fn settled(ops: &DatabaseOperations) -> u64 {
    let mut last = count::<Every>(ops).await;
    let mut same_since = std::time::Instant::now();
    let started = std::time::Instant::now();
    while same_since.elapsed() < std::time::Duration::from_secs(1)
        && started.elapsed() < std::time::Duration::from_secs(30)
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = count::<Every>(ops).await;
        if now != last {
            last = now;
            same_since = std::time::Instant::now();
        }
    }
    last
}

#[tokio::test]
async fn a_large_insert_cut_short_stores_all_or_nothing_and_the_pool_goes_on() {
    let Some(backend) = postgres() else { return };
    let _turn = TURN.lock().await;
    let (db, ops) = fresh(&backend).await;
    let mut stored = 0;
    // Each round its own names: what a cut-short round stores never meets a later round's.
    for (round, wait_ms) in [1, 5, 20, 60].into_iter().enumerate() {
        let first = round as i32 * 100_000;
        let rows: Vec<Every> = (first..first + 20_000).map(every).collect();
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(wait_ms),
            ops.create_many(rows),
        )
        .await;
        let added = settled(&ops).await - stored;
        match cut {
            Ok(done) => {
                done.unwrap();
                assert_eq!(added, 20_000, "{wait_ms} ms: finished");
            }
            Err(_) => assert!(
                added == 0 || added == 20_000,
                "{wait_ms} ms: cut short, {added} rows stored"
            ),
        }
        stored += added;
        // The pool goes on: another large insert lands whole.
        ops.create_many((first + 50_000..first + 52_000).map(every).collect())
            .await
            .unwrap();
        stored += 2_000;
        assert_eq!(
            count::<Every>(&ops).await,
            stored,
            "{wait_ms} ms: then 2 000 more"
        );
    }
    db.drop_tables().await.unwrap();
    db.disconnect().await;
}
