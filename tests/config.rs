//! `DBConfig`: URI forms, key validation per dialect, error shapes, and secrets kept out of
//! `Debug`, `Display` and connection errors.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_config::{DBConfig, Dialect, IsolationLevel};
use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
use serde_json::{Value, json};

fn config(map: Value) -> Result<DBConfig, DatabaseError> {
    DBConfig::new(map)
}

fn dialect_of(uri: &str) -> Dialect {
    config(json!({ "database_uri": uri }))
        .unwrap_or_else(|e| panic!("{uri} should parse: {e}"))
        .dialect()
}

/// Asserts `result` is a configuration error whose details contain every one of `needles`.
#[track_caller]
fn assert_config_error(result: Result<DBConfig, DatabaseError>, needles: &[&str]) -> DatabaseError {
    let err = match result {
        Ok(c) => panic!("expected a configuration error, got a config: {c:?}"),
        Err(e) => e,
    };
    assert_eq!(
        err.kind(),
        ErrorKind::ConfigurationError,
        "wrong kind: {err}"
    );
    for needle in needles {
        assert!(
            err.details().contains(needle),
            "details {:?} should mention {needle:?}",
            err.details()
        );
    }
    // The serialised form is the seed's shape.
    let value = serde_json::to_value(&err).unwrap();
    assert_eq!(value["error"], "ConfigurationError");
    assert_eq!(value["details"], err.details());
    err
}

#[test]
fn sqlite_uri_forms_parse_to_sqlite() {
    for uri in [
        "sqlite+aiosqlite:///:memory:?cache=shared",
        "sqlite:///:memory:",
        "sqlite:///relative.db",
        "sqlite+aiosqlite:////abs/path.db",
        "sqlite::memory:",
        "sqlite://file.db",
        "sqlite+pysqlite:///:memory:",
    ] {
        assert_eq!(dialect_of(uri), Dialect::Sqlite, "{uri}");
    }
}

#[test]
fn server_uri_forms_parse_to_their_dialect() {
    let cases = [
        ("postgresql+asyncpg://u:p@h:5432/db", Dialect::Postgresql),
        ("postgresql://u:p@h:5432/db", Dialect::Postgresql),
        ("postgres://u:p@h/db", Dialect::Postgresql),
        (
            "cockroachdb+asyncpg://root@h:26257/defaultdb",
            Dialect::Cockroachdb,
        ),
        ("mysql+aiomysql://u:p@h:3306/db", Dialect::Mysql),
        ("mysql+asyncmy://u:p@h:3306/db", Dialect::Mysql),
        ("mysql://u:p@h/db", Dialect::Mysql),
        ("mariadb://u:p@h:3306/db", Dialect::Mariadb),
    ];
    for (uri, dialect) in cases {
        assert_eq!(dialect_of(uri), dialect, "{uri}");
    }
    assert!(Dialect::Cockroachdb.is_postgres_wire());
    assert!(Dialect::Mariadb.is_mysql_family());
    assert_eq!(Dialect::Postgresql.name(), "postgresql");
}

#[test]
fn mssql_and_oracle_are_refused_as_without_driver() {
    let err = assert_config_error(
        config(json!({ "database_uri": "mssql+pyodbc://u:p@host/db?driver=ODBC+Driver+17" })),
        &["no driver for mssql in this build"],
    );
    assert!(!err.details().contains("unknown dialect"), "{err}");
    assert_config_error(
        config(json!({ "database_uri": "oracle+cx_oracle://u:p@host:1521/orcl" })),
        &["no driver for oracle in this build"],
    );
    assert_config_error(
        config(json!({ "database_uri": "oracle+oracledb://u:p@host:1521/?service_name=x" })),
        &["no driver for oracle in this build"],
    );
}

#[test]
fn unknown_scheme_is_refused() {
    assert_config_error(
        config(json!({ "database_uri": "foodb://h/db" })),
        &["database_uri", "foodb"],
    );
}

#[test]
fn sqlite_refuses_pool_keys_naming_dialect_and_every_key() {
    assert_config_error(
        config(json!({
            "database_uri": "sqlite:///:memory:",
            "pool_size": 5,
            "max_overflow": 10,
            "pool_timeout": 30,
        })),
        &["sqlite", "pool_size", "max_overflow", "pool_timeout"],
    );

    // A common key next to an unsupported one does not let the unsupported one through.
    assert_config_error(
        config(json!({
            "database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
            "query_cache_size": 100,
            "pool_size": 2,
        })),
        &["sqlite", "pool_size"],
    );
    // Each pool key alone is refused too.
    for key in ["pool_size", "max_overflow", "pool_timeout", "pool_pre_ping"] {
        let mut map = json!({ "database_uri": "sqlite::memory:" });
        map[key] = if key == "pool_pre_ping" {
            json!(true)
        } else {
            json!(3)
        };
        assert_config_error(config(map), &["sqlite", key]);
    }
}

