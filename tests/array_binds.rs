//! Arrays bound in `text()` (issue 23): on PostgreSQL `Vec<i32>`, `Vec<i64>`, `Vec<String>`,
//! `Vec<Uuid>`, `Vec<NaiveDateTime>` (and their `Vec<Option<_>>` forms, with NULL elements)
//! bind as `int[]`, `bigint[]`, `text[]`, `uuid[]`, `timestamp[]`; on SQLite and MySQL/MariaDB
//! an array is a clear `InvalidInput`, and nothing runs.

mod common;

use chrono::{NaiveDate, NaiveDateTime};
use dsg_lib::async_database_functions::statement::array;
use dsg_lib::prelude::*;
use dsg_lib::sea_query::Value;
use serde_json::json;
use uuid::Uuid;

fn at(day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, day)
        .and_then(|d| d.and_hms_micro_opt(10, 30, 0, 123_456))
        .expect("a valid timestamp")
}

#[tokio::test]
async fn postgres_binds_arrays_of_every_listed_type_with_null_elements()
-> Result<(), Box<dyn std::error::Error>> {
    let Some(b) = common::servers().into_iter().find(|b| b.name == "postgres") else {
        return Ok(());
    };
    let db = b.database(json!({}));
    let ops = DatabaseOperations::new(db.clone());

    // Each array comes back element for element, NULLs in place, typed as the SQL says.
    let ints: Vec<Option<i32>> = ops
        .read_query(text("SELECT unnest(:a::int[])").bind("a", array([Some(3), None, Some(-7)])))
        .await?;
    assert_eq!(ints, [Some(3), None, Some(-7)]);
    let ints: Vec<i32> = ops
        .read_query(text("SELECT unnest(:a::int[])").bind("a", vec![1_i32, 2, 3]))
        .await?;
    assert_eq!(ints, [1, 2, 3]);
    let big: Vec<Option<i64>> = ops
        .read_query(
            text("SELECT unnest(:a::bigint[])")
                .bind("a", array([Some(i64::MAX), None, Some(i64::MIN)])),
        )
        .await?;
    assert_eq!(big, [Some(i64::MAX), None, Some(i64::MIN)]);
    let texts: Vec<Option<String>> = ops
        .read_query(text("SELECT unnest(:a::text[])").bind(
            "a",
            array([Some("O'Brien".to_string()), None, Some(String::new())]),
        ))
        .await?;
    assert_eq!(texts, [Some("O'Brien".into()), None, Some(String::new())]);
    let (u1, u2) = (Uuid::new_v4(), Uuid::new_v4());
    let uuids: Vec<Option<Uuid>> = ops
        .read_query(text("SELECT unnest(:a::uuid[])").bind("a", array([Some(u1), None, Some(u2)])))
        .await?;
    assert_eq!(uuids, [Some(u1), None, Some(u2)]);
    let stamps: Vec<Option<NaiveDateTime>> = ops
        .read_query(
            text("SELECT unnest(:a::timestamp[])")
                .bind("a", array([Some(at(1)), None, Some(at(6))])),
        )
        .await?;
    assert_eq!(stamps, [Some(at(1)), None, Some(at(6))]);

    // The type of the array as the server sees it.
    let types: Vec<String> = ops
        .read_query(
            text(
                "SELECT pg_typeof(:i::int[])::text UNION ALL SELECT pg_typeof(:b)::text \
                 UNION ALL SELECT pg_typeof(:s)::text UNION ALL SELECT pg_typeof(:u)::text \
                 UNION ALL SELECT pg_typeof(:t)::text",
            )
            .bind("i", vec![1_i32])
            .bind("b", vec![1_i64])
            .bind("s", vec!["x".to_string()])
            .bind("u", vec![u1])
            .bind("t", vec![at(2)]),
        )
        .await?;
    assert_eq!(
        types,
        [
            "integer[]",
            "bigint[]",
            "text[]",
            "uuid[]",
            "timestamp without time zone[]"
        ]
    );

    // A NULL array, an empty one, and arrays beside scalars, in a real table.
    let n: Vec<Option<i64>> = ops
        .read_query(
            text("SELECT cardinality(:a::int[])::bigint")
                .bind("a", Value::Array(dsg_lib::sea_query::ArrayType::Int, None)),
        )
        .await?;
    assert_eq!(n, [None]);
    let n: Vec<i64> = ops
        .read_query(text("SELECT cardinality(:a::int[])::bigint").bind("a", Vec::<i32>::new()))
        .await?;
    assert_eq!(n, [0]);
    ops.execute_one(text("DROP TABLE IF EXISTS array_bind_worlds"))
        .await?;
    ops.execute_one(text(
        "CREATE TABLE array_bind_worlds (id integer PRIMARY KEY, randomnumber integer)",
    ))
    .await?;
    ops.execute_one(
        text("INSERT INTO array_bind_worlds SELECT unnest(:ids::int[]), unnest(:n::int[])")
            .bind("ids", (1..=5).collect::<Vec<i32>>())
            .bind("n", vec![10, 20, 30, 40, 50]),
    )
    .await?;
    // The hand-written batch update the issue names.
    let updated = ops
        .execute_one(
            text(
                "UPDATE array_bind_worlds SET randomnumber = v.n \
                 FROM UNNEST(:ids::int[], :n::int[]) AS v(id, n) \
                 WHERE array_bind_worlds.id = v.id AND randomnumber > :floor",
            )
            .bind("ids", vec![2, 4])
            .bind("n", vec![200, 400])
            .bind("floor", 0),
        )
        .await?;
    assert_eq!(updated.rowcount, 2);
    let rows: Vec<(i32, i32)> = ops
        .read_query(
            text("SELECT id, randomnumber FROM array_bind_worlds WHERE id = ANY(:ids) ORDER BY id")
                .bind("ids", vec![1, 2, 4, 99]),
        )
        .await?;
    assert_eq!(rows, [(1, 10), (2, 200), (4, 400)]);
    // One SQL text bound with arrays of two element types (cached statements per types).
    for ids in [
        Value::from(vec![1_i32, 5]),
        Value::from(vec!["1".to_string(), "5".to_string()]),
    ] {
        let n: Vec<i64> = ops
            .read_query(
                text("SELECT count(*) FROM array_bind_worlds WHERE id::text = ANY(:ids::text[])")
                    .bind("ids", ids),
            )
            .await?;
        assert_eq!(n, [2]);
    }
    // In a stream and a first-row read too.
    let first: Option<i32> = ops
        .read_one_record(
            text("SELECT id FROM array_bind_worlds WHERE id = ANY(:ids) ORDER BY id")
                .bind("ids", vec![3, 4]),
        )
        .await?;
    assert_eq!(first, Some(3));
    use futures_util::StreamExt;
    let streamed: Vec<Result<i32, DatabaseError>> = ops
        .read_stream(
            text("SELECT id FROM array_bind_worlds WHERE id = ANY(:ids) ORDER BY id")
                .bind("ids", array([Some(5), None, Some(1)])),
        )
        .collect()
        .await;
    assert_eq!(streamed.into_iter().collect::<Result<Vec<_>, _>>()?, [1, 5]);
    ops.execute_one(text("DROP TABLE array_bind_worlds"))
        .await?;
    db.disconnect().await;
    Ok(())
}

#[tokio::test]
async fn an_array_on_a_backend_without_arrays_is_invalid_input() {
    for b in common::backends() {
        if b.name == "postgres" {
            continue;
        }
        let ctx = b.name;
        let db = b.database(json!({}));
        let ops = DatabaseOperations::new(db.clone());
        let error = ops
            .read_query::<i64>(
                text("SELECT :one + 1 WHERE 1 IN (:ids)")
                    .bind("one", 1)
                    .bind("ids", vec![1_i32, 2]),
            )
            .await
            .expect_err("an array where there are none");
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "[{ctx}] {error}");
        let details = error.to_string();
        assert!(
            details.contains("bound value 2 is an array") && details.contains("IN (…)"),
            "[{ctx}] {details}"
        );
        // The pool is fine afterwards.
        let one: Vec<i64> = ops
            .read_query(text("SELECT 1"))
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] {e}"));
        assert_eq!(one, [1], "[{ctx}]");
        db.disconnect().await;
    }
}
