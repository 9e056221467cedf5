//! Observability, as a user sees it through a `tracing` subscriber: one span per operation with
//! OpenTelemetry's database fields, the error kind on failure, `echo` statements at DEBUG with
//! values in SQL form, slow-statement warnings, pool statistics, and no work at all when no
//! subscriber listens. Every test runs on every configured backend.

mod common;
mod ops_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::{
    base_schema::SchemaBase, database_config::DBConfig, database_operations::DatabaseOperations,
    error::ErrorKind, model::Model as _, record::Record, statement::text, telemetry::PoolStats,
};
use dsg_lib::sea_query::Order;
use ops_support::{Check, fresh};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

// ---------------------------------------------------------------------------------------------
// A subscriber layer that keeps every span (with the fields recorded later) and every event.

#[derive(Debug, Clone)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct EventRecord {
    level: Level,
    target: String,
    message: String,
    fields: BTreeMap<String, String>,
    /// The span the event happened in.
    span: Option<&'static str>,
}

#[derive(Default)]
struct Recorded {
    spans: Vec<SpanRecord>,
    ids: BTreeMap<u64, usize>,
    events: Vec<EventRecord>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Recorded>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut recorded = self.0.lock().unwrap();
        let index = recorded.spans.len();
        recorded.spans.push(SpanRecord {
            name: attrs.metadata().name(),
            fields,
        });
        recorded.ids.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, _: Context<'_, S>) {
        let mut recorded = self.0.lock().unwrap();
        if let Some(&index) = recorded.ids.get(&id.into_u64()) {
            values.record(&mut Fields(&mut recorded.spans[index].fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let span = ctx.event_span(event).map(|s| s.name());
        self.0.lock().unwrap().events.push(EventRecord {
            level: *event.metadata().level(),
            target: event.metadata().target().into(),
            message,
            fields,
            span,
        });
    }
}

impl Recorder {
    /// Installs this recorder as the current thread's subscriber (every level).
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::set_default(subscriber)
    }

    /// Every span and event recorded since the last call, emptied.
    fn take(&self) -> (Vec<SpanRecord>, Vec<EventRecord>) {
        let mut recorded = self.0.lock().unwrap();
        recorded.ids.clear();
        (
            std::mem::take(&mut recorded.spans),
            std::mem::take(&mut recorded.events),
        )
    }

    /// The one span recorded since the last `take`, which must be named `name`.
    #[track_caller]
    fn only_span(&self, name: &str, ctx: &str) -> SpanRecord {
        let (spans, _) = self.take();
        let ours: Vec<&SpanRecord> = spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(
            (ours.len(), spans.len()),
            (1, 1),
            "[{ctx}] expected exactly one span `{name}`, got {:?}",
            spans.iter().map(|s| s.name).collect::<Vec<_>>()
        );
        ours[0].clone()
    }
}

impl SpanRecord {
    fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Model, Debug, Clone)]
#[model(table = "dsg_telemetry_users")]
struct TelUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

#[derive(Model, Debug, Clone)]
#[model(table = "dsg_telemetry_errors")]
struct TelUnique {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
}

fn user(name: &str, color: Option<&str>) -> TelUser {
    TelUser {
        base: SchemaBase::default(),
        name: name.into(),
        color: color.map(str::to_string),
    }
}

/// The `db.system.name` a backend's URI gives.
fn system_name(backend: &Backend) -> &'static str {
    match backend.name {
        "sqlite" => "sqlite",
        "postgres" => "postgresql",
        _ => "mysql",
    }
}

