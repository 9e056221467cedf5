//! Versioned migrations (issue 25) on every backend: in-memory and file SQLite, PostgreSQL and
//! MariaDB when their URLs are set. Each test uses tables and a history table of its own
//! (`mig_<test>_…`), so the tests run side by side.

mod common;

use dsg_lib::async_database_functions::migrations::{
    Migration, MigrationFuture, MigrationState, Migrations,
};
use dsg_lib::async_database_functions::session::Session;
use dsg_lib::prelude::*;
use serde_json::json;

/// A backend and what to call it in messages; file SQLite is added to the common ones.
struct Bed {
    name: String,
    uri: String,
    file: Option<std::path::PathBuf>,
}

impl Bed {
    fn database(&self) -> AsyncDatabase {
        let config = DBConfig::new(json!({"database_uri": self.uri}))
            .unwrap_or_else(|e| panic!("[{}] config: {e}", self.name));
        AsyncDatabase::new(config)
    }

    fn is_mysql(&self) -> bool {
        self.name == "mysql"
    }

    fn transactional(&self) -> bool {
        !self.is_mysql()
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}

/// Every backend of this run: in-memory SQLite, file SQLite, and the configured servers.
fn beds() -> Vec<Bed> {
    let mut beds = Vec::new();
    for b in common::backends() {
        if b.is_sqlite() {
            beds.push(Bed {
                name: "sqlite-memory".into(),
                uri: "sqlite:///:memory:".into(),
                file: None,
            });
            let file =
                std::env::temp_dir().join(format!("dsg-mig-{}.db", uuid::Uuid::new_v4().simple()));
            beds.push(Bed {
                name: "sqlite-file".into(),
                uri: format!("sqlite:///{}", file.display()),
                file: Some(file),
            });
        } else {
            beds.push(Bed {
                name: b.name.into(),
                uri: b.uri.clone(),
                file: None,
            });
        }
    }
    beds
}

/// Drops `tables` (leftovers of an earlier run on a server).
async fn drop_tables(db: &AsyncDatabase, tables: &[&str]) {
    let mut session = db.get_db_session().await.expect("session");
    for table in tables {
        session
            .execute_sql(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .unwrap_or_else(|e| panic!("drop {table}: {e}"));
    }
    session.commit().await.expect("commit");
}

async fn count(db: &AsyncDatabase, sql: &str) -> i64 {
    let n: Vec<i64> = DatabaseOperations::new(db.clone())
        .read_query(&text(sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n[0]
}

/// Whether `table` exists: a query on it succeeds.
async fn table_exists(db: &AsyncDatabase, table: &str) -> bool {
    DatabaseOperations::new(db.clone())
        .read_query::<i64>(&text(format!("SELECT COUNT(*) FROM {table}")))
        .await
        .is_ok()
}

#[tokio::test]
async fn a_folder_applies_in_order_rolls_back_and_migrates_to_a_version() {
    let embedded = dsg_lib::embed_migrations!("tests/migrations/basic").expect("embedded");
    let read = Migrations::from_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/migrations/basic"
    ))
    .expect("read at run time");
    assert_eq!(embedded.len(), 3);
    let sums = |m: &Migrations| {
        m.iter()
            .map(|m| m.checksum().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sums(&embedded),
        sums(&read),
        "embedded and read folders agree"
    );
    assert_eq!(
        embedded.get(1).unwrap().origin(),
        "tests/migrations/basic/0001_mig_b_users.up.sql"
    );

    for bed in beds() {
        let ctx = bed.name.as_str();
        let db = bed.database();
        drop_tables(&db, &["mig_b_users", "mig_b_history"]).await;
        let migrator = db
            .migrator(&embedded)
            .history_table("mig_b_history")
            .expect("table name");

        let status = migrator.status().await.expect("status before");
        assert!(
            status.iter().all(|s| s.state == MigrationState::Pending),
            "[{ctx}] {status:?}"
        );
        assert!(
            !table_exists(&db, "mig_b_history").await,
            "[{ctx}] status creates nothing"
        );

        let report = migrator
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] migrate: {e}"));
        assert_eq!(report.applied, [1, 2, 3], "[{ctx}]");
        let rows: Vec<(i64, String, Option<String>)> = DatabaseOperations::new(db.clone())
            .read_query(&text("SELECT id, name, email FROM mig_b_users ORDER BY id"))
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] read: {e}"));
        assert_eq!(
            rows,
            [
                (1, "Mike".to_string(), Some("mike@example.com".to_string())),
                (2, "it's; Sara".to_string(), None)
            ],
            "[{ctx}]"
        );
        let again = migrator
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] again: {e}"));
        assert!(
            again.applied.is_empty(),
            "[{ctx}] nothing pending: {again:?}"
        );

        let status = migrator.status().await.expect("status");
        assert_eq!(status.len(), 3);
        for s in &status {
            assert_eq!(s.state, MigrationState::Applied, "[{ctx}] {s:?}");
            let row = s.applied.as_ref().expect("history row");
            assert!(
                row.success && row.statements_run == row.statements_total,
                "[{ctx}] {row:?}"
            );
            assert_eq!(row.checksum, embedded.get(s.version).unwrap().checksum());
            assert!(row.applied_at.ends_with('Z'), "[{ctx}] {row:?}");
        }
        assert_eq!(status[1].applied.as_ref().unwrap().statements_total, 2);

        // Down parts: the newest first; data in the kept columns survives.
        let back = migrator
            .rollback(1)
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] rollback: {e}"));
        assert_eq!(back.reverted, [3], "[{ctx}]");
        assert!(
            DatabaseOperations::new(db.clone())
                .read_query::<Record>(&text("SELECT email FROM mig_b_users"))
                .await
                .is_err(),
            "[{ctx}] the column is gone"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM mig_b_users").await,
            2,
            "[{ctx}]"
        );
        let to1 = migrator
            .migrate_to(1)
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] to 1: {e}"));
        assert_eq!(to1.reverted, [2], "[{ctx}]");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM mig_b_users").await,
            0,
            "[{ctx}]"
        );
        let to3 = migrator
            .migrate_to(3)
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] to 3: {e}"));
        assert_eq!(to3.applied, [2, 3], "[{ctx}]");
        let unknown = migrator.migrate_to(7).await.unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::InvalidInput, "[{ctx}] {unknown}");
        let to0 = migrator
            .migrate_to(0)
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] to 0: {e}"));
        assert_eq!(to0.reverted, [3, 2, 1], "[{ctx}]");
        assert!(!table_exists(&db, "mig_b_users").await, "[{ctx}]");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM mig_b_history").await,
            0,
            "[{ctx}]"
        );
        drop_tables(&db, &["mig_b_history"]).await;
        db.disconnect().await;
        eprintln!("[{ctx}] folder applied, rolled back, migrated to versions");
    }
}

