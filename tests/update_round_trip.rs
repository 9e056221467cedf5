//! `update_one` returns the row as this call wrote it, on every backend, whatever the text it
//! stores. MySQL/MariaDB (no `UPDATE … RETURNING`) send the update and its read back as one
//! text query in one round trip, values written as hex literals: text full of quotes and
//! backslashes is stored exactly in any SQL mode, a failure part way leaves no transaction
//! open, and a value with no literal is bound as before.

mod common;
mod ops_support;

use common::Backend;
use dsg_lib::async_database_functions::database_config::Dialect;
use dsg_lib::async_database_functions::field::SqlField;
use dsg_lib::async_database_functions::model::{Column, SqlType};
use dsg_lib::async_database_functions::row::{DecodeError, RowRef};
use dsg_lib::prelude::*;
use ops_support::{Capture, Check, expect_err, fresh};
use serde_json::json;

/// The rows the tests update, one table per test: the tests of a file run at the same time
/// and share the servers.
trait Noted: Model + Clone + std::fmt::Debug + PartialEq {
    fn new(name: &str) -> Self;
    fn pkid(&self) -> String;
    fn name(&self) -> &str;
    fn body(&self) -> Option<&str>;
    fn updated(&self) -> chrono::DateTime<chrono::Utc>;
}

