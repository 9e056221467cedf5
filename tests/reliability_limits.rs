//! Out-of-range input never panics, hangs or crashes later: unsigned values above `i64::MAX`,
//! huge pool sizes and durations. And two
//! behaviours ported from the Python library: `AUTOCOMMIT` isolation, and `read_one_record`
//! asking the server for one row only.

mod common;
mod ops_support;

use std::time::{Duration, Instant};

use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::text;
use ops_support::{Capture, Check, expect_err, fresh};
use serde_json::json;

/// One table per test: the tests of this file run at once on the shared servers.
macro_rules! item_model {
    ($name:ident, $table:tt) => {
        #[derive(Model, Debug, Clone)]
        #[model(table = $table)]
        struct $name {
            #[model(flatten)]
            base: SchemaBase,
            #[model(size = 50)]
            name: String,
        }

        impl $name {
            fn named(name: &str) -> Self {
                $name {
                    base: SchemaBase::default(),
                    name: name.into(),
                }
            }
        }
    };
}

item_model!(Item, "rel_limit_items");
item_model!(AutoItem, "rel_limit_auto_items");
item_model!(FirstItem, "rel_limit_first_items");

fn item(name: &str) -> Item {
    Item::named(name)
}

#[tokio::test]
async fn unsigned_values_above_i64_max_are_refused_or_bound_never_a_panic() {
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<Item>();
        })
        .await;
        ops.create_many(vec![item("a"), item("b"), item("c")])
            .await
            .check(name);

        // A page size past i64::MAX means "everything".
        let page = ops
            .paginate_query::<Item>(&Item::select(), 1, u64::MAX)
            .await
            .check(name);
        assert_eq!(
            (page.items.len(), page.total, page.pages),
            (3, 3, 1),
            "[{name}]"
        );
        let page = ops
            .paginate_query::<Item>(&Item::select(), u64::MAX, u64::MAX)
            .await
            .check(name);
        assert!(page.items.is_empty(), "[{name}]");

        // A bound u64: MySQL stores it; SQLite and PostgreSQL have no unsigned 64-bit integer.
        let bound = ops
            .read_query::<String>(&text("SELECT CAST(:v AS CHAR(30))").bind("v", u64::MAX))
            .await;
        if name == "mysql" {
            assert_eq!(bound.check(name), [u64::MAX.to_string()]);
        } else {
            let err = expect_err(bound, ErrorKind::InvalidInput, name);
            assert!(err.details().contains("unsigned"), "[{name}] {err}");
        }
        // Values that fit are bound as usual.
        let fits: Vec<i64> = ops
            .read_query(
                &text("SELECT COUNT(*) FROM (SELECT 1 AS x) one WHERE :v > 0")
                    .bind("v", i64::MAX as u64),
            )
            .await
            .check(name);
        assert_eq!(fits, [1], "[{name}]");
        db.drop_tables().await.check(name);
        db.disconnect().await;
    }
}

#[test]
fn huge_pool_sizes_and_durations_are_configuration_errors_naming_the_key() {
    let server = "postgresql://u@localhost/db";
    let cases = [
        (server, json!({"pool_size": 4_294_967_295u64}), "pool_size"),
        (server, json!({"pool_size": 100_000_000}), "pool_size"),
        (server, json!({"max_overflow": 1e12}), "max_overflow"),
        (
            server,
            json!({"pool_size": 6000, "max_overflow": 6000}),
            "pool_size + max_overflow",
        ),
        (server, json!({"pool_timeout": 1e19}), "pool_timeout"),
        (server, json!({"pool_recycle": 1e19}), "pool_recycle"),
        (
            server,
            json!({"connect_args": {"timeout": 1e19}}),
            "connect_args.timeout",
        ),
        (
            server,
            json!({"query_cache_size": u64::MAX}),
            "query_cache_size",
        ),
        (
            server,
            json!({"connect_args": {"statement_cache_size": 1e15}}),
            "connect_args.statement_cache_size",
        ),
        // SQLite's busy timeout is a C int of milliseconds: about 24.8 days at most.
        (
            "sqlite::memory:",
            json!({"connect_args": {"timeout": 2_200_000}}),
            "connect_args.timeout",
        ),
        (
            "sqlite::memory:",
            json!({"pool_recycle": 1e300}),
            "pool_recycle",
        ),
    ];
    for (uri, extra, key) in cases {
        let mut map = json!({ "database_uri": uri });
        map.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let err = DBConfig::new(map.clone()).expect_err(&format!("{map} is out of range"));
        assert_eq!(err.kind(), ErrorKind::ConfigurationError, "{map}: {err}");
        assert!(err.details().contains(key), "{map}: {err}");
    }
}