fn breaking_set(third: &str) -> Migrations {
    Migrations::new(vec![
        Migration::sql(
            1,
            "base",
            "CREATE TABLE mig_f_base (id INTEGER PRIMARY KEY)",
            None,
        ),
        Migration::sql(
            2,
            "breaks",
            format!(
                "CREATE TABLE mig_f_part (id INTEGER PRIMARY KEY);\n\
                 INSERT INTO mig_f_part (id) VALUES (1);\n\
                 {third};\n\
                 INSERT INTO mig_f_part (id) VALUES (3);"
            ),
            None,
        ),
    ])
    .expect("set")
}

#[tokio::test]
async fn a_migration_failing_in_its_third_statement_is_named_and_leaves_no_silent_half_state() {
    for bed in beds() {
        let ctx = bed.name.as_str();
        let db = bed.database();
        drop_tables(&db, &["mig_f_base", "mig_f_part", "mig_f_history"]).await;
        let broken = breaking_set("INSERT INTO mig_f_missing (id) VALUES (2)");
        let migrator = db.migrator(&broken).history_table("mig_f_history").unwrap();
        let err = migrator.migrate().await.unwrap_err();
        let details = err.details();
        assert_ne!(
            err.kind(),
            ErrorKind::InvalidInput,
            "[{ctx}] the database's own error: {err}"
        );
        assert!(
            details.contains("migration 2 (breaks)"),
            "[{ctx}] {details}"
        );
        assert!(details.contains("statement 3 of 4"), "[{ctx}] {details}");
        assert!(
            details.contains("INSERT INTO mig_f_missing"),
            "[{ctx}] {details}"
        );
        assert!(details.contains("mig_f_missing"), "[{ctx}] {details}");
        // Migration 1 stays applied on every backend.
        assert!(table_exists(&db, "mig_f_base").await, "[{ctx}]");
        let status = migrator.status().await.unwrap();
        assert_eq!(status[0].state, MigrationState::Applied, "[{ctx}]");
        if bed.transactional() {
            assert!(details.contains("nothing of it stays"), "[{ctx}] {details}");
            assert!(
                !table_exists(&db, "mig_f_part").await,
                "[{ctx}] nothing of 2 stays"
            );
            assert_eq!(
                status[1].state,
                MigrationState::Pending,
                "[{ctx}] {status:?}"
            );
            assert_eq!(count(&db, "SELECT COUNT(*) FROM mig_f_history").await, 1);
        } else {
            assert!(
                details.contains("statements 1 to 2 ran"),
                "[{ctx}] {details}"
            );
            assert!(
                details.contains("resume at statement 3"),
                "[{ctx}] {details}"
            );
            assert_eq!(
                status[1].state,
                MigrationState::Failed,
                "[{ctx}] {status:?}"
            );
            let row = status[1].applied.as_ref().unwrap();
            assert_eq!(
                (row.success, row.statements_run, row.statements_total),
                (false, 2, 4)
            );
            assert_eq!(
                count(&db, "SELECT COUNT(*) FROM mig_f_part").await,
                1,
                "[{ctx}]"
            );
            // Changing a statement that already ran is refused.
            let rewritten = Migrations::new(vec![
                Migration::sql(
                    1,
                    "base",
                    "CREATE TABLE mig_f_base (id INTEGER PRIMARY KEY)",
                    None,
                ),
                Migration::sql(
                    2,
                    "breaks",
                    "CREATE TABLE mig_f_part (id BIGINT PRIMARY KEY)",
                    None,
                ),
            ])
            .unwrap();
            let refused = db
                .migrator(&rewritten)
                .history_table("mig_f_history")
                .unwrap()
                .migrate()
                .await
                .unwrap_err();
            assert!(
                refused.details().contains("changed since"),
                "[{ctx}] {refused}"
            );
            // Rolling back is refused while a migration is half done.
            let half = migrator.rollback(1).await.unwrap_err();
            assert!(half.details().contains("failed halfway"), "[{ctx}] {half}");
        }
        // The fixed migration: SQLite and PostgreSQL run it whole, MariaDB resumes at 3.
        let fixed = breaking_set("INSERT INTO mig_f_part (id) VALUES (2)");
        let report = db
            .migrator(&fixed)
            .history_table("mig_f_history")
            .unwrap()
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] fixed: {e}"));
        assert_eq!(report.applied, [2], "[{ctx}]");
        let ids: Vec<i64> = DatabaseOperations::new(db.clone())
            .read_query(&text("SELECT id FROM mig_f_part ORDER BY id"))
            .await
            .unwrap();
        assert_eq!(ids, [1, 2, 3], "[{ctx}] every statement ran once");
        let status = db
            .migrator(&fixed)
            .history_table("mig_f_history")
            .unwrap()
            .status()
            .await
            .unwrap();
        assert!(
            status.iter().all(|s| s.state == MigrationState::Applied),
            "[{ctx}] {status:?}"
        );
        drop_tables(&db, &["mig_f_base", "mig_f_part", "mig_f_history"]).await;
        db.disconnect().await;
    }
}

