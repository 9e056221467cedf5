//! Migrations generated from the models (issue 25): a model evolves through five versions
//! (a nullable column, a NOT NULL column with a default, a unique index, a table with a foreign
//! key, a column comment, a renamed column, a dropped column, a longer VARCHAR); each step is generated, applied,
//! and generating again gives nothing; every earlier row reads through the newest model; the
//! down parts bring each version back. File SQLite, PostgreSQL, MariaDB: each version's models
//! are registered on a database handle of their own (a table registers once per handle), and
//! in-memory SQLite gives each handle its own database (`generate_migration`'s doctest runs
//! there; `migrations_versioned` applies migrations on it).

mod common;

use dsg_lib::async_database_functions::migrations::{GenerateOptions, Migrations};
use dsg_lib::prelude::*;
use serde_json::json;

mod v1 {
    use dsg_lib::Model;
    #[derive(Model, Debug, Clone)]
    #[model(table = "mig_e_users")]
    pub struct User {
        #[model(primary_key)]
        pub id: i64,
        #[model(size = 50)]
        pub name: String,
    }
}

mod v2 {
    use dsg_lib::Model;
    #[derive(Model, Debug, Clone)]
    #[model(table = "mig_e_users")]
    pub struct User {
        #[model(primary_key)]
        pub id: i64,
        #[model(size = 50)]
        pub name: String,
        #[model(size = 40)]
        pub nickname: Option<String>,
    }
}

mod v3 {
    use dsg_lib::Model;
    #[derive(Model, Debug, Clone)]
    #[model(table = "mig_e_users")]
    pub struct User {
        #[model(primary_key)]
        pub id: i64,
        #[model(size = 50)]
        pub name: String,
        #[model(size = 40)]
        pub nickname: Option<String>,
        #[model(default = "0")]
        pub score: i64,
    }
}

mod v4 {
    use dsg_lib::Model;
    #[derive(Model, Debug, Clone)]
    #[model(table = "mig_e_users")]
    pub struct User {
        #[model(primary_key)]
        pub id: i64,
        #[model(size = 50, unique, index)]
        pub name: String,
        #[model(size = 40, comment = "shown to friends, isn't it")]
        pub nickname: Option<String>,
        #[model(default = "0")]
        pub score: i64,
    }

    #[derive(Model, Debug, Clone)]
    #[model(table = "mig_e_posts")]
    pub struct Post {
        #[model(primary_key)]
        pub id: i64,
        #[model(foreign_key = "mig_e_users.id")]
        pub user_id: i64,
        #[model(size = 100)]
        pub title: String,
    }
}

mod v5 {
    use dsg_lib::Model;
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "mig_e_users")]
    pub struct User {
        #[model(primary_key)]
        pub id: i64,
        #[model(size = 120, unique, index)]
        pub name: String,
        // A rename by attribute: the generated migration keeps `nickname`'s data.
        #[model(
            size = 40,
            comment = "shown to friends, isn't it",
            renamed_from = "nickname"
        )]
        pub handle: Option<String>,
    }

    pub use super::v4::Post;
}

/// A database with version `v`'s models registered.
fn database(uri: &str, v: usize) -> AsyncDatabase {
    let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).expect("config"));
    match v {
        1 => {
            db.register::<v1::User>();
        }
        2 => {
            db.register::<v2::User>();
        }
        3 => {
            db.register::<v3::User>();
        }
        4 => {
            db.register::<v4::User>();
            db.register::<v4::Post>();
        }
        _ => {
            db.register::<v5::User>();
            db.register::<v5::Post>();
        }
    }
    db
}

fn options(_v: usize) -> GenerateOptions {
    GenerateOptions::new().history_table("mig_e_history")
}

/// The row each version inserts once applied.
fn insert_sql(v: usize) -> &'static str {
    match v {
        1 => "INSERT INTO mig_e_users (id, name) VALUES (1, 'one')",
        2 => "INSERT INTO mig_e_users (id, name, nickname) VALUES (2, 'two', 'deux')",
        3 => "INSERT INTO mig_e_users (id, name, nickname, score) VALUES (3, 'three', NULL, 7)",
        4 => "INSERT INTO mig_e_posts (id, user_id, title) VALUES (1, 2, 'hello')",
        _ => {
            "INSERT INTO mig_e_users (id, name, handle) VALUES (5, 'a name longer than fifty characters, which v5 allows now', 'cinq')"
        }
    }
}

