//! `DatabaseOperations`, read side: count, paginate, read one / many / several named queries —
//! on every configured backend.

mod common;
mod ops_support;

use chrono::{DateTime, Utc};
use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_operations::{
    DEFAULT_PAGE_SIZE, DatabaseOperations,
};
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::record::Record;
use dsg_lib::async_database_functions::statement::text;
use dsg_lib::sea_query::{Expr, ExprTrait, LockType, Order, Query, UnionType};
use ops_support::{Capture, Check, expect_err, fresh};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// count_query

#[derive(Model, Debug, Clone)]
#[model(table = "ops_count_teams")]
struct CountTeam {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 50)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "ops_count_users")]
struct CountUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
    #[model(foreign_key = "ops_count_teams.pkid", size = 36)]
    team_id: Option<String>,
    age: i64,
}

fn count_user(name: &str, color: Option<&str>, team: Option<&CountTeam>, age: i64) -> CountUser {
    CountUser {
        base: SchemaBase::default(),
        name: name.into(),
        color: color.map(Into::into),
        team_id: team.map(|t| t.base.pkid.clone()),
        age,
    }
}

#[tokio::test]
async fn count_query_counts_plain_joined_distinct_grouped_limited_and_union_selects() {
    for b in common::backends() {
        let ctx = b.name;
        let capture = Capture::default();
        let _guard = capture.install();
        let (db, ops) = fresh(&b, json!({"echo": true}), |db| {
            db.register::<CountTeam>().register::<CountUser>();
        })
        .await;
        const U: &str = CountUser::TABLE;
        const T: &str = CountTeam::TABLE;

        // Empty table.
        assert_eq!(ops.count_query(&CountUser::select()).await.check(ctx), 0);
        let mut blue = CountUser::select();
        blue.and_where(CountUser::col("color").eq("blue"));
        assert_eq!(ops.count_query(&blue).await.check(ctx), 0, "[{ctx}]");

        let teams = ops
            .create_many(vec![
                CountTeam {
                    base: SchemaBase::default(),
                    name: "A".into(),
                },
                CountTeam {
                    base: SchemaBase::default(),
                    name: "B".into(),
                },
            ])
            .await
            .check(ctx);
        let (a, bt) = (&teams[0], &teams[1]);
        ops.create_many(vec![
            count_user("u1", Some("red"), Some(a), 20),
            count_user("u2", Some("red"), Some(a), 30),
            count_user("u3", Some("blue"), Some(a), 40),
            count_user("u4", Some("blue"), Some(bt), 50),
            count_user("u5", Some("blue"), Some(bt), 60),
            count_user("u6", None, None, 70),
        ])
        .await
        .check(ctx);

        // Plain filter: counted with `SELECT COUNT(*) … WHERE …`, no subquery.
        capture.take();
        assert_eq!(ops.count_query(&blue).await.check(ctx), 3, "[{ctx}] blue");
        let log = capture.take();
        assert!(
            log.contains("COUNT(*)") && !log.contains("dsg_count"),
            "[{ctx}] a plain filtered select should be counted without a subquery; echo log:\n{log}"
        );
        assert_eq!(ops.count_query(&CountUser::select()).await.check(ctx), 6);

        // With a join (and a filter on the joined table).
        let mut in_a = CountUser::select();
        in_a.inner_join(T, CountUser::col("team_id").equals((T, "pkid")))
            .and_where(CountTeam::col("name").eq("A"));
        assert_eq!(ops.count_query(&in_a).await.check(ctx), 3, "[{ctx}] join");
        let mut with_team = CountUser::select();
        with_team.inner_join(T, CountUser::col("team_id").equals((T, "pkid")));
        assert_eq!(ops.count_query(&with_team).await.check(ctx), 5, "[{ctx}]");

        // DISTINCT counts distinct rows.
        let mut colors = Query::select();
        colors
            .distinct()
            .column((U, "color"))
            .from(U)
            .and_where(CountUser::col("color").is_not_null());
        assert_eq!(
            ops.count_query(&colors).await.check(ctx),
            2,
            "[{ctx}] distinct"
        );

        // GROUP BY counts groups (A, B and the NULL team), HAVING filters them.
        let mut groups = Query::select();
        groups
            .column((U, "team_id"))
            .expr(Expr::col((U, "pkid")).count())
            .from(U)
            .group_by_col((U, "team_id"));
        assert_eq!(
            ops.count_query(&groups).await.check(ctx),
            3,
            "[{ctx}] group"
        );
        groups.and_having(Expr::col((U, "pkid")).count().gt(1));
        assert_eq!(
            ops.count_query(&groups).await.check(ctx),
            2,
            "[{ctx}] having"
        );

        // LIMIT and OFFSET are respected.
        let mut limited = CountUser::select();
        limited.order_by((U, "name"), Order::Asc).limit(4);
        assert_eq!(
            ops.count_query(&limited).await.check(ctx),
            4,
            "[{ctx}] limit"
        );
        limited.limit(10);
        assert_eq!(ops.count_query(&limited).await.check(ctx), 6, "[{ctx}]");
        limited.offset(4);
        assert_eq!(
            ops.count_query(&limited).await.check(ctx),
            2,
            "[{ctx}] offset"
        );

        // UNION ALL keeps duplicates, UNION removes them.
        let mut names = Query::select();
        names
            .column((U, "name"))
            .from(U)
            .and_where(CountUser::col("color").eq("red"));
        names.union(
            UnionType::All,
            Query::select().column((T, "name")).from(T).to_owned(),
        );
        assert_eq!(
            ops.count_query(&names).await.check(ctx),
            4,
            "[{ctx}] union all"
        );
        let mut blues = Query::select();
        blues
            .column((U, "color"))
            .from(U)
            .and_where(CountUser::col("color").eq("blue"));
        let again = blues.clone();
        blues.union(UnionType::Distinct, again);
        assert_eq!(ops.count_query(&blues).await.check(ctx), 1, "[{ctx}] union");

        // An aggregate without GROUP BY is one row.
        let mut oldest = Query::select();
        oldest.expr(Expr::col((U, "age")).max()).from(U);
        assert_eq!(
            ops.count_query(&oldest).await.check(ctx),
            1,
            "[{ctx}] max()"
        );

        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// paginate_query

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ops_page_items")]
struct PageItem {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    seq: i64,
}

fn page_items(seqs: impl IntoIterator<Item = i64>) -> Vec<PageItem> {
    seqs.into_iter()
        .map(|seq| PageItem {
            base: SchemaBase::default(),
            name: format!("item-{seq:03}"),
            seq,
        })
        .collect()
}

fn seqs(items: &[PageItem]) -> Vec<i64> {
    items.iter().map(|i| i.seq).collect()
}

#[tokio::test]
async fn paginate_query_pages_totals_and_bounds() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<PageItem>();
        })
        .await;
        let mut by_seq_desc = PageItem::select();
        by_seq_desc.order_by((PageItem::TABLE, "seq"), Order::Desc);

        // Empty table.
        let page = ops
            .paginate_query::<PageItem>(&by_seq_desc, 1, 10)
            .await
            .check(ctx);
        assert!(page.items.is_empty(), "[{ctx}]");
        assert_eq!(
            (page.total, page.pages, page.page, page.page_size),
            (0, 0, 1, 10)
        );

        // Page and page size start at 1.
        let err = expect_err(
            ops.paginate_query::<PageItem>(&by_seq_desc, 0, 10).await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains("page"), "[{ctx}] {err}");
        let err = expect_err(
            ops.paginate_query::<PageItem>(&by_seq_desc, 1, 0).await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains("page_size"), "[{ctx}] {err}");

        // 25 rows, inserted out of order (7 generates the residues mod 25).
        ops.create_many(page_items((0..25).map(|i| (i * 7) % 25 + 1)))
            .await
            .check(ctx);

        let first = ops
            .paginate_query::<PageItem>(&by_seq_desc, 1, 10)
            .await
            .check(ctx);
        assert_eq!(
            seqs(&first.items),
            (16..=25).rev().collect::<Vec<_>>(),
            "[{ctx}]"
        );
        assert_eq!(
            (first.total, first.pages, first.page, first.page_size),
            (25, 3, 1, 10)
        );

        let second = ops
            .paginate_query::<PageItem>(&by_seq_desc, 2, 10)
            .await
            .check(ctx);
        assert_eq!(
            seqs(&second.items),
            (6..=15).rev().collect::<Vec<_>>(),
            "[{ctx}]"
        );

        let third = ops
            .paginate_query::<PageItem>(&by_seq_desc, 3, 10)
            .await
            .check(ctx);
        assert_eq!(third.items.len(), 5, "[{ctx}]");
        assert_eq!(seqs(&third.items), [5, 4, 3, 2, 1], "[{ctx}]");
        assert_eq!((third.total, third.pages, third.page), (25, 3, 3));

        // The pages together are the whole ordered result, each row once.
        let all: Vec<PageItem> = ops.read_query(&by_seq_desc).await.check(ctx);
        let joined: Vec<PageItem> = [first.items, second.items, third.items].concat();
        assert_eq!(joined, all, "[{ctx}]");

        // Past the end: no items, the true total and page count.
        let past = ops
            .paginate_query::<PageItem>(&by_seq_desc, 4, 10)
            .await
            .check(ctx);
        assert!(past.items.is_empty(), "[{ctx}] {past:?}");
        assert_eq!(
            (past.total, past.pages, past.page, past.page_size),
            (25, 3, 4, 10)
        );

        // A filter and ascending order.
        let mut small = PageItem::select();
        small
            .and_where(PageItem::col("seq").lte(12))
            .order_by((PageItem::TABLE, "seq"), Order::Asc);
        let page = ops
            .paginate_query::<PageItem>(&small, 2, 5)
            .await
            .check(ctx);
        assert_eq!(seqs(&page.items), [6, 7, 8, 9, 10], "[{ctx}]");
        assert_eq!((page.total, page.pages), (12, 3), "[{ctx}]");

        // Pages of scalars.
        let mut names = Query::select();
        names
            .column((PageItem::TABLE, "name"))
            .from(PageItem::TABLE)
            .order_by((PageItem::TABLE, "name"), Order::Asc);
        let page = ops.paginate_query::<String>(&names, 5, 6).await.check(ctx);
        assert_eq!(page.items, ["item-025"], "[{ctx}]");
        assert_eq!((page.total, page.pages), (25, 5), "[{ctx}]");

        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone)]