macro_rules! note {
    ($ty:ident, $table:tt) => {
        #[derive(Model, Debug, Clone, PartialEq)]
        #[model(table = $table)]
        struct $ty {
            #[model(flatten)]
            base: SchemaBase,
            #[model(unique, size = 100)]
            name: String,
            #[model(size = 200)]
            body: Option<String>,
        }

        impl Noted for $ty {
            fn new(name: &str) -> Self {
                $ty {
                    base: SchemaBase::default(),
                    name: name.into(),
                    body: None,
                }
            }
            fn pkid(&self) -> String {
                self.base.pkid.clone()
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn body(&self) -> Option<&str> {
                self.body.as_deref()
            }
            fn updated(&self) -> chrono::DateTime<chrono::Utc> {
                self.base.date_updated
            }
        }
    };
}

note!(Tricky, "round_trip_tricky");
note!(Contended, "round_trip_contended");
note!(Failing, "round_trip_failing");
note!(InTx, "round_trip_in_tx");
note!(Autocommit, "round_trip_autocommit");
note!(Hidden, "round_trip_hidden");
note!(Counted, "round_trip_counted");

/// Text a careless literal would break on, or run as SQL.
const TRICKY: &[&str] = &[
    "it's",
    "back\\slash",
    "\\'; DROP TABLE round_trip_notes; -- ",
    "\"double\" `back` 'single'",
    "é🎉 ünï",
    "",
    "?",
    "X'41'",
];

/// A pool of one connection on the servers, so every call runs on the same session.
fn one_connection(backend: &Backend) -> serde_json::Value {
    if backend.is_sqlite() {
        json!({})
    } else {
        json!({"pool_size": 1, "max_overflow": 0})
    }
}

async fn stored<N: Noted>(ops: &DatabaseOperations, id: &str, ctx: &str) -> N {
    let found: Option<N> = ops.read_by_pk::<N>(id.to_string()).await.check(ctx);
    found.unwrap_or_else(|| panic!("[{ctx}] the row is gone"))
}

/// `fresh` with only `N` registered.
async fn fresh_with<N: Model>(
    backend: &Backend,
    extra: serde_json::Value,
) -> (AsyncDatabase, DatabaseOperations) {
    fresh(backend, extra, |db| {
        db.register::<N>();
    })
    .await
}

/// A MySQL/MariaDB session status counter of the connection `ops` runs on (a pool of one).
async fn session_status(ops: &DatabaseOperations, name: &str) -> i64 {
    let sql = "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.SESSION_STATUS \
               WHERE VARIABLE_NAME = :name";
    let value: Option<i64> = ops
        .read_one_record(&text(sql).bind("name", name))
        .await
        .check(name);
    value.unwrap_or_else(|| panic!("no session status {name}"))
}

#[tokio::test]
async fn text_with_quotes_and_backslashes_is_stored_exactly() {
    for backend in common::backends() {
        let (_db, ops) = fresh_with::<Tricky>(&backend, one_connection(&backend)).await;
        let mut modes = vec!["default"];
        if backend.name == "mysql" {
            modes.push("NO_BACKSLASH_ESCAPES,ANSI_QUOTES");
        }
        for mode in modes {
            let ctx = format!("{} {mode}", backend.name);
            if mode != "default" {
                let set = format!("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',{mode}')");
                ops.execute_one(&text(&set)).await.check(&ctx);
                let now: Option<String> = ops
                    .read_one_record(&text("SELECT CAST(@@SESSION.sql_mode AS CHAR)"))
                    .await
                    .check(&ctx);
                assert!(
                    now.is_some_and(|m| m.contains("NO_BACKSLASH_ESCAPES")),
                    "[{ctx}]"
                );
            }
            let created = ops
                .create_one(Tricky::new(&format!("tricky {mode}")))
                .await
                .check(&ctx);
            let id = created.pkid();
            for (i, text) in TRICKY.iter().enumerate() {
                let name = format!("{text} {mode} {i}");
                let updated: Tricky = ops
                    .update_one::<Tricky>(id.clone(), json!({"body": text, "name": name}))
                    .await
                    .check(&ctx);
                assert_eq!(updated.body(), Some(*text), "[{ctx}] returned");
                assert_eq!(updated.name(), name, "[{ctx}] returned");
                assert!(updated.updated() > created.updated(), "[{ctx}]");
                assert_eq!(
                    stored::<Tricky>(&ops, &id, &ctx).await,
                    updated,
                    "[{ctx}] stored"
                );
            }
        }
        // The table is still there, with its rows.
        let count = ops.count_query(&Tricky::select()).await.check(backend.name);
        assert!(count >= 1, "[{}]", backend.name);
    }
}

#[tokio::test]
async fn concurrent_updates_of_one_row_each_get_the_row_they_wrote() {
    for backend in common::backends() {
        let ctx = backend.name;
        let extra = if backend.is_sqlite() {
            json!({})
        } else {
            json!({"pool_size": 4})
        };
        let (_db, ops) = fresh_with::<Contended>(&backend, extra).await;
        let id = ops
            .create_one(Contended::new("contended"))
            .await
            .check(ctx)
            .pkid();
        let tasks = (0..6).map(|task| {
            let (ops, id) = (ops.clone(), id.clone());
            tokio::spawn(async move {
                for i in 0..15 {
                    let body = format!("task {task} write {i}");
                    let row: Contended = ops
                        .update_one::<Contended>(id.clone(), json!({"body": body}))
                        .await
                        .check(ctx);
                    assert_eq!(row.body(), Some(body.as_str()), "[{ctx}]");
                }
            })
        });
        for task in futures_util::future::join_all(tasks).await {
            task.unwrap_or_else(|e| panic!("[{ctx}] a task failed: {e}"));
        }
        let last: Contended = stored(&ops, &id, ctx).await;
        assert!(
            last.body().is_some_and(|b| b.ends_with("write 14")),
            "[{ctx}]"
        );
    }
}

#[tokio::test]
async fn a_failed_update_writes_nothing_and_leaves_no_transaction_open() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (_db, ops) = fresh_with::<Failing>(&backend, one_connection(&backend)).await;
        let a = ops.create_one(Failing::new("a")).await.check(ctx);
        ops.create_one(Failing::new("b")).await.check(ctx);
        // The name is taken: the update fails; the row is as it was.
        let e = ops
            .update_one::<Failing>(a.pkid(), json!({"name": "b", "body": "lost"}))
            .await;
        expect_err(e, ErrorKind::IntegrityError, ctx);
        if backend.name == "mysql" {
            // The one connection is not left inside the failed update's transaction (which
            // would hold the locks the update took).
            let open: Option<i64> = ops
                .read_one_record(&text("SELECT CAST(@@in_transaction AS SIGNED)"))
                .await
                .check(ctx);
            assert_eq!(open, Some(0), "[{ctx}]");
        }
        assert_eq!(stored::<Failing>(&ops, &a.pkid(), ctx).await, a, "[{ctx}]");
        // No such row: not found, nothing written.
        let e = ops
            .update_one::<Failing>("no-such-id", json!({"body": "x"}))
            .await;
        expect_err(e, ErrorKind::RecordNotFound, ctx);
        // The same connection updates again.
        let again: Failing = ops
            .update_one::<Failing>(a.pkid(), json!({"body": "kept"}))
            .await
            .check(ctx);
        assert_eq!(
            stored::<Failing>(&ops, &a.pkid(), ctx).await,
            again,
            "[{ctx}]"
        );
    }
}