#[tokio::test]
async fn every_operation_runs_in_one_span_named_after_it_with_the_db_fields() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<TelUser>();
        })
        .await;
        let recorder = Recorder::default();
        let _guard = recorder.install();
        let table = Some(TelUser::TABLE);

        // Each operation, and what its span must say: (name, table, returned, affected).
        let check = |span: &SpanRecord,
                     table: Option<&str>,
                     returned: Option<&str>,
                     affected: Option<&str>| {
            let name = span.name;
            assert_eq!(
                span.get("db.operation.name"),
                Some(name),
                "[{ctx}] {span:?}"
            );
            assert_eq!(
                span.get("db.system.name"),
                Some(system_name(&backend)),
                "[{ctx}] {span:?}"
            );
            assert_eq!(span.get("otel.kind"), Some("client"), "[{ctx}] {span:?}");
            assert_eq!(span.get("db.collection.name"), table, "[{ctx}] {span:?}");
            assert_eq!(
                span.get("db.response.returned_rows"),
                returned,
                "[{ctx}] {span:?}"
            );
            assert_eq!(
                span.get("db.response.affected_rows"),
                affected,
                "[{ctx}] {span:?}"
            );
            // Without echo, no statement text; on success, no error.
            assert_eq!(span.get("db.query.text"), None, "[{ctx}] {span:?}");
            assert_eq!(span.get("error.type"), None, "[{ctx}] {span:?}");
            if backend.is_sqlite() {
                assert_eq!(span.get("server.address"), None, "[{ctx}] {span:?}");
            } else {
                assert_eq!(span.get("server.address"), Some("127.0.0.1"), "[{ctx}]");
                assert_eq!(span.get("db.namespace"), Some("test"), "[{ctx}]");
            }
        };

        recorder.take();
        let mike = ops.create_one(user("Mike", Some("red"))).await.check(ctx);
        check(
            &recorder.only_span("create_one", ctx),
            table,
            None,
            Some("1"),
        );

        ops.create_many(vec![user("Sara", Some("red")), user("Ann", None)])
            .await
            .check(ctx);
        check(
            &recorder.only_span("create_many", ctx),
            table,
            None,
            Some("2"),
        );

        let mut red = TelUser::select();
        red.and_where(TelUser::col("color").eq("red"));
        let rows: Vec<TelUser> = ops.read_query(&red).await.check(ctx);
        assert_eq!(rows.len(), 2);
        check(
            &recorder.only_span("read_query", ctx),
            None,
            Some("2"),
            None,
        );

        let one: Option<TelUser> = ops.read_one_record(&red).await.check(ctx);
        assert!(one.is_some());
        check(
            &recorder.only_span("read_one_record", ctx),
            None,
            Some("1"),
            None,
        );

        assert_eq!(ops.count_query(&red).await.check(ctx), 2);
        check(&recorder.only_span("count_query", ctx), None, None, None);

        let mut by_name = TelUser::select();
        by_name.order_by("name", Order::Asc);
        let page = ops
            .paginate_query::<TelUser>(&by_name, 1, 2)
            .await
            .check(ctx);
        assert_eq!((page.items.len(), page.total), (2, 3));
        check(
            &recorder.only_span("paginate_query", ctx),
            None,
            Some("2"),
            None,
        );

        let page = ops.paginate::<TelUser>(&by_name, 1).await.check(ctx);
        assert_eq!(page.items.len(), 3);
        check(&recorder.only_span("paginate", ctx), None, Some("3"), None);

        let multi = ops
            .read_multi_query::<TelUser>([("red", red.clone()), ("all", by_name.clone())])
            .await
            .check(ctx);
        assert_eq!(multi.len(), 2);
        check(
            &recorder.only_span("read_multi_query", ctx),
            None,
            Some("5"),
            None,
        );

        let sql = format!(
            "UPDATE {} SET color = 'blue' WHERE color IS NULL",
            TelUser::TABLE
        );
        ops.execute_one(&text(sql.clone())).await.check(ctx);
        check(
            &recorder.only_span("execute_one", ctx),
            None,
            Some("0"),
            Some("1"),
        );

        let select = format!("SELECT name FROM {}", TelUser::TABLE);
        ops.execute_one(&text(select.clone())).await.check(ctx);
        check(
            &recorder.only_span("execute_one", ctx),
            None,
            Some("3"),
            None,
        );

        ops.execute_many([text(sql), text(select)]).await.check(ctx);
        check(
            &recorder.only_span("execute_many", ctx),
            None,
            Some("3"),
            Some("0"),
        );

        ops.update_one::<TelUser>(mike.base.pkid.clone(), json!({"color": "green"}))
            .await
            .check(ctx);
        check(
            &recorder.only_span("update_one", ctx),
            table,
            None,
            Some("1"),
        );

        ops.delete_one::<TelUser>(mike.base.pkid.clone())
            .await
            .check(ctx);
        check(
            &recorder.only_span("delete_one", ctx),
            table,
            None,
            Some("1"),
        );

        let deleted = ops
            .delete_many::<TelUser>("name", ["Sara", "Ann", "Nobody"])
            .await
            .check(ctx);
        assert_eq!(deleted, 2);
        check(
            &recorder.only_span("delete_many", ctx),
            table,
            None,
            Some("2"),
        );

        ops.get_columns_details::<TelUser>().await.check(ctx);
        check(
            &recorder.only_span("get_columns_details", ctx),
            table,
            None,
            None,
        );
        ops.get_primary_keys::<TelUser>().await.check(ctx);
        check(
            &recorder.only_span("get_primary_keys", ctx),
            table,
            None,
            None,
        );
        ops.get_table_names().await.check(ctx);
        check(
            &recorder.only_span("get_table_names", ctx),
            None,
            None,
            None,
        );

        drop(_guard);
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

