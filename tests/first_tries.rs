//! The first things a user types, with `use dsg_lib::prelude::*;` alone (issue 27): every form
//! of a statement is taken, the prelude leaves ordinary code alone, an insert built with
//! `M::insert()` tells its generated key, and `transaction_with` takes the caller's data by
//! clone. On every configured backend. (The forms that must not compile are doctests with
//! `compile_fail`: the `transaction` doc and `AsyncDatabase::sqlx_pool`.)

mod common;
mod ops_support;

use std::cmp::Ordering;

use chrono::{NaiveDate, Utc};
use dsg_lib::prelude::*;
use dsg_lib::sea_query::Expr;
use serde_json::json;

#[derive(Model, Debug, Clone)]
#[model(table = "first_tries_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    age: i32,
    color: Option<String>,
}

fn user(name: &str, age: i32, color: Option<&str>) -> User {
    User {
        base: SchemaBase::default(),
        name: name.into(),
        age,
        color: color.map(Into::into),
    }
}

/// The tests share one table: they take turns (and run one at a time under nextest too).
static TABLE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn fresh(b: &common::Backend) -> (AsyncDatabase, DatabaseOperations) {
    ops_support::fresh(b, json!({"echo": false}), |db| {
        db.register::<User>();
    })
    .await
}

/// Ordinary code, which touches no database, means under the prelude what it means without
/// it: `max`, `min`, `eq`, `ne`, `cmp` on numbers, strings and dates are the standard
/// library's (a prelude that brought sea-query's `ExprTrait` made `a.max(b)` ambiguous,
/// E0034, and `a.eq(&b)` an `Expr`).
#[test]
fn the_prelude_leaves_ordinary_code_alone() {
    let (a, b): (u64, u64) = (3, 7);
    assert_eq!(a.max(b), 7);
    assert_eq!(a.min(b), 3);
    assert!(!a.eq(&b));
    assert!(a.ne(&b));
    assert_eq!(a.cmp(&b), Ordering::Less);
    let (x, y): (i64, i64) = (-1, 1);
    assert!(!x.eq(&y));
    if x.eq(&-1) {
        assert_eq!(x.max(y), 1);
    } else {
        panic!("-1 == -1");
    }
    let (f, g) = (1.5_f64, 2.5_f64);
    assert_eq!(f.max(g), 2.5);
    let (s, t) = (String::from("apple"), String::from("pear"));
    assert_eq!(s.clone().max(t.clone()), "pear");
    assert!(!s.eq(&t));
    assert_eq!(s.cmp(&t), Ordering::Less);
    assert!("a".eq("a"));
    let now = Utc::now();
    let earlier = now - chrono::Duration::seconds(1);
    assert_eq!(now.max(earlier), now);
    assert!(earlier.lt(&now));
    let (d1, d2) = (
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date"),
        NaiveDate::from_ymd_opt(2026, 12, 6).expect("a date"),
    );
    assert_eq!(d1.max(d2), d2);
    assert!(!d1.eq(&d2));
    assert_eq!(d1.cmp(&d2), Ordering::Less);
    let ages = [31, 17, 45];
    assert_eq!(ages.iter().max(), Some(&45));
    assert_eq!(ages.iter().copied().reduce(i32::max), Some(45));
}