#[model(table = "ops_page_default")]
struct PageDefault {
    #[model(flatten)]
    base: SchemaBase,
    seq: i64,
}

#[tokio::test]
async fn paginate_uses_a_default_page_size_of_100() {
    assert_eq!(DEFAULT_PAGE_SIZE, 100);
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<PageDefault>();
        })
        .await;
        let rows = (1..=150)
            .map(|seq| PageDefault {
                base: SchemaBase::default(),
                seq,
            })
            .collect();
        ops.create_many(rows).await.check(ctx);
        let mut select = PageDefault::select();
        select.order_by((PageDefault::TABLE, "seq"), Order::Asc);

        let first = ops.paginate::<PageDefault>(&select, 1).await.check(ctx);
        assert_eq!(first.page_size, 100, "[{ctx}]");
        assert_eq!(first.items.len(), 100, "[{ctx}]");
        assert_eq!((first.total, first.pages), (150, 2), "[{ctx}]");
        assert_eq!(first.items[99].seq, 100, "[{ctx}]");
        let second = ops.paginate::<PageDefault>(&select, 2).await.check(ctx);
        assert_eq!(second.items.len(), 50, "[{ctx}]");
        assert_eq!(second.items[0].seq, 101, "[{ctx}]");
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone)]
#[model(table = "ops_page_side_by_side")]
struct PageSlow {
    #[model(flatten)]
    base: SchemaBase,
    seq: i64,
}