async fn run_sql(db: &AsyncDatabase, sql: &str) {
    let mut session = db.get_db_session().await.expect("session");
    session
        .execute_sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    session.commit().await.expect("commit");
}

#[tokio::test]
async fn a_model_evolving_through_five_versions_round_trips_up_and_down() {
    let mut beds: Vec<(String, String, Option<std::path::PathBuf>)> = Vec::new();
    let file = std::env::temp_dir().join(format!("dsg-mig-e-{}.db", uuid::Uuid::new_v4().simple()));
    beds.push((
        "sqlite-file".into(),
        format!("sqlite:///{}", file.display()),
        Some(file.clone()),
    ));
    for b in common::servers() {
        beds.push((b.name.to_string(), b.uri, None));
    }
    for (name, uri, _) in &beds {
        let ctx = name.as_str();
        let dir =
            std::env::temp_dir().join(format!("dsg-mig-e-dir-{}", uuid::Uuid::new_v4().simple()));
        let cleanup = database(uri, 1);
        for table in ["mig_e_posts", "mig_e_users", "mig_e_history"] {
            run_sql(&cleanup, &format!("DROP TABLE IF EXISTS {table}")).await;
        }
        cleanup.disconnect().await;
        let mut dbs = Vec::new();
        for v in 1..=5 {
            let db = database(uri, v);
            let generated = db
                .generate_migration(&options(v))
                .await
                .unwrap_or_else(|e| panic!("[{ctx}] v{v} generate: {e}"));
            assert!(!generated.is_empty(), "[{ctx}] v{v} has changes");
            generated
                .write(&dir, &format!("v{v}"))
                .unwrap_or_else(|e| panic!("[{ctx}] v{v} write: {e}"));
            let migrations = Migrations::from_dir(&dir).expect("folder");
            let report = db
                .migrator(&migrations)
                .history_table("mig_e_history")
                .unwrap()
                .migrate()
                .await
                .unwrap_or_else(|e| panic!("[{ctx}] v{v} apply: {e}\n{}", generated.up_sql()));
            assert_eq!(report.applied, [v as i64], "[{ctx}]");
            let again = db.generate_migration(&options(0)).await.unwrap();
            assert!(
                again.is_empty(),
                "[{ctx}] v{v}: generating again gives nothing, not:\n{}",
                again.up_sql()
            );
            run_sql(&db, insert_sql(v)).await;
            dbs.push(db);
        }
        let newest = &dbs[4];
        let users: Vec<v5::User> = DatabaseOperations::new(newest.clone())
            .read_query(v5::User::select().order_by("id", dsg_lib::sea_query::Order::Asc))
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] read through v5: {e}"));
        let got: Vec<(i64, &str, Option<&str>)> = users
            .iter()
            .map(|u| (u.id, u.name.as_str(), u.handle.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "one", None),
                (2, "two", Some("deux")),
                (3, "three", None),
                (
                    5,
                    "a name longer than fifty characters, which v5 allows now",
                    Some("cinq")
                )
            ],
            "[{ctx}] every version's rows read through the newest model"
        );
        // Down: each version back, the rows' kept columns still there, and the models of the
        // version before match the database again.
        run_sql(newest, "DELETE FROM mig_e_users WHERE id = 5").await;
        let migrations = Migrations::from_dir(&dir).expect("folder");
        for v in (2..=5).rev() {
            let back = dbs[v - 1]
                .migrator(&migrations)
                .history_table("mig_e_history")
                .unwrap()
                .rollback(1)
                .await
                .unwrap_or_else(|e| panic!("[{ctx}] down from v{v}: {e}"));
            assert_eq!(back.reverted, [v as i64]);
            let previous = &dbs[v - 2];
            let diff = previous.generate_migration(&options(0)).await.unwrap();
            assert!(
                diff.is_empty(),
                "[{ctx}] after undoing v{v} the database is v{} again, not:\n{}",
                v - 1,
                diff.up_sql()
            );
            let names: Vec<String> = DatabaseOperations::new(previous.clone())
                .read_query(&text("SELECT name FROM mig_e_users ORDER BY id"))
                .await
                .unwrap();
            assert_eq!(names, ["one", "two", "three"], "[{ctx}] after undoing v{v}");
            if v == 5 {
                let nick: Vec<Option<String>> = DatabaseOperations::new(previous.clone())
                    .read_query(&text("SELECT nickname FROM mig_e_users WHERE id = 2"))
                    .await
                    .unwrap();
                assert_eq!(
                    nick,
                    [Some("deux".to_string())],
                    "[{ctx}] the renamed column is back"
                );
            }
        }
        for db in &dbs {
            for table in ["mig_e_posts", "mig_e_users", "mig_e_history"] {
                run_sql(db, &format!("DROP TABLE IF EXISTS {table}")).await;
            }
            db.disconnect().await;
        }
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("[{ctx}] five versions generated, applied, rolled back");
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

