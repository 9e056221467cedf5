//! A build without TLS (neither `tls-rustls` nor `tls-native-tls`, as
//! `default-features = false, features = ["postgres", "mysql"]` gives): a `sslmode` that needs
//! TLS is a `ConfigurationError` that names the features to turn on, on first use; the default
//! `prefer` (and `allow`) connects in plain text. On PostgreSQL on either executor (with and
//! without `pg-pipeline`) and MySQL/MariaDB, against the machine's servers when their URLs are
//! set. Compiled to nothing in a build that has TLS (CI builds it without, see `.ci/run`).
#![cfg(not(any(feature = "tls-rustls", feature = "tls-native-tls")))]

mod common;

use dsg_lib::prelude::*;
use serde_json::json;

#[tokio::test]
async fn without_tls_a_mode_that_needs_it_is_a_configuration_error_and_prefer_goes_plain() {
    for backend in common::servers() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let db = backend.database(json!({"connect_args": {"sslmode": mode}}));
            let err = DatabaseOperations::new(db.clone())
                .read_one_record::<i64>(&text("SELECT 1"))
                .await
                .expect_err("TLS asked of a build without it");
            assert_eq!(
                err.kind(),
                ErrorKind::ConfigurationError,
                "{} {mode}: {err}",
                backend.name
            );
            let message = err.to_string();
            assert!(
                message.contains("sslmode") && message.contains("tls-rustls"),
                "{} {mode}: the error should name the key and the feature: {message}",
                backend.name
            );
            db.disconnect().await;
        }
        // A BIGINT on either server (MariaDB's integer literals are BIGINT already).
        let one_sql = if backend.name == "mysql" {
            "SELECT 1"
        } else {
            "SELECT CAST(1 AS BIGINT)"
        };
        for args in [
            json!({}),
            json!({"sslmode": "prefer"}),
            json!({"sslmode": "allow"}),
        ] {
            let db = backend.database(json!({"connect_args": args}));
            let one = DatabaseOperations::new(db.clone())
                .read_one_record::<i64>(&text(one_sql))
                .await
                .unwrap_or_else(|e| panic!("{} {args}: {e}", backend.name));
            assert_eq!(one, Some(1), "{} {args}", backend.name);
            if backend.name == "postgres" {
                // The server offers TLS; this build cannot take it up.
                let ssl = DatabaseOperations::new(db.clone())
                    .read_one_record::<bool>(&text(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    ))
                    .await
                    .expect("pg_stat_ssl");
                assert_eq!(ssl, Some(false), "{args}: the session should be plain text");
            }
            db.disconnect().await;
        }
    }
    // The same check without a server: the configuration is refused before any connection.
    let db = AsyncDatabase::new(
        DBConfig::new(json!({
            "database_uri": "postgresql://app@127.0.0.1:1/db",
            "connect_args": {"sslmode": "require"},
        }))
        .expect("config"),
    );
    let err = DatabaseOperations::new(db)
        .read_one_record::<i64>(&text("SELECT 1"))
        .await
        .expect_err("TLS asked of a build without it");
    assert_eq!(err.kind(), ErrorKind::ConfigurationError, "{err}");
}
