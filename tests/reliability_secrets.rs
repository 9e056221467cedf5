//! Secrets never leak: with `echo` on and a password in the URI (as userinfo and as a
//! `password=` parameter), all `tracing` output and every error's Display, Debug and JSON form
//! are checked, for a failed connect, a constraint violation and a normal query. With
//! `hide_parameters`, no bound value appears either.

mod common;
mod ops_support;

use std::sync::OnceLock;

use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
use dsg_lib::async_database_functions::statement::text;
use ops_support::Capture;
use serde_json::json;

const PASSWORD: &str = "Pw-7f3a9c-SECRET";
const BOUND: &str = "BoundValue-SECRET-42";

#[derive(Model, Debug, Clone)]
#[model(table = "rel_secret_users")]
struct SecretUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    visits: Option<i64>,
}

/// Everything logged by this test binary, at every level.
fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        capture
    })
}

/// Asserts that no form of `err` carries any of `secrets`.
#[track_caller]
fn assert_clean(err: &DatabaseError, secrets: &[&str], ctx: &str) {
    let forms = [
        err.to_string(),
        format!("{err:?}"),
        serde_json::to_string(err).expect("errors serialise"),
    ];
    for form in forms {
        for secret in secrets {
            assert!(!form.contains(secret), "[{ctx}] {secret:?} leaked: {form}");
        }
    }
}

#[track_caller]
fn assert_logs_clean(secrets: &[&str], ctx: &str) {
    let text = logs().peek();
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "[{ctx}] {secret:?} leaked into the logs: {text}"
        );
    }
}

/// `uri` with `PASSWORD` set as userinfo password, or as a `password=` query parameter.
fn with_password(uri: &str, as_parameter: bool) -> String {
    let mut url = url::Url::parse(uri).expect("test URIs parse");
    if as_parameter {
        url.query_pairs_mut().append_pair("password", PASSWORD);
    } else {
        url.set_password(Some(PASSWORD)).expect("a URI with a host");
    }
    url.to_string()
}

