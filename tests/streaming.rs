//! `DatabaseOperations::read_stream`: 100 000 rows streamed in order with a bounded number of
//! decoded rows alive at once, and a stream dropped half way leaving the pool usable — on
//! every configured backend.

mod common;
mod ops_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dsg_lib::Model;
use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::row::{FromRow, RowReader, RowRef};
use dsg_lib::async_database_functions::statement::text;
use dsg_lib::async_database_functions::stream::STREAM_BUFFER;
use dsg_lib::sea_query::Order;
use futures_util::{StreamExt, TryStreamExt};
use ops_support::{Check, fresh};
use serde_json::json;

const ROWS: i64 = 100_000;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t11_stream_rows")]
struct StreamRow {
    #[model(primary_key)]
    id: i64,
    #[model(size = 40)]
    label: String,
}

/// Decoded rows alive now, and the most ever alive at once.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// A row's id, counted while it is alive.
struct Counted(i64);

impl FromRow for Counted {
    fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
        let id: i64 = RowReader::new(row).next()?;
        let live = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(live, Ordering::SeqCst);
        Ok(Counted(id))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

fn ordered() -> dsg_lib::sea_query::SelectStatement {
    let mut select = StreamRow::select();
    select.order_by((StreamRow::TABLE, "id"), Order::Asc);
    select
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_every_row_in_order_in_bounded_memory_and_drops_cleanly() {
    for b in common::backends() {
        let ctx = b.name;
        // One connection at most on the servers: a stream dropped half way must give it back
        // (or have it replaced) for the reads after it to run at all.
        let extra = if b.is_sqlite() {
            json!({})
        } else {
            json!({"pool_size": 1, "max_overflow": 0, "pool_timeout": 10})
        };
        let (db, ops) = fresh(&b, extra, |db| {
            db.register::<StreamRow>();
        })
        .await;
        let rows: Vec<StreamRow> = (0..ROWS)
            .map(|id| StreamRow {
                id,
                label: format!("row {id:06}"),
            })
            .collect();
        ops.create_many(rows).await.check(ctx);

        // Every row, in order, as whole models.
        let mut stream = ops.read_stream::<StreamRow>(&ordered());
        let mut next = 0;
        while let Some(row) = stream.try_next().await.check(ctx) {
            assert_eq!(row.id, next, "[{ctx}] out of order");
            assert_eq!(row.label, format!("row {next:06}"), "[{ctx}]");
            next += 1;
        }
        assert_eq!(next, ROWS, "[{ctx}] rows streamed");
        drop(stream);

        // Bounded: however slow the consumer, no more rows are decoded than the buffer holds
        // (plus the one being handed over and the one being consumed), on a server one.
        LIVE.store(0, Ordering::SeqCst);
        PEAK.store(0, Ordering::SeqCst);
        let mut select = dsg_lib::sea_query::Query::select();
        select
            .column("id")
            .from(StreamRow::TABLE)
            .order_by("id", Order::Asc);
        let mut stream = ops.read_stream::<Counted>(&select);
        let mut next = 0;
        while let Some(row) = stream.next().await {
            let row = row.check(ctx);
            assert_eq!(row.0, next, "[{ctx}] out of order");
            if next % 20_000 == 0 {
                // Lets the producer run ahead as far as it can.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            next += 1;
        }
        assert_eq!(next, ROWS, "[{ctx}] rows streamed");
        let peak = PEAK.load(Ordering::SeqCst);
        if b.is_sqlite() {
            // The engine's thread runs ahead, as far as the buffer.
            assert!(
                peak <= STREAM_BUFFER + 2,
                "[{ctx}] {peak} decoded rows alive at once, buffer is {STREAM_BUFFER}"
            );
            assert!(
                peak >= STREAM_BUFFER / 2,
                "[{ctx}] peak {peak}: the engine never ran ahead?"
            );
        } else {
            // A server's driver runs in the consumer's task: a row is decoded when asked for.
            assert!(
                peak <= 2,
                "[{ctx}] {peak} decoded rows alive at once: decoded ahead of the consumer"
            );
        }
        drop(stream);
        assert_eq!(LIVE.load(Ordering::SeqCst), 0, "[{ctx}] rows leaked");

        // Dropped half way: the pool still serves reads and further streams.
        for _ in 0..3 {
            let mut stream = ops.read_stream::<StreamRow>(&ordered());
            for expected in 0..ROWS / 2 {
                let row = stream.try_next().await.check(ctx).expect("a row");
                assert_eq!(row.id, expected, "[{ctx}]");
            }
            drop(stream);
            let count = tokio::time::timeout(
                Duration::from_secs(15),
                ops.count_query(&StreamRow::select()),
            )
            .await
            .unwrap_or_else(|_| panic!("[{ctx}] pool not usable after a dropped stream"))
            .check(ctx);
            assert_eq!(count, ROWS as u64, "[{ctx}]");
        }
        let tail: Vec<i64> = ops
            .read_stream::<StreamRow>(&ordered())
            .skip((ROWS - 3) as usize)
            .map(|r| r.map(|r| r.id))
            .try_collect()
            .await
            .check(ctx);
        assert_eq!(tail, [ROWS - 3, ROWS - 2, ROWS - 1], "[{ctx}]");

        // Never polled: nothing runs, nothing is held.
        drop(ops.read_stream::<StreamRow>(&ordered()));

        // Errors come as DatabaseError, as the last item.
        let mut bad = ops.read_stream::<i64>(&text("SELECT no_such_column FROM t11_stream_rows"));
        let err = bad.next().await.expect("an item").expect_err("an error");
        assert_ne!(err.kind(), ErrorKind::DecodeError, "[{ctx}] {err}");
        assert!(
            bad.next().await.is_none(),
            "[{ctx}] the error ends the stream"
        );
        // A decode error (a string read as an integer) too.
        let mut bad = ops.read_stream::<i64>(&text("SELECT label FROM t11_stream_rows"));
        let err = bad.next().await.expect("an item").expect_err("an error");
        assert_eq!(err.kind(), ErrorKind::DecodeError, "[{ctx}] {err}");
        assert!(bad.next().await.is_none(), "[{ctx}]");
        drop(bad);
        // A row that fails to decode part way: every row before it arrives, then the error.
        let mut part =
            ops.read_stream::<u32>(&text("SELECT 40 - id FROM t11_stream_rows ORDER BY id"));
        for expected in (0..=40u32).rev() {
            let item = part.next().await.expect("a row");
            assert_eq!(item.check(ctx), expected, "[{ctx}]");
        }
        let err = part.next().await.expect("an item").expect_err("-1 as u32");
        assert_eq!(err.kind(), ErrorKind::DecodeError, "[{ctx}] {err}");
        assert!(part.next().await.is_none(), "[{ctx}]");
        drop(part);

        // Everything given back: no connection stays in use.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while db.pool_stats().in_use != 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "[{ctx}] a connection is still in use: {:?}",
                db.pool_stats()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t11_stream_one_thread")]
struct OneThreadRow {
    #[model(primary_key)]
    id: i64,
}

/// On a runtime of one thread the query runs in the consumer's own task: every row arrives,
/// in order, and the stream ends (no spin, no wait for a wake that never comes).
#[tokio::test(flavor = "current_thread")]
async fn a_stream_on_a_one_thread_runtime_reads_every_row_and_ends() {
    const N: i64 = 20_000;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<OneThreadRow>();
        })
        .await;
        ops.create_many((0..N).map(|id| OneThreadRow { id }).collect())
            .await
            .check(ctx);
        let mut select = OneThreadRow::select();
        select.order_by((OneThreadRow::TABLE, "id"), Order::Asc);
        let read = async {
            let mut stream = ops.read_stream::<OneThreadRow>(&select);
            let mut next = 0;
            while let Some(row) = stream.try_next().await.check(ctx) {
                assert_eq!(row.id, next, "[{ctx}]");
                next += 1;
            }
            next
        };
        let count = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .unwrap_or_else(|_| panic!("[{ctx}] the stream did not end"));
        assert_eq!(count, N, "[{ctx}]");
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}