#[tokio::test]
async fn mariadb_uris_report_mariadb() {
    let Some(backend) = common::backends().into_iter().find(|b| b.name == "mysql") else {
        return;
    };
    let uri = backend.uri.replacen("mysql://", "mariadb://", 1);
    let db = dsg_lib::AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).unwrap());
    let ops = DatabaseOperations::new(db.clone());
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let one: Vec<i64> = ops.read_query(&text("SELECT 1")).await.check("mariadb");
    assert_eq!(one, [1]);
    let span = recorder.only_span("read_query", "mariadb");
    assert_eq!(span.get("db.system.name"), Some("mariadb"));
    db.disconnect().await;
}

#[tokio::test]
async fn a_failed_operation_records_its_error_kind_and_code() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (db, ops) = fresh(&backend, json!({}), |db| {
            db.register::<TelUnique>();
        })
        .await;
        let recorder = Recorder::default();
        let _guard = recorder.install();
        let named = |name: &str| TelUnique {
            base: SchemaBase::default(),
            name: name.into(),
        };
        ops.create_one(named("dup")).await.check(ctx);
        recorder.take();

        let err = ops.create_one(named("dup")).await.expect_err("duplicate");
        let span = recorder.only_span("create_one", ctx);
        assert_eq!(
            span.get("error.type"),
            Some("IntegrityError"),
            "[{ctx}] {span:?}"
        );
        assert_eq!(span.get("otel.status_code"), Some("ERROR"), "[{ctx}]");
        assert_eq!(
            span.get("db.response.status_code"),
            err.code(),
            "[{ctx}] the driver's code"
        );
        assert!(err.code().is_some(), "[{ctx}] {err}");
        assert_eq!(span.get("db.response.affected_rows"), None, "[{ctx}]");

        ops.delete_one::<TelUnique>("no-such-id")
            .await
            .expect_err("missing row");
        let span = recorder.only_span("delete_one", ctx);
        assert_eq!(span.get("error.type"), Some("RecordNotFound"), "[{ctx}]");
        assert_eq!(span.get("db.response.status_code"), None, "[{ctx}]");

        ops.paginate_query::<TelUnique>(&TelUnique::select(), 0, 10)
            .await
            .expect_err("page 0");
        let span = recorder.only_span("paginate_query", ctx);
        assert_eq!(span.get("error.type"), Some("InvalidInput"), "[{ctx}]");

        let err = ops
            .read_query::<i64>(&text("SELECT * FROM no_such_table_dsg"))
            .await
            .expect_err("unknown table");
        let span = recorder.only_span("read_query", ctx);
        assert_eq!(span.get("error.type"), Some(err.kind().as_str()), "[{ctx}]");

        drop(_guard);
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

