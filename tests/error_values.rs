//! Errors as values a service can act on, on every backend: which constraint an integrity
//! error violated (name, table, columns), the driver's error as `source()`, and the Python
//! library's strings.

mod common;

use dsg_lib::Model;
use dsg_lib::async_database_functions::{
    async_database::AsyncDatabase,
    base_schema::SchemaBase,
    database_operations::DatabaseOperations,
    error::{Constraint, DatabaseError, ErrorKind, ErrorStyle},
};
use serde_json::json;
#[allow(unused_imports)] // `source()`, in tests some backend features leave out
use std::error::Error as _;

#[derive(Model, Debug, Clone)]
#[model(table = "errv_accounts")]
struct Account {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    #[model(unique, index, size = 100)]
    email: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "errv_posts")]
struct Post {
    #[model(flatten)]
    base: SchemaBase,
    #[model(foreign_key = "errv_accounts.pkid", size = 36)]
    account_id: String,
    title: String,
}

fn account(name: &str, email: &str) -> Account {
    Account {
        base: SchemaBase::new(),
        name: name.into(),
        email: email.into(),
    }
}

/// The tests share two tables: one at a time.
static TABLES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn fresh(
    backend: &common::Backend,
    extra: serde_json::Value,
) -> (AsyncDatabase, DatabaseOperations) {
    let db = backend.database(extra);
    db.register::<Account>();
    db.register::<Post>();
    db.drop_tables().await.unwrap();
    db.create_tables().await.unwrap();
    (db.clone(), DatabaseOperations::new(db))
}

async fn duplicate(ops: &DatabaseOperations, row: Account) -> DatabaseError {
    ops.create_one(row).await.unwrap_err()
}

