//! `use dsg_lib::prelude::*` alone is enough for the quick start; `read_by_pk`; and the way
//! down to sqlx (`dsg_lib::sqlx`, the pool accessors) — on every configured backend.

mod common;

use dsg_lib::prelude::*;
use dsg_lib::sqlx;
use serde_json::json;

#[derive(Model, Debug, Clone)]
#[model(table = "prelude_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

fn user(name: &str, color: Option<&str>) -> User {
    User {
        base: SchemaBase::default(),
        name: name.into(),
        color: color.map(Into::into),
    }
}

/// A fresh database with `M`'s table dropped and created again.
async fn fresh<M: Model>(b: &common::Backend) -> (AsyncDatabase, DatabaseOperations) {
    let db = b.database(json!({"echo": false}));
    db.register::<M>();
    db.drop_tables()
        .await
        .unwrap_or_else(|e| panic!("[{}] drop_tables: {e}", b.name));
    db.create_tables()
        .await
        .unwrap_or_else(|e| panic!("[{}] create_tables: {e}", b.name));
    let ops = DatabaseOperations::new(db.clone());
    (db, ops)
}

#[tokio::test]
async fn quick_start_with_the_prelude_alone() -> Result<(), Box<dyn std::error::Error>> {
    for b in common::backends() {
        let ctx = b.name;
        let (async_db, db_ops) = fresh::<User>(&b).await;

        let mike = db_ops.create_one(user("Mike", Some("red"))).await?;
        db_ops.create_one(user("Sara", None)).await?;

        let red: Vec<User> = db_ops
            .read_query(User::select().and_where(User::col("color").eq("red")))
            .await?;
        assert_eq!(red.len(), 1, "[{ctx}]");
        let names: Vec<String> = db_ops
            .read_query(&text("SELECT name FROM prelude_users ORDER BY name"))
            .await?;
        assert_eq!(names, ["Mike", "Sara"], "[{ctx}]");
        let rows: Vec<Record> = db_ops
            .read_query(
                &text("SELECT name, color FROM prelude_users WHERE name = :n").bind("n", "Sara"),
            )
            .await?;
        assert_eq!(
            serde_json::to_value(&rows)?,
            json!([{"name": "Sara", "color": null}]),
            "[{ctx}]"
        );

        assert_eq!(db_ops.count_query(&User::select()).await?, 2, "[{ctx}]");
        let page: Page<User> = db_ops
            .paginate_query(User::select().order_by("name", Order::Asc), 1, 1)
            .await?;
        assert_eq!(
            (page.items[0].name.as_str(), page.total, page.pages),
            ("Mike", 2, 2),
            "[{ctx}]"
        );

        let mut session: Session = async_db.get_db_session().await?;
        let count: Option<i64> = session
            .fetch_optional(&text("SELECT COUNT(*) FROM prelude_users"))
            .await?;
        assert_eq!(count, Some(2), "[{ctx}]");
        session.rollback().await?;

        let blue: User = db_ops
            .update_one::<User>(mike.base.pkid.clone(), json!({"color": "blue"}))
            .await?;
        assert_eq!(blue.color.as_deref(), Some("blue"), "[{ctx}]");
        db_ops.delete_one::<User>(mike.base.pkid.clone()).await?;
        let gone: DatabaseError = db_ops
            .delete_one::<User>(mike.base.pkid)
            .await
            .expect_err("deleted twice");
        assert_eq!(gone.kind(), ErrorKind::RecordNotFound, "[{ctx}]");

        async_db.disconnect().await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// read_by_pk

#[derive(Model, Debug, Clone)]
#[model(table = "prelude_pk_colors")]
struct PkColor {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "prelude_pk_counters")]
struct Counter {
    #[model(primary_key, auto_increment)]
    id: i64,
    hits: i64,
}

#[derive(Model, Debug, Clone)]
#[model(table = "prelude_pk_pairs")]
struct Pair {
    #[model(primary_key, size = 20)]
    left: String,
    #[model(primary_key, size = 20)]
    right: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "prelude_pk_keyless")]
struct Keyless {
    note: String,
}

#[tokio::test]
async fn read_by_pk_finds_the_row_or_none_and_refuses_models_without_a_single_key() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh::<PkColor>(&b).await;
        let red = ops
            .create_one(PkColor {
                base: SchemaBase::default(),
                name: "red".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] create: {e}"));
        ops.create_one(PkColor {
            base: SchemaBase::default(),
            name: "blue".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("[{ctx}] create: {e}"));

        let found = ops
            .read_by_pk::<PkColor>(red.base.pkid.clone())
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] read_by_pk: {e}"))
            .unwrap_or_else(|| panic!("[{ctx}] the row is there"));
        assert_eq!(found.name, "red", "[{ctx}]");
        assert_eq!(found.base.pkid, red.base.pkid, "[{ctx}]");
        assert_eq!(
            found.base.date_created, red.base.date_created,
            "[{ctx}] the stored row"
        );

        let missing = ops
            .read_by_pk::<PkColor>(uuid_string())
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] read_by_pk: {e}"));
        assert!(missing.is_none(), "[{ctx}] {missing:?}");

        // Models without one key column are refused before any statement runs.
        for err in [
            ops.read_by_pk::<Pair>("a")
                .await
                .expect_err("composite key"),
            ops.read_by_pk::<Keyless>("a").await.expect_err("no key"),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "[{ctx}] {err}");
        }
        db.disconnect().await;

        // An integer key.
        let (db, ops) = fresh::<Counter>(&b).await;
        let mut session = db.get_db_session().await.expect("session");
        session
            .execute(&text("INSERT INTO prelude_pk_counters (hits) VALUES (7)"))
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] insert: {e}"));
        session.commit().await.expect("commit");
        let id: i64 = ops
            .read_query(&text("SELECT id FROM prelude_pk_counters"))
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] read ids: {e}"))[0];
        let counter = ops
            .read_by_pk::<Counter>(id)
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] read_by_pk: {e}"));
        assert_eq!(counter.map(|c| (c.id, c.hits)), Some((id, 7)), "[{ctx}]");
        assert!(
            ops.read_by_pk::<Counter>(id + 1000)
                .await
                .unwrap_or_else(|e| panic!("[{ctx}] read_by_pk: {e}"))
                .is_none(),
            "[{ctx}]"
        );
        db.disconnect().await;
    }
}