/// A filter that holds each statement for `secs` on the server (one row matches).
fn slow_filter(backend: &common::Backend, secs: f64) -> Expr {
    match backend.name {
        "postgres" => Expr::cust(format!("(SELECT 1 FROM pg_sleep({secs})) = 1")),
        _ => Expr::cust(format!("SLEEP({secs}) = 0")),
    }
}

#[tokio::test]
async fn paginate_reads_the_page_and_the_total_side_by_side_on_a_server() {
    const HOLD: f64 = 0.4;
    for b in common::servers() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<PageSlow>();
        })
        .await;
        let row = PageSlow {
            base: SchemaBase::default(),
            seq: 7,
        };
        ops.create_one(row).await.check(ctx);
        let mut slow = PageSlow::select();
        slow.and_where(slow_filter(&b, HOLD))
            .order_by((PageSlow::TABLE, "seq"), Order::Asc);

        // Both statements hold the server for HOLD each: side by side, the call takes about
        // HOLD; one after the other it would take twice that.
        let start = std::time::Instant::now();
        let page = ops
            .paginate_query::<PageSlow>(&slow, 1, 10)
            .await
            .check(ctx);
        let side_by_side = start.elapsed().as_secs_f64();
        assert_eq!((page.total, page.items.len()), (1, 1), "[{ctx}]");
        assert_eq!(page.items[0].seq, 7, "[{ctx}]");
        assert!(
            side_by_side < 1.75 * HOLD,
            "[{ctx}] page and total took {side_by_side:.2} s: not side by side"
        );

        // A pool of one connection reads them one after the other, with the same result.
        let one = b.database(json!({"pool_size": 1, "max_overflow": 0}));
        one.register::<PageSlow>();
        let ops_one = DatabaseOperations::new(one.clone());
        let start = std::time::Instant::now();
        let page = ops_one
            .paginate_query::<PageSlow>(&slow, 1, 10)
            .await
            .check(ctx);
        let one_after_other = start.elapsed().as_secs_f64();
        assert_eq!((page.total, page.items.len()), (1, 1), "[{ctx}]");
        assert!(
            one_after_other >= 2.0 * HOLD,
            "[{ctx}] a pool of one took {one_after_other:.2} s"
        );
        one.disconnect().await;

        // The page fails where the total does not (an unknown ORDER BY column): the call
        // returns the page's error, and the next call on the same pool works.
        let mut bad = PageSlow::select();
        bad.order_by((PageSlow::TABLE, "no_such_column"), Order::Asc);
        let err = ops
            .paginate_query::<PageSlow>(&bad, 1, 10)
            .await
            .expect_err("an unknown column must fail");
        assert!(err.to_string().contains("no_such_column"), "[{ctx}] {err}");
        let page = ops
            .paginate_query::<PageSlow>(&PageSlow::select(), 1, 10)
            .await
            .check(ctx);
        assert_eq!(page.total, 1, "[{ctx}]");
        db.drop_tables().await.check(ctx);
        db.disconnect().await;
    }
}