#[test]
fn sqlite_accepts_its_keys() {
    let c = config(json!({
        "database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
        "echo": true,
        "future": true,
        "pool_recycle": 3600,
        "query_cache_size": 10,
        "hide_parameters": true,
        "isolation_level": "READ UNCOMMITTED",
        "connect_args": {"check_same_thread": false, "timeout": 3},
    }))
    .unwrap();
    assert!(c.echo());
    assert!(c.hide_parameters());
    assert_eq!(c.pool_recycle(), Some(Duration::from_secs(3600)));
    assert_eq!(c.query_cache_size(), 10);
    assert_eq!(c.isolation_level(), Some(IsolationLevel::ReadUncommitted));
    assert_eq!(c.connect_args().timeout, Some(Duration::from_secs(3)));
}

#[test]
fn server_dialects_accept_all_their_keys() {
    for uri in [
        "postgresql+asyncpg://u:p@h:5432/db",
        "mysql+aiomysql://u:p@h:3306/db",
        "mariadb://u:p@h:3306/db",
        "cockroachdb+asyncpg://root@h:26257/db",
    ] {
        let c = config(json!({
            "database_uri": uri,
            "echo": false,
            "future": true,
            "pool_pre_ping": true,
            "pool_size": 7,
            "max_overflow": 3,
            "pool_recycle": 120,
            "pool_timeout": 4,
            "query_cache_size": 0,
            "hide_parameters": false,
            "isolation_level": "SERIALIZABLE",
            "execution_options": {"isolation_level": "READ COMMITTED"},
            "connect_args": {"timeout": 5},
        }))
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert!(c.pool_pre_ping(), "{uri}");
        assert_eq!(c.pool_size(), 7, "{uri}");
        assert_eq!(c.max_connections(), 10, "{uri}");
        assert_eq!(c.pool_recycle(), Some(Duration::from_secs(120)), "{uri}");
        assert_eq!(c.pool_timeout(), Duration::from_secs(4), "{uri}");
        assert_eq!(c.query_cache_size(), 0, "{uri}");
        assert!(c.isolation_level().is_some(), "{uri}");
    }
}

#[test]
fn defaults_are_sqlalchemys() {
    let c = config(json!({ "database_uri": "postgresql://u@h/db" })).unwrap();
    assert_eq!(c.pool_size(), 5);
    assert_eq!(c.max_connections(), 15);
    assert_eq!(c.pool_timeout(), Duration::from_secs(30));
    assert_eq!(c.pool_recycle(), None);
    assert!(!c.echo());
    assert!(!c.pool_pre_ping());
    assert_eq!(c.isolation_level(), None);
}

#[test]
fn unknown_key_is_rejected() {
    for uri in ["sqlite::memory:", "postgresql://u@h/db", "mysql://u@h/db"] {
        assert_config_error(
            config(json!({ "database_uri": uri, "pool_sizee": 3 })),
            &["pool_sizee"],
        );
    }
}

#[test]
fn database_uri_must_be_present_and_a_string() {
    assert_config_error(config(json!({ "echo": true })), &["database_uri"]);
    assert_config_error(config(json!({ "database_uri": 42 })), &["database_uri"]);
    assert_config_error(config(json!({ "database_uri": null })), &["database_uri"]);
}

#[test]
fn config_must_be_a_map() {
    let err = assert_config_error(config(json!(["database_uri", "sqlite::memory:"])), &["map"]);
    assert!(err.details().contains("list"), "{err}");
    assert_config_error(config(json!("sqlite::memory:")), &["map"]);
}

#[test]
fn malformed_uri_is_rejected() {
    assert_config_error(
        config(json!({ "database_uri": "not a uri at all" })),
        &["database_uri"],
    );
    assert_config_error(config(json!({ "database_uri": "" })), &["database_uri"]);
    // A server URI without a host.
    assert_config_error(
        config(json!({ "database_uri": "postgresql:///db" })),
        &["database_uri", "host"],
    );
}

#[test]
fn wrongly_typed_or_out_of_range_values_name_the_key() {
    let pg = "postgresql://u@h/db";
    assert_config_error(
        config(json!({ "database_uri": pg, "pool_size": "five" })),
        &["pool_size"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "pool_size": -1 })),
        &["pool_size"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "max_overflow": 1.5 })),
        &["max_overflow"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "pool_timeout": -3 })),
        &["pool_timeout"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "pool_timeout": "soon" })),
        &["pool_timeout"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "pool_recycle": 0 })),
        &["pool_recycle"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "echo": "yes" })),
        &["echo"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "pool_pre_ping": 1 })),
        &["pool_pre_ping"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "query_cache_size": -5 })),
        &["query_cache_size"],
    );
    assert_config_error(
        config(json!({ "database_uri": pg, "pool_size": 0, "max_overflow": 0 })),
        &["pool_size", "max_overflow"],
    );
    // -1 is SQLAlchemy's "never recycle".
    let c = config(json!({ "database_uri": pg, "pool_recycle": -1 })).unwrap();
    assert_eq!(c.pool_recycle(), None);
}

