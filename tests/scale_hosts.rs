//! Several hosts in one URI, `target_session_attrs`, and the `retry` and
//! `transaction_pooling` keys, on SQLite and the shared servers (the clusters have their own
//! test files: `scale_galera.rs`, `scale_pgbouncer.rs`).

mod common;

use std::time::{Duration, Instant};

use dsg_lib::prelude::*;
use serde_json::json;

fn config(map: serde_json::Value) -> Result<DBConfig, DatabaseError> {
    DBConfig::new(map)
}

#[test]
fn a_multi_host_uri_names_every_host_and_hides_the_password() {
    let c = config(json!({
        "database_uri": "mysql://root:s3cret@127.0.0.1:3307,127.0.0.1:3308,127.0.0.1:3309/test"
    }))
    .unwrap();
    assert_eq!(
        c.hosts(),
        ["127.0.0.1:3307", "127.0.0.1:3308", "127.0.0.1:3309"]
    );
    assert_eq!(c.target_session_attrs(), TargetSessionAttrs::Any);
    let shown = format!("{c} {c:?} {}", c.redacted_uri());
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("127.0.0.1:3307,127.0.0.1:3308,127.0.0.1:3309"),
        "{shown}"
    );
}

#[test]
fn target_session_attrs_are_read_and_checked() {
    let c = config(json!({
        "database_uri": "postgresql+asyncpg://u@h1:5440,h2:5441/db?target_session_attrs=read-write"
    }))
    .unwrap();
    assert_eq!(c.target_session_attrs(), TargetSessionAttrs::ReadWrite);
    assert_eq!(c.hosts(), ["h1:5440", "h2:5441"]);
    let e = config(json!({
        "database_uri": "postgresql://u@h1,h2/db?target_session_attrs=writable"
    }))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigurationError);
    assert!(e.details().contains("target_session_attrs"), "{e}");
    let e = config(json!({"database_uri": "postgresql://u@h1,,h2/db"})).unwrap_err();
    assert!(e.details().contains("empty host"), "{e}");
    let e = config(json!({"database_uri": "postgresql://u@h1:5432,h2:99999/db"})).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigurationError, "{e}");
}

#[test]
fn the_retry_key_is_validated_on_every_dialect() {
    for uri in ["sqlite::memory:", "postgresql://u@h/db", "mysql://u@h/db"] {
        let c = config(json!({"database_uri": uri, "retry": {"max_attempts": 7}})).unwrap();
        assert_eq!(c.retry().max_attempts, 7);
        let e = config(json!({"database_uri": uri, "retry": {"max_attempts": 0}})).unwrap_err();
        assert!(e.details().contains("retry.max_attempts"), "{e}");
        let e = config(json!({"database_uri": uri, "retry": {"tries": 2}})).unwrap_err();
        assert!(e.details().contains("tries"), "{e}");
    }
    assert_eq!(
        config(json!({"database_uri": "sqlite::memory:"}))
            .unwrap()
            .retry()
            .max_attempts,
        15
    );
}

#[test]
fn transaction_pooling_is_for_postgresql_without_startup_options() {
    let ok =
        config(json!({"database_uri": "postgresql://u@h:6432/db", "transaction_pooling": true}))
            .unwrap();
    assert!(ok.transaction_pooling());
    assert_eq!(
        ok.query_cache_size(),
        0,
        "no named statements behind a pooler"
    );
    for (extra, named) in [
        (json!({"database_uri": "mysql://u@h/db"}), "MySQL"),
        (json!({"database_uri": "sqlite::memory:"}), "sqlite"),
        (
            json!({"database_uri": "postgresql://u@h/db", "isolation_level": "SERIALIZABLE"}),
            "isolation_level",
        ),
        (
            json!({"database_uri": "postgresql://u@h/db", "isolation_level": "AUTOCOMMIT"}),
            "AUTOCOMMIT",
        ),
        (
            json!({"database_uri": "postgresql://u@h/db",
                   "connect_args": {"server_settings": {"search_path": "x"}}}),
            "server_settings",
        ),
    ] {
        let mut map = extra;
        map["transaction_pooling"] = json!(true);
        let e = config(map).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigurationError);
        assert!(
            e.details().to_lowercase().contains(&named.to_lowercase()),
            "{named}: {e}"
        );
    }
}