/// Later rows of a result decode without sqlx's per-row type check once a column's type was
/// checked: a type the column cannot decode as is still refused, on any row.
#[tokio::test]
async fn a_wrong_type_is_refused_on_any_row_of_a_result() {
    for b in common::backends() {
        let ctx = b.name;
        let db = b.database(json!({}));
        let ops = DatabaseOperations::new(db.clone());
        // The second column is NULL on the first row, text on the second: the text is refused
        // as an integer although the row before it decoded.
        let sql = "SELECT 1 AS n, NULL AS v UNION ALL SELECT 2, 'abc' ORDER BY n";
        let err = expect_err(
            ops.read_query::<(i64, Option<i64>)>(&text(sql)).await,
            ErrorKind::DecodeError,
            ctx,
        );
        assert!(err.details().contains("(v)"), "[{ctx}] {err}");
        assert!(err.details().contains("mismatched types"), "[{ctx}] {err}");
        // Read as text, the same rows decode, the later one unchecked.
        let rows: Vec<(i64, Option<String>)> = ops.read_query(&text(sql)).await.check(ctx);
        assert_eq!(rows, [(1, None), (2, Some("abc".into()))], "[{ctx}]");
        // Many rows, checked on the first: every value read, in order.
        let many = match ctx {
            "postgres" => "SELECT i, 'n' || i FROM generate_series(1, 500) i ORDER BY i",
            "mysql" => {
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) \
                 SELECT i, CONCAT('n', i) FROM s ORDER BY i"
            }
            _ => {
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) \
                 SELECT i, 'n' || i FROM s ORDER BY i"
            }
        };
        let rows: Vec<(i64, String)> = ops.read_query(&text(many)).await.check(ctx);
        assert_eq!(rows.len(), 500, "[{ctx}]");
        assert!(
            rows.iter()
                .enumerate()
                .all(|(k, (i, n))| *i == k as i64 + 1 && *n == format!("n{i}")),
            "[{ctx}]"
        );
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// read_one_record, read_query, read_multi_query

