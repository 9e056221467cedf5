//! `DBConfig` reads its map through serde types (issue 22): each error keeps its wording, names
//! the key by its path (`connect_args.timeout`, `retry.max_attempts`, `read_replica_uris[1]`)
//! and never shows a secret; keys that say the same thing have a fixed precedence, which the
//! sessions of every backend follow.

mod common;

use std::time::Duration;

use dsg_lib::async_database_functions::database_config::{DBConfig, IsolationLevel, SslMode};
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::statement::text;
use serde_json::{Value, json};

const PG: &str = "postgresql://app:s3cr3t-pw@db.internal/app";
const SQLITE: &str = "sqlite::memory:";

/// `DBConfig::new`'s configuration error for `extra` on `uri`.
#[track_caller]
fn error(uri: &str, extra: Value) -> String {
    let mut map = json!({ "database_uri": uri });
    map.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let err = DBConfig::new(map.clone()).expect_err(&format!("{map} should be refused"));
    assert_eq!(err.kind(), ErrorKind::ConfigurationError, "{map}: {err}");
    err.details().to_string()
}

#[track_caller]
fn config(uri: &str, extra: Value) -> DBConfig {
    let mut map = json!({ "database_uri": uri });
    map.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    DBConfig::new(map.clone()).unwrap_or_else(|e| panic!("{map}: {e}"))
}

/// The exact message of each kind of wrong value: the key's path, then what it takes and what
/// it got (the value for numbers and names, the type otherwise).
#[test]
fn every_message_names_the_key_by_its_path_and_keeps_its_wording() {
    let cases: &[(&str, Value, &str)] = &[
        (
            PG,
            json!({"pool_size": "five"}),
            "pool_size must be a whole number, got a string",
        ),
        (
            PG,
            json!({"pool_size": -1}),
            "pool_size must not be negative, got -1",
        ),
        (
            PG,
            json!({"pool_size": 10_001}),
            "pool_size must be at most 10000, got 10001",
        ),
        (
            PG,
            json!({"max_overflow": 1.5}),
            "max_overflow must be a whole number, got a number",
        ),
        (
            PG,
            json!({"max_overflow": 2.0}),
            "max_overflow must be a whole number, got a number",
        ),
        (
            PG,
            json!({"query_cache_size": 1e19}),
            "query_cache_size must be at most 100000, got 1e+19",
        ),
        (
            PG,
            json!({"pool_timeout": "soon"}),
            "pool_timeout must be a number of seconds, got a string",
        ),
        (
            PG,
            json!({"pool_timeout": -3}),
            "pool_timeout must be a positive number of seconds, got -3",
        ),
        (
            PG,
            json!({"pool_timeout": 31_536_001}),
            "pool_timeout must be at most 31536000 seconds, got 31536001",
        ),
        (
            PG,
            json!({"pool_recycle": 0}),
            "pool_recycle must be a positive number of seconds, or -1 for none",
        ),
        (
            PG,
            json!({"echo": "yes"}),
            "echo must be true or false, got a string",
        ),
        (
            PG,
            json!({"transaction_pooling": 1}),
            "transaction_pooling must be true or false, got a number",
        ),
        (
            PG,
            json!({"isolation_level": 5}),
            "isolation_level must be a string such as \"READ COMMITTED\", got a number",
        ),
        (
            PG,
            json!({"isolation_level": "SUPER SAFE"}),
            "isolation_level: unknown isolation level \"SUPER SAFE\"; expected one of READ \
             UNCOMMITTED, READ COMMITTED, REPEATABLE READ, SERIALIZABLE, AUTOCOMMIT",
        ),
        (
            SQLITE,
            json!({"execution_options": {"isolation_level": "REPEATABLE READ"}}),
            "execution_options.isolation_level: isolation level REPEATABLE READ is not supported \
             by sqlite",
        ),
        (
            PG,
            json!({"slow_statement_ms": "fast"}),
            "slow_statement_ms must be a number of milliseconds, got a string",
        ),
        (
            PG,
            json!({"slow_statement_ms": 0}),
            "slow_statement_ms must be a positive number of milliseconds, at most 31536000000, \
             got 0",
        ),
        (
            PG,
            json!({"connect_args": "timeout=5"}),
            "connect_args must be a map, got a string",
        ),
        (
            PG,
            json!({"connect_args": {"timeout": "long"}}),
            "connect_args.timeout must be a number of seconds, got a string",
        ),
        (
            PG,
            json!({"connect_args": {"connect_timeout": 0}}),
            "connect_args.connect_timeout must be a positive number of seconds, got 0",
        ),
        // SQLite's busy timeout is a C int of milliseconds.
        (
            SQLITE,
            json!({"connect_args": {"timeout": 2_200_000}}),
            "connect_args.timeout must be at most 2147483 seconds, got 2200000",
        ),
        (
            PG,
            json!({"connect_args": {"sslmode": "sometimes"}}),
            "connect_args.sslmode: unknown ssl mode \"sometimes\"; expected disable, allow, \
             prefer, require, verify-ca or verify-full",
        ),
        (
            PG,
            json!({"connect_args": {"ssl": 1}}),
            "connect_args.ssl must be a string, got a number",
        ),
        (
            PG,
            json!({"connect_args": {"statement_cache_size": 100_001}}),
            "connect_args.statement_cache_size must be at most 100000, got 100001",
        ),
        (
            PG,
            json!({"connect_args": {"server_settings": {"search_path": ["a"]}}}),
            "connect_args.server_settings.search_path must be a string, got a list",
        ),
        (
            PG,
            json!({"connect_args": {"server_settings": "search_path=a"}}),
            "connect_args.server_settings must be a map, got a string",
        ),
        (
            "mysql://u@h/db",
            json!({"connect_args": {"application_name": "svc"}}),
            "connect_args.application_name is only supported on PostgreSQL, not mysql",
        ),
        (
            PG,
            json!({"connect_args": {"charset": "utf8mb4"}}),
            "connect_args.charset is only supported on MySQL/MariaDB, not postgresql",
        ),
        (
            PG,
            json!({"execution_options": []}),
            "execution_options must be a map, got a list",
        ),
        (
            PG,
            json!({"retry": "often"}),
            "retry must be true, false or a map, got a string",
        ),
        (
            PG,
            json!({"retry": {"max_attempts": 0}}),
            "retry.max_attempts must be at least 1 (1: never re-run)",
        ),
        (
            PG,
            json!({"retry": {"max_attempts": "3"}}),
            "retry.max_attempts must be a whole number, got a string",
        ),
        (
            PG,
            json!({"retry": {"base_delay_ms": 60_001}}),
            "retry.base_delay_ms must be at most 60000, got 60001",
        ),
        (
            PG,
            json!({"read_replica_uris": "postgresql://u@r/db"}),
            "read_replica_uris must be a list of URIs, got a string",
        ),
        (
            PG,
            json!({"read_replica_uris": ["postgresql://u@r/db", 5]}),
            "read_replica_uris[1] must be a URI string, got a number",
        ),
        (
            PG,
            json!({"read_replica_max_lag_ms": 60_001}),
            "read_replica_max_lag_ms must be at most 60000, got 60001",
        ),
        (
            PG,
            json!({"pool_size": 10_000, "max_overflow": 1}),
            "pool_size + max_overflow must be at most 10000, got 10001",
        ),
    ];
    for (uri, extra, expected) in cases {
        assert_eq!(error(uri, extra.clone()), *expected, "{extra}");
    }
}

