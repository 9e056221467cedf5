//! Related rows (issue 26): relations declared with `belongs_to`, eager loading in one query
//! per level (counted through the statement log), equal to the N+1 way and in order;
//! belongs-to and many-to-many loads; chunking past every bind limit; `ON DELETE` actions;
//! the loads inside a transaction. On every configured backend.

mod common;
mod ops_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dsg_lib::prelude::*;
use serde_json::json;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_orders")]
struct Order {
    #[model(primary_key)]
    id: i64,
    #[model(belongs_to = User, on_delete = "cascade", size = 36, index)]
    user_id: String,
    total: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_lines")]
struct Line {
    #[model(primary_key)]
    id: i64,
    #[model(belongs_to = Order, references = "id", on_delete = "cascade", index)]
    order_id: i64,
    sku: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_tags")]
struct Tag {
    #[model(primary_key)]
    id: i32,
    #[model(size = 20)]
    label: String,
}

/// A user's tag: the link of a many-to-many relation.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_user_tags")]
struct UserTag {
    #[model(primary_key)]
    id: i32,
    #[model(belongs_to = User, on_delete = "cascade", size = 36)]
    user_id: String,
    #[model(belongs_to = Tag, references = "id")]
    tag_id: i32,
}

/// An order that survives its user: the reference becomes NULL.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "rel_notes")]
struct Note {
    #[model(primary_key)]
    id: i32,
    #[model(belongs_to = User, on_delete = "set_null", size = 36)]
    user_id: Option<String>,
}

/// The tests share the tables: they take turns (and one at a time under nextest too).
static TABLES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn fresh(b: &common::Backend) -> (AsyncDatabase, DatabaseOperations) {
    ops_support::fresh(b, json!({"echo": true}), |db| {
        db.register::<User>();
        db.register::<Order>();
        db.register::<Line>();
        db.register::<Tag>();
        db.register::<UserTag>();
        db.register::<Note>();
    })
    .await
}

/// Counts the statements the library sends (its `echo` log, target `dsg_lib::sql`).
#[derive(Clone, Default)]
struct Statements(Arc<AtomicUsize>);

impl<S: Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "dsg_lib::sql" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Statements {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

async fn seed(ops: &DatabaseOperations, users: usize) -> Vec<User> {
    let users: Vec<User> = ops
        .create_many(
            (0..users)
                .map(|i| User {
                    base: SchemaBase::default(),
                    name: format!("user {i:04}"),
                })
                .collect(),
        )
        .await
        .expect("users");
    let mut orders = Vec::new();
    let mut lines = Vec::new();
    for (i, user) in users.iter().enumerate() {
        for j in 0..(i % 21) {
            let id = (i * 100 + j) as i64;
            // Ids not in insertion order per user, to see the children's order.
            orders.push(Order {
                id: if j % 2 == 0 { id } else { 10_000_000 - id },
                user_id: user.base.pkid.clone(),
                total: j as i64,
            });
        }
    }
    for order in &orders {
        for k in 0..(order.total % 6) {
            lines.push(Line {
                id: order.id * 10 + k,
                order_id: order.id,
                sku: k as i32,
            });
        }
    }
    ops.create_many(orders).await.expect("orders");
    ops.create_many(lines).await.expect("lines");
    users
}

#[tokio::test]
async fn users_orders_and_lines_load_in_three_queries_as_the_n_plus_1_way_does()
-> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    let statements = Statements::default();
    let _log = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(statements.clone())
            .with(
                tracing_subscriber::filter::Targets::new()
                    .with_target("dsg_lib::sql", tracing::Level::DEBUG),
            ),
    );
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let users = seed(&ops, 1_000).await;
        statements.take();