/// Declares a model of every scalar kind, with `samples()`: one per test, so that tests running
/// at the same time on one server never share a table.
macro_rules! kind_model {
    ($name:ident, $table:tt) => {
        #[derive(Model, Debug, Clone, PartialEq)]
        #[model(table = $table)]
        struct $name {
            #[model(flatten)]
            base: SchemaBase,
            #[model(unique, size = 50)]
            name: String,
            score: i64,
            ratio: f64,
            active: bool,
            token: uuid::Uuid,
            note: Option<String>,
        }

        impl $name {
            /// gamma (3), alpha (1), beta (2, inactive, no note).
            fn samples() -> Vec<Self> {
                let kind = |name: &str, score, ratio, active, note: Option<&str>| $name {
                    base: SchemaBase::default(),
                    name: name.into(),
                    score,
                    ratio,
                    active,
                    token: uuid::Uuid::new_v4(),
                    note: note.map(Into::into),
                };
                vec![
                    kind("gamma", 3, -3.75, true, Some("third")),
                    kind("alpha", 1, 0.5, true, Some("first")),
                    kind("beta", 2, 1.25, false, None),
                ]
            }
        }
    };
}

kind_model!(OneKind, "ops_read_one_kinds");
kind_model!(ReadKind, "ops_read_kinds");
kind_model!(MultiKind, "ops_read_multi_kinds");

#[derive(Model, Debug, Clone)]
#[model(table = "ops_read_multi_items")]
struct MultiItem {
    #[model(flatten)]
    base: SchemaBase,
    seq: i64,
}

kind_model!(AllKind, "ops_read_all_kinds");

/// `read_all` reads every row of a model, the rows `read_query(M::select())` reads, on each
/// backend in turn: one process, one model, so SQL kept for one dialect and reused on another
/// would read wrongly or fail (MySQL quotes names with backticks). Echo logs its statement as
/// every read's, and a table that is not there is the database's error, not an empty list.
#[tokio::test]
async fn read_all_reads_every_row_of_a_model_on_each_backend() {
    for b in common::backends() {
        let ctx = b.name;
        let capture = Capture::default();
        let _guard = capture.install();
        let (db, ops) = fresh(&b, json!({"echo": true}), |db| {
            db.register::<AllKind>();
        })
        .await;
        let by_name = |mut rows: Vec<AllKind>| {
            rows.sort_by(|a, b| a.name.cmp(&b.name));
            rows
        };
        assert!(
            ops.read_all::<AllKind>().await.check(ctx).is_empty(),
            "[{ctx}]"
        );

        let stored = ops.create_many(AllKind::samples()).await.check(ctx);
        capture.take();
        let all = by_name(ops.read_all::<AllKind>().await.check(ctx));
        let log = capture.take();
        assert_eq!(all, by_name(stored.clone()), "[{ctx}]");
        assert!(
            log.contains("SELECT") && log.contains(AllKind::TABLE),
            "[{ctx}] read_all's statement should be echoed; echo log:\n{log}"
        );
        let via_query: Vec<AllKind> = ops.read_query(&AllKind::select()).await.check(ctx);
        assert_eq!(all, by_name(via_query), "[{ctx}]");

        // Read again after a write: nothing of the first read is kept but its SQL.
        ops.delete_one::<AllKind>(stored[0].base.pkid.clone())
            .await
            .check(ctx);
        let left = by_name(ops.read_all::<AllKind>().await.check(ctx));
        assert_eq!(left, by_name(stored[1..].to_vec()), "[{ctx}]");

        db.drop_tables().await.check(ctx);
        let err = expect_err(
            ops.read_all::<AllKind>().await,
            ErrorKind::DatabaseError,
            ctx,
        );
        assert!(
            err.to_string().contains(AllKind::TABLE),
            "[{ctx}] the error should name the missing table: {err}"
        );
        db.disconnect().await;
    }
}