#[tokio::test]
async fn inside_a_transaction_the_update_commits_or_rolls_back_with_it() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (db, ops) = fresh_with::<InTx>(&backend, json!({})).await;
        let a = ops.create_one(InTx::new("in tx")).await.check(ctx);
        let id = a.pkid();
        let mut session = db.get_db_session().await.check(ctx);
        let inside: InTx = session
            .update_one::<InTx>(id.clone(), json!({"body": "rolled back"}))
            .await
            .check(ctx);
        assert_eq!(inside.body(), Some("rolled back"), "[{ctx}]");
        session.rollback().await.check(ctx);
        assert_eq!(
            stored::<InTx>(&ops, &id, ctx).await,
            a,
            "[{ctx}] after rollback"
        );
        let mut session = db.get_db_session().await.check(ctx);
        let inside: InTx = session
            .update_one::<InTx>(id.clone(), json!({"body": "committed"}))
            .await
            .check(ctx);
        session.commit().await.check(ctx);
        assert_eq!(
            stored::<InTx>(&ops, &id, ctx).await,
            inside,
            "[{ctx}] after commit"
        );
    }
}

#[tokio::test]
async fn under_autocommit_the_update_returns_the_row_written() {
    for backend in common::backends() {
        let ctx = backend.name;
        let mut extra = one_connection(&backend);
        extra["isolation_level"] = json!("AUTOCOMMIT");
        let (_db, ops) = fresh_with::<Autocommit>(&backend, extra).await;
        let a = ops
            .create_one(Autocommit::new("autocommit"))
            .await
            .check(ctx);
        let row: Autocommit = ops
            .update_one::<Autocommit>(a.pkid(), json!({"body": "it's here"}))
            .await
            .check(ctx);
        assert_eq!(row.body(), Some("it's here"), "[{ctx}]");
        assert_eq!(
            stored::<Autocommit>(&ops, &a.pkid(), ctx).await,
            row,
            "[{ctx}]"
        );
    }
}

#[tokio::test]
async fn hidden_values_stay_out_of_a_failed_update_and_echo_logs_placeholders() {
    for backend in common::backends() {
        let ctx = backend.name;
        let extra = json!({"hide_parameters": true, "echo": true});
        let (_db, ops) = fresh_with::<Hidden>(&backend, extra).await;
        let a = ops.create_one(Hidden::new("secret-owner")).await.check(ctx);
        ops.create_one(Hidden::new("s3cr3t-name")).await.check(ctx);
        let capture = Capture::default();
        let guard = capture.install();
        let e = ops
            .update_one::<Hidden>(a.pkid(), json!({"name": "s3cr3t-name"}))
            .await;
        let e = expect_err(e, ErrorKind::IntegrityError, ctx);
        ops.update_one::<Hidden>(a.pkid(), json!({"body": "p4ssw0rd"}))
            .await
            .check(ctx);
        drop(guard);
        let shown = format!("{e} {e:?}");
        // "s3cr3t-" in hex, as a script writes it.
        for leak in ["s3cr3t-name", "7333637233742D"] {
            assert!(
                !shown.contains(leak),
                "[{ctx}] the error shows {leak}: {shown}"
            );
        }
        let log = capture.take();
        assert!(log.contains("UPDATE"), "[{ctx}] nothing logged: {log}");
        for leak in ["p4ssw0rd", "7034737377307264", "_utf8mb4"] {
            assert!(!log.contains(leak), "[{ctx}] the log shows {leak}: {log}");
        }
    }
}

/// A date-time with its offset: a column type of a user's own whose value
/// (`ChronoDateTimeWithTimeZone`) a script has no literal for.
#[derive(Debug, Clone, PartialEq)]
struct Offset(chrono::DateTime<chrono::FixedOffset>);