#[tokio::test]
async fn a_changed_applied_migration_and_an_unknown_version_are_refused_before_anything_runs() {
    for bed in beds() {
        let ctx = bed.name.as_str();
        let db = bed.database();
        drop_tables(&db, &["mig_c_a", "mig_c_b", "mig_c_c", "mig_c_history"]).await;
        let v1 = Migration::sql(1, "a", "CREATE TABLE mig_c_a (id INTEGER)", None);
        let v2 = Migration::sql(2, "b", "CREATE TABLE mig_c_b (id INTEGER)", None);
        let set = Migrations::new(vec![v1.clone(), v2.clone()]).unwrap();
        db.migrator(&set)
            .history_table("mig_c_history")
            .unwrap()
            .migrate()
            .await
            .unwrap();

        let changed = Migrations::new(vec![
            v1.clone(),
            Migration::sql(2, "b", "CREATE TABLE mig_c_b (id BIGINT)", None),
            Migration::sql(3, "c", "CREATE TABLE mig_c_c (id INTEGER)", None),
        ])
        .unwrap();
        let migrator = db
            .migrator(&changed)
            .history_table("mig_c_history")
            .unwrap();
        let err = migrator.migrate().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "[{ctx}] {err}");
        assert!(err.details().contains("migration 2 (b)"), "[{ctx}] {err}");
        assert!(
            err.details().contains("changed after it was applied"),
            "[{ctx}] {err}"
        );
        assert!(!table_exists(&db, "mig_c_c").await, "[{ctx}] 3 did not run");
        let status = migrator.status().await.unwrap();
        assert_eq!(status[1].state, MigrationState::Changed, "[{ctx}]");

        // An older release, which knows only version 1, meets version 2 in the history.
        let older = Migrations::new(vec![v1]).unwrap();
        let migrator = db.migrator(&older).history_table("mig_c_history").unwrap();
        let err = migrator.migrate().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "[{ctx}] {err}");
        assert!(err.details().contains("migration 2 (b)"), "[{ctx}] {err}");
        assert!(err.details().contains("newer release"), "[{ctx}] {err}");
        let status = migrator.status().await.unwrap();
        assert_eq!(
            status[1].state,
            MigrationState::Unknown,
            "[{ctx}] {status:?}"
        );
        assert!(migrator.rollback(1).await.is_err(), "[{ctx}]");

        drop_tables(&db, &["mig_c_a", "mig_c_b", "mig_c_c", "mig_c_history"]).await;
        db.disconnect().await;
    }
}