/// A statement is taken in every form a user has at hand, by every operation: the
/// `&mut SelectStatement` a builder chain gives, the same with a `&` before it (as `&text(..)`
/// is written), a borrowed statement, and an owned one; for `text`, model inserts and
/// sea-query's other statements alike.
#[tokio::test]
// The forms with a `&` before a temporary are what this test checks.
#[allow(clippy::needless_borrows_for_generic_args)]
async fn every_form_of_a_statement_is_taken() -> Result<(), Box<dyn std::error::Error>> {
    let _table = TABLE.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        ops.create_many(vec![
            user("Mike", 30, Some("red")),
            user("Sara", 25, None),
            user("Ann", 41, Some("red")),
        ])
        .await?;

        // read_query: &mut, & &mut, &, owned.
        let a: Vec<User> = ops
            .read_query(User::select().and_where(User::COLOR.eq("red")))
            .await?;
        let bb: Vec<User> = ops
            .read_query(&User::select().and_where(User::COLOR.eq("red")))
            .await?;
        let select = User::select().and_where(User::COLOR.eq("red")).to_owned();
        let c: Vec<User> = ops.read_query(&select).await?;
        let d: Vec<User> = ops.read_query(select.clone()).await?;
        for (form, rows) in [("&mut", &a), ("& &mut", &bb), ("&", &c), ("owned", &d)] {
            assert_eq!(rows.len(), 2, "[{ctx}] read_query({form})");
        }

        // read_one_record, count_query, paginate_query, read_stream in each form.
        let one: Option<User> = ops
            .read_one_record(&User::select().and_where(User::NAME.eq("Mike")))
            .await?;
        assert_eq!(one.map(|u| u.age), Some(30), "[{ctx}]");
        let one: Option<User> = ops
            .read_one_record(User::select().and_where(User::NAME.eq("Sara")))
            .await?;
        assert_eq!(one.map(|u| u.age), Some(25), "[{ctx}]");
        assert_eq!(
            ops.count_query(User::select().and_where(User::AGE.gt(26)))
                .await?,
            2,
            "[{ctx}] count_query(&mut)"
        );
        assert_eq!(
            ops.count_query(&User::select().and_where(User::AGE.gt(26)))
                .await?,
            2,
            "[{ctx}] count_query(& &mut)"
        );
        assert_eq!(ops.count_query(&select).await?, 2, "[{ctx}]");
        assert_eq!(ops.count_query(select.clone()).await?, 2, "[{ctx}]");
        let page: Page<User> = ops
            .paginate_query(&User::select().order_by(User::NAME, Order::Asc), 1, 2)
            .await?;
        assert_eq!(
            page.items
                .iter()
                .map(|u| u.name.as_str())
                .collect::<Vec<_>>(),
            ["Ann", "Mike"],
            "[{ctx}]"
        );
        let page: Page<User> = ops
            .paginate_query(User::select().order_by(User::NAME, Order::Asc), 2, 2)
            .await?;
        assert_eq!(page.items.len(), 1, "[{ctx}]");
        let page: Page<User> = ops.paginate(select.clone(), 1).await?;
        assert_eq!(page.total, 2, "[{ctx}]");
        use futures_util::StreamExt;
        let streamed: Vec<Result<User, DatabaseError>> = ops
            .read_stream(&User::select().and_where(User::COLOR.is_null()))
            .collect()
            .await;
        assert_eq!(streamed.len(), 1, "[{ctx}] read_stream(& &mut)");

        // text: owned and borrowed; execute_one on an owned statement and on a &mut one.
        let names: Vec<String> = ops
            .read_query(text("SELECT name FROM first_tries_users ORDER BY name"))
            .await?;
        assert_eq!(names, ["Ann", "Mike", "Sara"], "[{ctx}]");
        let result = ops
            .execute_one(
                User::update()
                    .value(User::AGE, 26)
                    .and_where(User::NAME.eq("Sara")),
            )
            .await?;
        assert_eq!(
            result.rowcount, 1,
            "[{ctx}] execute_one(&mut UpdateStatement)"
        );
        let result = ops
            .execute_one(&User::delete().and_where(User::NAME.eq("Ann")))
            .await?;
        assert_eq!(
            result.rowcount, 1,
            "[{ctx}] execute_one(& &mut DeleteStatement)"
        );
        ops.execute_many([text("UPDATE first_tries_users SET age = age + 1")])
            .await?;

        // In a session too.
        let mut session = db.get_db_session().await?;
        let ages: Vec<i32> = session
            .fetch_all(
                &dsg_lib::sea_query::Query::select()
                    .column(User::AGE)
                    .from(User::TABLE)
                    .order_by(User::AGE, Order::Asc),
            )
            .await?;
        assert_eq!(ages, [27, 31], "[{ctx}]");
        let mike: Option<User> = session
            .fetch_optional(User::select().and_where(User::NAME.eq("Mike")))
            .await?;
        assert!(mike.is_some(), "[{ctx}]");
        session.commit().await?;
        db.disconnect().await;
    }
    Ok(())
}

/// `M::col` (a name known at run time) and the typed constants have the same methods, with
/// no expression trait imported; with `ExprTrait` imported as well nothing is ambiguous.
#[tokio::test]
async fn typed_and_named_columns_filter_without_an_expression_trait()
-> Result<(), Box<dyn std::error::Error>> {
    let _table = TABLE.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        ops.create_many(vec![
            user("Mike", 30, Some("red")),
            user("Sara", 25, None),
            user("Ann", 41, Some("blue")),
        ])
        .await?;
        let names = |rows: Vec<User>| rows.into_iter().map(|u| u.name).collect::<Vec<_>>();
        let mut select = User::select();
        select.order_by(User::NAME, Order::Asc);
        let cases: Vec<(&str, dsg_lib::sea_query::Expr, Vec<&str>)> = vec![
            ("eq", User::col("color").eq("red"), vec!["Mike"]),
            ("ne", User::NAME.ne("Mike"), vec!["Ann", "Sara"]),
            ("lt", User::AGE.lt(30), vec!["Sara"]),
            ("lte", User::AGE.lte(30), vec!["Mike", "Sara"]),
            ("gt", User::AGE.gt(30), vec!["Ann"]),
            ("gte", User::col("age").gte(30), vec!["Ann", "Mike"]),
            ("between", User::AGE.between(26, 41), vec!["Ann", "Mike"]),
            (
                "not_between",
                User::AGE.not_between(26, 40),
                vec!["Ann", "Sara"],
            ),
            ("like", User::NAME.like("%a"), vec!["Sara"]),
            ("not_like", User::NAME.not_like("%a"), vec!["Ann", "Mike"]),
            (
                "is_in",
                User::NAME.is_in(["Ann", "Sara"]),
                vec!["Ann", "Sara"],
            ),
            (
                "is_not_in",
                User::NAME.is_not_in(["Ann"]),
                vec!["Mike", "Sara"],
            ),
            ("is_null", User::COLOR.is_null(), vec!["Sara"]),
            (
                "is_not_null",
                User::col("color").is_not_null(),
                vec!["Ann", "Mike"],
            ),
        ];
        for (method, condition, expected) in cases {
            let rows: Vec<User> = ops.read_query(select.clone().and_where(condition)).await?;
            assert_eq!(names(rows), expected, "[{ctx}] {method}");
        }
        {
            // sea-query's trait in scope as well: the column's own methods still win, and
            // `.and(..)` combines.
            use dsg_lib::sea_query::ExprTrait;
            let rows: Vec<User> = ops
                .read_query(
                    select
                        .clone()
                        .and_where(User::AGE.gt(20).and(User::COLOR.eq("red"))),
                )
                .await?;
            assert_eq!(names(rows), ["Mike"], "[{ctx}] and");
        }
        db.disconnect().await;
    }
    Ok(())
}

