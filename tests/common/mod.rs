//! Shared test support: the backends every integration test runs on.
//!
//! SQLite always; PostgreSQL when `DSG_TEST_POSTGRES_URL` is set and MySQL/MariaDB when
//! `DSG_TEST_MYSQL_URL` is set. A set URL whose server cannot be reached fails the test: it
//! never skips.
#![allow(dead_code)]

use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use serde_json::{Value, json};

/// One backend to run a test on.
#[derive(Debug, Clone)]
pub struct Backend {
    /// `sqlite`, `postgres` or `mysql`.
    pub name: &'static str,
    /// The database URI.
    pub uri: String,
}

/// The backends configured for this run: SQLite (in memory) always, plus the servers.
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend {
        name: "sqlite",
        uri: "sqlite+aiosqlite:///:memory:?cache=shared".into(),
    }];
    if let Ok(uri) = std::env::var("DSG_TEST_POSTGRES_URL")
        && !uri.is_empty()
    {
        list.push(Backend {
            name: "postgres",
            uri,
        });
    }
    if let Ok(uri) = std::env::var("DSG_TEST_MYSQL_URL")
        && !uri.is_empty()
    {
        list.push(Backend { name: "mysql", uri });
    }
    list
}

/// The configured server backends (PostgreSQL, MySQL/MariaDB), without SQLite.
pub fn servers() -> Vec<Backend> {
    backends().into_iter().filter(|b| !b.is_sqlite()).collect()
}

impl Backend {
    /// The query that returns the server's id of the connection it runs on, as a `BIGINT`
    /// (servers only: SQLite has no connection id).
    pub fn connection_id_sql(&self) -> &'static str {
        match self.name {
            "postgres" => "SELECT CAST(pg_backend_pid() AS BIGINT)",
            "mysql" => "SELECT CAST(CONNECTION_ID() AS SIGNED)",
            other => panic!("no connection id on {other}"),
        }
    }

    /// A config map for this backend with `extra` keys merged in.
    pub fn config_map(&self, extra: Value) -> Value {
        let mut map = json!({ "database_uri": self.uri });
        if let (Some(m), Some(e)) = (map.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                m.insert(k.clone(), v.clone());
            }
        }
        map
    }

    /// A database for this backend with `extra` config keys.
    pub fn database(&self, extra: Value) -> AsyncDatabase {
        let config = DBConfig::new(self.config_map(extra))
            .unwrap_or_else(|e| panic!("config for {}: {e}", self.name));
        AsyncDatabase::new(config)
    }

    pub fn is_sqlite(&self) -> bool {
        self.name == "sqlite"
    }
}

/// A table name unique to this test run, so tests can share one server database.
pub fn unique_table(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Inserts `model` the way the quick start does: sea-query INSERT with the model's values.
pub async fn insert<M: dsg_lib::async_database_functions::model::Model>(
    session: &mut dsg_lib::async_database_functions::session::Session,
    model: &M,
) -> Result<u64, dsg_lib::async_database_functions::error::DatabaseError> {
    let dialect = session.config().dialect();
    let mut values = Vec::new();
    model.push_values(dialect, &mut values);
    let mut insert = dsg_lib::sea_query::Query::insert();
    insert
        .into_table(M::TABLE)
        .columns(M::columns().iter().map(|c| c.name))
        .values_panic(values.into_iter().map(dsg_lib::sea_query::Expr::val));
    session.execute(&insert).await
}
