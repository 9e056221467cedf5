//! Batch work by primary key (issue 23): `read_by_pks` and `update_many` (and their
//! no-read-back forms), on every configured backend, through `DatabaseOperations` and inside a
//! caller's transaction.

mod common;
mod ops_support;

use dsg_lib::prelude::*;
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "batch_worlds")]
struct World {
    #[model(primary_key)]
    id: i32,
    randomnumber: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "batch_members")]
struct Member {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    email: String,
    visits: i64,
}

fn member(email: &str) -> Member {
    Member {
        base: SchemaBase::default(),
        email: email.into(),
        visits: 0,
    }
}

/// The tests share the tables: they take turns (and one at a time under nextest too).
static TABLES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn fresh(b: &common::Backend, worlds: i32) -> (AsyncDatabase, DatabaseOperations) {
    let (db, ops) = ops_support::fresh(b, json!({"echo": false}), |db| {
        db.register::<World>();
        db.register::<Member>();
    })
    .await;
    if worlds > 0 {
        ops.create_many(
            (1..=worlds)
                .map(|id| World {
                    id,
                    randomnumber: id * 10,
                })
                .collect(),
        )
        .await
        .unwrap_or_else(|e| panic!("[{}] create_many: {e}", b.name));
    }
    (db, ops)
}

/// Two members, then `update` of both where the second takes the first's email: an integrity
/// error, and neither row changed.
async fn clash_writes_nothing<T: std::fmt::Debug, F: Future<Output = Result<T, DatabaseError>>>(
    ops: &DatabaseOperations,
    ctx: &str,
    update: impl FnOnce(Vec<Member>) -> F,
) -> Result<(), DatabaseError> {
    let stored = ops.create_many(vec![member("a@x"), member("b@x")]).await?;
    let mut clash = stored.clone();
    clash[0].visits = 5;
    clash[1].email = "a@x".into(); // the first row's email
    let error = update(clash).await.expect_err("a duplicate email");
    assert_eq!(error.kind(), ErrorKind::IntegrityError, "[{ctx}] {error}");
    let now = ops
        .read_by_pks::<Member>(stored.iter().map(|m| m.base.pkid.clone()))
        .await?;
    assert_eq!(
        now.iter().flatten().map(|m| m.visits).collect::<Vec<_>>(),
        [0, 0],
        "[{ctx}] nothing of the batch stays"
    );
    Ok(())
}

/// Worlds of (id, randomnumber) pairs.
fn worlds(pairs: &[(i32, i32)]) -> Vec<World> {
    pairs
        .iter()
        .map(|&(id, randomnumber)| World { id, randomnumber })
        .collect()
}

fn numbers(rows: &[Option<World>]) -> Vec<Option<i32>> {
    rows.iter()
        .map(|w| w.as_ref().map(|w| w.randomnumber))
        .collect()
}

#[tokio::test]
async fn read_by_pks_gives_one_option_per_id_in_the_order_given()
-> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, 20).await;
        let rows = ops.read_by_pks::<World>([7, 3, 99, 3, 20, -1, 1]).await?;
        assert_eq!(
            numbers(&rows),
            [
                Some(70),
                Some(30),
                None,
                Some(30),
                Some(200),
                None,
                Some(10)
            ],
            "[{ctx}]"
        );
        // i64 ids find the rows of an INTEGER key.
        let rows = ops.read_by_pks::<World>([2_i64, 1]).await?;
        assert_eq!(numbers(&rows), [Some(20), Some(10)], "[{ctx}]");
        assert!(
            ops.read_by_pks::<World>(Vec::<i32>::new())
                .await?
                .is_empty(),
            "[{ctx}]"
        );
        // String keys (SchemaBase's pkid).
        let stored = ops
            .create_many(vec![member("a@x"), member("b@x"), member("c@x")])
            .await?;
        let keys: Vec<String> = stored.iter().rev().map(|m| m.base.pkid.clone()).collect();
        let rows = ops
            .read_by_pks::<Member>(keys.iter().cloned().chain(["missing".to_string()]))
            .await?;
        let emails: Vec<Option<&str>> = rows
            .iter()
            .map(|m| m.as_ref().map(|m| m.email.as_str()))
            .collect();
        assert_eq!(
            emails,
            [Some("c@x"), Some("b@x"), Some("a@x"), None],
            "[{ctx}]"
        );
        // In a transaction, rows written by it are read.
        let mut session = db.get_db_session().await?;
        session
            .create_one(World {
                id: 500,
                randomnumber: 5,
            })
            .await?;
        let rows = session.read_by_pks::<World>([500, 1]).await?;
        assert_eq!(numbers(&rows), [Some(5), Some(10)], "[{ctx}]");
        session.rollback().await?;
        db.disconnect().await;
    }
    Ok(())
}

