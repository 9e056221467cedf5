//! Hostile input, on every configured backend: arbitrary configuration maps and URIs, values
//! that must come back exactly as stored (or be refused as invalid input, storing nothing),
//! SQL injection attempts through every place a user's string reaches a statement, names
//! that need quoting, and `create_tables` failing half-way.

mod common;
mod ops_support;

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_config::{DBConfig, Dialect};
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
use dsg_lib::async_database_functions::field::SqlField;
use dsg_lib::async_database_functions::model::{Column, ColumnSet, Model as _, SqlType};
use dsg_lib::async_database_functions::row::{FromRow, RowReader, RowRef};
use dsg_lib::async_database_functions::statement::text;
use dsg_lib::sea_query::Value as SqlValue;
use ops_support::{Check, expect_err, fresh};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Shared runtime

/// One runtime for the whole file: pools live in the runtime that first used them, and the
/// proptest cases below reuse the databases set up once.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Proptest settings: `cases` cases, no regression files written into the repository, and
/// shrinking bounded in time (a case may wait on a server).
fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_time: 30_000,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration maps and URIs

/// Every key `DBConfig` knows, at the top level and inside `connect_args` /
/// `execution_options`.
const KNOWN_KEYS: &[&str] = &[
    "database_uri",
    "echo",
    "future",
    "pool_pre_ping",
    "pool_size",
    "max_overflow",
    "pool_recycle",
    "pool_timeout",
    "connect_args",
    "execution_options",
    "isolation_level",
    "query_cache_size",
    "hide_parameters",
    "timeout",
    "connect_timeout",
    "application_name",
    "sslmode",
    "statement_cache_size",
    "charset",
    "server_settings",
    "slow_statement_ms",
    "sslrootcert",
    "sslcert",
    "sslkey",
];

/// A key: a known one most of the time, else anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KNOWN_KEYS).prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
        1 => ".{0,6}",
    ]
}

/// A scalar of every JSON type, with the numbers that break naive conversions.
fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(vec![
            -1_i64,
            0,
            1,
            5,
            30,
            3600,
            i64::from(u32::MAX) + 1,
            i64::MAX,
            i64::MIN,
        ])
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            0.0,
            -0.5,
            0.001,
            2.5,
            1e19,
            -1e19,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE
        ])
        .prop_map(Value::from),
        // NaN and the infinities become null, as serde_json has no number for them.
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "SERIALIZABLE",
            "READ COMMITTED",
            "READ UNCOMMITTED",
            "REPEATABLE READ",
            "AUTOCOMMIT",
            "true",
            "30",
            "-1",
            "1e19",
            "require",
            "utf8mb4",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

/// Any JSON value, nested maps and arrays included.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A database URI: a known scheme (or none) followed by a plausible or arbitrary rest.
fn uri() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "sqlite+aiosqlite:///",
        "sqlite+aiosqlite:////",
        "sqlite:///",
        "sqlite://",
        "sqlite:",
        "postgresql+asyncpg://",
        "postgresql://",
        "postgres://",
        "cockroachdb+asyncpg://",
        "mysql+aiomysql://",
        "mysql+asyncmy://",
        "mysql://",
        "mariadb://",
        "mssql+pyodbc://",
        "oracle+cx_oracle://",
        "http://",
        "://",
        "",
    ]);
    let rest = prop_oneof![
        prop::sample::select(vec![
            ":memory:",
            ":memory:?cache=shared",
            "u:p@h:5432/db",
            "u:p@h1:5440,h2:5441/db?target_session_attrs=read-write",
            "u@[::1]:3306/x",
            "u:p%zz@h/db",
            "u:%00@h/db",
            "h:99999/db",
            "h:-1/db",
            "h:0/db",
            "@/",
            "u:@:/",
            "?",
            "#",
            "/",
            "h/db?sslmode=verify-full&application_name=x",
            "h/db?unknown=1&&=&",
        ])
        .prop_map(str::to_string),
        ".{0,24}",
    ];
    (scheme, rest).prop_map(|(scheme, rest)| format!("{scheme}{rest}"))
}

/// A configuration map: maybe a `database_uri` (a URI string, or any JSON value), plus random
/// known and unknown keys with random values.
fn config_map() -> impl Strategy<Value = Value> {
    let database_uri = prop::option::weighted(
        0.9,
        prop_oneof![4 => uri().prop_map(Value::from), 1 => json_value()],
    );
    let extra = prop::collection::btree_map(key(), json_value(), 0..6);
    (database_uri, extra).prop_map(|(database_uri, extra)| {
        let mut map: serde_json::Map<String, Value> = extra.into_iter().collect();
        match database_uri {
            Some(uri) => map.insert("database_uri".into(), uri),
            None => map.remove("database_uri"),
        };
        Value::Object(map)
    })
}

/// Numbers for sizes and durations: plausible, zero, negative, fractional, huge.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec![
            json!(-1),
            json!(0),
            json!(1),
            json!(30),
            json!(3600),
            json!(0.001),
            json!(2.5),
            json!(-0.5),
            json!(1e19),
            json!(1e300),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(u64::from(u32::MAX) + 1),
        ]),
        1 => any::<i64>().prop_map(Value::from),
        1 => json_leaf(),
    ]
}