/// A key given as `null` is a wrong value like any other, not an absent key.
#[test]
fn null_is_refused_naming_the_key() {
    for (extra, key) in [
        (json!({"echo": null}), "echo"),
        (json!({"pool_size": null}), "pool_size"),
        (json!({"pool_timeout": null}), "pool_timeout"),
        (json!({"isolation_level": null}), "isolation_level"),
        (json!({"connect_args": null}), "connect_args"),
        (
            json!({"connect_args": {"timeout": null}}),
            "connect_args.timeout",
        ),
        (
            json!({"connect_args": {"sslkey": null}}),
            "connect_args.sslkey",
        ),
        (json!({"retry": null}), "retry"),
        (
            json!({"retry": {"max_delay_ms": null}}),
            "retry.max_delay_ms",
        ),
        (json!({"read_replica_uris": [null]}), "read_replica_uris[0]"),
    ] {
        let message = error(PG, extra.clone());
        assert!(
            message.starts_with(key) && message.ends_with("got null"),
            "{extra}: {message}"
        );
    }
}

/// Every key the dialect does not take is named at once, sorted, with what it does take; in
/// `connect_args` too, in the order given.
#[test]
fn every_offending_key_is_named_with_the_dialect() {
    assert_eq!(
        error(
            SQLITE,
            json!({"pool_timeout": 3, "pool_sizee": 1, "max_overflow": 2})
        ),
        "unsupported parameters for sqlite: max_overflow, pool_sizee, pool_timeout; sqlite \
         supports: connect_args, database_uri, echo, execution_options, future, hide_parameters, \
         isolation_level, pool_recycle, query_cache_size, read_replica_max_lag_ms, \
         read_replica_uris, retry, slow_statement_ms, transaction_pooling"
    );
    // A wrongly typed value does not hide an unsupported key.
    let message = error(SQLITE, json!({"echo": "yes", "pool_size": 2}));
    assert!(
        message.starts_with("unsupported parameters for sqlite: pool_size;"),
        "{message}"
    );
    assert_eq!(
        error(
            PG,
            json!({"connect_args": {"zz_top": 1, "timeout": 5, "bogus": 2}})
        ),
        "connect_args: unsupported keys for postgresql: zz_top, bogus; supported: timeout, \
         connect_timeout, application_name, sslmode, ssl_mode, ssl, statement_cache_size, \
         charset, server_settings, check_same_thread, sslrootcert, sslcert, sslkey"
    );
}