impl SqlField for Offset {
    const SQL_TYPE: SqlType = SqlType::Timestamp;
    fn to_value(&self, _: Dialect) -> dsg_lib::sea_query::Value {
        dsg_lib::sea_query::Value::ChronoDateTimeWithTimeZone(Some(self.0))
    }
    fn null_value(_: Dialect) -> dsg_lib::sea_query::Value {
        dsg_lib::sea_query::Value::ChronoDateTimeWithTimeZone(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        let naive: chrono::NaiveDateTime = row.get(index)?;
        Ok(Offset(naive.and_utc().fixed_offset()))
    }
    fn from_json(
        json: &serde_json::Value,
        _: &Column,
        _: Dialect,
    ) -> Result<dsg_lib::sea_query::Value, String> {
        let text = json.as_str().ok_or("expected an RFC 3339 date-time")?;
        let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| e.to_string())?;
        Ok(Offset(at).to_value(Dialect::Mysql))
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "round_trip_offsets")]
struct Meeting {
    #[model(flatten)]
    base: SchemaBase,
    at: Option<Offset>,
}

#[tokio::test]
async fn mysql_sends_the_update_and_its_read_back_as_one_text_query() {
    for backend in common::backends() {
        if backend.name != "mysql" {
            continue;
        }
        let ctx = backend.name;
        let (_db, ops) = fresh(&backend, one_connection(&backend), |db| {
            db.register::<Counted>();
            db.register::<Meeting>();
        })
        .await;
        let a = ops.create_one(Counted::new("counted")).await.check(ctx);
        // Reading a counter runs one prepared statement itself: measured, then taken off.
        let executes = session_status(&ops, "COM_STMT_EXECUTE").await;
        let per_read = session_status(&ops, "COM_STMT_EXECUTE").await - executes;
        let commits = session_status(&ops, "COM_COMMIT").await;
        let before = session_status(&ops, "COM_STMT_EXECUTE").await;
        let row: Counted = ops
            .update_one::<Counted>(a.pkid(), json!({"body": "one trip"}))
            .await
            .check(ctx);
        assert_eq!(row.body(), Some("one trip"), "[{ctx}]");
        let bound = session_status(&ops, "COM_STMT_EXECUTE").await - before - per_read;
        assert_eq!(bound, 0, "[{ctx}] statements bound by update_one");
        // Its own transaction, committed once (the counter reads commit nothing).
        let committed = session_status(&ops, "COM_COMMIT").await - commits;
        assert_eq!(committed, 1, "[{ctx}] commits");

        // A value with no literal: the update and the read back are bound, and work as ever.
        let meeting = ops
            .create_one(Meeting {
                base: SchemaBase::default(),
                at: None,
            })
            .await
            .check(ctx);
        let before = session_status(&ops, "COM_STMT_EXECUTE").await;
        let moved: Meeting = ops
            .update_one::<Meeting>(
                meeting.base.pkid.clone(),
                json!({"at": "2026-12-03T09:30:00+02:00"}),
            )
            .await
            .check(ctx);
        let bound = session_status(&ops, "COM_STMT_EXECUTE").await - before - per_read;
        assert_eq!(bound, 2, "[{ctx}] the update and the read back, bound");
        let utc = chrono::DateTime::parse_from_rfc3339("2026-12-03T07:30:00Z").ok();
        assert_eq!(moved.at.map(|o| o.0), utc, "[{ctx}] stored as UTC");
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "round_trip_floats")]
struct Floats {
    #[model(flatten)]
    base: SchemaBase,
    single: f32,
    double: f64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "round_trip_legacy")]
struct Legacy {
    #[model(flatten)]
    base: SchemaBase,
    reading: f64,
}