/// One key SQLite accepts, with a value meant for it (plausible or not) or any value.
fn sqlite_entry() -> impl Strategy<Value = (String, Value)> {
    let flag = || prop_oneof![4 => any::<bool>().prop_map(Value::from), 1 => json_leaf()];
    let isolation = || {
        prop_oneof![
            4 => prop::sample::select(vec![
                "SERIALIZABLE",
                "READ UNCOMMITTED",
                "READ COMMITTED",
                "AUTOCOMMIT",
                "serializable",
                "",
            ])
            .prop_map(Value::from),
            1 => json_leaf(),
        ]
    };
    let connect_args = prop::collection::btree_map(
        prop::sample::select(vec!["timeout", "connect_timeout", "check_same_thread"])
            .prop_map(str::to_string),
        number(),
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()));
    prop_oneof![
        flag().prop_map(|v| ("echo".to_string(), v)),
        flag().prop_map(|v| ("future".to_string(), v)),
        flag().prop_map(|v| ("hide_parameters".to_string(), v)),
        number().prop_map(|v| ("pool_recycle".to_string(), v)),
        number().prop_map(|v| ("query_cache_size".to_string(), v)),
        number().prop_map(|v| ("slow_statement_ms".to_string(), v)),
        isolation().prop_map(|v| ("isolation_level".to_string(), v)),
        isolation().prop_map(|v| (
            "execution_options".to_string(),
            json!({ "isolation_level": v })
        )),
        connect_args.prop_map(|v| ("connect_args".to_string(), v)),
        (key(), json_value()),
    ]
}

/// A map for in-memory SQLite with random values for the keys SQLite accepts.
fn sqlite_config_map() -> impl Strategy<Value = Value> {
    let uri = prop::sample::select(vec![
        "sqlite+aiosqlite:///:memory:?cache=shared",
        "sqlite:///:memory:",
        "sqlite::memory:",
    ]);
    (uri, prop::collection::vec(sqlite_entry(), 0..5)).prop_map(|(uri, entries)| {
        let mut map: serde_json::Map<String, Value> = entries.into_iter().collect();
        map.insert("database_uri".into(), uri.into());
        Value::Object(map)
    })
}

/// `DBConfig::new`'s answer to `input`: a config, or a configuration error — never a panic
/// or another kind of error.
fn accepted_or_config_error(input: Value) -> Result<Option<DBConfig>, TestCaseError> {
    match DBConfig::new(input.clone()) {
        Ok(config) => {
            // Formatting an accepted config never panics either.
            let _ = format!("{config:?} {}", config.redacted_uri());
            Ok(Some(config))
        }
        Err(e) => {
            prop_assert_eq!(
                e.kind(),
                ErrorKind::ConfigurationError,
                "{} for {}",
                e,
                input
            );
            prop_assert!(!e.details().is_empty(), "an empty error for {}", input);
            Ok(None)
        }
    }
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any map, any URI: `DBConfig::new` returns a config or a `ConfigurationError`.
    #[test]
    fn any_config_map_is_accepted_or_refused_as_a_configuration_error(map in config_map()) {
        accepted_or_config_error(map)?;
    }

    /// Not a map at all: a `ConfigurationError`.
    #[test]
    fn a_config_that_is_not_a_map_is_a_configuration_error(value in json_value()) {
        let is_map = value.is_object();
        let accepted = accepted_or_config_error(value)?;
        prop_assert!(is_map || accepted.is_none());
    }
}

proptest! {
    #![proptest_config(cases(160))]

    /// A SQLite config `DBConfig::new` accepts works on first use: a session opens and
    /// `SELECT 1` answers 1, within seconds.
    #[test]
    fn an_accepted_sqlite_config_runs_select_1(map in sqlite_config_map()) {
        let Some(config) = accepted_or_config_error(map.clone())? else {
            return Ok(());
        };
        let outcome = runtime().block_on(async {
            tokio::time::timeout(Duration::from_secs(5), async {
                let db = AsyncDatabase::new(config);
                let mut session = db.get_db_session().await?;
                let one: Option<i64> = session.fetch_optional(&text("SELECT 1")).await?;
                session.commit().await?;
                db.disconnect().await;
                Ok::<_, DatabaseError>(one)
            })
            .await
        });
        match outcome {
            Err(_) => prop_assert!(false, "SELECT 1 did not finish within 5 s for {}", map),
            Ok(Err(e)) => prop_assert!(false, "accepted config failed on first use: {} for {}", e, map),
            Ok(Ok(one)) => prop_assert_eq!(one, Some(1), "for {}", map),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

/// A row of every value type a hostile value can hide in.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_values")]
struct Sample {
    #[model(flatten)]
    base: SchemaBase,
    body: String,
    note: Option<String>,
    data: Vec<u8>,
    big: i64,
    small: i32,
    real: f64,
}

/// A database per backend with `Sample`'s table, set up once per test function.
struct Fixture {
    backend: Backend,
    ops: DatabaseOperations,
}

/// The fixtures for the SQLite backend (`servers == false`) or for the configured servers.
fn fixtures(cell: &'static OnceLock<Vec<Fixture>>, servers: bool) -> &'static [Fixture] {
    cell.get_or_init(|| {
        runtime().block_on(async {
            let mut list = Vec::new();
            for backend in common::backends() {
                if backend.is_sqlite() == servers {
                    continue;
                }
                let (_, ops) = fresh(&backend, json!({}), |db| {
                    db.register::<Sample>();
                })
                .await;
                list.push(Fixture { backend, ops });
            }
            list
        })
    })
}

/// Strings that break naive SQL: quotes, escapes, wildcards, parameter-like text, NUL, and
/// any Unicode at all.
fn hostile_string() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "'",
        "''",
        "\"",
        "`",
        "\\",
        "\\'",
        "%",
        "_",
        ":name",
        ":v",
        "?",
        "$1",
        "$$",
        "--",
        "/*",
        "*/",
        "#",
        ";",
        "\0",
        "\r\n",
        "\u{1F600}",
        "\u{FEFF}",
        "\u{10FFFF}",
        "é",
        "x",
        " ",
        "'); DROP TABLE rel_values; --",
    ]);
    prop_oneof![
        any::<String>(),
        "[ -~]{0,64}",
        prop::collection::vec(pieces, 0..12).prop_map(|p| p.concat()),
    ]
}

/// Finite doubles, the extremes among them.
fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        prop::sample::select(vec![
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            f64::EPSILON,
            1e19,
            -1e-300,
            0.1,
        ]),
    ]
}