/// The maps of `retry` and `execution_options` name an unknown option and every one they take
/// (serde's `deny_unknown_fields`).
#[test]
fn unknown_options_of_retry_and_execution_options_name_what_they_take() {
    assert_eq!(
        error(SQLITE, json!({"retry": {"tries": 3}})),
        "retry: unknown field `tries`, expected one of `max_attempts`, `base_delay_ms`, \
         `max_delay_ms`"
    );
    assert_eq!(
        error(PG, json!({"execution_options": {"stream_results": true}})),
        "execution_options: unknown field `stream_results`, expected `isolation_level`"
    );
}

/// No message shows the password of the URI or of a replica, whatever the key that is wrong.
#[test]
fn no_message_shows_a_password() {
    for extra in [
        json!({"pool_size": "five"}),
        json!({"pool_sizee": 1}),
        json!({"connect_args": {"bogus": 1}}),
        json!({"retry": {"tries": 1}}),
        json!({"read_replica_uris": ["postgresql://u:r3plica-pw@r/db?sslmode=bogus"]}),
        json!({"read_replica_uris": ["mysql://u:r3plica-pw@r/db"]}),
        json!({"read_replica_uris": ["postgresql://u:r3plica-pw@r/db", {"password": "r3plica-pw"}]}),
        json!({"transaction_pooling": true, "isolation_level": "SERIALIZABLE"}),
    ] {
        let message = error(PG, extra.clone());
        assert!(
            !message.contains("s3cr3t-pw") && !message.contains("r3plica-pw"),
            "{extra}: {message}"
        );
    }
}

/// Where two keys say the same thing, one wins whatever their order in the map.
#[test]
fn keys_that_say_the_same_thing_have_a_fixed_precedence() {
    for map in [
        json!({"isolation_level": "READ COMMITTED", "execution_options": {"isolation_level": "SERIALIZABLE"}}),
        json!({"execution_options": {"isolation_level": "SERIALIZABLE"}, "isolation_level": "AUTOCOMMIT"}),
    ] {
        let c = config(PG, map.clone());
        assert_eq!(
            c.isolation_level(),
            Some(IsolationLevel::Serializable),
            "{map}"
        );
        assert!(!c.autocommit(), "{map}");
    }
    let c = config(
        PG,
        json!({"execution_options": {"isolation_level": "AUTOCOMMIT"}, "isolation_level": "SERIALIZABLE"}),
    );
    assert!(c.autocommit() && c.isolation_level().is_none());
    // Both are checked, the one that loses too.
    let message = error(
        SQLITE,
        json!({"isolation_level": "READ COMMITTED", "execution_options": {"isolation_level": "SERIALIZABLE"}}),
    );
    assert_eq!(
        message,
        "isolation_level: isolation level READ COMMITTED is not supported by sqlite"
    );

    for args in [
        json!({"connect_timeout": 4, "timeout": 3}),
        json!({"timeout": 3, "connect_timeout": 4}),
    ] {
        let c = config(PG, json!({ "connect_args": args }));
        assert_eq!(
            c.connect_args().timeout,
            Some(Duration::from_secs(3)),
            "{args}"
        );
    }
    let message = error(
        SQLITE,
        json!({"connect_args": {"timeout": 3, "connect_timeout": 3e6}}),
    );
    assert!(
        message.starts_with("connect_args.connect_timeout must be at most"),
        "{message}"
    );

    for args in [
        json!({"ssl": true, "ssl_mode": "prefer", "sslmode": "disable"}),
        json!({"sslmode": "disable", "ssl": true}),
    ] {
        let c = config(PG, json!({ "connect_args": args }));
        assert_eq!(c.connect_args().ssl_mode, Some(SslMode::Disable), "{args}");
    }
    let c = config(
        PG,
        json!({"connect_args": {"ssl_mode": "verify-full", "ssl": false}}),
    );
    assert_eq!(c.connect_args().ssl_mode, Some(SslMode::VerifyFull));
    // `sslmode` and `ssl_mode` take `true` and `false` as `ssl` does.
    for (flag, mode) in [(true, SslMode::Require), (false, SslMode::Disable)] {
        for key in ["sslmode", "ssl_mode", "ssl"] {
            let c = config(PG, json!({"connect_args": { key: flag }}));
            assert_eq!(c.connect_args().ssl_mode, Some(mode), "{key}: {flag}");
        }
    }
}

