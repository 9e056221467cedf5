//! `Session::execute_one`: inside a caller's session or transaction, the same result
//! `DatabaseOperations::execute_one` gives (rows, rowcount, inserted key), on every backend.

mod common;
mod ops_support;

use dsg_lib::async_database_functions::database_operations::ExecuteResult;
use dsg_lib::prelude::*;
use ops_support::{Check, expect_err, fresh};
use serde_json::json;

/// The tests take turns with the table (each drops and creates it).
static TABLE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "se_notes")]
struct Note {
    #[model(primary_key, auto_increment)]
    id: i64,
    #[model(unique, size = 40)]
    body: String,
}

async fn bodies(ops: &DatabaseOperations, ctx: &str) -> Vec<String> {
    ops.read_query(&text("SELECT body FROM se_notes ORDER BY body"))
        .await
        .check(ctx)
}

#[tokio::test]
async fn session_execute_one_reports_like_execute_one() {
    let _turn = TABLE.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<Note>();
        })
        .await;

        let mut session = db.get_db_session().await.check(ctx);
        let first = session
            .execute_one(Note::insert().value(Note::BODY, "a"))
            .await
            .check(ctx);
        assert_eq!(first.rowcount, 1, "[{ctx}]");
        assert!(first.rows.is_empty(), "[{ctx}]");
        // SQLite and MySQL report the key; PostgreSQL gives it through RETURNING.
        if b.name == "postgres" {
            assert_eq!(first.inserted_primary_key, None, "[{ctx}]");
        } else {
            assert!(
                first.inserted_primary_key.is_some_and(|id| id > 0),
                "[{ctx}]"
            );
        }
        let two = session
            .execute_one(
                &text("INSERT INTO se_notes (body) VALUES (:x), (:y)")
                    .bind("x", "b")
                    .bind("y", "c"),
            )
            .await
            .check(ctx);
        assert_eq!(two.rowcount, 2, "[{ctx}]");

        // The session sees its own writes; nothing is visible outside before the commit.
        let inside = session
            .execute_one(&text("SELECT body FROM se_notes ORDER BY body"))
            .await
            .check(ctx);
        assert_eq!(inside.rowcount, 3, "[{ctx}]");
        let seen: Vec<&serde_json::Value> =
            inside.rows.iter().filter_map(|r| r.get("body")).collect();
        assert_eq!(seen, [&json!("a"), &json!("b"), &json!("c")], "[{ctx}]");
        let updated = session
            .execute_one(
                &text("UPDATE se_notes SET body = :n WHERE body = :o")
                    .bind("n", "a2")
                    .bind("o", "a"),
            )
            .await
            .check(ctx);
        assert_eq!(
            updated,
            ExecuteResult {
                rowcount: 1,
                inserted_primary_key: None,
                rows: vec![]
            },
            "[{ctx}]"
        );
        session.commit().await.check(ctx);
        assert_eq!(bodies(&ops, ctx).await, ["a2", "b", "c"], "[{ctx}]");

        // The same statement through DatabaseOperations and through a session: the same result.
        let select =
            text("SELECT id, body FROM se_notes WHERE body <> :x ORDER BY body").bind("x", "zz");
        let outside = ops.execute_one(&select).await.check(ctx);
        let mut session = db.get_db_session().await.check(ctx);
        let within = session.execute_one(&select).await.check(ctx);
        session.rollback().await.check(ctx);
        assert_eq!(within, outside, "[{ctx}]");
        assert_eq!(within.rowcount, 3, "[{ctx}]");

        // RETURNING rows come back as records (MariaDB has DELETE … RETURNING too).
        let mut session = db.get_db_session().await.check(ctx);
        let deleted = session
            .execute_one(
                &text("DELETE FROM se_notes WHERE body = :b RETURNING body").bind("b", "c"),
            )
            .await
            .check(ctx);
        assert_eq!(deleted.rowcount, 1, "[{ctx}]");
        assert_eq!(deleted.rows[0].get("body"), Some(&json!("c")), "[{ctx}]");
        // Rolled back: still there.
        session.rollback().await.check(ctx);
        assert_eq!(bodies(&ops, ctx).await, ["a2", "b", "c"], "[{ctx}]");
        db.disconnect().await;
    }
}

#[tokio::test]
async fn session_execute_one_errors_and_transaction_closure() {
    let _turn = TABLE.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<Note>();
        })
        .await;
        ops.create_one(Note {
            id: 0,
            body: "taken".into(),
        })
        .await
        .check(ctx);

        // A failing statement is the crate's error; the caller's transaction is not committed.
        let mut session = db.get_db_session().await.check(ctx);
        session
            .execute_one(Note::insert().value(Note::BODY, "fresh"))
            .await
            .check(ctx);
        let err = expect_err(
            session
                .execute_one(Note::insert().value(Note::BODY, "taken"))
                .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert!(!err.to_string().is_empty(), "[{ctx}]");
        drop(session);
        assert_eq!(
            bodies(&ops, ctx).await,
            ["taken"],
            "[{ctx}] nothing committed"
        );

        // A statement the database refuses to parse.
        let mut session = db.get_db_session().await.check(ctx);
        let err = session
            .execute_one(&text("SELEC body FROM se_notes"))
            .await
            .unwrap_err();
        assert_ne!(err.kind(), ErrorKind::IntegrityError, "[{ctx}] {err}");
        drop(session);

        // Inside the closure helper: committed on Ok, rolled back on Err.
        let result: ExecuteResult = db
            .transaction(|tx| {
                Box::pin(async move {
                    tx.execute_one(Note::insert().value(Note::BODY, "in-tx"))
                        .await?;
                    tx.execute_one(&text("SELECT body FROM se_notes")).await
                })
            })
            .await
            .check(ctx);
        assert_eq!(result.rowcount, 2, "[{ctx}]");
        let failed = db
            .transaction(|tx| {
                Box::pin(async move {
                    tx.execute_one(Note::insert().value(Note::BODY, "lost"))
                        .await?;
                    tx.execute_one(Note::insert().value(Note::BODY, "taken"))
                        .await
                })
            })
            .await;
        expect_err(failed, ErrorKind::IntegrityError, ctx);
        assert_eq!(bodies(&ops, ctx).await, ["in-tx", "taken"], "[{ctx}]");
        db.disconnect().await;
    }
}
