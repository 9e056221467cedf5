//! The lint's safer forms are real SQL (issue 25): each one the lint passes runs on its server
//! (PostgreSQL, MariaDB), and each unsafe form it flags is named with its rule.

mod common;

use dsg_lib::async_database_functions::migrations::{Migration, Migrations};
use dsg_lib::prelude::*;
use serde_json::json;

async fn reset(db: &AsyncDatabase) {
    let mut session = db.get_db_session().await.unwrap();
    session
        .execute_sql("DROP TABLE IF EXISTS mig_l_items")
        .await
        .unwrap();
    session
        .execute_sql("DROP TABLE IF EXISTS mig_l_users")
        .await
        .unwrap();
    session
        .execute_sql("DROP TABLE IF EXISTS mig_l_history")
        .await
        .unwrap();
    session.commit().await.unwrap();
}

#[tokio::test]
async fn the_safe_forms_pass_the_lint_and_run_and_the_unsafe_ones_are_flagged() {
    for b in common::servers() {
        let ctx = b.name;
        let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": b.uri})).unwrap());
        let dialect = db.config().dialect();
        reset(&db).await;
        let base = Migration::sql(
            1,
            "base",
            "CREATE TABLE mig_l_users (id INTEGER NOT NULL PRIMARY KEY);\n\
             CREATE TABLE mig_l_items (id INTEGER NOT NULL PRIMARY KEY, user_id INTEGER, \
             name VARCHAR(50), n INTEGER);\n\
             INSERT INTO mig_l_users (id) VALUES (1);\n\
             INSERT INTO mig_l_items (id, user_id, name, n) VALUES (1, 1, 'a', 1)",
            None,
        );
        let (safe, unsafe_forms): (Vec<&str>, Vec<(&str, &str)>) = if ctx == "postgres" {
            (
                vec![
                    "-- dsg:no-transaction\nCREATE INDEX CONCURRENTLY ix_mig_l_items_name ON mig_l_items (name)",
                    "ALTER TABLE mig_l_items ADD COLUMN created TIMESTAMP DEFAULT now()",
                    "ALTER TABLE mig_l_items ADD CONSTRAINT mig_l_n_nn CHECK (n IS NOT NULL) NOT VALID;\n\
                     ALTER TABLE mig_l_items VALIDATE CONSTRAINT mig_l_n_nn;\n\
                     ALTER TABLE mig_l_items ALTER COLUMN n SET NOT NULL",
                    "ALTER TABLE mig_l_items ALTER COLUMN name TYPE VARCHAR(200)",
                    "ALTER TABLE mig_l_items ADD CONSTRAINT fk_mig_l_items_user FOREIGN KEY (user_id) \
                     REFERENCES mig_l_users (id) NOT VALID;\n\
                     ALTER TABLE mig_l_items VALIDATE CONSTRAINT fk_mig_l_items_user",
                ],
                vec![
                    (
                        "CREATE INDEX ix_x ON mig_l_items (n)",
                        "index-not-concurrent",
                    ),
                    (
                        "ALTER TABLE mig_l_items ADD COLUMN u UUID DEFAULT gen_random_uuid()",
                        "volatile-default",
                    ),
                    (
                        "ALTER TABLE mig_l_items ALTER COLUMN n TYPE BIGINT",
                        "type-change",
                    ),
                    (
                        "ALTER TABLE mig_l_users ADD COLUMN x INTEGER; ALTER TABLE mig_l_users ALTER COLUMN x SET NOT NULL",
                        "set-not-null",
                    ),
                    (
                        "ALTER TABLE mig_l_items ADD CONSTRAINT fk_y FOREIGN KEY (n) REFERENCES mig_l_users (id)",
                        "foreign-key-not-valid",
                    ),
                ],
            )
        } else {
            (
                vec![
                    "CREATE INDEX ix_mig_l_items_name ON mig_l_items (name) ALGORITHM=INPLACE LOCK=NONE",
                    "ALTER TABLE mig_l_items ADD COLUMN note VARCHAR(20), ALGORITHM=INSTANT",
                    "ALTER TABLE mig_l_items ADD INDEX ix_mig_l_items_n (n), ALGORITHM=INPLACE, LOCK=NONE",
                ],
                vec![
                    (
                        "ALTER TABLE mig_l_items MODIFY COLUMN name VARCHAR(200)",
                        "algorithm",
                    ),
                    ("CREATE INDEX ix_x ON mig_l_items (n)", "algorithm"),
                ],
            )
        };
        let mut list = vec![base];
        for (i, sql) in safe.iter().enumerate() {
            list.push(Migration::sql(
                i as i64 + 2,
                format!("safe{}", i + 2),
                *sql,
                None,
            ));
        }
        let set = Migrations::new(list).unwrap();
        let findings = set.lint(dialect, None).unwrap();
        assert!(
            findings.is_empty(),
            "[{ctx}] the safe forms pass: {findings:#?}"
        );
        let report = db
            .migrator(&set)
            .history_table("mig_l_history")
            .unwrap()
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("[{ctx}] the safe forms run: {e}"));
        assert_eq!(report.applied.len(), safe.len() + 1);
        for (sql, rule) in unsafe_forms {
            let set = Migrations::new(vec![
                Migration::sql(1, "x", "SELECT 1", None),
                Migration::sql(2, "unsafe", sql, None),
            ])
            .unwrap();
            let findings = set.lint(dialect, None).unwrap();
            assert!(
                findings
                    .iter()
                    .any(|f| f.rule == rule && f.version == 2 && !f.safer.is_empty()),
                "[{ctx}] {sql} is flagged {rule}: {findings:#?}"
            );
        }
        reset(&db).await;
        db.disconnect().await;
    }
}