#[tokio::test]
async fn echo_logs_each_statement_at_debug_in_its_span_with_values_in_sql_form() {
    for backend in common::backends() {
        let ctx = backend.name;
        let db = backend.database(json!({"echo": true}));
        let ops = DatabaseOperations::new(db.clone());
        let recorder = Recorder::default();
        let _guard = recorder.install();

        let statement = text("SELECT :color AS color, :n AS n, :none AS none")
            .bind("color", "it's red")
            .bind("n", 42)
            .bind("none", None::<String>);
        let _: Vec<Record> = ops.read_query(&statement).await.check(ctx);
        let (spans, events) = recorder.take();
        let echoed: Vec<&EventRecord> = events
            .iter()
            .filter(|e| e.target == "dsg_lib::sql")
            .collect();
        assert_eq!(echoed.len(), 1, "[{ctx}] {events:?}");
        let event = echoed[0];
        assert_eq!(event.level, Level::DEBUG, "[{ctx}]");
        assert_eq!(
            event.span,
            Some("read_query"),
            "[{ctx}] logged in the op's span"
        );
        assert!(
            event
                .message
                .ends_with("-- parameters: ('it''s red', 42, NULL)"),
            "[{ctx}] values in SQL form: {}",
            event.message
        );
        assert!(
            !event.message.contains("Some("),
            "[{ctx}] {}",
            event.message
        );
        let span = spans.iter().find(|s| s.name == "read_query").unwrap();
        let query = span.get("db.query.text").expect("db.query.text with echo");
        assert!(
            query.contains("SELECT") && !query.contains("it''s red"),
            "[{ctx}] the span holds the SQL with placeholders: {query}"
        );
        assert!(
            event.message.starts_with(query),
            "[{ctx}] {}",
            event.message
        );

        // With hide_parameters: the statement, never its values.
        let hidden = backend.database(json!({"echo": true, "hide_parameters": true}));
        let ops = DatabaseOperations::new(hidden.clone());
        let _: Vec<Record> = ops.read_query(&statement).await.check(ctx);
        let (spans, events) = recorder.take();
        let event = events
            .iter()
            .find(|e| e.target == "dsg_lib::sql")
            .expect("echo with hide_parameters");
        assert!(
            event.message.contains("SELECT"),
            "[{ctx}] {}",
            event.message
        );
        assert!(
            !event.message.contains("red") && !event.message.contains("42"),
            "[{ctx}] hide_parameters leaked a value: {}",
            event.message
        );
        assert!(spans[0].get("db.query.text").is_some(), "[{ctx}]");

        // Without echo: no statement is logged.
        let quiet = backend.database(json!({}));
        let ops = DatabaseOperations::new(quiet.clone());
        let _: Vec<Record> = ops.read_query(&text("SELECT 1")).await.check(ctx);
        let (_, events) = recorder.take();
        assert!(
            events.iter().all(|e| e.target != "dsg_lib::sql"),
            "[{ctx}] {events:?}"
        );
        for db in [db, hidden, quiet] {
            db.disconnect().await;
        }
    }
}

/// A statement that takes well over 30 ms on `backend`, binding `marker`.
fn slow_statement(
    backend: &Backend,
    marker: &str,
) -> dsg_lib::async_database_functions::statement::Text {
    let sql = match backend.name {
        "sqlite" => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500000) \
             SELECT count(*) FROM c WHERE :marker IS NOT NULL"
        }
        "postgres" => {
            "SELECT count(*) FROM (SELECT pg_sleep(0.1)) s WHERE CAST(:marker AS TEXT) IS NOT NULL"
        }
        _ => "SELECT count(*) FROM (SELECT SLEEP(0.1)) s WHERE :marker IS NOT NULL",
    };
    text(sql).bind("marker", marker.to_string())
}

#[tokio::test]
async fn statements_slower_than_slow_statement_ms_are_warned_about_without_values() {
    for backend in common::backends() {
        let ctx = backend.name;
        let marker = format!("slow-marker-{}", uuid::Uuid::new_v4().simple());
        let db = backend.database(json!({"slow_statement_ms": 30}));
        let ops = DatabaseOperations::new(db.clone());
        let recorder = Recorder::default();
        let _guard = recorder.install();

        let _: Vec<i64> = ops
            .read_query(&slow_statement(&backend, &marker))
            .await
            .check(ctx);
        let (_, events) = recorder.take();
        let warnings: Vec<&EventRecord> = events
            .iter()
            .filter(|e| e.level == Level::WARN && e.target == "dsg_lib::sql")
            .collect();
        assert_eq!(warnings.len(), 1, "[{ctx}] {events:?}");
        let warning = warnings[0];
        assert!(
            warning.message.contains("slow statement"),
            "[{ctx}] {warning:?}"
        );
        assert_eq!(warning.span, Some("read_query"), "[{ctx}]");
        assert!(
            warning.fields["db.query.text"].contains("count(*)"),
            "[{ctx}] the warning names the statement: {warning:?}"
        );
        let elapsed: f64 = warning.fields["elapsed_ms"].parse().unwrap();
        assert!(elapsed > 30.0, "[{ctx}] {warning:?}");
        assert_eq!(warning.fields["threshold_ms"], "30.0", "[{ctx}]");
        assert!(
            !format!("{warning:?}").contains(&marker),
            "[{ctx}] a slow warning never carries values: {warning:?}"
        );

        // A fast statement under the threshold: no warning.
        let _: Vec<Record> = ops.read_query(&text("SELECT 1")).await.check(ctx);
        let (_, events) = recorder.take();
        assert!(
            events.iter().all(|e| e.level != Level::WARN),
            "[{ctx}] {events:?}"
        );

        // No threshold (the default): no warning, however slow.
        let untimed = backend.database(json!({}));
        let _: Vec<i64> = DatabaseOperations::new(untimed.clone())
            .read_query(&slow_statement(&backend, &marker))
            .await
            .check(ctx);
        let (_, events) = recorder.take();
        assert!(
            events.iter().all(|e| e.level != Level::WARN),
            "[{ctx}] {events:?}"
        );
        db.disconnect().await;
        untimed.disconnect().await;
    }
}