/// The first server a URI names is down (a closed port): the crate goes on with the next one
/// at once, and keeps working.
#[tokio::test]
async fn a_dead_host_is_skipped() {
    for backend in common::backends().into_iter().filter(|b| !b.is_sqlite()) {
        let (scheme, rest) = backend.uri.split_once("://").unwrap();
        let (user, host_and_db) = rest.split_once('@').unwrap();
        let (_, db) = host_and_db.split_once('/').unwrap();
        let live = host_and_db.split_once('/').unwrap().0;
        let uri = format!("{scheme}://{user}@127.0.0.1:1,{live}/{db}");
        let db =
            AsyncDatabase::new(config(json!({"database_uri": uri, "pool_timeout": 10})).unwrap());
        let ops = DatabaseOperations::new(db.clone());
        let started = Instant::now();
        for _ in 0..20 {
            let one: Vec<i64> = ops
                .read_query(&text("SELECT CAST(1 AS SIGNED) AS one".replace(
                    "SIGNED",
                    if backend.name == "postgres" {
                        "BIGINT"
                    } else {
                        "SIGNED"
                    },
                )))
                .await
                .unwrap_or_else(|e| panic!("[{}] {e}", backend.name));
            assert_eq!(one, [1]);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "[{}] 20 reads took {:?}",
            backend.name,
            started.elapsed()
        );
        db.disconnect().await;
    }
}

/// A primary asked for as a standby: no host fits, a clear connection error naming the hosts
/// and what they are, at once.
#[tokio::test]
async fn no_host_fitting_target_session_attrs_is_a_clear_error() {
    for backend in common::backends().into_iter().filter(|b| !b.is_sqlite()) {
        let sep = if backend.uri.contains('?') { '&' } else { '?' };
        let uri = format!("{}{sep}target_session_attrs=standby", backend.uri);
        let db = AsyncDatabase::new(config(json!({"database_uri": uri, "retry": false})).unwrap());
        let e = db.get_db_session().await.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::ConnectionError,
            "[{}] {e}",
            backend.name
        );
        assert!(
            e.details().contains("target_session_attrs=standby") && e.details().contains("primary"),
            "[{}] {e}",
            backend.name
        );
        let uri = format!("{}{sep}target_session_attrs=read-write", backend.uri);
        let db = AsyncDatabase::new(config(json!({"database_uri": uri})).unwrap());
        let session = db
            .get_db_session()
            .await
            .unwrap_or_else(|e| panic!("[{}] {e}", backend.name));
        session.commit().await.unwrap();
        let uri = format!("{}{sep}target_session_attrs=prefer-standby", backend.uri);
        let db = AsyncDatabase::new(config(json!({"database_uri": uri})).unwrap());
        let session = db
            .get_db_session()
            .await
            .unwrap_or_else(|e| panic!("[{}] {e}", backend.name));
        session.commit().await.unwrap();
    }
}

#[test]
fn read_replica_uris_are_validated_naming_the_key() {
    let c = config(json!({
        "database_uri": "postgresql+asyncpg://app:s3cret@10.0.0.1:5432/app",
        "read_replica_uris": ["postgresql://app:r3plica@10.0.0.2:5432/app",
                              "postgres://app@10.0.0.3,10.0.0.4/app"],
        "read_replica_max_lag_ms": 250,
    }))
    .unwrap();
    assert_eq!(c.read_replicas().len(), 3);
    assert_eq!(c.read_replica_max_lag(), Duration::from_millis(250));
    let shown = format!("{c:?} {c}");
    assert!(
        !shown.contains("s3cret") && !shown.contains("r3plica"),
        "{shown}"
    );
    for (map, named) in [
        (
            json!({"database_uri": "sqlite::memory:", "read_replica_uris": ["sqlite::memory:"]}),
            "read_replica_uris",
        ),
        (
            json!({"database_uri": "mysql://u@h/db", "read_replica_uris": ["mysql://u@r/db"]}),
            "read_replica_uris",
        ),
        (
            json!({"database_uri": "postgresql://u@h/db", "read_replica_uris": ["mysql://u@r/db"]}),
            "read_replica_uris[0]",
        ),
        (
            json!({"database_uri": "postgresql://u@h/db", "read_replica_uris": ["postgresql://u@r/db", 5]}),
            "read_replica_uris[1]",
        ),
        (
            json!({"database_uri": "postgresql://u@h/db", "read_replica_uris": "postgresql://u@r/db"}),
            "read_replica_uris",
        ),
        (
            json!({"database_uri": "postgresql://u@h/db", "read_replica_uris": ["not a uri"]}),
            "read_replica_uris[0]",
        ),
        (
            json!({"database_uri": "postgresql://u@h/db", "read_replica_max_lag_ms": -3}),
            "read_replica_max_lag_ms",
        ),
    ] {
        let e = config(map.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigurationError, "{map}");
        assert!(e.details().contains(named), "{map}: {e}");
    }
}