/// A model with every kind of column `create_tables` makes: base columns (uuid key, server
/// default timestamps), a comment, a unique column, an indexed foreign key, each type.
#[derive(Model, Debug, Clone)]
#[model(table = "mig_g_teams")]
struct Team {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 80, unique)]
    name: String,
    #[model(comment = "what the team does")]
    about: Option<String>,
}

#[derive(Model, Debug, Clone)]
#[model(table = "mig_g_members")]
struct Member {
    #[model(flatten)]
    base: SchemaBase,
    #[model(belongs_to = Team, size = 36, index, on_delete = "cascade")]
    team_id: String,
    #[model(unique, index, size = 120)]
    email: String,
    age: Option<i32>,
    visits: i64,
    small: i16,
    ratio: f64,
    active: bool,
    born: Option<chrono::NaiveDate>,
    data: Option<serde_json::Value>,
    blob: Option<Vec<u8>>,
    notes: Option<String>,
    uid: uuid::Uuid,
}

/// Fifty small models, for timing `generate_migration` against a 50-table schema.
macro_rules! fifty {
    ($name:ident, $table:tt) => {
        #[derive(Model, Debug, Clone)]
        #[model(table = $table)]
        struct $name {
            #[model(primary_key)]
            id: i64,
            #[model(size = 40, index)]
            name: Option<String>,
            n: Option<i32>,
        }
    };
}
fifty!(T0, "mig_g_t0");
fifty!(T1, "mig_g_t1");
fifty!(T2, "mig_g_t2");
fifty!(T3, "mig_g_t3");
fifty!(T4, "mig_g_t4");
fifty!(T5, "mig_g_t5");
fifty!(T6, "mig_g_t6");
fifty!(T7, "mig_g_t7");
fifty!(T8, "mig_g_t8");
fifty!(T9, "mig_g_t9");
fifty!(T10, "mig_g_t10");
fifty!(T11, "mig_g_t11");
fifty!(T12, "mig_g_t12");
fifty!(T13, "mig_g_t13");
fifty!(T14, "mig_g_t14");
fifty!(T15, "mig_g_t15");
fifty!(T16, "mig_g_t16");
fifty!(T17, "mig_g_t17");
fifty!(T18, "mig_g_t18");
fifty!(T19, "mig_g_t19");
fifty!(T20, "mig_g_t20");
fifty!(T21, "mig_g_t21");
fifty!(T22, "mig_g_t22");
fifty!(T23, "mig_g_t23");
fifty!(T24, "mig_g_t24");
fifty!(T25, "mig_g_t25");
fifty!(T26, "mig_g_t26");
fifty!(T27, "mig_g_t27");
fifty!(T28, "mig_g_t28");
fifty!(T29, "mig_g_t29");
fifty!(T30, "mig_g_t30");
fifty!(T31, "mig_g_t31");
fifty!(T32, "mig_g_t32");
fifty!(T33, "mig_g_t33");
fifty!(T34, "mig_g_t34");
fifty!(T35, "mig_g_t35");
fifty!(T36, "mig_g_t36");
fifty!(T37, "mig_g_t37");
fifty!(T38, "mig_g_t38");
fifty!(T39, "mig_g_t39");
fifty!(T40, "mig_g_t40");
fifty!(T41, "mig_g_t41");
fifty!(T42, "mig_g_t42");
fifty!(T43, "mig_g_t43");
fifty!(T44, "mig_g_t44");
fifty!(T45, "mig_g_t45");
fifty!(T46, "mig_g_t46");
fifty!(T47, "mig_g_t47");
fifty!(T48, "mig_g_t48");
fifty!(T49, "mig_g_t49");

