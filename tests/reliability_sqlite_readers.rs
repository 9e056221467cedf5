//! Issue 28, item 4: on SQLite, an open write transaction blocks no reader.
//!
//! - Item 4: while a library `Session` holds an uncommitted write, reads through the library
//!   (other tasks, many at once) answer at once with the committed rows only, on in-memory
//!   SQLite as on a file; they used to wait out the busy timeout (5 s) on in-memory SQLite and
//!   fail with `database table is locked`.
//!
//! Runs on in-memory SQLite and a SQLite file (removed afterwards); the servers' readers were
//! never blocked and are checked too when their URLs are set.

mod common;
mod ops_support;
mod reliability_support;

use std::time::{Duration, Instant};

use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::model::Model as _;
use ops_support::fresh;
use reliability_support::{load_backends, within};
use serde_json::json;

#[derive(Model, Debug, Clone)]
#[model(table = "t_rel_readers")]
struct Note {
    #[model(flatten)]
    base: SchemaBase,
    text: String,
}

fn note(text: &str) -> Note {
    Note {
        base: SchemaBase::new(),
        text: text.into(),
    }
}

/// How long a read may take while a writer is open (it should not wait at all).
const PROMPT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_not_blocked_by_an_open_write_transaction() {
    let mut problems = Vec::new();
    for (backend, file) in load_backends("dsg_rel_readers") {
        let label = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<Note>();
        })
        .await;
        ops.create_one(note("committed"))
            .await
            .unwrap_or_else(|e| panic!("[{label}] create_one: {e}"));
        let mut writer = within(10, format!("[{label}] session"), db.get_db_session())
            .await
            .unwrap_or_else(|e| panic!("[{label}] get_db_session: {e}"));
        within(
            10,
            format!("[{label}] insert"),
            common::insert(&mut writer, &note("open")),
        )
        .await
        .unwrap_or_else(|e| panic!("[{label}] insert in the session: {e}"));

        // 8 readers at once, each through the library, while the write is open.
        let mut readers = Vec::new();
        for _ in 0..8 {
            let ops = ops.clone();
            readers.push(tokio::spawn(async move {
                let started = Instant::now();
                let count = ops.count_query(&Note::select()).await;
                let rows = ops.read_query::<Note>(&Note::select()).await;
                (started.elapsed(), count, rows)
            }));
        }
        for (i, reader) in readers.into_iter().enumerate() {
            let (took, count, rows) = within(30, format!("[{label}] reader {i}"), reader)
                .await
                .unwrap_or_else(|e| panic!("[{label}] reader {i} panicked: {e}"));
            match (count, rows) {
                (Ok(1), Ok(rows)) if rows.len() == 1 && rows[0].text == "committed" => {}
                (count, rows) => problems.push(format!(
                    "[{label}] reader {i} while a write is open: expected the one committed \
                     row, got count {count:?}, rows {:?}",
                    rows.map(|r| r.into_iter().map(|n| n.text).collect::<Vec<_>>())
                )),
            }
            if took > PROMPT {
                problems.push(format!(
                    "[{label}] reader {i} took {took:.2?} while a write was open"
                ));
            }
        }
        within(10, format!("[{label}] commit"), writer.commit())
            .await
            .unwrap_or_else(|e| panic!("[{label}] commit: {e}"));
        match ops.count_query(&Note::select()).await {
            Ok(2) => {}
            other => problems.push(format!(
                "[{label}] after the commit: expected 2 rows, got {other:?}"
            )),
        }
        db.disconnect().await;
        drop(file);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