#[tokio::test]
async fn bad_sql_out_of_order_versions_and_missing_down_parts_stop_before_anything_runs() {
    for bed in beds() {
        let ctx = bed.name.as_str();
        let db = bed.database();
        drop_tables(&db, &["mig_o_a", "mig_o_b", "mig_o_c", "mig_o_history"]).await;
        let a = Migration::sql(
            20260101000000,
            "a",
            "CREATE TABLE mig_o_a (id INTEGER)",
            None,
        );
        let c = Migration::sql(
            20260301000000,
            "c",
            "CREATE TABLE mig_o_c (id INTEGER)",
            None,
        );
        let unterminated = Migrations::from_files(
            "m",
            &[
                ("20260101000000_a.sql", "CREATE TABLE mig_o_a (id INTEGER)"),
                (
                    "20260301000000_c.sql",
                    "INSERT INTO x VALUES ('never closed);",
                ),
            ],
        )
        .unwrap();
        let err = db
            .migrator(&unterminated)
            .history_table("mig_o_history")
            .unwrap()
            .migrate()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "[{ctx}] {err}");
        assert!(
            err.details().contains("m/20260301000000_c.sql"),
            "[{ctx}] {err}"
        );
        assert!(err.details().contains("line 1"), "[{ctx}] {err}");
        assert!(!table_exists(&db, "mig_o_a").await, "[{ctx}] nothing ran");

        let set = Migrations::new(vec![a.clone(), c.clone()]).unwrap();
        let migrator = db.migrator(&set).history_table("mig_o_history").unwrap();
        migrator
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] {e}"));
        let b = Migration::sql(
            20260201000000,
            "b",
            "CREATE TABLE mig_o_b (id INTEGER)",
            None,
        );
        let late = Migrations::new(vec![a, b, c]).unwrap();
        let err = db
            .migrator(&late)
            .history_table("mig_o_history")
            .unwrap()
            .migrate()
            .await
            .unwrap_err();
        assert!(
            err.details().contains("20260201000000 (b)"),
            "[{ctx}] {err}"
        );
        assert!(err.details().contains("applied already"), "[{ctx}] {err}");
        assert!(!table_exists(&db, "mig_o_b").await, "[{ctx}]");

        let no_down = migrator.rollback(1).await.unwrap_err();
        assert!(
            no_down.details().contains("has no down part"),
            "[{ctx}] {no_down}"
        );
        assert!(
            table_exists(&db, "mig_o_c").await,
            "[{ctx}] nothing rolled back"
        );

        let bad_name = db
            .migrator(&set)
            .history_table("bad name; DROP")
            .unwrap_err();
        assert_eq!(bad_name.kind(), ErrorKind::InvalidInput);
        drop_tables(&db, &["mig_o_a", "mig_o_b", "mig_o_c", "mig_o_history"]).await;
        db.disconnect().await;
    }
}

fn backfill(session: &mut Session) -> MigrationFuture<'_> {
    Box::pin(async move {
        session
            .execute(text(
                "UPDATE mig_r_items SET label = 'item ' || CAST(id AS CHAR(10))",
            ))
            .await?;
        Ok(())
    })
}

fn backfill_mysql(session: &mut Session) -> MigrationFuture<'_> {
    Box::pin(async move {
        session
            .execute(text("UPDATE mig_r_items SET label = CONCAT('item ', id)"))
            .await?;
        Ok(())
    })
}

fn clear(session: &mut Session) -> MigrationFuture<'_> {
    Box::pin(async move {
        session
            .execute(text("UPDATE mig_r_items SET label = NULL"))
            .await?;
        Ok(())
    })
}