fn register_fifty(many: &AsyncDatabase) {
    many.register::<T0>();
    many.register::<T1>();
    many.register::<T2>();
    many.register::<T3>();
    many.register::<T4>();
    many.register::<T5>();
    many.register::<T6>();
    many.register::<T7>();
    many.register::<T8>();
    many.register::<T9>();
    many.register::<T10>();
    many.register::<T11>();
    many.register::<T12>();
    many.register::<T13>();
    many.register::<T14>();
    many.register::<T15>();
    many.register::<T16>();
    many.register::<T17>();
    many.register::<T18>();
    many.register::<T19>();
    many.register::<T20>();
    many.register::<T21>();
    many.register::<T22>();
    many.register::<T23>();
    many.register::<T24>();
    many.register::<T25>();
    many.register::<T26>();
    many.register::<T27>();
    many.register::<T28>();
    many.register::<T29>();
    many.register::<T30>();
    many.register::<T31>();
    many.register::<T32>();
    many.register::<T33>();
    many.register::<T34>();
    many.register::<T35>();
    many.register::<T36>();
    many.register::<T37>();
    many.register::<T38>();
    many.register::<T39>();
    many.register::<T40>();
    many.register::<T41>();
    many.register::<T42>();
    many.register::<T43>();
    many.register::<T44>();
    many.register::<T45>();
    many.register::<T46>();
    many.register::<T47>();
    many.register::<T48>();
    many.register::<T49>();
}

#[tokio::test]
async fn tables_made_by_create_tables_generate_nothing_and_fifty_tables_diff_quickly() {
    let file = std::env::temp_dir().join(format!("dsg-mig-g-{}.db", uuid::Uuid::new_v4().simple()));
    let mut beds = vec![
        (
            "sqlite-memory".to_string(),
            "sqlite:///:memory:".to_string(),
        ),
        (
            "sqlite-file".to_string(),
            format!("sqlite:///{}", file.display()),
        ),
    ];
    beds.extend(
        common::servers()
            .into_iter()
            .map(|b| (b.name.to_string(), b.uri)),
    );
    for (ctx, uri) in &beds {
        let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).unwrap());
        db.register::<Team>();
        db.register::<Member>();
        db.drop_tables().await.unwrap();
        db.create_tables().await.unwrap();
        let diff = db
            .generate_migration(&GenerateOptions::new())
            .await
            .unwrap();
        assert!(
            diff.is_empty(),
            "[{ctx}] create_tables' DDL round trips, not:\n{}",
            diff.up_sql()
        );
        db.drop_tables().await.unwrap();

        // Fifty tables: generated, applied, generated again (introspecting fifty tables), timed.
        let many = AsyncDatabase::new(DBConfig::new(json!({"database_uri": uri})).unwrap());
        register_fifty(&many);
        many.drop_tables().await.unwrap();
        let options = GenerateOptions::new().history_table("mig_g_history");
        let first = many.generate_migration(&options).await.unwrap();
        let set = Migrations::new(vec![
            dsg_lib::async_database_functions::migrations::Migration::sql(
                1,
                "fifty",
                first.up_sql(),
                None,
            ),
        ])
        .unwrap();
        many.migrator(&set)
            .history_table("mig_g_history")
            .unwrap()
            .migrate()
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let diff = many.generate_migration(&options).await.unwrap();
        let elapsed = started.elapsed();
        assert!(diff.is_empty(), "[{ctx}] {}", diff.up_sql());
        eprintln!(
            "[{ctx}] generate against a 50-table schema: {} ms",
            elapsed.as_millis()
        );
        assert!(
            elapsed < std::time::Duration::from_secs(5),
            "[{ctx}] {elapsed:?}"
        );
        many.drop_tables().await.unwrap();
        let mut session = many.get_db_session().await.unwrap();
        session
            .execute_sql("DROP TABLE IF EXISTS mig_g_history")
            .await
            .unwrap();
        session.commit().await.unwrap();
        many.disconnect().await;
        db.disconnect().await;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