#[tokio::test]
async fn the_largest_accepted_values_work_on_first_use() {
    for backend in common::backends() {
        let name = backend.name;
        let extra = if backend.is_sqlite() {
            json!({"pool_recycle": 31_536_000, "connect_args": {"timeout": 2_147_483}})
        } else {
            json!({
                "pool_size": 10_000, "max_overflow": 0, "pool_timeout": 31_536_000,
                "pool_recycle": 31_536_000, "query_cache_size": 100_000,
            })
        };
        let db = backend.database(extra);
        let ops = DatabaseOperations::new(db.clone());
        let started = Instant::now();
        let one: Vec<i64> = tokio::time::timeout(
            Duration::from_secs(10),
            ops.read_query(&text("SELECT COUNT(*) FROM (SELECT 1 AS x) one")),
        )
        .await
        .unwrap_or_else(|_| panic!("[{name}] the first query hung"))
        .check(name);
        assert_eq!(one, [1]);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "[{name}] the first query took {:?}",
            started.elapsed()
        );
        db.disconnect().await;
    }
}

#[tokio::test]
async fn autocommit_isolation_commits_every_statement() {
    for backend in common::backends() {
        for key in ["isolation_level", "execution_options"] {
            let name = backend.name;
            let extra = if key == "isolation_level" {
                json!({"isolation_level": "AUTOCOMMIT"})
            } else {
                json!({"execution_options": {"isolation_level": "autocommit"}})
            };
            let (db, ops) = fresh(&backend, extra, |db| {
                db.register::<AutoItem>();
            })
            .await;
            assert!(db.config().autocommit(), "[{name}] {key}");
            let mut session = db.get_db_session().await.check(name);
            common::insert(&mut session, &AutoItem::named("kept"))
                .await
                .check(name);
            // Committed already: another connection sees it while the session is open.
            assert_eq!(
                ops.count_query(&AutoItem::select()).await.check(name),
                1,
                "[{name}]"
            );
            // Rolling back undoes nothing: every statement committed on its own.
            session.rollback().await.check(name);
            assert_eq!(
                ops.count_query(&AutoItem::select()).await.check(name),
                1,
                "[{name}]"
            );
            db.drop_tables().await.check(name);
            db.disconnect().await;
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn read_one_record_asks_the_server_for_one_row() {
    let capture = Capture::default();
    let _guard = capture.install();
    for backend in common::backends() {
        let name = backend.name;
        let (db, ops) = fresh(&backend, json!({"echo": true}), |db| {
            db.register::<FirstItem>();
        })
        .await;
        ops.create_many(vec![FirstItem::named("a"), FirstItem::named("b")])
            .await
            .check(name);
        capture.take();
        let first: Option<FirstItem> = ops.read_one_record(&FirstItem::select()).await.check(name);
        assert!(first.is_some(), "[{name}]");
        let logged = capture.take();
        // The servers are told; SQLite's driver stops after the first row by itself.
        assert_eq!(
            logged.contains("LIMIT 1"),
            !backend.is_sqlite(),
            "[{name}] LIMIT 1 in {logged}"
        );

        // A statement with its own limit keeps it.
        let mut two = FirstItem::select();
        two.limit(2).offset(1);
        let second: Option<FirstItem> = ops.read_one_record(&two).await.check(name);
        assert!(second.is_some(), "[{name}]");
        db.drop_tables().await.check(name);
        db.disconnect().await;
    }
}