#[test]
fn isolation_levels_are_validated() {
    assert_config_error(
        config(json!({ "database_uri": "postgresql://u@h/db", "isolation_level": "SUPER SAFE" })),
        &["isolation_level", "SUPER SAFE"],
    );
    assert_config_error(
        config(json!({ "database_uri": "sqlite::memory:", "isolation_level": "READ COMMITTED" })),
        &["isolation_level", "sqlite"],
    );
    assert_config_error(
        config(json!({
            "database_uri": "sqlite::memory:",
            "execution_options": {"isolation_level": "REPEATABLE READ"},
        })),
        &["isolation_level", "sqlite"],
    );
    assert_config_error(
        config(
            json!({ "database_uri": "postgresql://u@h/db", "execution_options": {"stream_results": true} }),
        ),
        &["execution_options", "stream_results"],
    );
    // Spellings a porting user has are accepted.
    for (spelling, level) in [
        ("read committed", IsolationLevel::ReadCommitted),
        ("REPEATABLE_READ", IsolationLevel::RepeatableRead),
        ("SERIALIZABLE", IsolationLevel::Serializable),
        ("READ UNCOMMITTED", IsolationLevel::ReadUncommitted),
    ] {
        let c = config(json!({ "database_uri": "mysql://u@h/db", "isolation_level": spelling }))
            .unwrap();
        assert_eq!(c.isolation_level(), Some(level), "{spelling}");
    }
    let c = config(json!({ "database_uri": "sqlite::memory:", "isolation_level": "SERIALIZABLE" }))
        .unwrap();
    assert_eq!(c.isolation_level(), Some(IsolationLevel::Serializable));
}

#[test]
fn connect_args_are_validated() {
    assert_config_error(
        config(json!({ "database_uri": "postgresql://u@h/db", "connect_args": {"bogus_arg": 1} })),
        &["connect_args", "bogus_arg"],
    );
    assert_config_error(
        config(json!({ "database_uri": "postgresql://u@h/db", "connect_args": "timeout=5" })),
        &["connect_args"],
    );
    assert_config_error(
        config(
            json!({ "database_uri": "postgresql://u@h/db", "connect_args": {"timeout": "long"} }),
        ),
        &["connect_args.timeout"],
    );
    assert_config_error(
        config(
            json!({ "database_uri": "postgresql://u@h/db", "connect_args": {"sslmode": "sometimes"} }),
        ),
        &["sslmode"],
    );
    // Driver options of another backend are refused, naming the option and the dialect.
    assert_config_error(
        config(
            json!({ "database_uri": "mysql://u@h/db", "connect_args": {"application_name": "x"} }),
        ),
        &["application_name", "mysql"],
    );
    assert_config_error(
        config(
            json!({ "database_uri": "sqlite::memory:", "connect_args": {"charset": "utf8mb4"} }),
        ),
        &["charset", "sqlite"],
    );
    let c = config(json!({
        "database_uri": "postgresql://u@h/db",
        "connect_args": {"application_name": "svc", "server_settings": {"search_path": "public"}},
    }))
    .unwrap();
    assert_eq!(c.connect_args().application_name.as_deref(), Some("svc"));
    assert_eq!(
        c.connect_args().server_settings,
        vec![("search_path".to_string(), "public".to_string())]
    );
}

#[test]
fn hashmap_input_works() {
    let mut map: HashMap<String, Value> = HashMap::new();
    map.insert(
        "database_uri".into(),
        json!("postgresql+asyncpg://u:p@h:5432/db"),
    );
    map.insert("pool_size".into(), json!(3));
    map.insert("max_overflow".into(), json!(0));
    let c = DBConfig::new(map).unwrap();
    assert_eq!(c.dialect(), Dialect::Postgresql);
    assert_eq!(c.max_connections(), 3);

    let mut bad: HashMap<String, Value> = HashMap::new();
    bad.insert("database_uri".into(), json!("sqlite::memory:"));
    bad.insert("pool_size".into(), json!(3));
    assert_config_error(DBConfig::new(bad), &["sqlite", "pool_size"]);
}