        let orders: Vec<Vec<Order>> = ops.load::<Order>(&users).await?;
        let lines: Vec<Vec<Line>> = ops.load::<Line>(orders.iter().flatten()).await?;
        assert_eq!(statements.take(), 2, "[{ctx}] one query per level");
        assert_eq!(orders.len(), 1_000, "[{ctx}]");
        assert_eq!(
            orders.iter().map(Vec::len).sum::<usize>(),
            (0..1_000).map(|i| i % 21).sum::<usize>(),
            "[{ctx}]"
        );
        // The N+1 way, by hand, for a sample: the same rows, in primary-key order.
        for (user, loaded) in users.iter().zip(&orders).step_by(97) {
            let mut by_hand: Vec<Order> = ops
                .read_query(Order::select().and_where(Order::USER_ID.eq(user.base.pkid.clone())))
                .await?;
            by_hand.sort_by_key(|o| o.id);
            assert_eq!(&by_hand, loaded, "[{ctx}] {}", user.name);
        }
        let flat: Vec<&Order> = orders.iter().flatten().collect();
        assert_eq!(lines.len(), flat.len(), "[{ctx}] one group per order");
        for (order, loaded) in flat.iter().zip(&lines) {
            assert_eq!(
                loaded.len() as i64,
                order.total % 6,
                "[{ctx}] order {}",
                order.id
            );
            assert!(loaded.iter().all(|l| l.order_id == order.id), "[{ctx}]");
            assert!(loaded.windows(2).all(|w| w[0].id < w[1].id), "[{ctx}]");
        }

        // Belongs-to: each order's user, one query.
        statements.take();
        let sample: Vec<Order> = orders.iter().flatten().take(500).cloned().collect();
        let owners: Vec<Option<User>> = ops.load_parents::<User>(&sample).await?;
        assert_eq!(statements.take(), 1, "[{ctx}]");
        assert!(
            sample
                .iter()
                .zip(&owners)
                .all(|(o, u)| u.as_ref().map(|u| &u.base.pkid) == Some(&o.user_id)),
            "[{ctx}] each order's own user"
        );

        // A parent without children, and a parent given twice.
        let lonely = vec![
            users[0].clone(),
            users[21].clone(),
            users[5].clone(),
            users[5].clone(),
        ];
        let groups = ops.load::<Order>(&lonely).await?;
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            [0, 0, 5, 5],
            "[{ctx}]"
        );
        assert!(
            ops.load::<Order>(&Vec::<User>::new()).await?.is_empty(),
            "[{ctx}]"
        );
        db.disconnect().await;
    }
    Ok(())
}

#[tokio::test]
async fn many_to_many_through_a_link_model_and_set_null_references()
-> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let users = seed(&ops, 3).await;
        ops.create_many(
            ["red", "green", "blue"]
                .iter()
                .enumerate()
                .map(|(i, l)| Tag {
                    id: i as i32 + 1,
                    label: (*l).into(),
                })
                .collect(),
        )
        .await?;
        let link = |id, user: &User, tag_id| UserTag {
            id,
            user_id: user.base.pkid.clone(),
            tag_id,
        };
        ops.create_many(vec![
            link(1, &users[0], 3),
            link(2, &users[0], 1),
            link(3, &users[2], 2),
        ])
        .await?;
        let tags: Vec<Vec<Tag>> = ops.load_through::<UserTag, Tag>(&users).await?;
        let labels: Vec<Vec<&str>> = tags
            .iter()
            .map(|t| t.iter().map(|t| t.label.as_str()).collect())
            .collect();
        assert_eq!(
            labels,
            [vec!["blue", "red"], vec![], vec!["green"]],
            "[{ctx}]"
        );

        // A nullable reference: None loads no parent.
        ops.create_many(vec![
            Note {
                id: 1,
                user_id: Some(users[1].base.pkid.clone()),
            },
            Note {
                id: 2,
                user_id: None,
            },
        ])
        .await?;
        let notes: Vec<Note> = ops
            .read_query(Note::select().order_by(Note::ID, dsg_lib::sea_query::Order::Asc))
            .await?;
        let owners = ops.load_parents::<User>(&notes).await?;
        assert_eq!(
            owners
                .iter()
                .map(|u| u.as_ref().map(|u| u.name.clone()))
                .collect::<Vec<_>>(),
            [Some(users[1].name.clone()), None],
            "[{ctx}]"
        );

        // ON DELETE: the user's orders, lines and links go with it (cascade); its note stays,
        // its reference NULL (set_null).
        let doomed = users[1].clone();
        let orders_before = ops.load::<Order>(std::slice::from_ref(&doomed)).await?;
        assert_eq!(orders_before[0].len(), 1, "[{ctx}]");
        ops.delete_one::<User>(doomed.base.pkid.clone()).await?;
        assert!(
            ops.load::<Order>(std::slice::from_ref(&doomed)).await?[0].is_empty(),
            "[{ctx}]"
        );
        let lines = ops.load::<Line>(&orders_before[0]).await?;
        assert!(lines[0].is_empty(), "[{ctx}] lines cascade too");
        let note: Option<Note> = ops.read_by_pk::<Note>(1).await?;
        assert_eq!(note.map(|n| n.user_id), Some(None), "[{ctx}] set to NULL");
        // The first user's links cascade when it goes.
        ops.delete_one::<User>(users[0].base.pkid.clone()).await?;
        assert_eq!(ops.count_query(UserTag::select()).await?, 1, "[{ctx}]");
        db.disconnect().await;
    }
    Ok(())
}

