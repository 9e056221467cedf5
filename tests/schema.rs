//! `create_tables` / `drop_tables` on every backend: tables, indexes, unique constraints,
//! foreign keys in dependency order, server defaults, comments, auto-increment and literal
//! defaults; SQLite in-memory persistence across the pool's connections and file databases
//! in WAL mode under concurrent writers.

mod common;

use common::insert;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::Backend;
use dsg_lib::Model;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::error::{Constraint, DatabaseError, ErrorKind};
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::statement::text;
use dsg_lib::sea_query::Order;
use serde_json::json;

/// Inserts in a session of its own and commits.
async fn insert_committed<M: dsg_lib::async_database_functions::model::Model>(
    db: &AsyncDatabase,
    model: &M,
) -> Result<(), DatabaseError> {
    let mut session = db.get_db_session().await?;
    insert(&mut session, model).await?;
    session.commit().await
}

async fn count(db: &AsyncDatabase, table: &str) -> i64 {
    let mut session = db.get_db_session().await.unwrap();
    let n: Option<i64> = session
        .fetch_optional(&text(format!("SELECT count(*) FROM {table}")))
        .await
        .unwrap();
    session.commit().await.unwrap();
    n.unwrap()
}

/// Whether the database catalog has a base table called `table`.
async fn table_exists(db: &AsyncDatabase, backend: &Backend, table: &str) -> bool {
    let sql = match backend.name {
        "sqlite" => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t",
        "postgres" => {
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = :t"
        }
        _ => {
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = :t"
        }
    };
    let mut session = db.get_db_session().await.unwrap();
    let n: Option<i64> = session
        .fetch_optional(&text(sql).bind("t", table.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{}: catalog: {e}", backend.name));
    session.commit().await.unwrap();
    n == Some(1)
}

/// The names of the indexes on `table`, from the database catalog.
async fn index_names(db: &AsyncDatabase, backend: &Backend, table: &str) -> Vec<String> {
    let sql = match backend.name {
        "sqlite" => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t \
             AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name"
        }
        "postgres" => {
            "SELECT indexname::text FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename = :t ORDER BY indexname"
        }
        _ => {
            "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = :t ORDER BY 1"
        }
    };
    let mut session = db.get_db_session().await.unwrap();
    let names: Vec<String> = session
        .fetch_all(&text(sql).bind("t", table.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{}: indexes: {e}", backend.name));
    session.commit().await.unwrap();
    names
}

async fn reset(db: &AsyncDatabase, backend: &Backend) {
    db.drop_tables()
        .await
        .unwrap_or_else(|e| panic!("{}: drop_tables: {e}", backend.name));
    db.create_tables()
        .await
        .unwrap_or_else(|e| panic!("{}: create_tables: {e}", backend.name));
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_basic")]
struct Basic {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_basic_late")]
struct BasicLate {
    #[model(flatten)]
    base: SchemaBase,
    score: i64,
}

#[tokio::test]
async fn create_tables_creates_registered_tables_once_and_drop_tables_removes_them() {
    for backend in common::backends() {
        let db = backend.database(json!({}));
        db.register::<Basic>();
        db.register::<Basic>(); // registering twice has no further effect
        assert_eq!(db.table_names(), ["t_sch_basic"], "{}", backend.name);
        reset(&db, &backend).await;
        assert!(
            table_exists(&db, &backend, "t_sch_basic").await,
            "{}",
            backend.name
        );

        let row = Basic {
            base: SchemaBase::new(),
            name: "survivor".into(),
        };
        insert_committed(&db, &row).await.unwrap();

        // A second call is a no-op: no error, the table and its rows are untouched.
        db.create_tables()
            .await
            .unwrap_or_else(|e| panic!("{}: second create_tables: {e}", backend.name));
        let mut session = db.get_db_session().await.unwrap();
        let rows: Vec<Basic> = session.fetch_all(&Basic::select()).await.unwrap();
        session.commit().await.unwrap();
        assert_eq!(rows, vec![row], "{}", backend.name);

        // A model registered later is created by the next call, the first left as it is.
        db.register::<BasicLate>();
        assert_eq!(
            db.table_names(),
            ["t_sch_basic", "t_sch_basic_late"],
            "{}",
            backend.name
        );
        let mut session = db.get_db_session().await.unwrap();
        session
            .execute_sql("DROP TABLE IF EXISTS t_sch_basic_late")
            .await
            .unwrap();
        session.commit().await.unwrap();
        db.create_tables().await.unwrap();
        assert!(
            table_exists(&db, &backend, "t_sch_basic_late").await,
            "{}",
            backend.name
        );
        assert_eq!(count(&db, "t_sch_basic").await, 1, "{}", backend.name);

        db.drop_tables().await.unwrap();
        assert!(
            !table_exists(&db, &backend, "t_sch_basic").await,
            "{}",
            backend.name
        );
        assert!(
            !table_exists(&db, &backend, "t_sch_basic_late").await,
            "{}",
            backend.name
        );
        // Dropping tables that are gone is fine too.
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_idx")]
struct Indexed {
    #[model(flatten)]
    base: SchemaBase,
    #[model(index, size = 50)]
    category: String,
    #[model(unique, size = 50)]
    code: String,
    #[model(unique, index, size = 100)]
    email: String,
}

#[tokio::test]
async fn create_tables_makes_indexes_and_unique_constraints() {
    for backend in common::backends() {
        let db = backend.database(json!({}));
        db.register::<Indexed>();
        reset(&db, &backend).await;

        let indexes = index_names(&db, &backend, "t_sch_idx").await;
        for expected in [
            "ix_t_sch_idx_category",
            "ix_t_sch_idx_date_created",
            "ix_t_sch_idx_date_updated",
            "ix_t_sch_idx_email",
        ] {
            assert!(
                indexes.iter().any(|i| i == expected),
                "{}: index {expected} missing from {indexes:?}",
                backend.name
            );
        }
        // A primary key is not indexed twice.
        assert!(
            !indexes.iter().any(|i| i == "ix_t_sch_idx_pkid"),
            "{}: {indexes:?}",
            backend.name
        );

        let row = |category: &str, code: &str, email: &str| Indexed {
            base: SchemaBase::new(),
            category: category.into(),
            code: code.into(),
            email: email.into(),
        };
        insert_committed(&db, &row("tools", "A-1", "a@example.com"))
            .await
            .unwrap();
        // A repeated plain-indexed value is fine.
        insert_committed(&db, &row("tools", "A-2", "b@example.com"))
            .await
            .unwrap();

        for (what, duplicate) in [
            ("unique column", row("toys", "A-1", "c@example.com")),
            ("unique index", row("toys", "A-3", "a@example.com")),
        ] {
            let err = insert_committed(&db, &duplicate)
                .await
                .expect_err("a duplicate unique value is refused");
            assert_eq!(
                err.kind(),
                ErrorKind::IntegrityError,
                "{} {what}: {err}",
                backend.name
            );
            assert!(err.is_unique_violation(), "{} {what}: {err}", backend.name);
        }
        // A duplicate primary key too.
        let mut same_pkid = row("toys", "A-9", "z@example.com");
        let mut session = db.get_db_session().await.unwrap();
        let existing: Vec<Indexed> = session.fetch_all(&Indexed::select()).await.unwrap();
        session.commit().await.unwrap();
        same_pkid.base.pkid = existing[0].base.pkid.clone();
        let err = insert_committed(&db, &same_pkid)
            .await
            .expect_err("duplicate pkid");
        assert_eq!(
            err.kind(),
            ErrorKind::IntegrityError,
            "{}: {err}",
            backend.name
        );

        assert_eq!(count(&db, "t_sch_idx").await, 2, "{}", backend.name);
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_fk_child")]
struct FkChild {
    #[model(flatten)]
    base: SchemaBase,
    #[model(foreign_key = "t_sch_fk_parent.pkid", size = 36, index)]
    parent_id: String,
    #[model(size = 50)]
    label: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_fk_parent")]
struct FkParent {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[tokio::test]
async fn foreign_keys_are_created_in_dependency_order() {
    for backend in common::backends() {
        let db = backend.database(json!({}));
        // The child first: create_tables must still create the parent before it.
        db.register::<FkChild>();
        db.register::<FkParent>();
        assert_eq!(
            db.table_names(),
            ["t_sch_fk_child", "t_sch_fk_parent"],
            "{}",
            backend.name
        );
        reset(&db, &backend).await;
        assert!(
            table_exists(&db, &backend, "t_sch_fk_child").await,
            "{}",
            backend.name
        );
        assert!(
            table_exists(&db, &backend, "t_sch_fk_parent").await,
            "{}",
            backend.name
        );

        let parent = FkParent {
            base: SchemaBase::new(),
            name: "parent".into(),
        };
        insert_committed(&db, &parent).await.unwrap();
        let child = FkChild {
            base: SchemaBase::new(),
            parent_id: parent.base.pkid.clone(),
            label: "ok".into(),
        };
        insert_committed(&db, &child)
            .await
            .unwrap_or_else(|e| panic!("{}: a child of an existing parent: {e}", backend.name));

        let orphan = FkChild {
            base: SchemaBase::new(),
            parent_id: uuid::Uuid::new_v4().to_string(),
            label: "orphan".into(),
        };
        let err = insert_committed(&db, &orphan)
            .await
            .expect_err("a child of a missing parent is refused");
        assert_eq!(
            err.kind(),
            ErrorKind::IntegrityError,
            "{}: {err}",
            backend.name
        );
        assert_eq!(
            err.constraint(),
            Some(Constraint::ForeignKey),
            "{}: {err}",
            backend.name
        );

        // Deleting a parent that still has children is refused as well.
        let mut session = db.get_db_session().await.unwrap();
        let err = session
            .execute(
                &text("DELETE FROM t_sch_fk_parent WHERE pkid = :p")
                    .bind("p", parent.base.pkid.clone()),
            )
            .await
            .expect_err("the parent is referenced");
        assert_eq!(
            err.kind(),
            ErrorKind::IntegrityError,
            "{}: {err}",
            backend.name
        );
        drop(session);

        assert_eq!(count(&db, "t_sch_fk_child").await, 1, "{}", backend.name);
        // drop_tables drops the child before the parent.
        db.drop_tables()
            .await
            .unwrap_or_else(|e| panic!("{}: drop_tables with a foreign key: {e}", backend.name));
        assert!(
            !table_exists(&db, &backend, "t_sch_fk_parent").await,
            "{}",
            backend.name
        );
        assert!(
            !table_exists(&db, &backend, "t_sch_fk_child").await,
            "{}",
            backend.name
        );
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_srvdef")]
struct ServerDefaults {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50)]
    name: String,
}

#[tokio::test]
async fn schema_base_timestamps_have_server_defaults_on_every_backend() {
    for backend in common::backends() {
        let db = backend.database(json!({}));
        db.register::<ServerDefaults>();
        reset(&db, &backend).await;

        // Another client inserts without the timestamps.
        let pkid = uuid::Uuid::new_v4().to_string();
        let mut session = db.get_db_session().await.unwrap();
        session
            .execute(
                &text("INSERT INTO t_sch_srvdef (pkid, name) VALUES (:p, :n)")
                    .bind("p", pkid.clone())
                    .bind("n", "raw insert"),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: insert without timestamps: {e}", backend.name));
        session.commit().await.unwrap();

        let mut session = db.get_db_session().await.unwrap();
        let row: Option<ServerDefaults> = session
            .fetch_optional(
                ServerDefaults::select().and_where(ServerDefaults::col("pkid").eq(pkid.clone())),
            )
            .await
            .unwrap();
        session.commit().await.unwrap();
        let row = row.expect("the row is there");
        let now = Utc::now();
        for (name, stamp) in [
            ("date_created", row.base.date_created),
            ("date_updated", row.base.date_updated),
        ] {
            let off: chrono::Duration = now - stamp;
            assert!(
                off.num_seconds().abs() < 120,
                "{}: {name} = {stamp} is not UTC now ({now})",
                backend.name
            );
        }
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_comment")]
struct Commented {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 50, comment = "the color's name")]
    color: String,
    uncommented: Option<String>,
}

#[tokio::test]
async fn column_comments_on_postgres_and_mysql() {
    for backend in common::backends().into_iter().filter(|b| !b.is_sqlite()) {
        let db = backend.database(json!({}));
        db.register::<Commented>();
        reset(&db, &backend).await;
        let sql = match backend.name {
            "postgres" => {
                "SELECT col_description(c.oid, a.attnum) FROM pg_class c \
                 JOIN pg_attribute a ON a.attrelid = c.oid \
                 WHERE c.relname = :t AND a.attname = :c AND c.relnamespace = current_schema()::regnamespace"
            }
            _ => {
                "SELECT CAST(column_comment AS CHAR) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = :t AND column_name = :c"
            }
        };
        let mut session = db.get_db_session().await.unwrap();
        let mut comment = async |column: &str| -> Option<String> {
            let found: Option<Option<String>> = session
                .fetch_optional(
                    &text(sql)
                        .bind("t", "t_sch_comment")
                        .bind("c", column.to_string()),
                )
                .await
                .unwrap_or_else(|e| panic!("{}: comment of {column}: {e}", backend.name));
            found.expect("the column exists").filter(|c| !c.is_empty())
        };
        assert_eq!(
            comment("color").await.as_deref(),
            Some("the color's name"),
            "{}",
            backend.name
        );
        assert_eq!(
            comment("pkid").await.as_deref(),
            Some("Unique identifier for each record, a string representation of a UUID"),
            "{}",
            backend.name
        );
        assert!(
            comment("date_created")
                .await
                .is_some_and(|c| c.contains("inserted")),
            "{}",
            backend.name
        );
        assert_eq!(comment("uncommented").await, None, "{}", backend.name);
        session.commit().await.unwrap();
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_auto")]
struct AutoRow {
    #[model(primary_key, auto_increment)]
    id: i64,
    #[model(size = 50)]
    name: String,
    #[model(default = "'red'", size = 20)]
    color: String,
}

#[tokio::test]
async fn auto_increment_ids_and_literal_defaults() {
    for backend in common::backends() {
        let db = backend.database(json!({}));
        db.register::<AutoRow>();
        reset(&db, &backend).await;
        let mut session = db.get_db_session().await.unwrap();
        for name in ["first", "second", "third"] {
            session
                .execute(&text("INSERT INTO t_sch_auto (name) VALUES (:n)").bind("n", name))
                .await
                .unwrap_or_else(|e| panic!("{}: insert without id: {e}", backend.name));
        }
        session
            .execute(
                &text("INSERT INTO t_sch_auto (name, color) VALUES (:n, :c)")
                    .bind("n", "fourth")
                    .bind("c", "blue"),
            )
            .await
            .unwrap();
        session.commit().await.unwrap();

        let mut session = db.get_db_session().await.unwrap();
        let mut select = AutoRow::select();
        select.order_by("id", Order::Asc);
        let rows: Vec<AutoRow> = session.fetch_all(&select).await.unwrap();
        session.commit().await.unwrap();
        let got: Vec<(i64, &str, &str)> = rows
            .iter()
            .map(|r| (r.id, r.name.as_str(), r.color.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "first", "red"),
                (2, "second", "red"),
                (3, "third", "red"),
                (4, "fourth", "blue")
            ],
            "{}",
            backend.name
        );
        assert_eq!(AutoRow::primary_keys(), ["id"]);
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_memory")]
struct MemoryRow {
    #[model(flatten)]
    base: SchemaBase,
    n: i64,
}

#[tokio::test]
async fn in_memory_sqlite_survives_its_pooled_connections() {
    let backend = common::backends()
        .into_iter()
        .find(Backend::is_sqlite)
        .unwrap();
    // Every pooled connection is replaced after a second: only the database itself remains.
    let db = backend.database(json!({ "pool_recycle": 1 }));
    db.register::<MemoryRow>();
    db.create_tables().await.unwrap();
    let mut session = db.get_db_session().await.unwrap();
    for n in 0..5 {
        let row = MemoryRow {
            base: SchemaBase::new(),
            n,
        };
        insert(&mut session, &row).await.unwrap();
    }
    session.commit().await.unwrap();

    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Two sessions at once, so on two connections: both see the same database.
    let mut first = db.get_db_session().await.unwrap();
    let mut second = db.get_db_session().await.unwrap();
    for session in [&mut first, &mut second] {
        let rows: Vec<MemoryRow> = session
            .fetch_all(&MemoryRow::select())
            .await
            .unwrap_or_else(|e| panic!("the in-memory database was lost: {e}"));
        let mut ns: Vec<i64> = rows.iter().map(|r| r.n).collect();
        ns.sort_unstable();
        assert_eq!(ns, [0, 1, 2, 3, 4]);
    }
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    assert_eq!(db.pool_status().0, 2, "two connections are open");

    // Another in-memory database does not share it.
    let other = backend.database(json!({}));
    let mut session = other.get_db_session().await.unwrap();
    let err = session
        .fetch_all::<MemoryRow>(&MemoryRow::select())
        .await
        .expect_err("a second in-memory database is a different one");
    assert_eq!(err.kind(), ErrorKind::DatabaseError, "{err}");
    drop(session);
    other.disconnect().await;
    db.disconnect().await;
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_sch_file")]
struct FileRow {
    #[model(flatten)]
    base: SchemaBase,
    task: i64,
    seq: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_sqlite_is_wal_and_takes_concurrent_writers() {
    let path =
        std::env::temp_dir().join(format!("dsg_schema_{}.db", uuid::Uuid::new_v4().simple()));
    let uri = format!("sqlite+aiosqlite:///{}", path.display());
    assert!(
        uri.starts_with("sqlite+aiosqlite:////"),
        "{uri}: an absolute path"
    );
    let db = AsyncDatabase::new(DBConfig::new(json!({ "database_uri": uri.clone() })).unwrap());
    db.register::<FileRow>();
    db.create_tables().await.unwrap();

    let mut session = db.get_db_session().await.unwrap();
    let mode: Option<String> = session
        .fetch_optional(&text("PRAGMA journal_mode"))
        .await
        .unwrap();
    session.commit().await.unwrap();
    assert_eq!(mode.map(|m| m.to_ascii_lowercase()).as_deref(), Some("wal"));

    let mut tasks = Vec::new();
    for task in 0..8i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut session = db.get_db_session().await?;
            for seq in 0..20i64 {
                let row = FileRow {
                    base: SchemaBase::new(),
                    task,
                    seq,
                };
                insert(&mut session, &row).await?;
            }
            session.commit().await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        task.await
            .unwrap()
            .unwrap_or_else(|e| panic!("writer {i} failed: {e}"));
    }
    assert_eq!(count(&db, "t_sch_file").await, 160);
    db.disconnect().await;

    // The data is in the file: a new pool on it sees every row.
    let again = AsyncDatabase::new(DBConfig::new(json!({ "database_uri": uri })).unwrap());
    let mut session = again.get_db_session().await.unwrap();
    let per_task: Vec<(i64, i64)> = session
        .fetch_all(&text(
            "SELECT task, count(*) FROM t_sch_file GROUP BY task ORDER BY task",
        ))
        .await
        .unwrap();
    session.commit().await.unwrap();
    assert_eq!(per_task, (0..8).map(|t| (t, 20)).collect::<Vec<_>>());
    again.disconnect().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[test]
fn timestamps_are_utc() {
    // SchemaBase stamps UTC now at microsecond precision.
    let base = SchemaBase::new();
    let now: DateTime<Utc> = Utc::now();
    assert!((now - base.date_created).num_seconds().abs() < 5);
    assert_eq!(base.date_created, base.date_updated);
    assert_eq!(base.date_created.timestamp_subsec_nanos() % 1000, 0);
    assert!(uuid::Uuid::parse_str(&base.pkid).is_ok());
    assert_ne!(SchemaBase::new().pkid, base.pkid);
}