#[test]
fn from_serializable_works() {
    #[derive(serde::Serialize)]
    struct Settings {
        database_uri: String,
        echo: bool,
        pool_recycle: u64,
    }
    let c = DBConfig::from_serializable(&Settings {
        database_uri: "sqlite+aiosqlite:///:memory:?cache=shared".into(),
        echo: true,
        pool_recycle: 60,
    })
    .unwrap();
    assert_eq!(c.dialect(), Dialect::Sqlite);
    assert!(c.echo());
    assert_eq!(c.pool_recycle(), Some(Duration::from_secs(60)));

    let mut map = BTreeMap::new();
    map.insert("database_uri", "mysql+asyncmy://u:p@h/db");
    assert_eq!(
        DBConfig::from_serializable(&map).unwrap().dialect(),
        Dialect::Mysql
    );

    // Validation still applies.
    let mut map = BTreeMap::new();
    map.insert("database_uri", json!("sqlite::memory:"));
    map.insert("max_overflow", json!(2));
    assert_config_error(
        DBConfig::from_serializable(&map),
        &["sqlite", "max_overflow"],
    );
    // Something that is not a map.
    assert_config_error(DBConfig::from_serializable(&vec![1, 2, 3]), &["map"]);
}

const SECRET: &str = "s3cr3t-pw";

#[test]
fn password_is_not_in_debug_or_display() {
    for uri in [
        format!("postgresql+asyncpg://user:{SECRET}@127.0.0.1:1/db"),
        format!("mysql+aiomysql://user:{SECRET}@127.0.0.1:1/db"),
    ] {
        let c = config(json!({ "database_uri": uri })).unwrap();
        let debug = format!("{c:?}");
        let pretty = format!("{c:#?}");
        let display = format!("{c}");
        let redacted = c.redacted_uri();
        for shown in [&debug, &pretty, &display, &redacted] {
            assert!(!shown.contains(SECRET), "password shown in {shown:?}");
        }
        // The rest of the URI is still there to help the user.
        assert!(display.contains("127.0.0.1"), "{display}");
        assert!(display.contains("user"), "{display}");
        let db = AsyncDatabase::new(c);
        assert!(!format!("{db:?}").contains(SECRET), "{db:?}");
    }
}

#[tokio::test]
async fn unreachable_server_error_has_no_password() {
    let c = config(json!({
        "database_uri": format!("postgresql+asyncpg://user:{SECRET}@127.0.0.1:1/db"),
        "pool_timeout": 2,
    }))
    .unwrap();
    let db = AsyncDatabase::new(c);
    let result = tokio::time::timeout(Duration::from_secs(20), db.get_db_session())
        .await
        .expect("get_db_session on an unreachable server hung past pool_timeout");
    let err = result.expect_err("port 1 cannot be connected to");
    assert_eq!(
        err.kind(),
        ErrorKind::ConnectionError,
        "unexpected kind: {err}"
    );
    for shown in [
        err.to_string(),
        err.details().to_string(),
        format!("{err:?}"),
    ] {
        assert!(!shown.contains(SECRET), "password in error: {shown}");
    }
    assert!(!serde_json::to_string(&err).unwrap().contains(SECRET));
}

#[tokio::test]
async fn wrong_credentials_on_real_postgres_error_has_no_password() {
    let Ok(base) = std::env::var("DSG_TEST_POSTGRES_URL") else {
        return;
    };
    if base.is_empty() {
        return;
    }
    let mut url = url::Url::parse(&base).expect("DSG_TEST_POSTGRES_URL is a URL");
    url.set_username("nosuchuser_x").unwrap();
    url.set_password(Some("hunter2-secret")).unwrap();
    let c = config(json!({ "database_uri": url.to_string(), "pool_timeout": 5 })).unwrap();
    assert!(!format!("{c:?}").contains("hunter2-secret"));
    let db = AsyncDatabase::new(c);
    let result = tokio::time::timeout(Duration::from_secs(30), db.get_db_session())
        .await
        .expect("get_db_session with wrong credentials hung");
    let err = result.expect_err("a user that does not exist cannot log in");
    assert_eq!(
        err.kind(),
        ErrorKind::ConnectionError,
        "unexpected kind: {err}"
    );
    for shown in [
        err.to_string(),
        err.details().to_string(),
        format!("{err:?}"),
    ] {
        assert!(
            !shown.contains("hunter2-secret"),
            "password in error: {shown}"
        );
    }
}

#[tokio::test]
async fn every_configured_backend_is_reachable() {
    // A set URL whose server is down fails here (and in every other test), never skips.
    for backend in common::backends() {
        let db = backend.database(json!({}));
        let session = tokio::time::timeout(Duration::from_secs(40), db.get_db_session())
            .await
            .unwrap_or_else(|_| panic!("{}: connecting hung", backend.name))
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        session.commit().await.unwrap();
        db.disconnect().await;
    }
}