/// 100 000 ids: more than any backend binds in one statement (SQLite 32 766, MySQL 65 535):
/// the `IN` lists are chunked, PostgreSQL binds one array.
#[tokio::test]
async fn read_by_pks_reads_100_000_ids_under_every_bind_limit()
-> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, 100_000).await;
        let ids: Vec<i32> = (1..=100_000).rev().collect();
        let rows = ops.read_by_pks::<World>(ids.clone()).await?;
        assert_eq!(rows.len(), 100_000, "[{ctx}]");
        assert!(
            rows.iter()
                .zip(&ids)
                .all(|(w, id)| w.as_ref().map(|w| w.id) == Some(*id)),
            "[{ctx}] rows in the order given"
        );
        db.disconnect().await;
    }
    Ok(())
}

#[tokio::test]
async fn update_many_writes_each_row_its_own_values_and_stamps_date_updated()
-> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, 30).await;
        // Twenty rows, in random-ish order, one id twice: the last wins.
        let mut changed: Vec<World> = (1..=20)
            .map(|id| World {
                id: (id * 7) % 20 + 1,
                randomnumber: 1000 + id,
            })
            .collect();
        changed.push(World {
            id: 8,
            randomnumber: 4242,
        });
        let stored = ops.update_many(changed.clone()).await?;
        assert_eq!(stored.len(), 20, "[{ctx}] each key once");
        assert_eq!(stored[0].id, changed[0].id, "[{ctx}] in the order given");
        let eight = stored.iter().find(|w| w.id == 8).map(|w| w.randomnumber);
        assert_eq!(eight, Some(4242), "[{ctx}] the last of a key given twice");
        let all = ops.read_by_pks::<World>(1..=30).await?;
        for w in all.iter().flatten() {
            let expected = if w.id == 8 {
                4242
            } else if w.id <= 20 {
                changed
                    .iter()
                    .find(|c| c.id == w.id)
                    .map(|c| c.randomnumber)
                    .unwrap_or_default()
            } else {
                w.id * 10
            };
            assert_eq!(w.randomnumber, expected, "[{ctx}] row {}", w.id);
        }

        // No read back: the count.
        let n = ops
            .update_many_no_return(vec![
                World {
                    id: 21,
                    randomnumber: 1,
                },
                World {
                    id: 22,
                    randomnumber: 2,
                },
            ])
            .await?;
        assert_eq!(n, 2, "[{ctx}]");
        assert_eq!(
            numbers(&ops.read_by_pks::<World>([21, 22, 23]).await?),
            [Some(1), Some(2), Some(230)],
            "[{ctx}]"
        );

        // date_updated stamped, date_created and the key kept.
        let before = ops.create_many(vec![member("a@x"), member("b@x")]).await?;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut bumped = before.clone();
        for m in &mut bumped {
            m.visits = 9;
            m.base.date_created = chrono::Utc::now(); // never written
        }
        let after = ops.update_many(bumped).await?;
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(new.base.pkid, old.base.pkid, "[{ctx}]");
            assert_eq!(new.visits, 9, "[{ctx}]");
            assert_eq!(
                new.base.date_created.timestamp_millis(),
                old.base.date_created.timestamp_millis(),
                "[{ctx}] date_created kept"
            );
            assert!(
                new.base.date_updated > old.base.date_updated,
                "[{ctx}] date_updated stamped: {} then {}",
                old.base.date_updated,
                new.base.date_updated
            );
        }
        db.disconnect().await;
    }
    Ok(())
}