/// The defaults of absent keys, and the keys read into their types.
#[test]
fn absent_keys_take_their_defaults_and_given_ones_their_values() {
    let c = config(PG, json!({}));
    assert_eq!((c.pool_size(), c.max_connections()), (5, 15));
    assert_eq!(c.pool_timeout(), Duration::from_secs(30));
    assert_eq!(c.query_cache_size(), 500);
    assert_eq!(c.read_replica_max_lag(), Duration::from_millis(100));
    assert_eq!(c.retry().max_attempts, 15);
    assert_eq!(c.slow_statement_threshold(), None);
    let c = config(
        PG,
        json!({
            "pool_size": 10_000, "max_overflow": 0, "pool_timeout": 0.25, "pool_recycle": 31_536_000,
            "query_cache_size": 100_000, "read_replica_max_lag_ms": 60_000,
            "retry": {"max_attempts": 100, "base_delay_ms": 60_000, "max_delay_ms": 1},
            "slow_statement_ms": 0.5, "connect_args": {"statement_cache_size": 7, "check_same_thread": "anything"},
        }),
    );
    assert_eq!((c.pool_size(), c.max_connections()), (10_000, 10_000));
    assert_eq!(c.pool_timeout(), Duration::from_millis(250));
    assert_eq!(c.pool_recycle(), Some(Duration::from_secs(31_536_000)));
    assert_eq!(c.query_cache_size(), 7);
    assert_eq!(c.read_replica_max_lag(), Duration::from_secs(60));
    // `max_delay` is at least `base_delay`.
    let retry = c.retry();
    assert_eq!(
        (retry.max_attempts, retry.base_delay, retry.max_delay),
        (100, Duration::from_secs(60), Duration::from_secs(60))
    );
    assert_eq!(
        c.slow_statement_threshold(),
        Some(Duration::from_micros(500))
    );
    assert_eq!(
        config(SQLITE, json!({"retry": false})).retry().max_attempts,
        1
    );
}

/// On every backend, sessions run at the isolation level of `execution_options` when both
/// keys are given, and a server connects with `sslmode: false`.
#[tokio::test]
async fn sessions_follow_the_precedence_on_every_backend() {
    for backend in common::backends() {
        let name = backend.name;
        let (engine_wide, options, sql, expected) = match name {
            "sqlite" => (
                "SERIALIZABLE",
                "READ UNCOMMITTED",
                "PRAGMA read_uncommitted",
                "1",
            ),
            "postgres" => (
                "READ COMMITTED",
                "SERIALIZABLE",
                "SHOW transaction_isolation",
                "SERIALIZABLE",
            ),
            _ => (
                "READ COMMITTED",
                "SERIALIZABLE",
                "SELECT @@tx_isolation",
                "SERIALIZABLE",
            ),
        };
        let mut extra = json!({
            "isolation_level": engine_wide,
            "execution_options": {"isolation_level": options},
            "retry": {"max_attempts": 2},
        });
        if !backend.is_sqlite() {
            extra["connect_args"] = json!({"sslmode": false, "timeout": 5, "connect_timeout": 1e6});
        }
        let db = backend.database(extra);
        let mut session = tokio::time::timeout(Duration::from_secs(30), db.get_db_session())
            .await
            .unwrap_or_else(|_| panic!("{name}: connecting hung"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let level = if backend.is_sqlite() {
            let flag: Option<i64> = session.fetch_optional(&text(sql)).await.unwrap();
            flag.map(|f| f.to_string())
        } else {
            let level: Option<String> = session.fetch_optional(&text(sql)).await.unwrap();
            level.map(|l| l.to_ascii_uppercase().replace('-', " "))
        };
        let level = level.unwrap_or_else(|| panic!("{name}: {sql} gave no row"));
        assert_eq!(level, expected, "{name}");
        session.commit().await.unwrap();
        db.disconnect().await;
    }
}