fn uuid_string() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------------------------------------
// The way down: sqlx on the library's pool

#[derive(Model, Debug, Clone)]
#[model(table = "prelude_raw_items")]
struct RawItem {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[tokio::test]
async fn raw_sqlx_on_the_pool_sees_rows_the_library_wrote() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh::<RawItem>(&b).await;
        let item = ops
            .create_one(RawItem {
                base: SchemaBase::default(),
                name: "widget".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] create: {e}"));

        let pool = db
            .sqlx_pool()
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] sqlx_pool: {e}"));
        let (name, count) = match pool {
            #[cfg(feature = "sqlite")]
            dsg_lib::async_database_functions::async_database::SqlxPool::Sqlite(pool) => {
                #[cfg(feature = "postgres")]
                assert!(db.pg_pool().await.expect("pg_pool").is_none(), "[{ctx}]");
                #[cfg(feature = "mysql")]
                assert!(db.mysql_pool().await.expect("mysql").is_none(), "[{ctx}]");
                let same = db.sqlite_pool().await.expect("sqlite_pool").expect("some");
                let name: String =
                    sqlx::query_scalar("SELECT name FROM prelude_raw_items WHERE pkid = ?")
                        .bind(&item.base.pkid)
                        .fetch_one(&same)
                        .await
                        .unwrap_or_else(|e| panic!("[{ctx}] raw select: {e}"));
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prelude_raw_items")
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("[{ctx}] raw count: {e}"));
                sqlx::query("DELETE FROM prelude_raw_items")
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("[{ctx}] raw delete: {e}"));
                (name, count)
            }
            #[cfg(feature = "postgres")]
            dsg_lib::async_database_functions::async_database::SqlxPool::Postgres(pool) => {
                #[cfg(feature = "sqlite")]
                assert!(db.sqlite_pool().await.expect("sqlite").is_none(), "[{ctx}]");
                #[cfg(feature = "mysql")]
                assert!(db.mysql_pool().await.expect("mysql").is_none(), "[{ctx}]");
                let same = db.pg_pool().await.expect("pg_pool").expect("some");
                let name: String =
                    sqlx::query_scalar("SELECT name FROM prelude_raw_items WHERE pkid = $1")
                        .bind(&item.base.pkid)
                        .fetch_one(&same)
                        .await
                        .unwrap_or_else(|e| panic!("[{ctx}] raw select: {e}"));
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prelude_raw_items")
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("[{ctx}] raw count: {e}"));
                sqlx::query("DELETE FROM prelude_raw_items")
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("[{ctx}] raw delete: {e}"));
                (name, count)
            }
            #[cfg(feature = "mysql")]
            dsg_lib::async_database_functions::async_database::SqlxPool::MySql(pool) => {
                #[cfg(feature = "sqlite")]
                assert!(db.sqlite_pool().await.expect("sqlite").is_none(), "[{ctx}]");
                #[cfg(feature = "postgres")]
                assert!(db.pg_pool().await.expect("pg_pool").is_none(), "[{ctx}]");
                let same = db.mysql_pool().await.expect("mysql_pool").expect("some");
                let name: String =
                    sqlx::query_scalar("SELECT name FROM prelude_raw_items WHERE pkid = ?")
                        .bind(&item.base.pkid)
                        .fetch_one(&same)
                        .await
                        .unwrap_or_else(|e| panic!("[{ctx}] raw select: {e}"));
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prelude_raw_items")
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("[{ctx}] raw count: {e}"));
                sqlx::query("DELETE FROM prelude_raw_items")
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("[{ctx}] raw delete: {e}"));
                (name, count)
            }
            other => panic!("[{ctx}] unexpected pool {other:?}"),
        };
        assert_eq!((name.as_str(), count), ("widget", 1), "[{ctx}]");

        // The row deleted through sqlx is gone for the library too (same database, same pool).
        assert!(
            ops.read_by_pk::<RawItem>(item.base.pkid)
                .await
                .unwrap_or_else(|e| panic!("[{ctx}] read_by_pk: {e}"))
                .is_none(),
            "[{ctx}]"
        );

        // After disconnect, the accessors refuse like every other call.
        db.disconnect().await;
        let err = db.sqlx_pool().await.expect_err("disconnected");
        assert_eq!(err.kind(), ErrorKind::Disconnected, "[{ctx}]");
    }
}

#[test]
fn text_takes_a_borrowed_str() {
    let table = String::from("users");
    let sql = format!("SELECT name FROM {table} WHERE color = :c");
    let statement = text(sql.as_str()).bind("c", "red");
    assert_eq!(statement.sql(), "SELECT name FROM users WHERE color = :c");
    drop(sql);
    assert!(statement.sql().starts_with("SELECT"));
}