fn any_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1, i64::from(i32::MAX) + 1])
    ]
}

fn any_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        prop::sample::select(vec![i32::MIN, i32::MAX, 0, -1])
    ]
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        hostile_string(),
        prop::option::of(hostile_string()),
        prop::collection::vec(any::<u8>(), 0..256),
        any_i64(),
        any_i32(),
        finite_f64(),
    )
        .prop_map(|(body, note, data, big, small, real)| Sample {
            base: SchemaBase::default(),
            body,
            note,
            data,
            big,
            small,
            real,
        })
}

/// `value`'s `Debug` form, cut to a readable length for failure messages.
fn short(value: &impl std::fmt::Debug) -> String {
    let text = format!("{value:?}");
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text,
    }
}

/// Whether `backend` cannot store `sample`: PostgreSQL's text cannot hold NUL.
fn unstorable(backend: &Backend, sample: &Sample) -> bool {
    backend.name == "postgres"
        && (sample.body.contains('\0') || sample.note.as_deref().is_some_and(|n| n.contains('\0')))
}

/// The same double: bit for bit (a NaN is any NaN).
fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The columns of `a` and `b` other than the timestamps are identical.
fn same_values(a: &Sample, b: &Sample) -> bool {
    a.base.pkid == b.base.pkid
        && a.body == b.body
        && a.note == b.note
        && a.data == b.data
        && a.big == b.big
        && a.small == b.small
        && same_f64(a.real, b.real)
}

/// `Sample`'s rows whose pkid is `pkid`.
fn by_pkid(pkid: &str) -> dsg_lib::sea_query::SelectStatement {
    let mut select = Sample::select();
    select.and_where(Sample::col("pkid").eq(pkid));
    select
}

/// The rows of `Sample` whose pkid is `pkid`.
async fn samples_with_pkid(ops: &DatabaseOperations, ctx: &str, pkid: &str) -> Vec<Sample> {
    ops.read_query(&by_pkid(pkid)).await.check(ctx)
}

/// `create_one(sample)`, then read back by pkid: identical, or refused as invalid input with
/// nothing stored (only where [`unstorable`] says so).
async fn create_and_read_back(f: &Fixture, sample: Sample) -> Result<(), TestCaseError> {
    let ctx = f.backend.name;
    let pkid = sample.base.pkid.clone();
    match f.ops.create_one(sample.clone()).await {
        Ok(stored) => {
            prop_assert!(!unstorable(&f.backend, &sample), "[{}] stored NUL", ctx);
            prop_assert!(
                same_values(&stored, &sample),
                "[{}] returned {} for {}",
                ctx,
                short(&stored),
                short(&sample)
            );
            let read = samples_with_pkid(&f.ops, ctx, &pkid).await;
            prop_assert_eq!(read.len(), 1, "[{}]", ctx);
            prop_assert!(
                same_values(&read[0], &sample),
                "[{}] read {} for {}",
                ctx,
                short(&read[0]),
                short(&sample)
            );
            prop_assert_eq!(read[0].base.date_created, stored.base.date_created);
        }
        Err(e) => {
            prop_assert!(
                unstorable(&f.backend, &sample),
                "[{}] {} refused: {}",
                ctx,
                short(&sample),
                e
            );
            prop_assert_eq!(e.kind(), ErrorKind::InvalidInput, "[{}] {}", ctx, e);
            prop_assert!(samples_with_pkid(&f.ops, ctx, &pkid).await.is_empty());
        }
    }
    Ok(())
}

/// `sql` (a `SELECT :v`) with `value` bound reads back `expected`, or refuses it as invalid
/// input when `storable` is false.
///
/// Each value type has its own statement text here: one text with values of several types is
/// `one_statement_text_with_values_of_every_type`'s subject.
async fn select_back<T>(
    f: &Fixture,
    sql: &'static str,
    value: impl Into<SqlValue>,
    expected: &T,
    storable: bool,
    same: impl Fn(&T, &T) -> bool,
) -> Result<(), TestCaseError>
where
    T: FromRow + std::fmt::Debug,
{
    let ctx = f.backend.name;
    let read: Result<Option<T>, DatabaseError> =
        f.ops.read_one_record(&text(sql).bind("v", value)).await;
    match read {
        Ok(read) => {
            prop_assert!(storable, "[{}] SELECT :v accepted {}", ctx, short(expected));
            let read = read.expect("one row");
            prop_assert!(
                same(&read, expected),
                "[{}] SELECT :v gave {} for {}",
                ctx,
                short(&read),
                short(expected)
            );
        }
        Err(e) => {
            prop_assert!(
                !storable,
                "[{}] SELECT :v of {}: {}",
                ctx,
                short(expected),
                e
            );
            prop_assert_eq!(e.kind(), ErrorKind::InvalidInput, "[{}] {}", ctx, e);
        }
    }
    Ok(())
}

const SELECT_TEXT: &str = "SELECT :v AS text_value";
const SELECT_BYTES: &str = "SELECT :v AS bytes_value";
const SELECT_BIG: &str = "SELECT :v AS big_value";
const SELECT_INT: &str = "SELECT :v AS int_value";
const SELECT_DOUBLE: &str = "SELECT :v AS double_value";