/// `M::insert()` tells the caller the key (and the stamps) it generated, before executing;
/// the row stored has them, and rendering the statement again (a retry) inserts the same.
#[tokio::test]
async fn a_model_insert_tells_its_generated_key() -> Result<(), Box<dyn std::error::Error>> {
    let _table = TABLE.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let mut insert = User::insert();
        insert.value(User::NAME, "Mike").value(User::AGE, 30);
        insert.values::<Expr>([(User::NAME, "Sara".into()), (User::AGE, 25.into())]);
        let mike_key: String = insert.value_of(0, User::PKID).expect("row 0's pkid");
        let sara_key: String = insert.value_of(1, User::PKID).expect("row 1's pkid");
        assert_ne!(mike_key, sara_key, "[{ctx}]");
        assert_eq!(mike_key.len(), 36, "[{ctx}] a uuid string");
        let created: chrono::NaiveDateTime =
            insert.value_of(0, User::DATE_CREATED).expect("a stamp");
        assert_eq!(
            insert.value_of::<String>(0, User::NAME).as_deref(),
            Some("Mike"),
            "[{ctx}] a value given"
        );
        assert_eq!(
            insert.value_of::<String>(2, User::PKID),
            None,
            "[{ctx}] no row 2"
        );
        // Rendered twice, the statement inserts the same keys.
        let dialect = db.config().dialect();
        assert_eq!(
            format!("{:?}", insert.statement(dialect)?),
            format!("{:?}", insert.statement(dialect)?),
            "[{ctx}]"
        );
        ops.execute_one(&insert).await?;

        let mike = ops
            .read_by_pk::<User>(mike_key.clone())
            .await?
            .unwrap_or_else(|| panic!("[{ctx}] no row with the key value_of gave"));
        assert_eq!((mike.name.as_str(), mike.age), ("Mike", 30), "[{ctx}]");
        let stored = mike.base.date_created.naive_utc();
        assert!(
            (stored - created).num_milliseconds().abs() < 1_000,
            "[{ctx}] stored {stored}, told {created}"
        );
        let sara = ops.read_by_pk::<User>(sara_key).await?;
        assert_eq!(sara.map(|u| u.name).as_deref(), Some("Sara"), "[{ctx}]");

        // A key the caller gives is the key told; a model row tells its own.
        let mut given = User::insert();
        given
            .value(User::PKID, "my-own-key")
            .value(User::NAME, "Ann")
            .value(User::AGE, 41);
        assert_eq!(
            given.value_of::<String>(0, User::PKID).as_deref(),
            Some("my-own-key"),
            "[{ctx}]"
        );
        let model = user("Bob", 50, None);
        let bob_key = model.base.pkid.clone();
        given.model(model);
        assert_eq!(
            given.value_of::<String>(1, User::PKID),
            Some(bob_key),
            "[{ctx}]"
        );
        db.disconnect().await;
    }
    Ok(())
}

/// `transaction_with` hands each run its own clone of the caller's data, so nothing captured
/// has to be cloned by hand; a retried run gets a fresh clone.
#[tokio::test]
async fn transaction_with_takes_the_callers_data_by_clone() -> Result<(), Box<dyn std::error::Error>>
{
    let _table = TABLE.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let names = vec![String::from("Mike"), String::from("Sara")];
        let stored: Vec<User> = db
            .transaction_with(names, |tx, names| {
                Box::pin(async move {
                    let users = names.into_iter().map(|n| user(&n, 20, None)).collect();
                    tx.create_many(users).await
                })
            })
            .await?;
        assert_eq!(stored.len(), 2, "[{ctx}]");
        assert_eq!(ops.count_query(User::select()).await?, 2, "[{ctx}]");

        // An error rolls back, as with `transaction`.
        let failed = db
            .transaction_with(String::from("Ann"), |tx, name| {
                Box::pin(async move {
                    tx.create_one(user(&name, 41, None)).await?;
                    Err::<(), _>(DatabaseError::invalid_input("changed my mind"))
                })
            })
            .await
            .expect_err("the closure's error");
        assert_eq!(failed.kind(), ErrorKind::InvalidInput, "[{ctx}]");
        assert_eq!(ops.count_query(User::select()).await?, 2, "[{ctx}]");
        db.disconnect().await;
    }
    Ok(())
}