#[tokio::test]
async fn a_duplicate_name_and_a_duplicate_email_are_told_apart() {
    let _tables = TABLES.lock().await;
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({})).await;
        ops.create_one(account("mike", "mike@example.com"))
            .await
            .unwrap();

        let by_name = duplicate(&ops, account("mike", "other@example.com")).await;
        let by_email = duplicate(&ops, account("sara", "mike@example.com")).await;
        for err in [&by_name, &by_email] {
            assert_eq!(err.kind(), ErrorKind::IntegrityError, "{name}: {err}");
            assert!(err.is_unique_violation(), "{name}: {err}");
        }
        // One call tells them apart on every backend, by the column or by the index.
        assert!(by_name.violates("name") && by_name.violates("ix_errv_accounts_name"));
        assert!(!by_name.violates("email") && !by_name.violates("ix_errv_accounts_email"));
        assert!(by_email.violates("email") && by_email.violates("ix_errv_accounts_email"));
        assert!(!by_email.violates("name") && !by_email.violates("ix_errv_accounts_name"));

        // SQLite reports table and column (`UNIQUE constraint failed: errv_accounts.name`),
        // MariaDB the index alone, PostgreSQL all three: the registered model fills in the
        // rest, so every backend gives the same.
        assert_eq!(
            by_name.constraint_name(),
            Some("ix_errv_accounts_name"),
            "{name}: {by_name:?}"
        );
        assert_eq!(
            by_email.constraint_name(),
            Some("ix_errv_accounts_email"),
            "{name}: {by_email:?}"
        );
        assert_eq!(
            by_name.table(),
            Some("errv_accounts"),
            "{name}: {by_name:?}"
        );
        assert_eq!(by_name.columns(), ["name"], "{name}: {by_name:?}");
        assert_eq!(by_email.columns(), ["email"], "{name}: {by_email:?}");
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[tokio::test]
async fn foreign_key_and_not_null_violations_name_what_they_can() {
    let _tables = TABLES.lock().await;
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({})).await;
        let err = ops
            .create_one(Post {
                base: SchemaBase::new(),
                account_id: "no-such-account".into(),
                title: "hello".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IntegrityError, "{name}: {err}");
        assert_eq!(
            err.constraint(),
            Some(Constraint::ForeignKey),
            "{name}: {err}"
        );
        if !backend.is_sqlite() {
            // SQLite says only "FOREIGN KEY constraint failed".
            assert_eq!(
                err.constraint_name(),
                Some("fk_errv_posts_account_id"),
                "{name}: {err:?}"
            );
            assert_eq!(err.table(), Some("errv_posts"), "{name}: {err:?}");
        }
        if backend.name == "mysql" {
            assert_eq!(err.columns(), ["account_id"], "{name}: {err:?}");
        }

        // NOT NULL through text(): every backend names the column.
        let sql = "INSERT INTO errv_accounts (pkid, date_created, date_updated, name, email) \
                   VALUES (:pkid, :now, :now, NULL, :email)";
        let err = ops
            .execute_one(
                &dsg_lib::async_database_functions::statement::text(sql)
                    .bind("pkid", "p1")
                    .bind("now", chrono::Utc::now())
                    .bind("email", "x@example.com"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.constraint(), Some(Constraint::NotNull), "{name}: {err}");
        assert_eq!(err.columns(), ["name"], "{name}: {err:?}");
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[tokio::test]
// Names each backend's own error type: built with all three backends.
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn the_driver_error_is_the_source_unless_values_are_hidden() {
    let _tables = TABLES.lock().await;
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({})).await;
        ops.create_one(account("mike", "m@example.com"))
            .await
            .unwrap();
        let err = duplicate(&ops, account("mike", "n@example.com")).await;
        let source = err.source().unwrap_or_else(|| panic!("{name}: no source"));
        if backend.is_sqlite() {
            // SQLite runs on rusqlite: its error, with the message the details quote.
            let engine = source
                .downcast_ref::<dsg_lib::rusqlite::Error>()
                .unwrap_or_else(|| panic!("{name}: the source is rusqlite's error"));
            assert!(
                matches!(engine, dsg_lib::rusqlite::Error::SqliteFailure(_, Some(m)) if m == err.details()),
                "{name}: {engine:?}"
            );
        } else {
            let driver = source
                .downcast_ref::<sqlx::Error>()
                .unwrap_or_else(|| panic!("{name}: the source is sqlx's error"));
            let db_error = driver.as_database_error().expect("a database error");
            assert_eq!(db_error.message(), err.details(), "{name}");
        }
        // Equal errors stay equal whatever their source; clones keep it.
        let plain = DatabaseError::new(err.kind(), err.details());
        assert_ne!(plain, err, "code and constraint differ");
        assert!(err.clone().source().is_some());
        assert_eq!(err.clone(), err);
        db.drop_tables().await.unwrap();
        db.disconnect().await;

        // With hide_parameters the driver's error (whose fields may quote the value) is kept
        // back.
        let (db, ops) = fresh(&backend, json!({"hide_parameters": true})).await;
        ops.create_one(account("Secret-Value-31337", "m@example.com"))
            .await
            .unwrap();
        let err = duplicate(&ops, account("Secret-Value-31337", "n@example.com")).await;
        assert!(err.source().is_none(), "{name}");
        assert!(
            err.violates("name") || err.violates("ix_errv_accounts_name"),
            "{name}: {err:?}"
        );
        for text in [
            err.to_string(),
            format!("{err:?}"),
            serde_json::to_string(&err).unwrap(),
        ] {
            assert!(!text.contains("Secret-Value-31337"), "{name}: {text}");
        }
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

/// A failed connect keeps the driver's error as its source, and neither carries the password.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_connection_error_has_a_source_without_the_password() {
    let config = dsg_lib::async_database_functions::database_config::DBConfig::new(json!({
        "database_uri": "postgresql://app:pw-31337@127.0.0.1:5432/no_such_db_errv",
        "pool_timeout": 5,
    }))
    .unwrap();
    let ops = DatabaseOperations::new(AsyncDatabase::new(config));
    let err = ops
        .execute_one(&dsg_lib::async_database_functions::statement::text(
            "SELECT 1",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionError, "{err}");
    if std::env::var("DSG_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty()) {
        // The server is up and refuses the login or the database: the driver's error.
        assert!(err.source().is_some(), "{err:?}");
    }
    let mut texts = vec![err.to_string(), format!("{err:?}")];
    let mut source = err.source();
    while let Some(s) = source {
        texts.push(s.to_string());
        texts.push(format!("{s:?}"));
        source = s.source();
    }
    for text in texts {
        assert!(!text.contains("pw-31337"), "{text}");
    }
}

#[tokio::test]
async fn the_python_strings_for_operation_errors() {
    let _tables = TABLES.lock().await;
    let backend = &common::backends()[0];
    let (db, ops) = fresh(backend, json!({})).await;
    let missing = ops.delete_one::<Account>("nope").await.unwrap_err();
    assert_eq!(missing.to_python_value()["error"], "Record not found");
    let page = ops
        .paginate_query::<Account>(
            &<Account as dsg_lib::async_database_functions::model::Model>::select(),
            0,
            10,
        )
        .await
        .unwrap_err();
    assert_eq!(
        serde_json::to_value(page.clone().with_style(ErrorStyle::Python)).unwrap()["error"],
        "Invalid pagination parameters"
    );
    assert_eq!(
        serde_json::to_value(&page).unwrap()["error"],
        "InvalidInput"
    );
    ops.create_one(account("a", "a@x")).await.unwrap();
    let dup = duplicate(&ops, account("a", "b@x")).await;
    assert_eq!(dup.python_error(), "IntegrityError");
    let bad = ops
        .update_one::<Account>("nope", json!({"no_such_column": 1}))
        .await
        .unwrap_err();
    assert_eq!(bad.python_error(), "SQLAlchemyError");
    db.drop_tables().await.unwrap();
    db.disconnect().await;
}