fn config(uri: &str, extra: serde_json::Value) -> DBConfig {
    let mut map = json!({ "database_uri": uri, "echo": true });
    if let (Some(m), Some(e)) = (map.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    DBConfig::new(map).unwrap_or_else(|e| panic!("config {uri}: {e}"))
}

#[test]
fn config_and_database_never_show_the_password() {
    for uri in [
        "postgresql+asyncpg://app@db.example:5432/prod",
        "mysql+aiomysql://app@db.example:3306/prod",
    ] {
        for as_parameter in [false, true] {
            let uri = with_password(uri, as_parameter);
            let mut uri_with_more = url::Url::parse(&uri).unwrap();
            uri_with_more
                .query_pairs_mut()
                .append_pair("sslpassword", "KeyPass-SECRET")
                .append_pair("application_name", "visible-app");
            let cfg = config(uri_with_more.as_str(), json!({}));
            let db = AsyncDatabase::new(cfg.clone());
            for shown in [
                format!("{cfg:?}"),
                cfg.to_string(),
                cfg.redacted_uri(),
                format!("{db:?}"),
            ] {
                assert!(!shown.contains(PASSWORD), "{shown}");
                assert!(!shown.contains("KeyPass-SECRET"), "{shown}");
            }
            assert!(cfg.redacted_uri().contains("visible-app"));
        }
    }
}

#[tokio::test]
async fn a_failed_connect_never_shows_the_password() {
    logs();
    // A closed port: the error names the address, not the password.
    let mut targets = vec![
        (
            "postgres-closed",
            "postgres://app@127.0.0.1:1/db".to_string(),
        ),
        ("mysql-closed", "mysql://app@127.0.0.1:1/db".to_string()),
    ];
    // Real servers refusing the login or the database.
    for backend in common::backends() {
        match backend.name {
            "postgres" => {
                let mut url = url::Url::parse(&backend.uri).unwrap();
                url.set_path("/no_such_database_dsg");
                targets.push(("postgres-no-db", url.to_string()));
            }
            "mysql" => targets.push(("mysql-denied", backend.uri.clone())),
            _ => {}
        }
    }
    for (name, uri) in targets {
        // sqlx's MySQL driver reads no `password=` parameter: there only userinfo is refused.
        let forms: &[bool] = if name == "mysql-denied" {
            &[false]
        } else {
            &[false, true]
        };
        for &as_parameter in forms {
            let db = AsyncDatabase::new(config(
                &with_password(&uri, as_parameter),
                json!({"pool_timeout": 5}),
            ));
            let err = db
                .get_db_session()
                .await
                .expect_err("the connection is refused");
            assert_eq!(err.kind(), ErrorKind::ConnectionError, "[{name}] {err}");
            assert_clean(&err, &[PASSWORD], name);
            db.disconnect().await;
        }
    }
    assert_logs_clean(&[PASSWORD], "failed connects");
}

/// The server URI of `backend` with `PASSWORD` as a `password=` parameter where the server
/// ignores it (PostgreSQL's trust auth), else unchanged.
fn working_uri(backend: &Backend) -> String {
    match backend.name {
        "postgres" => with_password(&backend.uri, true),
        _ => backend.uri.clone(),
    }
}

#[tokio::test]
async fn queries_and_violations_never_show_the_password_or_hidden_values() {
    logs();
    for backend in common::backends() {
        let name = backend.name;
        let db = AsyncDatabase::new(config(
            &working_uri(&backend),
            json!({"hide_parameters": true}),
        ));
        db.register::<SecretUser>();
        db.drop_tables().await.unwrap();
        db.create_tables().await.unwrap();
        let ops = DatabaseOperations::new(db.clone());
        let user = SecretUser {
            base: SchemaBase::default(),
            name: BOUND.into(),
            visits: Some(987_654_321),
        };
        let stored = ops.create_one(user.clone()).await.unwrap();
        let found: Vec<SecretUser> = ops
            .read_query(&text("SELECT * FROM rel_secret_users WHERE name = :n").bind("n", BOUND))
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "[{name}]");

        // A unique violation quoting the value (MariaDB: "Duplicate entry '…'").
        let dup = ops.create_one(user).await.expect_err("duplicate name");
        assert_eq!(dup.kind(), ErrorKind::IntegrityError, "[{name}] {dup}");
        assert_clean(&dup, &[PASSWORD, BOUND], name);

        // Not found: the id asked for is a bound value too.
        let missing = ops
            .delete_one::<SecretUser>("Missing-Id-SECRET")
            .await
            .expect_err("no such row");
        assert_eq!(missing.kind(), ErrorKind::RecordNotFound, "[{name}]");
        assert_clean(&missing, &["Missing-Id-SECRET"], name);

        // A value of the wrong type for update_one.
        let wrong = ops
            .update_one::<SecretUser>(stored.base.pkid.clone(), json!({"name": 123_456_789}))
            .await
            .expect_err("a number is not a name");
        assert_eq!(wrong.kind(), ErrorKind::InvalidInput, "[{name}] {wrong}");
        assert_clean(&wrong, &["123456789"], name);

        // A message of the server's own that quotes the value.
        let bad = match name {
            "postgres" => text("SELECT CAST(:v AS INTEGER)").bind("v", BOUND),
            // 1292: "Incorrect datetime value: '…' for column …".
            "mysql" => text(
                "INSERT INTO rel_secret_users (pkid, name, date_created) VALUES ('x', 'y', :v)",
            )
            .bind("v", BOUND),
            _ => {
                text("INSERT INTO rel_secret_users (pkid, name) VALUES (NULL, :v)").bind("v", BOUND)
            }
        };
        let err = ops
            .execute_one(&bad)
            .await
            .expect_err(&format!("[{name}] a bad value"));
        assert_clean(&err, &[PASSWORD, BOUND], name);

        // execute_many reports which statement failed, still without the value.
        let err = ops
            .execute_many(vec![
                text("SELECT 1"),
                text("INSERT INTO rel_secret_users (pkid, name) VALUES (:p, :n)")
                    .bind("p", stored.base.pkid.clone())
                    .bind("n", "Other-SECRET-Name"),
            ])
            .await
            .expect_err("duplicate primary key");
        assert_eq!(err.statement_index(), Some(1), "[{name}] {err}");
        assert_clean(
            &err,
            &[PASSWORD, "Other-SECRET-Name", &stored.base.pkid],
            name,
        );

        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
    let logged = logs().peek();
    assert!(
        logged.contains("rel_secret_users"),
        "echo logs the statements: {logged}"
    );
    for secret in [PASSWORD, BOUND, "Missing-Id-SECRET", "Other-SECRET-Name"] {
        assert!(!logged.contains(secret), "{secret:?} leaked into the logs");
    }
}