/// A batch with a key that has no row, or one that breaks a constraint, writes nothing.
#[tokio::test]
async fn update_many_is_all_or_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, 5).await;
        let error = ops
            .update_many(vec![
                World {
                    id: 1,
                    randomnumber: -1,
                },
                World {
                    id: 77,
                    randomnumber: -1,
                },
            ])
            .await
            .expect_err("a key with no row");
        assert_eq!(error.kind(), ErrorKind::RecordNotFound, "[{ctx}] {error}");
        assert!(
            error.to_string().contains("1 of the 2 keys"),
            "[{ctx}] {error}"
        );
        let error = ops
            .update_many_no_return(vec![World {
                id: 78,
                randomnumber: -1,
            }])
            .await
            .expect_err("a key with no row");
        assert_eq!(error.kind(), ErrorKind::RecordNotFound, "[{ctx}]");
        assert_eq!(
            numbers(&ops.read_by_pks::<World>([1]).await?),
            [Some(10)],
            "[{ctx}] nothing written"
        );

        clash_writes_nothing(&ops, ctx, |clash| ops.update_many(clash)).await?;

        // Inside a caller's transaction, rolled back with it.
        let mut session = db.get_db_session().await?;
        let n = session
            .update_many_no_return(vec![World {
                id: 2,
                randomnumber: 0,
            }])
            .await?;
        assert_eq!(n, 1, "[{ctx}]");
        let seen = session
            .update_many(vec![World {
                id: 3,
                randomnumber: 0,
            }])
            .await?;
        assert_eq!(
            seen,
            [World {
                id: 3,
                randomnumber: 0
            }],
            "[{ctx}]"
        );
        session.rollback().await?;
        assert_eq!(
            numbers(&ops.read_by_pks::<World>([2, 3]).await?),
            [Some(20), Some(30)],
            "[{ctx}]"
        );
        db.disconnect().await;
    }
    Ok(())
}

/// `update_many_no_return` runs outside a transaction (on PostgreSQL one statement that is
/// all or none by itself): a key without a row, or a constraint broken by one row, leaves
/// every row as it was, and the error counts the missing keys, also when `hide_parameters`
/// scrubs the server's messages.
#[tokio::test]
async fn update_many_no_return_is_all_or_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let _t = TABLES.lock().await;
    for b in common::backends() {
        for hide in [false, true] {
            let ctx = format!("{} hide_parameters={hide}", b.name);
            let (db, ops) =
                ops_support::fresh(&b, json!({"echo": false, "hide_parameters": hide}), |db| {
                    db.register::<World>();
                    db.register::<Member>();
                })
                .await;
            ops.create_many(
                (1..=3)
                    .map(|id| World {
                        id,
                        randomnumber: id * 10,
                    })
                    .collect(),
            )
            .await?;
            let error = ops
                .update_many_no_return(worlds(&[(3, -1), (1, -1), (90, -1), (91, -1)]))
                .await
                .expect_err("two keys with no row");
            assert_eq!(error.kind(), ErrorKind::RecordNotFound, "[{ctx}] {error}");
            assert!(
                error.to_string().contains("2 of the 4 keys"),
                "[{ctx}] {error}"
            );
            assert_eq!(
                numbers(&ops.read_by_pks::<World>([1, 2, 3]).await?),
                [Some(10), Some(20), Some(30)],
                "[{ctx}] nothing written"
            );

            clash_writes_nothing(&ops, &ctx, |clash| ops.update_many_no_return(clash)).await?;

            // And the same call with every key there writes every row.
            let n = ops
                .update_many_no_return(worlds(&[(3, 33), (1, 11)]))
                .await?;
            assert_eq!(n, 2, "[{ctx}]");
            assert_eq!(
                numbers(&ops.read_by_pks::<World>([1, 2, 3]).await?),
                [Some(11), Some(20), Some(33)],
                "[{ctx}]"
            );
            db.disconnect().await;
        }
    }
    Ok(())
}