#[tokio::test]
async fn read_one_record_is_some_for_a_match_and_none_otherwise() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<OneKind>();
        })
        .await;
        let mut beta = OneKind::select();
        beta.and_where(OneKind::col("name").eq("beta"));
        let none: Option<OneKind> = ops.read_one_record(&beta).await.check(ctx);
        assert!(none.is_none(), "[{ctx}] empty table: {none:?}");

        let stored = ops.create_many(OneKind::samples()).await.check(ctx);
        let found: Option<OneKind> = ops.read_one_record(&beta).await.check(ctx);
        assert_eq!(found.as_ref(), Some(&stored[2]), "[{ctx}]");

        let mut missing = OneKind::select();
        missing.and_where(OneKind::col("name").eq("delta"));
        let none: Option<OneKind> = ops.read_one_record(&missing).await.check(ctx);
        assert!(none.is_none(), "[{ctx}] {none:?}");

        // The first row in the select's order, and scalars too.
        let mut highest = OneKind::select();
        highest.order_by((OneKind::TABLE, "score"), Order::Desc);
        let top: Option<OneKind> = ops.read_one_record(&highest).await.check(ctx);
        assert_eq!(top.map(|k| k.name).as_deref(), Some("gamma"), "[{ctx}]");
        let max: Option<i64> = ops
            .read_one_record(&text(format!("SELECT MAX(score) FROM {}", OneKind::TABLE)))
            .await
            .check(ctx);
        assert_eq!(max, Some(3), "[{ctx}]");

        // A locking read keeps its clause last: the first-row limit goes before it or not at
        // all (MySQL's `LOCK IN SHARE MODE LIMIT 1` is a syntax error).
        for lock in [LockType::Update, LockType::Share] {
            let mut locked = highest.clone();
            locked.lock(lock);
            let top: Option<OneKind> = ops.read_one_record(&locked).await.check(ctx);
            assert_eq!(
                top.map(|k| k.name).as_deref(),
                Some("gamma"),
                "[{ctx}] {lock:?}"
            );
        }
        db.disconnect().await;
    }
}

#[tokio::test]
async fn read_query_decodes_models_scalars_tuples_and_records() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<ReadKind>();
        })
        .await;
        const K: &str = ReadKind::TABLE;
        let mut stored = ops.create_many(ReadKind::samples()).await.check(ctx);
        stored.sort_by_key(|k| k.score);
        let column = |name: &'static str| {
            let mut select = Query::select();
            select
                .column((K, name))
                .from(K)
                .order_by((K, "score"), Order::Asc);
            select
        };

        // Whole models.
        let mut all = ReadKind::select();
        all.order_by((K, "score"), Order::Asc);
        let models: Vec<ReadKind> = ops.read_query(&all).await.check(ctx);
        assert_eq!(models, stored, "[{ctx}]");

        // Scalars.
        let names: Vec<String> = ops.read_query(&column("name")).await.check(ctx);
        assert_eq!(names, ["alpha", "beta", "gamma"], "[{ctx}]");
        let scores: Vec<i64> = ops.read_query(&column("score")).await.check(ctx);
        assert_eq!(scores, [1, 2, 3], "[{ctx}]");
        let ratios: Vec<f64> = ops.read_query(&column("ratio")).await.check(ctx);
        assert_eq!(ratios, [0.5, 1.25, -3.75], "[{ctx}]");
        let active: Vec<bool> = ops.read_query(&column("active")).await.check(ctx);
        assert_eq!(active, [true, false, true], "[{ctx}]");
        let created: Vec<DateTime<Utc>> = ops.read_query(&column("date_created")).await.check(ctx);
        let expected: Vec<DateTime<Utc>> = stored.iter().map(|k| k.base.date_created).collect();
        assert_eq!(created, expected, "[{ctx}]");
        let tokens: Vec<uuid::Uuid> = ops.read_query(&column("token")).await.check(ctx);
        let expected: Vec<uuid::Uuid> = stored.iter().map(|k| k.token).collect();
        assert_eq!(tokens, expected, "[{ctx}]");
        let notes: Vec<Option<String>> = ops.read_query(&column("note")).await.check(ctx);
        assert_eq!(
            notes,
            [Some("first".to_string()), None, Some("third".to_string())],
            "[{ctx}]"
        );
        // A NULL refuses to decode as a non-optional scalar.
        expect_err(
            ops.read_query::<String>(&column("note")).await,
            ErrorKind::DecodeError,
            ctx,
        );

        // Tuples.
        let mut pairs = Query::select();
        pairs
            .columns([(K, "name"), (K, "score")])
            .from(K)
            .order_by((K, "score"), Order::Desc);
        let pairs: Vec<(String, i64)> = ops.read_query(&pairs).await.check(ctx);
        assert_eq!(
            pairs,
            [("gamma".into(), 3), ("beta".into(), 2), ("alpha".into(), 1)],
            "[{ctx}]"
        );

        // Records: keys in select order, values as JSON.
        let mut select = Query::select();
        select
            .columns([(K, "name"), (K, "score"), (K, "ratio"), (K, "active")])
            .expr_as(Expr::col((K, "note")), "remark")
            .column((K, "token"))
            .column((K, "date_created"))
            .from(K)
            .order_by((K, "score"), Order::Asc);
        let records: Vec<Record> = ops.read_query(&select).await.check(ctx);
        assert_eq!(records.len(), 3, "[{ctx}]");
        for (record, kind) in records.iter().zip(&stored) {
            let keys: Vec<&str> = record.columns().collect();
            assert_eq!(
                keys,
                [
                    "name",
                    "score",
                    "ratio",
                    "active",
                    "remark",
                    "token",
                    "date_created"
                ],
                "[{ctx}]"
            );
            let stamp = record.get("date_created").and_then(|v| v.as_str());
            let second = kind
                .base
                .date_created
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            assert!(
                stamp.is_some_and(|s| s.starts_with(&second)),
                "[{ctx}] date_created {stamp:?} should start with {second}"
            );
        }
        let value = serde_json::to_value(&records).unwrap();
        let token = |i: usize| stored[i].token.to_string();
        let without_stamps: Vec<serde_json::Value> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().shift_remove("date_created");
                r
            })
            .collect();
        assert_eq!(
            serde_json::Value::Array(without_stamps),
            json!([
                {"name": "alpha", "score": 1, "ratio": 0.5, "active": true, "remark": "first", "token": token(0)},
                {"name": "beta", "score": 2, "ratio": 1.25, "active": false, "remark": null, "token": token(1)},
                {"name": "gamma", "score": 3, "ratio": -3.75, "active": true, "remark": "third", "token": token(2)},
            ]),
            "[{ctx}]"
        );

        // A filter that matches nothing reads an empty list.
        let mut none = ReadKind::select();
        none.and_where(ReadKind::col("score").gt(100));
        let empty: Vec<ReadKind> = ops.read_query(&none).await.check(ctx);
        assert!(empty.is_empty(), "[{ctx}]");
        db.disconnect().await;
    }
}