#[tokio::test]
async fn floating_point_values_come_back_as_stored() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (_db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<Floats>();
            db.register::<Legacy>();
        })
        .await;
        let row = Floats {
            base: SchemaBase::default(),
            single: 0.0,
            double: 0.0,
        };
        let id = ops.create_one(row).await.check(ctx).base.pkid;
        // Seven significant digits in the f32, seventeen in the f64: a text form of six
        // (MariaDB's for FLOAT) would lose both.
        let (single, double) = (1.234_567_8_f32, 0.123_456_789_012_345_68_f64);
        let updated: Floats = ops
            .update_one::<Floats>(id.clone(), json!({"single": single, "double": double}))
            .await
            .check(ctx);
        assert_eq!(
            (updated.single, updated.double),
            (single, double),
            "[{ctx}]"
        );
        let read: Option<Floats> = ops.read_by_pk::<Floats>(id).await.check(ctx);
        assert_eq!(read, Some(updated), "[{ctx}]");

        // An f64 mapped onto a FLOAT column another schema made (SQLAlchemy's `Float` on
        // MySQL/MariaDB): update_one returns what a read returns.
        if backend.name == "mysql" {
            let alter = "ALTER TABLE round_trip_legacy MODIFY reading FLOAT NOT NULL";
            ops.execute_one(&text(alter)).await.check(ctx);
            let row = Legacy {
                base: SchemaBase::default(),
                reading: 0.0,
            };
            let id = ops.create_one(row).await.check(ctx).base.pkid;
            let updated: Legacy = ops
                .update_one::<Legacy>(id.clone(), json!({"reading": 1.234_567_8}))
                .await
                .check(ctx);
            let read: Option<Legacy> = ops.read_by_pk::<Legacy>(id).await.check(ctx);
            assert_eq!(read.as_ref(), Some(&updated), "[{ctx}]");
            assert_eq!(updated.reading, f64::from(1.234_567_8_f32), "[{ctx}]");
        }
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "round_trip_types")]
struct Every {
    #[model(flatten)]
    base: SchemaBase,
    small: i16,
    int: i32,
    unsigned: u32,
    big: i64,
    flag: bool,
    at: chrono::DateTime<chrono::Utc>,
    local: chrono::NaiveDateTime,
    day: chrono::NaiveDate,
    time: chrono::NaiveTime,
    uuid: uuid::Uuid,
    doc: serde_json::Value,
    blob: Vec<u8>,
    maybe_int: Option<i64>,
    maybe_text: Option<String>,
}

#[tokio::test]
async fn every_column_type_comes_back_as_a_read_returns_it() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (_db, ops) = fresh_with::<Every>(&backend, json!({})).await;
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let row = Every {
            base: SchemaBase::default(),
            small: 0,
            int: 0,
            unsigned: 0,
            big: 0,
            flag: false,
            at: epoch,
            local: epoch.naive_utc(),
            day: epoch.date_naive(),
            time: epoch.time(),
            uuid: uuid::Uuid::nil(),
            doc: json!({}),
            blob: Vec::new(),
            maybe_int: Some(1),
            maybe_text: None,
        };
        let id = ops.create_one(row).await.check(ctx).base.pkid;
        let new = json!({
            "small": i16::MIN, "int": i32::MAX, "unsigned": u32::MAX, "big": i64::MIN,
            "flag": true, "at": "2026-12-03T07:08:09.123456Z", "local": "1999-12-31T23:59:59.999999",
            "day": "2024-02-29", "time": "23:59:59.000001",
            "uuid": "67e55044-10b1-426f-9247-bb680e5fe0c8",
            "doc": {"quote": "it's \\ \"x\"", "n": [1, 2.5, null], "emoji": "🎉"},
            "blob": [0, 39, 92, 255], "maybe_int": null, "maybe_text": "'; --",
        });
        let updated: Every = ops.update_one::<Every>(id.clone(), new).await.check(ctx);
        let read: Option<Every> = ops.read_by_pk::<Every>(id).await.check(ctx);
        assert_eq!(read.as_ref(), Some(&updated), "[{ctx}]");
        assert_eq!(updated.blob, [0, 39, 92, 255], "[{ctx}]");
        assert_eq!(updated.unsigned, u32::MAX, "[{ctx}]");
        assert_eq!(updated.maybe_text.as_deref(), Some("'; --"), "[{ctx}]");
        assert_eq!(updated.doc["quote"], "it's \\ \"x\"", "[{ctx}]");
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "round_trip_large")]
struct Large {
    #[model(flatten)]
    base: SchemaBase,
    blob: Vec<u8>,
}

#[tokio::test]
async fn a_large_value_is_stored_whole() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (_db, ops) = fresh_with::<Large>(&backend, json!({})).await;
        let row = Large {
            base: SchemaBase::default(),
            blob: Vec::new(),
        };
        let id = ops.create_one(row).await.check(ctx).base.pkid;
        // 9 MB: bound, it fits MariaDB's default 16 MB packet; written in hex (18 MB), it
        // would not.
        let blob: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
        let updated: Large = ops
            .update_one::<Large>(id.clone(), json!({ "blob": blob }))
            .await
            .check(ctx);
        assert!(
            updated.blob == blob,
            "[{ctx}] returned {} bytes",
            updated.blob.len()
        );
        let read: Option<Large> = ops.read_by_pk::<Large>(id).await.check(ctx);
        assert!(read.is_some_and(|r| r.blob == blob), "[{ctx}] stored");
    }
}