fn fails(session: &mut Session) -> MigrationFuture<'_> {
    Box::pin(async move {
        session
            .execute(text("UPDATE mig_r_items SET label = 'half'"))
            .await?;
        session
            .execute(text("UPDATE mig_r_nowhere SET x = 1"))
            .await?;
        Ok(())
    })
}

#[tokio::test]
async fn rust_migrations_change_data_in_a_transaction_and_roll_back() {
    for bed in beds() {
        let ctx = bed.name.as_str();
        let db = bed.database();
        drop_tables(&db, &["mig_r_items", "mig_r_history"]).await;
        let schema = Migration::sql(
            1,
            "items",
            "CREATE TABLE mig_r_items (id INTEGER PRIMARY KEY, label VARCHAR(50));\n\
             INSERT INTO mig_r_items (id) VALUES (1); INSERT INTO mig_r_items (id) VALUES (2);",
            Some("DROP TABLE mig_r_items".into()),
        );
        let step = if bed.is_mysql() {
            backfill_mysql
        } else {
            backfill
        };
        let set = Migrations::new(vec![schema.clone()])
            .unwrap()
            .with(Migration::rust(2, "labels", step).with_down(clear))
            .unwrap();
        let migrator = db.migrator(&set).history_table("mig_r_history").unwrap();
        assert_eq!(
            migrator
                .migrate()
                .await
                .unwrap_or_else(|e| panic!("[{ctx}] {e}"))
                .applied,
            [1, 2]
        );
        let labels: Vec<Option<String>> = DatabaseOperations::new(db.clone())
            .read_query(&text("SELECT label FROM mig_r_items ORDER BY id"))
            .await
            .unwrap();
        assert_eq!(
            labels,
            [Some("item 1".into()), Some("item 2".into())],
            "[{ctx}]"
        );
        assert_eq!(migrator.rollback(1).await.unwrap().reverted, [2]);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM mig_r_items WHERE label IS NULL").await,
            2
        );

        // A failing Rust migration leaves nothing of its data changes, on every backend.
        let failing = Migrations::new(vec![schema, Migration::rust(2, "fails", fails)]).unwrap();
        let err = db
            .migrator(&failing)
            .history_table("mig_r_history")
            .unwrap()
            .migrate()
            .await
            .unwrap_err();
        assert!(
            err.details().contains("Rust migration 2 (fails)"),
            "[{ctx}] {err}"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM mig_r_items WHERE label IS NULL").await,
            2,
            "[{ctx}]"
        );
        drop_tables(&db, &["mig_r_items", "mig_r_history"]).await;
        db.disconnect().await;
    }
}

#[tokio::test]
async fn sqlite_migrations_with_foreign_keys_off_are_checked_after_each_migration() {
    for bed in beds().into_iter().filter(|b| b.name.starts_with("sqlite")) {
        let ctx = bed.name.as_str();
        let db = bed.database();
        let parent = Migration::sql(
            1,
            "tables",
            "-- dsg:foreign-keys-off\n\
             CREATE TABLE mig_k2_users (id INTEGER PRIMARY KEY);\n\
             CREATE TABLE mig_k2_posts (id INTEGER PRIMARY KEY, \
             user_id INTEGER REFERENCES mig_k2_users (id));\n\
             INSERT INTO mig_k2_users (id) VALUES (1);",
            None,
        );
        let orphan = Migration::sql(
            2,
            "orphan",
            "INSERT INTO mig_k2_posts (id, user_id) VALUES (1, 1);\n\
             INSERT INTO mig_k2_posts (id, user_id) VALUES (2, 42);",
            None,
        );
        let set = Migrations::new(vec![parent, orphan]).unwrap();
        let err = db
            .migrator(&set)
            .history_table("mig_k2_history")
            .unwrap()
            .migrate()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IntegrityError, "[{ctx}] {err}");
        assert!(
            err.details().contains("migration 2 (orphan)"),
            "[{ctx}] {err}"
        );
        assert!(err.details().contains("mig_k2_posts"), "[{ctx}] {err}");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM mig_k2_posts").await,
            0,
            "[{ctx}] nothing of 2 stays"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM mig_k2_history").await,
            1,
            "[{ctx}]"
        );
        // Foreign keys are on again for the connections the run gave back.
        let refused = DatabaseOperations::new(db.clone())
            .execute_one(text(
                "INSERT INTO mig_k2_posts (id, user_id) VALUES (3, 42)",
            ))
            .await;
        assert!(refused.is_err(), "[{ctx}] enforcement is back on");
        db.disconnect().await;
    }
}
