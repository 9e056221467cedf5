//! Operations' spans reach a `log` logger when no `tracing` subscriber was ever set (what
//! `tracing` does with its `log` feature, which axum turns on), and no span is built when
//! neither listens. In a binary of its own: a `log` logger and `tracing`'s "a subscriber was
//! set" are process-wide.

use std::sync::Mutex;

use dsg_lib::Model;
use dsg_lib::async_database_functions::{
    async_database::AsyncDatabase, database_config::DBConfig,
    database_operations::DatabaseOperations,
};
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "log_things")]
struct Thing {
    #[model(primary_key)]
    id: i64,
    name: String,
}

/// Keeps what is logged under the `dsg_lib` target.
struct Keep(Mutex<Vec<String>>);

impl log::Log for Keep {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("dsg_lib")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{}", record.args());
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }

    fn flush(&self) {}
}

static KEPT: Keep = Keep(Mutex::new(Vec::new()));

fn logged() -> Vec<String> {
    KEPT.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[tokio::test]
async fn spans_reach_a_log_logger_only_when_it_listens() {
    let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": "sqlite::memory:"})).unwrap());
    db.register::<Thing>();
    db.create_tables().await.unwrap();
    let ops = DatabaseOperations::new(db);
    ops.create_one(Thing {
        id: 1,
        name: "one".into(),
    })
    .await
    .unwrap();

    // No subscriber, no logger: nothing anywhere (and no span built for it).
    assert_eq!(
        ops.read_by_pk::<Thing>(1).await.unwrap().unwrap().name,
        "one"
    );

    // A `log` logger at INFO: the operation's span is handed to it, with its fields.
    log::set_logger(&KEPT).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    assert_eq!(
        ops.read_by_pk::<Thing>(1).await.unwrap().unwrap().name,
        "one"
    );
    let lines = logged();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("read_by_pk") && l.contains("db.collection.name")),
        "the read's span reached the logger: {lines:?}"
    );

    // The logger turned down below INFO: the spans stop.
    log::set_max_level(log::LevelFilter::Warn);
    let before = logged().len();
    assert!(ops.read_by_pk::<Thing>(2).await.unwrap().is_none());
    assert_eq!(logged().len(), before, "nothing logged below INFO");
}