#[test]
fn slow_statement_ms_is_validated() {
    let ok = DBConfig::new(json!({"database_uri": "sqlite::memory:", "slow_statement_ms": 250}))
        .unwrap();
    assert_eq!(
        ok.slow_statement_threshold(),
        Some(Duration::from_millis(250))
    );
    let fractional =
        DBConfig::new(json!({"database_uri": "sqlite::memory:", "slow_statement_ms": 0.5}))
            .unwrap();
    assert_eq!(
        fractional.slow_statement_threshold(),
        Some(Duration::from_micros(500))
    );
    assert_eq!(
        DBConfig::new(json!({"database_uri": "sqlite::memory:"}))
            .unwrap()
            .slow_statement_threshold(),
        None
    );
    for bad in [json!(0), json!(-5), json!("fast"), json!(1e18)] {
        let err =
            DBConfig::new(json!({"database_uri": "sqlite::memory:", "slow_statement_ms": bad}))
                .expect_err("a bad threshold");
        assert_eq!(err.kind(), ErrorKind::ConfigurationError);
        assert!(err.details().contains("slow_statement_ms"), "{err}");
    }
}

#[tokio::test]
async fn pool_stats_show_size_idle_in_use_and_waiting() {
    for backend in common::backends() {
        let ctx = backend.name;
        let (db, max) = if backend.is_sqlite() {
            (backend.database(json!({})), 5)
        } else {
            let extra = json!({"pool_size": 2, "max_overflow": 0, "pool_timeout": 10});
            (backend.database(extra), 2)
        };
        assert_eq!(
            db.pool_stats(),
            PoolStats {
                max,
                ..PoolStats::default()
            },
            "[{ctx}] before first use"
        );

        let mut held = Vec::new();
        for n in 1..=max {
            held.push(db.get_db_session().await.check(ctx));
            let stats = db.pool_stats();
            assert_eq!(
                (stats.in_use, stats.waiting, stats.max),
                (n, 0, max),
                "[{ctx}]"
            );
            assert!(stats.size >= n && stats.size <= max, "[{ctx}] {stats:?}");
        }
        assert_eq!(db.pool_stats().idle, 0, "[{ctx}]");

        // The pool is full: the next caller waits, and is counted while it does.
        let waiter = {
            let db = db.clone();
            tokio::spawn(async move { db.get_db_session().await })
        };
        let waiting = wait_for(|| db.pool_stats().waiting == 1).await;
        assert!(
            waiting,
            "[{ctx}] a waiter was not counted: {:?}",
            db.pool_stats()
        );

        // A connection comes back: the waiter gets it.
        held.pop().unwrap().rollback().await.check(ctx);
        let session = waiter.await.unwrap().check(ctx);
        let stats = db.pool_stats();
        assert_eq!((stats.in_use, stats.waiting), (max, 0), "[{ctx}] {stats:?}");

        // A waiter that gives up (its future dropped) is no longer counted.
        let waiter = {
            let db = db.clone();
            tokio::spawn(async move { db.get_db_session().await })
        };
        assert!(wait_for(|| db.pool_stats().waiting == 1).await, "[{ctx}]");
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(db.pool_stats().waiting, 0, "[{ctx}]");

        drop(session);
        held.clear();
        let all_back = wait_for(|| {
            let stats = db.pool_stats();
            stats.in_use == 0 && stats.idle == stats.size
        })
        .await;
        let stats = db.pool_stats();
        assert!(
            all_back,
            "[{ctx}] every connection back and idle: {stats:?}"
        );

        // What a metrics exporter or a readiness endpoint gets.
        let value = serde_json::to_value(stats).unwrap();
        assert_eq!(
            value.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["size", "idle", "in_use", "waiting", "max"],
            "[{ctx}]"
        );
        db.disconnect().await;
    }
}

/// Polls `condition` for up to 5 s.
async fn wait_for(condition: impl Fn() -> bool) -> bool {
    for _ in 0..500 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