/// 100 000 parents: more keys than SQLite (32 766) or MariaDB (65 535) bind in one statement.
#[tokio::test]
async fn loads_for_100_000_parents_are_chunked_under_the_bind_limit()
-> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let orders: Vec<Order> = (0..100_000)
            .map(|id| Order {
                id,
                user_id: String::new(),
                total: id,
            })
            .collect();
        // The orders are parents here (of lines), not stored: only their ids are read.
        ops.create_many(vec![User {
            base: SchemaBase::default(),
            name: "u".into(),
        }])
        .await?;
        let lines: Vec<Line> = [7, 50_000, 99_999]
            .iter()
            .map(|&o| Line {
                id: o,
                order_id: o,
                sku: 1,
            })
            .collect();
        // Lines need their orders (foreign key): store those three.
        let user: Vec<User> = ops.read_query(User::select()).await?;
        ops.create_many(
            [7, 50_000, 99_999]
                .iter()
                .map(|&id| Order {
                    id,
                    user_id: user[0].base.pkid.clone(),
                    total: 0,
                })
                .collect(),
        )
        .await?;
        ops.create_many(lines).await?;
        let groups = ops.load::<Line>(&orders).await?;
        assert_eq!(groups.len(), 100_000, "[{ctx}]");
        let with_lines: Vec<i64> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .map(|(i, _)| i as i64)
            .collect();
        assert_eq!(with_lines, [7, 50_000, 99_999], "[{ctx}]");
        db.disconnect().await;
    }
    Ok(())
}

/// Inside a transaction the loads see its own writes, and nothing after a rollback.
#[tokio::test]
async fn loads_run_in_a_session_and_read_its_writes() -> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let users = seed(&ops, 2).await;
        let mut session = db.get_db_session().await?;
        session
            .create_one(Order {
                id: 42,
                user_id: users[0].base.pkid.clone(),
                total: 1,
            })
            .await?;
        let orders = session.load::<Order>(&users).await?;
        assert_eq!(
            orders.iter().map(Vec::len).collect::<Vec<_>>(),
            [1, 1],
            "[{ctx}] user 0 had none, now one; user 1 had one"
        );
        let owners = session.load_parents::<User>(&orders[0]).await?;
        assert_eq!(
            owners[0].as_ref().map(|u| &u.name),
            Some(&users[0].name),
            "[{ctx}]"
        );
        session.rollback().await?;
        assert!(ops.load::<Order>(&users).await?[0].is_empty(), "[{ctx}]");
        db.disconnect().await;
    }
    Ok(())
}