/// Every value of `sample` through `SELECT :v`.
async fn select_each_back(f: &Fixture, sample: &Sample) -> Result<(), TestCaseError> {
    let pg = f.backend.name == "postgres";
    let body_ok = !(pg && sample.body.contains('\0'));
    let body = sample.body.clone();
    select_back(f, SELECT_TEXT, body, &sample.body, body_ok, PartialEq::eq).await?;
    let data = sample.data.clone();
    select_back(f, SELECT_BYTES, data, &sample.data, true, PartialEq::eq).await?;
    select_back(f, SELECT_BIG, sample.big, &sample.big, true, PartialEq::eq).await?;
    select_back(
        f,
        SELECT_INT,
        sample.small,
        &sample.small,
        true,
        PartialEq::eq,
    )
    .await?;
    let same = |a: &f64, b: &f64| same_f64(*a, *b);
    select_back(f, SELECT_DOUBLE, sample.real, &sample.real, true, same).await?;
    Ok(())
}

static SQLITE_VALUES: OnceLock<Vec<Fixture>> = OnceLock::new();
static SERVER_VALUES: OnceLock<Vec<Fixture>> = OnceLock::new();

proptest! {
    #![proptest_config(cases(128))]

    /// SQLite: any string, bytes, integer and finite double comes back identical, through
    /// `create_one` and through `SELECT :v`.
    #[test]
    fn values_round_trip_on_sqlite(sample in sample()) {
        let all = fixtures(&SQLITE_VALUES, false);
        runtime().block_on(async {
            for f in all {
                create_and_read_back(f, sample.clone()).await?;
                select_each_back(f, &sample).await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}

proptest! {
    #![proptest_config(cases(32))]

    /// The servers: the same, fewer cases. NUL in text is refused by PostgreSQL as invalid
    /// input, and nothing is stored.
    #[test]
    fn values_round_trip_on_the_servers(sample in sample()) {
        let all = fixtures(&SERVER_VALUES, true);
        runtime().block_on(async {
            for f in all {
                create_and_read_back(f, sample.clone()).await?;
                select_each_back(f, &sample).await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}

/// Runs `check` on every backend's values fixture.
fn on_every_backend<F, Fut>(check: F)
where
    F: Fn(&'static Fixture) -> Fut,
    Fut: std::future::Future<Output = Result<(), TestCaseError>>,
{
    let all = fixtures(&SQLITE_VALUES, false)
        .iter()
        .chain(fixtures(&SERVER_VALUES, true));
    for f in all {
        if let Err(e) = runtime().block_on(check(f)) {
            panic!("[{}] {e}", f.backend.name);
        }
    }
}

#[test]
fn nul_in_text_is_refused_by_postgres_and_kept_elsewhere() {
    on_every_backend(|f| async move {
        let sample = Sample {
            base: SchemaBase::default(),
            body: "before\0after".into(),
            note: Some("\0".into()),
            data: vec![0, 0, 1],
            big: 0,
            small: 0,
            real: 0.0,
        };
        create_and_read_back(f, sample.clone()).await?;
        select_each_back(f, &sample).await
    });
}

#[test]
fn very_long_values_round_trip() {
    on_every_backend(|f| async move {
        let unit = "it's \"quoted\" \\ back`tick` %_ :name $$ -- /* é \u{1F600}\n";
        let body = unit.repeat(1 << 20 >> 6);
        let data: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i % 251) as u8).collect();
        let sample = Sample {
            base: SchemaBase::default(),
            body: body.clone(),
            note: Some(body),
            data,
            big: i64::MIN,
            small: i32::MIN,
            real: f64::MIN_POSITIVE,
        };
        create_and_read_back(f, sample.clone()).await?;
        select_each_back(f, &sample).await
    });
}

/// What storing and selecting `real` does on `f`'s backend, as a problem description when
/// it neither round-trips nor is refused as invalid input with nothing stored.
async fn non_finite_problems(f: &Fixture, real: f64) -> Vec<String> {
    let ctx = f.backend.name;
    let mut problems = Vec::new();
    let sample = Sample {
        base: SchemaBase::default(),
        body: format!("{real}"),
        note: None,
        data: Vec::new(),
        big: 1,
        small: 1,
        real,
    };
    let pkid = sample.base.pkid.clone();
    match f.ops.create_one(sample).await {
        Ok(_) => match f.ops.read_query::<Sample>(&by_pkid(&pkid)).await {
            Ok(read) if read.len() == 1 && same_f64(read[0].real, real) => {}
            other => problems.push(format!("[{ctx}] {real} stored, read back as {other:?}")),
        },
        Err(e) => {
            if e.kind() != ErrorKind::InvalidInput {
                problems.push(format!("[{ctx}] storing {real}: {} {e}", e.kind()));
            }
            if !samples_with_pkid(&f.ops, ctx, &pkid).await.is_empty() {
                problems.push(format!("[{ctx}] storing {real} failed but stored a row"));
            }
        }
    }
    let read: Result<Option<f64>, DatabaseError> = f
        .ops
        .read_one_record(&text(SELECT_DOUBLE).bind("v", real))
        .await;
    match read {
        Ok(Some(v)) if same_f64(v, real) => {}
        Err(e) if e.kind() == ErrorKind::InvalidInput => {}
        other => problems.push(format!("[{ctx}] SELECT :v of {real} gave {other:?}")),
    }
    problems
}

/// NaN and the infinities: each backend stores them exactly or refuses them as invalid input.
#[test]
fn non_finite_doubles_round_trip_or_are_refused_as_invalid_input() {
    let all = fixtures(&SQLITE_VALUES, false)
        .iter()
        .chain(fixtures(&SERVER_VALUES, true));
    let mut problems = Vec::new();
    for f in all {
        for real in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            problems.extend(runtime().block_on(non_finite_problems(f, real)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One `text()` statement run with values of different types, one after the other on the same
/// connection (a pool of one where the backend has pool keys): each value comes back as bound.
#[tokio::test]
async fn one_statement_text_with_values_of_every_type() {
    for b in common::backends() {
        let ctx = b.name;
        let extra = if b.is_sqlite() {
            json!({})
        } else {
            json!({"pool_size": 1, "max_overflow": 0})
        };
        let ops = DatabaseOperations::new(b.database(extra));
        let sql = "SELECT :v";
        let s: Option<String> = ops
            .read_one_record(&text(sql).bind("v", "text"))
            .await
            .check(ctx);
        assert_eq!(s.as_deref(), Some("text"), "[{ctx}]");
        let bytes: Option<Vec<u8>> = ops
            .read_one_record(&text(sql).bind("v", vec![1_u8, 2, 3]))
            .await
            .check(ctx);
        assert_eq!(bytes, Some(vec![1, 2, 3]), "[{ctx}] bytes after text");
        let n: Option<i64> = ops
            .read_one_record(&text(sql).bind("v", 7_i64))
            .await
            .check(ctx);
        assert_eq!(n, Some(7), "[{ctx}] an integer after bytes");
        let x: Option<f64> = ops
            .read_one_record(&text(sql).bind("v", 0.5_f64))
            .await
            .check(ctx);
        assert_eq!(x, Some(0.5), "[{ctx}] a double after an integer");
        let s: Option<String> = ops
            .read_one_record(&text(sql).bind("v", "again"))
            .await
            .check(ctx);
        assert_eq!(s.as_deref(), Some("again"), "[{ctx}] text after a double");
        ops.database().disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// text(): `:x` inside the dialect's quoting is text, not a parameter

/// `SELECT <literal>, :v` statements of each backend's own quoting forms: the literal comes
/// back as written and `:v` as bound.
#[tokio::test]
async fn text_leaves_every_quoting_form_of_the_dialect_alone() {
    for b in common::backends() {
        let ctx = b.name;
        let ops = DatabaseOperations::new(b.database(json!({})));
        let mut cases: Vec<(&str, &str)> = vec![
            ("SELECT ':x' AS lit, :v AS val", ":x"),
            ("SELECT 'it''s :x' AS lit, :v AS val", "it's :x"),
            ("SELECT /* :x */ 'a' AS lit, :v AS val -- :y", "a"),
        ];
        cases.extend(match b.name {
            "mysql" => vec![
                (r"SELECT 'it\'s :x' AS lit, :v AS val", "it's :x"),
                (r#"SELECT "say \":x\"" AS lit, :v AS val"#, "say \":x\""),
                ("SELECT 'b' AS lit, :v AS val # :x", "b"),
                (r"SELECT 'back\\' AS lit, :v AS val", "back\\"),
            ],
            "postgres" => vec![
                ("SELECT $$ :x $$ AS lit, :v AS val", " :x "),
                (
                    "SELECT $q$ it's $$ :x $q$ AS lit, :v AS val",
                    " it's $$ :x ",
                ),
                (r"SELECT E'it\'s :x' AS lit, :v AS val", "it's :x"),
                ("SELECT /* a /* :x */ b */ 'c' AS lit, :v::text AS val", "c"),
            ],
            _ => vec![
                (
                    "SELECT [a:b] AS lit, :v AS val FROM (SELECT 'd' AS [a:b])",
                    "d",
                ),
                (
                    "SELECT `a:b` AS lit, :v AS val FROM (SELECT 'e' AS `a:b`)",
                    "e",
                ),
            ],
        });
        for (sql, literal) in cases {
            let row: Option<(String, String)> = ops
                .read_one_record(&text(sql).bind("v", "bound"))
                .await
                .unwrap_or_else(|e| panic!("[{ctx}] {sql}: {e}"));
            assert_eq!(
                row,
                Some((literal.to_string(), "bound".to_string())),
                "[{ctx}] {sql}"
            );
        }
        ops.database().disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Server-side timestamps

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_stamped")]
struct Stamped {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[tokio::test]
async fn a_row_inserted_without_timestamps_gets_utc_now_on_every_backend() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<Stamped>();
        })
        .await;
        let pkid = uuid::Uuid::new_v4().to_string();
        ops.execute_one(
            &text("INSERT INTO rel_stamped (pkid, name) VALUES (:p, :n)")
                .bind("p", pkid.clone())
                .bind("n", "by hand"),
        )
        .await
        .check(ctx);
        let rows: Vec<Stamped> = ops
            .read_query(Stamped::select().and_where(Stamped::col("pkid").eq(pkid.clone())))
            .await
            .check(ctx);
        assert_eq!(rows.len(), 1, "[{ctx}]");
        let now = Utc::now();
        for stamp in [rows[0].base.date_created, rows[0].base.date_updated] {
            let off = (now - stamp).num_seconds().abs();
            assert!(off < 60, "[{ctx}] {stamp} is not UTC now ({now})");
        }
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Injection attempts

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_inj_users")]
struct InjUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

fn inj_user(name: &str, color: Option<&str>) -> InjUser {
    InjUser {
        base: SchemaBase::default(),
        name: name.into(),
        color: color.map(Into::into),
    }
}

/// The table is there and holds exactly `expected` (name, color) rows.
async fn assert_rows(ops: &DatabaseOperations, ctx: &str, step: &str, expected: &[InjUser]) {
    let rows: Vec<InjUser> = ops
        .read_query(&InjUser::select())
        .await
        .unwrap_or_else(|e| panic!("[{ctx}] after {step}: the table is unreadable: {e}"));
    let mut want: Vec<(String, Option<String>)> = expected
        .iter()
        .map(|u| (u.name.clone(), u.color.clone()))
        .collect();
    let mut got: Vec<(String, Option<String>)> =
        rows.into_iter().map(|u| (u.name, u.color)).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "[{ctx}] after {step}");
}

#[tokio::test]
async fn user_strings_never_run_as_sql() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<InjUser>();
        })
        .await;
        let mut rows = vec![
            ops.create_one(inj_user("alice", Some("red")))
                .await
                .check(ctx),
            ops.create_one(inj_user("bob", None)).await.check(ctx),
        ];

        // Values holding SQL are stored verbatim.
        for (name, color) in [
            ("'); DROP TABLE rel_inj_users; --", Some("\" OR \"1\"=\"1")),
            ("x' OR '1'='1", Some("`; DELETE FROM rel_inj_users; #")),
            (
                "\\'; DROP TABLE rel_inj_users; -- ",
                Some("$$; DROP TABLE rel_inj_users; $$"),
            ),
        ] {
            let stored = ops.create_one(inj_user(name, color)).await.check(ctx);
            let read: Option<InjUser> = ops
                .read_one_record(InjUser::select().and_where(InjUser::col("name").eq(name)))
                .await
                .check(ctx);
            assert_eq!(
                read.as_ref(),
                Some(&stored),
                "[{ctx}] {name:?} stored verbatim"
            );
            rows.push(stored);
        }
        assert_rows(&ops, ctx, "inserting SQL-like values", &rows).await;

        // update_one: keys are column names, checked against the model.
        let alice = rows[0].base.pkid.clone();
        for key in [
            "name = 'x', color",
            "color; DROP TABLE rel_inj_users; --",
            "color\" = 'x' --",
            "color` = 'x' #",
            "rel_inj_users.color",
            "COLOR",
            "",
        ] {
            let err = expect_err(
                ops.update_one::<InjUser>(alice.clone(), json!({ key: "hacked" }))
                    .await,
                ErrorKind::InvalidInput,
                ctx,
            );
            assert!(
                err.details().contains("no column"),
                "[{ctx}] {key:?}: {err}"
            );
        }
        assert_rows(&ops, ctx, "update_one with hostile keys", &rows).await;

        // update_one: values holding SQL are stored verbatim.
        let value = "x'); DELETE FROM rel_inj_users; --";
        let updated = ops
            .update_one::<InjUser>(alice.clone(), json!({ "color": value }))
            .await
            .check(ctx);
        assert_eq!(updated.color.as_deref(), Some(value), "[{ctx}]");
        rows[0].color = Some(value.into());
        assert_rows(&ops, ctx, "update_one with a SQL-like value", &rows).await;

        // Ids holding SQL match nothing.
        for id in ["' OR '1'='1", "x\" OR \"1\"=\"1", "1 OR 1=1", "%"] {
            expect_err(
                ops.update_one::<InjUser>(id, json!({ "color": "hacked" }))
                    .await,
                ErrorKind::RecordNotFound,
                ctx,
            );
            expect_err(
                ops.delete_one::<InjUser>(id).await,
                ErrorKind::RecordNotFound,
                ctx,
            );
        }
        assert_rows(&ops, ctx, "hostile ids", &rows).await;

        // delete_many: the column name is checked against the model; the values are bound.
        for column in [
            "pkid OR 1=1",
            "pkid\" OR \"1\"=\"1",
            "pkid` OR `1`=`1",
            "name; DROP TABLE rel_inj_users; --",
        ] {
            let err = expect_err(
                ops.delete_many::<InjUser>(column, ["alice"]).await,
                ErrorKind::InvalidInput,
                ctx,
            );
            assert!(
                err.details().contains("no column"),
                "[{ctx}] {column:?}: {err}"
            );
        }
        let deleted = ops
            .delete_many::<InjUser>("name", ["' OR '1'='1", "alice' --", "%", "bob\0"])
            .await;
        // PostgreSQL refuses the NUL as invalid input; elsewhere nothing matches.
        match deleted {
            Ok(n) => assert_eq!(n, 0, "[{ctx}]"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "[{ctx}] {e}"),
        }
        assert_rows(&ops, ctx, "delete_many with hostile input", &rows).await;

        // text(): parameter names are looked up, never spliced.
        let count_sql = "SELECT count(*) FROM rel_inj_users WHERE name = :name";
        let err = expect_err(
            ops.read_one_record::<i64>(
                &text(count_sql).bind("name; DROP TABLE rel_inj_users; --", "alice"),
            )
            .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains(":name"), "[{ctx}] {err}");
        let n: Option<i64> = ops
            .read_one_record(
                &text(count_sql)
                    .values(json!({
                        "name": "alice",
                        "x; DROP TABLE rel_inj_users; --": 1,
                        ":name": "bob",
                    }))
                    .check(ctx),
            )
            .await
            .check(ctx);
        assert_eq!(n, Some(1), "[{ctx}] extra names are ignored");
        for value in ["y' OR '1'='1", "alice' --", "' UNION SELECT 99 --"] {
            let n: Option<i64> = ops
                .read_one_record(&text(count_sql).bind("name", value))
                .await
                .check(ctx);
            assert_eq!(n, Some(0), "[{ctx}] {value:?} is a value");
        }
        assert_rows(&ops, ctx, "text() with hostile names and values", &rows).await;

        // Model::col: a hostile name is a quoted identifier: an unknown column, never SQL.
        for column in [
            "name\" = '' OR 1=1 --",
            "name` = '' OR 1=1 #",
            "name] = '' OR 1=1 --",
            "name; DROP TABLE rel_inj_users; --",
            "name') OR ('1'='1",
        ] {
            let mut select = InjUser::select();
            select.and_where(InjUser::col(column).eq("x"));
            let read: Result<Vec<InjUser>, DatabaseError> = ops.read_query(&select).await;
            let err = read.expect_err(column);
            assert!(
                err.details().to_lowercase().contains("column"),
                "[{ctx}] {column:?}: {err}"
            );
            let counted = ops.count_query(&select).await;
            assert!(
                counted.is_err(),
                "[{ctx}] count with {column:?}: {counted:?}"
            );
        }
        assert_rows(&ops, ctx, "Model::col with hostile names", &rows).await;

        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Names that need quoting, and create_tables failing half-way

/// A table and a column name no `#[derive(Model)]` accepts, as a hand-written model may have.
const HOSTILE_TABLE: &str = "rel \"hostile`'t]";
const HOSTILE_COLUMN: &str = "la\"b`el' ]";

/// A model implemented by hand, with the names above; its label is unique and indexed.
#[derive(Debug, Clone, PartialEq)]
struct Hostile {
    pkid: String,
    label: String,
}

impl ColumnSet for Hostile {
    fn column_list() -> Vec<Column> {
        let mut pkid = Column::new("pkid", SqlType::String(Some(36)));
        pkid.primary_key = true;
        let mut label = Column::new(HOSTILE_COLUMN, SqlType::String(Some(50)));
        label.unique = true;
        label.index = true;
        label.comment = Some("it's a \"label\"");
        vec![pkid, label]
    }

    fn push_values(&self, dialect: Dialect, out: &mut Vec<SqlValue>) {
        out.push(self.pkid.to_value(dialect));
        out.push(self.label.to_value(dialect));
    }

    fn read_columns(reader: &mut RowReader<'_>) -> Result<Self, DatabaseError> {
        Ok(Hostile {
            pkid: reader.next()?,
            label: reader.next()?,
        })
    }
}

impl FromRow for Hostile {
    fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
        Self::read_columns(&mut RowReader::new(row))
    }
}

impl dsg_lib::async_database_functions::model::Model for Hostile {
    const TABLE: &'static str = HOSTILE_TABLE;

    fn columns() -> &'static [Column] {
        static COLUMNS: OnceLock<Vec<Column>> = OnceLock::new();
        COLUMNS.get_or_init(Self::column_list)
    }
}

/// [`Hostile`]'s rows but one label, read by hand: its `select()` binds a value of its own,
/// which every read of it binds (`read_all` keeps the SQL of a `select()` that binds none).
#[derive(Debug, Clone, PartialEq)]
struct HostileBut(Hostile);

const HIDDEN_LABEL: &str = "hidden";

impl ColumnSet for HostileBut {
    fn column_list() -> Vec<Column> {
        Hostile::column_list()
    }

    fn push_values(&self, dialect: Dialect, out: &mut Vec<SqlValue>) {
        self.0.push_values(dialect, out);
    }

    fn read_columns(reader: &mut RowReader<'_>) -> Result<Self, DatabaseError> {
        Hostile::read_columns(reader).map(HostileBut)
    }
}

impl FromRow for HostileBut {
    fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
        Self::read_columns(&mut RowReader::new(row))
    }
}

impl dsg_lib::async_database_functions::model::Model for HostileBut {
    const TABLE: &'static str = HOSTILE_TABLE;

    fn columns() -> &'static [Column] {
        Hostile::columns()
    }

    fn select() -> dsg_lib::sea_query::SelectStatement {
        let mut select = dsg_lib::sea_query::Query::select();
        select
            .columns(Self::columns().iter().map(|c| (Self::TABLE, c.name)))
            .from(Self::TABLE)
            .and_where(Self::col(HOSTILE_COLUMN).ne(HIDDEN_LABEL));
        select
    }
}

#[tokio::test]
async fn hostile_table_and_column_names_are_quoted_in_every_statement() {
    for b in common::backends() {
        let ctx = b.name;
        let db = b.database(json!({}));
        db.register::<Hostile>();
        db.drop_tables().await.check(ctx);
        db.create_tables().await.check(ctx);
        // A second call finds the table and does nothing.
        db.create_tables().await.check(ctx);
        let ops = DatabaseOperations::new(db.clone());
        let first = Hostile {
            pkid: uuid::Uuid::new_v4().to_string(),
            label: "one".into(),
        };
        ops.create_one(first.clone()).await.check(ctx);
        let read: Vec<Hostile> = ops
            .read_query(Hostile::select().and_where(Hostile::col(HOSTILE_COLUMN).eq("one")))
            .await
            .check(ctx);
        assert_eq!(read, std::slice::from_ref(&first), "[{ctx}]");
        assert_eq!(
            ops.read_all::<Hostile>().await.check(ctx),
            std::slice::from_ref(&first),
            "[{ctx}]"
        );
        // A select() of the model's own with a value in it: read_all binds it, every time.
        let hidden = Hostile {
            pkid: uuid::Uuid::new_v4().to_string(),
            label: HIDDEN_LABEL.into(),
        };
        ops.create_one(hidden.clone()).await.check(ctx);
        for _ in 0..2 {
            let shown = ops.read_all::<HostileBut>().await.check(ctx);
            assert_eq!(shown, [HostileBut(first.clone())], "[{ctx}]");
        }
        ops.delete_one::<Hostile>(hidden.pkid).await.check(ctx);
        // The unique index exists: a second "one" is refused.
        let err = expect_err(
            ops.create_one(Hostile {
                pkid: uuid::Uuid::new_v4().to_string(),
                label: "one".into(),
            })
            .await,
            ErrorKind::IntegrityError,
            ctx,
        );
        assert!(err.is_unique_violation(), "[{ctx}] {err:?}");
        let updated: Hostile = ops
            .update_one::<Hostile>(first.pkid.clone(), json!({ HOSTILE_COLUMN: "two" }))
            .await
            .check(ctx);
        assert_eq!(updated.label, "two", "[{ctx}]");
        assert_eq!(
            ops.delete_many::<Hostile>(HOSTILE_COLUMN, ["two"])
                .await
                .check(ctx),
            1,
            "[{ctx}]"
        );
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

/// The table `create_tables` must create whole or not at all.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_atomic")]
struct Atomic {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 50)]
    code: String,
}

/// A table of 70 indexed columns: more keys than MySQL/MariaDB allow on one table (64), so
/// its later `CREATE INDEX` statements fail there.
struct TooManyKeys;

impl ColumnSet for TooManyKeys {
    fn column_list() -> Vec<Column> {
        let mut columns = vec![{
            let mut pkid = Column::new("pkid", SqlType::String(Some(36)));
            pkid.primary_key = true;
            pkid
        }];
        for i in 0..70 {
            let name: &'static str = Box::leak(format!("c{i}").into_boxed_str());
            let mut column = Column::new(name, SqlType::Integer);
            column.nullable = true;
            column.index = true;
            columns.push(column);
        }
        columns
    }

    fn push_values(&self, _: Dialect, _: &mut Vec<SqlValue>) {}

    fn read_columns(_: &mut RowReader<'_>) -> Result<Self, DatabaseError> {
        Ok(TooManyKeys)
    }
}

impl FromRow for TooManyKeys {
    fn from_row(_: RowRef<'_>) -> Result<Self, DatabaseError> {
        Ok(TooManyKeys)
    }
}

impl dsg_lib::async_database_functions::model::Model for TooManyKeys {
    const TABLE: &'static str = "rel_atomic";

    fn columns() -> &'static [Column] {
        static COLUMNS: OnceLock<Vec<Column>> = OnceLock::new();
        COLUMNS.get_or_init(Self::column_list)
    }
}

/// Whether `table` exists as a base table of the current database/schema.
async fn base_table_exists(ops: &DatabaseOperations, b: &Backend, table: &str) -> bool {
    let sql = match b.name {
        "postgres" => {
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = :t"
        }
        "mysql" => {
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = :t"
        }
        _ => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t",
    };
    let n: Option<i64> = ops
        .read_one_record(&text(sql).bind("t", table))
        .await
        .check(b.name);
    n == Some(1)
}

/// A database on `b` (with `extra` config keys) with `Atomic` registered and its table
/// dropped.
async fn atomic_db(b: &Backend, extra: Value) -> (AsyncDatabase, DatabaseOperations) {
    let db = b.database(extra);
    db.register::<Atomic>();
    db.drop_tables().await.check(b.name);
    let ops = DatabaseOperations::new(db.clone());
    (db, ops)
}

/// Runs one statement and commits it.
async fn run(ops: &DatabaseOperations, ctx: &str, sql: &'static str) {
    ops.execute_one(&text(sql)).await.check(ctx);
}

/// Asserts that `create_tables` fails on `db` and leaves no `rel_atomic` behind, twice: a
/// failed call never turns the next one into a no-op.
async fn assert_create_fails_whole(db: &AsyncDatabase, ops: &DatabaseOperations, b: &Backend) {
    for attempt in 1..=2 {
        let result = db.create_tables().await;
        assert!(
            result.is_err(),
            "[{}] attempt {attempt}: create_tables succeeded despite the obstacle",
            b.name
        );
        assert!(
            !base_table_exists(ops, b, "rel_atomic").await,
            "[{}] attempt {attempt}: rel_atomic was left behind without its indexes ({:?})",
            b.name,
            result
        );
    }
}

/// After a successful `create_tables`: the unique index on `code` is there.
async fn assert_atomic_complete(ops: &DatabaseOperations, ctx: &str) {
    let row = |code: &str| Atomic {
        base: SchemaBase::default(),
        code: code.into(),
    };
    ops.create_one(row("A")).await.check(ctx);
    let err = expect_err(
        ops.create_one(row("A")).await,
        ErrorKind::IntegrityError,
        ctx,
    );
    assert!(err.is_unique_violation(), "[{ctx}] {err:?}");
}

#[tokio::test]
async fn a_table_whose_index_fails_is_not_left_behind_and_is_created_whole_later() {
    for b in common::backends() {
        let ctx = b.name;
        match b.name {
            "sqlite" => {
                // A table holding the name of one of rel_atomic's indexes.
                let (db, ops) = atomic_db(&b, json!({})).await;
                run(&ops, ctx, "CREATE TABLE ix_rel_atomic_code (x INTEGER)").await;
                assert_create_fails_whole(&db, &ops, &b).await;
                run(&ops, ctx, "DROP TABLE ix_rel_atomic_code").await;
                db.create_tables().await.check(ctx);
                assert_atomic_complete(&ops, ctx).await;
                db.disconnect().await;
            }
            "postgres" => {
                // One connection, holding a temporary rel_atomic without the indexed column:
                // the CREATE TABLE makes the real table, the CREATE INDEX meets the temporary
                // one and fails.
                let (db, ops) = atomic_db(&b, json!({"pool_size": 1, "max_overflow": 0})).await;
                run(&ops, ctx, "CREATE TEMPORARY TABLE rel_atomic (x INTEGER)").await;
                assert_create_fails_whole(&db, &ops, &b).await;
                run(&ops, ctx, "DROP TABLE pg_temp.rel_atomic").await;
                db.create_tables().await.check(ctx);
                assert_atomic_complete(&ops, ctx).await;
                db.drop_tables().await.check(ctx);
                db.disconnect().await;
            }
            _ => {
                // MySQL commits each DDL statement: the table is dropped again after the
                // 64th CREATE INDEX fails.
                let (db, ops) = atomic_db(&b, json!({})).await;
                let crowded = b.database(json!({}));
                crowded.register::<TooManyKeys>();
                let crowded_ops = DatabaseOperations::new(crowded.clone());
                assert_create_fails_whole(&crowded, &crowded_ops, &b).await;
                crowded.disconnect().await;
                db.create_tables().await.check(ctx);
                assert_atomic_complete(&ops, ctx).await;
                db.drop_tables().await.check(ctx);
                db.disconnect().await;
            }
        }
    }
}
