//! Sessions on every backend: transactions (commit, rollback, drop), typed decoding of models,
//! scalars and tuples, `text()` statements, cancellation and `disconnect()`.

mod common;

use common::insert;

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::text;
use dsg_lib::sea_query::{Expr, ExprTrait, Order, Query};
use serde_json::json;
use uuid::Uuid;

/// A database for `backend` with `M` registered and its table freshly created.
async fn fresh<M: dsg_lib::async_database_functions::model::Model>(
    backend: &Backend,
    extra: serde_json::Value,
) -> AsyncDatabase {
    let db = backend.database(extra);
    db.register::<M>();
    db.drop_tables()
        .await
        .unwrap_or_else(|e| panic!("{}: drop_tables: {e}", backend.name));
    db.create_tables()
        .await
        .unwrap_or_else(|e| panic!("{}: create_tables: {e}", backend.name));
    db
}

async fn count_rows(db: &AsyncDatabase, table: &'static str) -> i64 {
    let mut session = db.get_db_session().await.unwrap();
    let n: i64 = session
        .fetch_optional(Query::select().expr(Expr::col("pkid").count()).from(table))
        .await
        .unwrap()
        .unwrap();
    session.commit().await.unwrap();
    n
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sess_commit")]
struct CommitRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[tokio::test]
async fn commit_makes_rows_visible_to_another_session() {
    for backend in common::backends() {
        let db = fresh::<CommitRow>(&backend, json!({})).await;
        let row = CommitRow {
            base: SchemaBase::new(),
            name: "committed".into(),
        };
        let mut writer = db.get_db_session().await.unwrap();
        assert_eq!(
            insert(&mut writer, &row).await.unwrap(),
            1,
            "{}",
            backend.name
        );
        if !backend.is_sqlite() {
            // Before the commit, another session does not see the row.
            let mut reader = db.get_db_session().await.unwrap();
            let seen: Vec<CommitRow> = reader.fetch_all(&CommitRow::select()).await.unwrap();
            assert!(
                seen.is_empty(),
                "{}: uncommitted row visible: {seen:?}",
                backend.name
            );
            reader.rollback().await.unwrap();
        }
        writer.commit().await.unwrap();

        let mut reader = db.get_db_session().await.unwrap();
        let seen: Vec<CommitRow> = reader.fetch_all(&CommitRow::select()).await.unwrap();
        assert_eq!(seen, vec![row], "{}", backend.name);
        reader.commit().await.unwrap();
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sess_rollback")]
struct RollbackRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[tokio::test]
async fn rollback_discards_rows() {
    for backend in common::backends() {
        let db = fresh::<RollbackRow>(&backend, json!({})).await;
        let kept = RollbackRow {
            base: SchemaBase::new(),
            name: "kept".into(),
        };
        let mut session = db.get_db_session().await.unwrap();
        insert(&mut session, &kept).await.unwrap();
        session.commit().await.unwrap();

        let mut session = db.get_db_session().await.unwrap();
        for name in ["discarded-1", "discarded-2"] {
            let row = RollbackRow {
                base: SchemaBase::new(),
                name: name.into(),
            };
            insert(&mut session, &row).await.unwrap();
        }
        // Inside the session its own writes are visible...
        let inside: Vec<RollbackRow> = session.fetch_all(&RollbackRow::select()).await.unwrap();
        assert_eq!(inside.len(), 3, "{}", backend.name);
        session.rollback().await.unwrap();

        // ...and after the rollback they are gone.
        let mut session = db.get_db_session().await.unwrap();
        let seen: Vec<RollbackRow> = session.fetch_all(&RollbackRow::select()).await.unwrap();
        assert_eq!(seen, vec![kept], "{}", backend.name);
        session.commit().await.unwrap();
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sess_drop")]
struct DropRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[tokio::test]
async fn dropping_a_session_without_commit_rolls_back() {
    for backend in common::backends() {
        let db = fresh::<DropRow>(&backend, json!({})).await;
        {
            let mut session = db.get_db_session().await.unwrap();
            let row = DropRow {
                base: SchemaBase::new(),
                name: "never committed".into(),
            };
            insert(&mut session, &row).await.unwrap();
            // dropped here without commit
        }
        // Several sessions in a row: whichever connection they get, the row is not there and
        // no connection is left inside the dropped transaction.
        for _ in 0..3 {
            let mut session = db.get_db_session().await.unwrap();
            let seen: Vec<DropRow> = session.fetch_all(&DropRow::select()).await.unwrap();
            assert!(
                seen.is_empty(),
                "{}: dropped session's row persisted: {seen:?}",
                backend.name
            );
            session.commit().await.unwrap();
        }
        // The connection the dropped session used is usable and commits for real.
        let row = DropRow {
            base: SchemaBase::new(),
            name: "committed later".into(),
        };
        let mut session = db.get_db_session().await.unwrap();
        insert(&mut session, &row).await.unwrap();
        session.commit().await.unwrap();
        assert_eq!(count_rows(&db, DropRow::TABLE).await, 1, "{}", backend.name);
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sess_types")]
struct Everything {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 100)]
    name: String,
    note: Option<String>,
    long_text: String,
    small: i32,
    big: i64,
    ratio: f64,
    active: bool,
    happened_at: DateTime<Utc>,
    local_at: NaiveDateTime,
    birthday: NaiveDate,
    token: Uuid,
    maybe_token: Option<Uuid>,
    payload: serde_json::Value,
    extra: Option<serde_json::Value>,
    blob: Vec<u8>,
    missing: Option<i64>,
    maybe_when: Option<DateTime<Utc>>,
}

fn everything_rows() -> Vec<Everything> {
    let happened_at = Utc.with_ymd_and_hms(2024, 2, 29, 13, 45, 56).unwrap()
        + chrono::Duration::microseconds(123_456);
    let local_at = NaiveDate::from_ymd_opt(2001, 9, 9)
        .unwrap()
        .and_hms_micro_opt(1, 46, 40, 654_321)
        .unwrap();
    vec![
        Everything {
            base: SchemaBase::new(),
            name: "alpha Zoë ß 🚀".into(),
            note: Some("it's a \"note\"; with -- and :colon".into()),
            long_text: "lorem ipsum ✓ ".repeat(800),
            small: -2_147_483_000,
            big: 9_007_199_254_740_993,
            ratio: std::f64::consts::PI,
            active: true,
            happened_at,
            local_at,
            birthday: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
            token: Uuid::new_v4(),
            maybe_token: Some(Uuid::new_v4()),
            payload: json!({"b": [1, 2.5, "three", null, true], "a": {"nested": "ü"}, "zz": -7}),
            extra: Some(json!([1, {"k": "v"}])),
            blob: vec![0, 1, 2, 0xfe, 0xff, 0, b'\'', b'\\'],
            missing: None,
            maybe_when: Some(happened_at - chrono::Duration::days(400)),
        },
        Everything {
            base: SchemaBase::new(),
            name: "beta".into(),
            note: None,
            long_text: String::new(),
            small: 0,
            big: -1,
            ratio: -12_345.678_901_234_567,
            active: false,
            happened_at: Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 1).unwrap(),
            local_at: NaiveDate::from_ymd_opt(2038, 1, 19)
                .unwrap()
                .and_hms_micro_opt(3, 14, 8, 1)
                .unwrap(),
            birthday: NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(),
            token: Uuid::nil(),
            maybe_token: None,
            payload: json!("just a string"),
            extra: None,
            blob: Vec::new(),
            missing: None,
            maybe_when: None,
        },
    ]
}

#[tokio::test]
async fn models_of_every_supported_type_round_trip() {
    for backend in common::backends() {
        let db = fresh::<Everything>(&backend, json!({})).await;
        let rows = everything_rows();
        let mut session = db.get_db_session().await.unwrap();
        for row in &rows {
            insert(&mut session, row)
                .await
                .unwrap_or_else(|e| panic!("{}: insert: {e}", backend.name));
        }
        session.commit().await.unwrap();

        let mut session = db.get_db_session().await.unwrap();
        let mut select = Everything::select();
        select.order_by_expr(Everything::col("name").expr(), Order::Asc);
        let all: Vec<Everything> = session
            .fetch_all(&select)
            .await
            .unwrap_or_else(|e| panic!("{}: fetch_all: {e}", backend.name));
        assert_eq!(
            all, rows,
            "{}: rows differ after a round trip",
            backend.name
        );

        let one: Option<Everything> = session
            .fetch_optional(
                Everything::select()
                    .and_where(Everything::col("pkid").eq(rows[1].base.pkid.clone())),
            )
            .await
            .unwrap();
        assert_eq!(one.as_ref(), Some(&rows[1]), "{}", backend.name);

        let none: Option<Everything> = session
            .fetch_optional(
                Everything::select().and_where(Everything::col("pkid").eq("no-such-pkid")),
            )
            .await
            .unwrap();
        assert_eq!(none, None, "{}", backend.name);

        // Typed filters work on the stored values.
        let active: Vec<Everything> = session
            .fetch_all(Everything::select().and_where(Everything::col("active").eq(true)))
            .await
            .unwrap();
        assert_eq!(active.len(), 1, "{}", backend.name);
        assert_eq!(active[0].name, rows[0].name, "{}", backend.name);
        let null_notes: Vec<Everything> = session
            .fetch_all(Everything::select().and_where(Everything::col("note").is_null()))
            .await
            .unwrap();
        assert_eq!(null_notes, vec![rows[1].clone()], "{}", backend.name);
        session.commit().await.unwrap();
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sess_scalar")]
struct ScalarRow {
    #[model(primary_key, size = 20)]
    name: String,
    qty: i64,
    price: f64,
    label: Option<String>,
}

#[tokio::test]
async fn scalars_and_tuples_decode() {
    for backend in common::backends() {
        let db = fresh::<ScalarRow>(&backend, json!({})).await;
        let mut session = db.get_db_session().await.unwrap();
        for (name, qty, price, label) in [
            ("cherry", 3, 0.25, Some("red")),
            ("apple", 10, 1.5, None),
            ("banana", 7, 0.75, Some("yellow")),
        ] {
            let row = ScalarRow {
                name: name.into(),
                qty,
                price,
                label: label.map(Into::into),
            };
            insert(&mut session, &row).await.unwrap();
        }
        session.commit().await.unwrap();

        let mut session = db.get_db_session().await.unwrap();
        let names: Vec<String> = session
            .fetch_all(
                Query::select()
                    .column("name")
                    .from(ScalarRow::TABLE)
                    .order_by("name", Order::Asc),
            )
            .await
            .unwrap();
        assert_eq!(names, ["apple", "banana", "cherry"], "{}", backend.name);

        let pairs: Vec<(String, i64)> = session
            .fetch_all(
                Query::select()
                    .columns(["name", "qty"])
                    .from(ScalarRow::TABLE)
                    .order_by("qty", Order::Desc),
            )
            .await
            .unwrap();
        assert_eq!(
            pairs,
            [
                ("apple".to_string(), 10),
                ("banana".to_string(), 7),
                ("cherry".to_string(), 3)
            ],
            "{}",
            backend.name
        );

        let triples: Vec<(String, f64, Option<String>)> = session
            .fetch_all(&text(
                "SELECT name, price, label FROM t_sess_scalar ORDER BY name",
            ))
            .await
            .unwrap();
        assert_eq!(
            triples,
            [
                ("apple".to_string(), 1.5, None),
                ("banana".to_string(), 0.75, Some("yellow".to_string())),
                ("cherry".to_string(), 0.25, Some("red".to_string())),
            ],
            "{}",
            backend.name
        );

        let count: Option<i64> = session
            .fetch_optional(
                Query::select()
                    .expr(Expr::col("name").count())
                    .from(ScalarRow::TABLE),
            )
            .await
            .unwrap();
        assert_eq!(count, Some(3), "{}", backend.name);

        let qty: Option<i64> = session
            .fetch_optional(
                &text("SELECT qty FROM t_sess_scalar WHERE name = :n").bind("n", "banana"),
            )
            .await
            .unwrap();
        assert_eq!(qty, Some(7), "{}", backend.name);
        let missing: Option<i64> = session
            .fetch_optional(
                &text("SELECT qty FROM t_sess_scalar WHERE name = :n").bind("n", "durian"),
            )
            .await
            .unwrap();
        assert_eq!(missing, None, "{}", backend.name);

        let labels: Vec<Option<String>> = session
            .fetch_all(&text("SELECT label FROM t_sess_scalar ORDER BY name"))
            .await
            .unwrap();
        assert_eq!(
            labels,
            [None, Some("yellow".to_string()), Some("red".to_string())],
            "{}",
            backend.name
        );

        // Decoding into the wrong type is a DecodeError naming the column, not a panic.
        let err = session
            .fetch_all::<i64>(&text("SELECT name FROM t_sess_scalar"))
            .await
            .expect_err("a name is not an integer");
        assert_eq!(
            err.kind(),
            ErrorKind::DecodeError,
            "{}: {err}",
            backend.name
        );
        assert!(err.details().contains("name"), "{}: {err}", backend.name);
        drop(session);
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sess_text")]
struct TextRow {
    #[model(primary_key, size = 20)]
    code: String,
    qty: i64,
    #[model(size = 200)]
    label: Option<String>,
}

#[tokio::test]
async fn text_statements_bind_named_parameters() {
    for backend in common::backends() {
        let db = fresh::<TextRow>(&backend, json!({})).await;
        let mut session = db.get_db_session().await.unwrap();
        let inserted = session
            .execute(
                &text("INSERT INTO t_sess_text (code, qty, label) VALUES (:code, :qty, :label)")
                    .bind("code", "a1")
                    .bind("qty", 5i64)
                    .bind("label", "first"),
            )
            .await
            .unwrap();
        assert_eq!(inserted, 1, "{}", backend.name);
        // The seed's values dict.
        session
            .execute(
                &text("INSERT INTO t_sess_text (code, qty, label) VALUES (:code, :qty, :label)")
                    .values(json!({"code": "b2", "qty": 9, "label": null}))
                    .unwrap(),
            )
            .await
            .unwrap();
        // A value that looks like SQL is stored as data, never run.
        let nasty = "x'); DROP TABLE t_sess_text; --";
        session
            .execute(
                &text("INSERT INTO t_sess_text (code, qty, label) VALUES (:code, :qty, :label)")
                    .bind("code", "c3")
                    .bind("qty", 1i64)
                    .bind("label", nasty),
            )
            .await
            .unwrap();
        session.commit().await.unwrap();

        let mut session = db.get_db_session().await.unwrap();
        let all: Vec<TextRow> = session
            .fetch_all(&text(
                "SELECT code, qty, label FROM t_sess_text ORDER BY code",
            ))
            .await
            .unwrap();
        assert_eq!(
            all,
            [
                TextRow {
                    code: "a1".into(),
                    qty: 5,
                    label: Some("first".into())
                },
                TextRow {
                    code: "b2".into(),
                    qty: 9,
                    label: None
                },
                TextRow {
                    code: "c3".into(),
                    qty: 1,
                    label: Some(nasty.into())
                },
            ],
            "{}",
            backend.name
        );

        // A parameter used twice, and `:lbl` inside quotes left alone.
        let codes: Vec<String> = session
            .fetch_all(
                &text(
                    "SELECT code FROM t_sess_text \
                     WHERE (label = :lbl OR code = :lbl OR qty > :min) AND code <> ':lbl' \
                     ORDER BY code",
                )
                .bind("lbl", "first")
                .bind("min", 4i64),
            )
            .await
            .unwrap();
        assert_eq!(codes, ["a1", "b2"], "{}", backend.name);

        let updated = session
            .execute(
                &text("UPDATE t_sess_text SET qty = qty + :d WHERE qty < :limit")
                    .bind("d", 100i64)
                    .bind("limit", 6i64),
            )
            .await
            .unwrap();
        assert_eq!(updated, 2, "{}", backend.name);
        let deleted = session
            .execute(&text("DELETE FROM t_sess_text WHERE code = :c").bind("c", "b2"))
            .await
            .unwrap();
        assert_eq!(deleted, 1, "{}", backend.name);
        let qtys: Vec<(String, i64)> = session
            .fetch_all(&text("SELECT code, qty FROM t_sess_text ORDER BY code"))
            .await
            .unwrap();
        assert_eq!(
            qtys,
            [("a1".to_string(), 105), ("c3".to_string(), 101)],
            "{}",
            backend.name
        );

        if backend.name == "postgres" {
            // `::` casts are not parameters.
            let v: Option<String> = session
                .fetch_optional(&text("SELECT :v::text || '::x'").bind("v", "cast"))
                .await
                .unwrap();
            assert_eq!(v.as_deref(), Some("cast::x"));
        }

        // A parameter without a value is the caller's error.
        let err = session
            .fetch_all::<String>(&text("SELECT code FROM t_sess_text WHERE code = :missing"))
            .await
            .expect_err("unbound parameter");
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "{}: {err}",
            backend.name
        );
        assert!(
            err.details().contains(":missing"),
            "{}: {err}",
            backend.name
        );
        let err = text("SELECT 1")
            .values(json!([1, 2]))
            .expect_err("values must be a map");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        session.commit().await.unwrap();
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sess_cancel")]
struct CancelRow {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

/// A statement that runs for several seconds on `backend`.
fn long_statement(backend: &Backend) -> &'static str {
    match backend.name {
        "postgres" => "SELECT pg_sleep(5)",
        "mysql" => "SELECT SLEEP(5)",
        _ => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000000) \
             SELECT count(*) FROM c"
        }
    }
}

#[tokio::test]
async fn a_session_dropped_mid_statement_does_not_poison_the_pool() {
    for backend in common::backends() {
        // SQLite: a database file, so a second, independent pool can check what was committed.
        let (extra, file) = if backend.is_sqlite() {
            let path = std::env::temp_dir()
                .join(format!("dsg_sess_cancel_{}.db", Uuid::new_v4().simple()));
            let uri = format!("sqlite+aiosqlite:///{}", path.display());
            (json!({ "database_uri": uri }), Some(path))
        } else {
            (
                json!({ "pool_size": 1, "max_overflow": 0, "pool_timeout": 10 }),
                None,
            )
        };
        let db = fresh::<CancelRow>(&backend, extra.clone()).await;

        let mut session = db.get_db_session().await.unwrap();
        let started = Instant::now();
        let cancelled = tokio::time::timeout(
            Duration::from_millis(200),
            session.execute(&text(long_statement(&backend))),
        )
        .await;
        assert!(
            cancelled.is_err(),
            "{}: the long statement finished early",
            backend.name
        );
        drop(session);

        // The next session works (on the servers the pool has just one connection)...
        let row = CancelRow {
            base: SchemaBase::new(),
            name: "after cancel".into(),
        };
        let mut next = tokio::time::timeout(Duration::from_secs(15), db.get_db_session())
            .await
            .unwrap_or_else(|_| panic!("{}: next session hung", backend.name))
            .unwrap_or_else(|e| panic!("{}: next session: {e}", backend.name));
        insert(&mut next, &row)
            .await
            .unwrap_or_else(|e| panic!("{}: insert after cancel: {e}", backend.name));
        next.commit()
            .await
            .unwrap_or_else(|e| panic!("{}: commit after cancel: {e}", backend.name));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{}: recovering took {:?}",
            backend.name,
            started.elapsed()
        );

        // ...and its commit was real, not swallowed by a stale transaction: a separate pool
        // sees the row.
        let other = if let Some(path) = &file {
            AsyncDatabase::new(
                DBConfig::new(json!({ "database_uri": format!("sqlite:///{}", path.display()) }))
                    .unwrap(),
            )
        } else {
            backend.database(json!({}))
        };
        let mut check = other.get_db_session().await.unwrap();
        let seen: Vec<CancelRow> = check.fetch_all(&CancelRow::select()).await.unwrap();
        assert_eq!(seen, vec![row], "{}", backend.name);
        check.commit().await.unwrap();
        other.disconnect().await;

        // The pool keeps working afterwards.
        let mut again = db.get_db_session().await.unwrap();
        let n: Option<i64> = again
            .fetch_optional(
                Query::select()
                    .expr(Expr::col("pkid").count())
                    .from(CancelRow::TABLE),
            )
            .await
            .unwrap();
        assert_eq!(n, Some(1), "{}", backend.name);
        again.commit().await.unwrap();
        if !backend.is_sqlite() {
            db.drop_tables().await.unwrap();
            db.disconnect().await;
        }
        if let Some(path) = file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

#[tokio::test]
async fn disconnect_makes_later_use_a_prompt_error() {
    for backend in common::backends() {
        let db = backend.database(json!({}));
        let mut session = db.get_db_session().await.unwrap();
        session.execute(&text("SELECT 1")).await.unwrap();
        session.commit().await.unwrap();
        assert!(!db.is_disconnected());

        tokio::time::timeout(Duration::from_secs(5), db.disconnect())
            .await
            .unwrap_or_else(|_| panic!("{}: disconnect hung", backend.name));
        assert!(db.is_disconnected());

        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(5), db.get_db_session())
            .await
            .unwrap_or_else(|_| panic!("{}: get_db_session after disconnect hung", backend.name));
        let err = result.expect_err("a disconnected database gives no session");
        assert_eq!(
            err.kind(),
            ErrorKind::Disconnected,
            "{}: {err}",
            backend.name
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}",
            backend.name
        );
        // A clone shares the state.
        let err = db.clone().create_tables().await.expect_err("disconnected");
        assert_eq!(
            err.kind(),
            ErrorKind::Disconnected,
            "{}: {err}",
            backend.name
        );
        // Disconnecting twice is harmless.
        tokio::time::timeout(Duration::from_secs(5), db.disconnect())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn disconnect_before_first_use_and_while_a_session_is_held() {
    for backend in common::backends() {
        // Never used: no pool yet, still a clear error afterwards.
        let unused = backend.database(json!({}));
        unused.disconnect().await;
        let err = tokio::time::timeout(Duration::from_secs(5), unused.get_db_session())
            .await
            .unwrap()
            .expect_err("disconnected");
        assert_eq!(
            err.kind(),
            ErrorKind::Disconnected,
            "{}: {err}",
            backend.name
        );

        // Graceful: disconnect waits for the session in use, which can still finish its work.
        let db = backend.database(json!({}));
        let held = db.get_db_session().await.unwrap();
        let closing = tokio::spawn({
            let db = db.clone();
            async move { db.disconnect().await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(db.is_disconnected(), "{}", backend.name);
        let err = tokio::time::timeout(Duration::from_secs(5), db.get_db_session())
            .await
            .unwrap()
            .expect_err("no new sessions while disconnecting");
        assert_eq!(
            err.kind(),
            ErrorKind::Disconnected,
            "{}: {err}",
            backend.name
        );
        held.commit()
            .await
            .unwrap_or_else(|e| panic!("{}: the held session could not finish: {e}", backend.name));
        tokio::time::timeout(Duration::from_secs(5), closing)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{}: disconnect did not finish after the session ended",
                    backend.name
                )
            })
            .unwrap();
    }
}