/// Typed joins: a parent with each child (inner) or with `None` (left), same-named columns
/// (`pkid`, `id`) decoded into the right model, filters and ordering through typed columns.
#[tokio::test]
async fn joins_decode_into_pairs_of_models() -> Result<(), Box<dyn std::error::Error>> {
    use dsg_lib::async_database_functions::relations::{join, left_join};
    use dsg_lib::sea_query::Order as By;
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let users = seed(&ops, 4).await; // 0, 1, 2, 3 orders
        let mut select = join::<User, Order>();
        select
            .and_where(Order::TOTAL.gte(1))
            .order_by_expr(User::NAME.expr(), By::Asc)
            .order_by_expr(Order::ID.expr(), By::Asc);
        let rows: Vec<(User, Order)> = ops.read_joined(&select).await?;
        assert_eq!(
            rows.len(),
            1 + 2,
            "[{ctx}] user 2's and 3's orders with total >= 1"
        );
        for (user, order) in &rows {
            assert_eq!(
                order.user_id, user.base.pkid,
                "[{ctx}] each pair belongs together"
            );
            assert!(order.total >= 1, "[{ctx}]");
        }
        assert_eq!(rows[0].0.name, users[2].name, "[{ctx}] ordered by name");
        let left: Vec<(User, Option<Order>)> = ops
            .read_left_joined(left_join::<User, Order>().order_by_expr(User::NAME.expr(), By::Asc))
            .await?;
        assert_eq!(left.len(), 1 + 1 + 2 + 3, "[{ctx}]");
        assert_eq!(left[0].0.name, users[0].name, "[{ctx}]");
        assert!(left[0].1.is_none(), "[{ctx}] a user without orders: None");
        assert!(
            left[1..]
                .iter()
                .all(|(u, o)| o.as_ref().map(|o| &o.user_id) == Some(&u.base.pkid)),
            "[{ctx}]"
        );
        // Same-named key columns on both sides: lines and orders both have `id`.
        let pairs: Vec<(Order, Line)> = ops.read_joined(join::<Order, Line>()).await?;
        assert!(
            pairs
                .iter()
                .all(|(o, l)| l.order_id == o.id && l.id != o.id),
            "[{ctx}]"
        );
        db.disconnect().await;
    }
    Ok(())
}

/// A parent with its children in one call, one transaction; a child that does not refer to
/// the parent writes nothing at all.
#[tokio::test]
async fn a_parent_is_created_with_its_children_all_or_nothing()
-> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b).await;
        let (ann, orders) = ops
            .create_with_children(
                User {
                    base: SchemaBase::default(),
                    name: "Ann".into(),
                },
                |ann| {
                    (1..=300)
                        .map(|id| Order {
                            id,
                            user_id: ann.base.pkid.clone(),
                            total: id,
                        })
                        .collect()
                },
            )
            .await?;
        assert_eq!(orders.len(), 300, "[{ctx}]");
        let loaded = ops.load::<Order>(std::slice::from_ref(&ann)).await?;
        assert_eq!(loaded[0], orders, "[{ctx}] stored as returned");

        let error = ops
            .create_with_children(
                User {
                    base: SchemaBase::default(),
                    name: "Bob".into(),
                },
                |bob| {
                    vec![
                        Order {
                            id: 1_000,
                            user_id: bob.base.pkid.clone(),
                            total: 1,
                        },
                        Order {
                            id: 1_001,
                            user_id: "someone else".into(),
                            total: 2,
                        },
                    ]
                },
            )
            .await
            .expect_err("a child of someone else");
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "[{ctx}] {error}");
        assert!(error.to_string().contains("child 1"), "[{ctx}] {error}");
        assert_eq!(ops.count_query(User::select()).await?, 1, "[{ctx}] no Bob");
        assert_eq!(ops.count_query(Order::select()).await?, 300, "[{ctx}]");
        db.disconnect().await;
    }
    Ok(())
}