/// Under `AUTOCOMMIT` no session opens a transaction: on PostgreSQL the batch update is the
/// one statement that is all or none by itself; on SQLite and MySQL/MariaDB (several
/// statements: one per row, or `CASE` batches) they run in a transaction of their own. Through
/// the operations and on a session, with and without the rows read back.
#[tokio::test]
async fn update_many_under_autocommit_is_all_or_nothing() -> Result<(), Box<dyn std::error::Error>>
{
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = ops_support::fresh(
            &b,
            json!({"echo": false, "execution_options": {"isolation_level": "AUTOCOMMIT"}}),
            |db| {
                db.register::<World>();
            },
        )
        .await;
        ops.create_many(worlds(&[(1, 10), (2, 20)])).await?;
        // The key with no row comes last: the rows before it are written first.
        let no_row = |result: Result<_, DatabaseError>| {
            let error = result.expect_err("a key with no row");
            assert_eq!(error.kind(), ErrorKind::RecordNotFound, "[{ctx}] {error}");
        };
        no_row(ops.update_many(worlds(&[(1, -1), (9, -1)])).await.map(drop));
        no_row(
            ops.update_many_no_return(worlds(&[(1, -2), (9, -2)]))
                .await
                .map(drop),
        );
        let mut session = db.get_db_session().await?;
        no_row(
            session
                .update_many_no_return(worlds(&[(2, -1), (9, -1)]))
                .await
                .map(drop),
        );
        no_row(
            session
                .update_many(worlds(&[(2, -3), (9, -3)]))
                .await
                .map(drop),
        );
        // The session is still usable, and still under `AUTOCOMMIT`: a batch that succeeds is
        // committed at once, seen from another connection.
        session.update_many_no_return(worlds(&[(2, 21)])).await?;
        assert_eq!(
            numbers(&ops.read_by_pks::<World>([2]).await?),
            [Some(21)],
            "[{ctx}] a whole batch written"
        );
        session.update_many_no_return(worlds(&[(2, 20)])).await?;
        drop(session);
        assert_eq!(
            numbers(&ops.read_by_pks::<World>([1, 2]).await?),
            [Some(10), Some(20)],
            "[{ctx}] nothing written by a refused batch"
        );
        db.disconnect().await;
    }
    Ok(())
}

#[tokio::test]
async fn update_one_no_return_writes_without_reading_back() -> Result<(), Box<dyn std::error::Error>>
{
    let _t = TABLES.lock().await;
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, 3).await;
        ops.update_one_no_return::<World>(2, json!({"randomnumber": 7}))
            .await?;
        assert_eq!(
            numbers(&ops.read_by_pks::<World>([2]).await?),
            [Some(7)],
            "[{ctx}]"
        );
        let error = ops
            .update_one_no_return::<World>(9, json!({"randomnumber": 7}))
            .await
            .expect_err("no row 9");
        assert_eq!(error.kind(), ErrorKind::RecordNotFound, "[{ctx}]");
        let error = ops
            .update_one_no_return::<World>(1, json!({"nope": 7}))
            .await
            .expect_err("no such column");
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "[{ctx}]");
        // Nothing to set: the row must still exist.
        ops.update_one_no_return::<World>(1, json!({})).await?;
        let error = ops
            .update_one_no_return::<World>(9, json!({}))
            .await
            .expect_err("no row 9");
        assert_eq!(error.kind(), ErrorKind::RecordNotFound, "[{ctx}]");
        db.disconnect().await;
    }
    Ok(())
}