#[tokio::test]
async fn read_multi_query_keys_results_by_name_in_insertion_order() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<MultiKind>().register::<MultiItem>();
        })
        .await;
        const K: &str = MultiKind::TABLE;
        ops.create_many(MultiKind::samples()).await.check(ctx);
        ops.create_many(
            (1..=4)
                .map(|seq| MultiItem {
                    base: SchemaBase::default(),
                    seq,
                })
                .collect(),
        )
        .await
        .check(ctx);

        let mut active = MultiKind::select();
        active
            .and_where(MultiKind::col("active").eq(true))
            .order_by((K, "name"), Order::Asc);
        let mut inactive = MultiKind::select();
        inactive.and_where(MultiKind::col("active").eq(false));
        let mut nothing = MultiKind::select();
        nothing.and_where(MultiKind::col("score").lt(0));
        let results = ops
            .read_multi_query::<MultiKind>(vec![
                ("zeta_active", active),
                ("alpha_inactive", inactive),
                ("mid_none", nothing),
            ])
            .await
            .check(ctx);
        let keys: Vec<&str> = results.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["zeta_active", "alpha_inactive", "mid_none"],
            "[{ctx}]"
        );
        let names =
            |key: &str| -> Vec<String> { results[key].iter().map(|k| k.name.clone()).collect() };
        assert_eq!(names("zeta_active"), ["alpha", "gamma"], "[{ctx}]");
        assert_eq!(names("alpha_inactive"), ["beta"], "[{ctx}]");
        assert!(names("mid_none").is_empty(), "[{ctx}]");

        // Different tables and shapes, as records.
        let mut items = Query::select();
        items
            .column((MultiItem::TABLE, "seq"))
            .from(MultiItem::TABLE)
            .order_by((MultiItem::TABLE, "seq"), Order::Asc);
        let mut kinds = Query::select();
        kinds
            .columns([(K, "name"), (K, "score")])
            .from(K)
            .and_where(MultiKind::col("score").gte(2))
            .order_by((K, "score"), Order::Asc);
        let results = ops
            .read_multi_query::<Record>([("items", items), ("kinds", kinds)])
            .await
            .check(ctx);
        assert_eq!(
            serde_json::to_value(&results).unwrap(),
            json!({
                "items": [{"seq": 1}, {"seq": 2}, {"seq": 3}, {"seq": 4}],
                "kinds": [{"name": "beta", "score": 2}, {"name": "gamma", "score": 3}],
            }),
            "[{ctx}]"
        );
        db.disconnect().await;
    }
}
