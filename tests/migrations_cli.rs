//! The migration command line (issue 25): the shipped `dsg-migrate` binary run as a user runs
//! it (its exit codes, its output, the lint refusing an unsafe `up` until `--allow-unsafe`),
//! and `cli::run` with registered models for `generate`. File SQLite, PostgreSQL, MariaDB.

mod common;

use std::process::Command;

use dsg_lib::async_database_functions::migrations::cli;
use dsg_lib::prelude::*;
use serde_json::json;

fn dsg_migrate(url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dsg-migrate"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("DSG_DB_ECHO")
        .output()
        .expect("run dsg-migrate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn urls() -> Vec<(String, String, Option<std::path::PathBuf>)> {
    let file = std::env::temp_dir().join(format!("dsg-mig-k-{}.db", uuid::Uuid::new_v4().simple()));
    let mut urls = vec![(
        "sqlite-file".to_string(),
        format!("sqlite:///{}", file.display()),
        Some(file),
    )];
    urls.extend(
        common::servers()
            .into_iter()
            .map(|b| (b.name.to_string(), b.uri, None)),
    );
    urls
}

#[tokio::test]
async fn the_binary_applies_reports_lints_and_rolls_back() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/migrations/cli");
    for (ctx, url, file) in urls() {
        let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": url})).unwrap());
        let mut session = db.get_db_session().await.unwrap();
        session
            .execute_sql("DROP TABLE IF EXISTS mig_k_items")
            .await
            .unwrap();
        session
            .execute_sql("DROP TABLE IF EXISTS mig_k_history")
            .await
            .unwrap();
        session.commit().await.unwrap();
        let base = ["--dir", dir, "--history-table", "mig_k_history"];
        let with = |more: &[&'static str]| -> Vec<&str> {
            base.iter().copied().chain(more.iter().copied()).collect()
        };

        let (code, out) = dsg_migrate(&url, &with(&["status"]));
        assert_eq!(code, 0, "[{ctx}] {out}");
        assert_eq!(out.matches("pending").count(), 2, "[{ctx}] {out}");

        let unsafe_here = !ctx.starts_with("sqlite");
        let (code, out) = dsg_migrate(&url, &with(&["lint"]));
        if unsafe_here {
            assert_eq!(code, 1, "[{ctx}] {out}");
            assert!(
                out.contains("0002_mig_k_index.up.sql statement 1"),
                "[{ctx}] {out}"
            );
            let rule = if ctx == "postgres" {
                "index-not-concurrent"
            } else {
                "algorithm"
            };
            assert!(out.contains(rule), "[{ctx}] {out}");
            let (code, out) = dsg_migrate(&url, &with(&["up"]));
            assert_eq!(code, 1, "[{ctx}] {out}");
            assert!(out.contains("nothing applied"), "[{ctx}] {out}");
            let (_, status) = dsg_migrate(&url, &with(&["status"]));
            assert_eq!(status.matches("pending").count(), 2, "[{ctx}] {status}");
        } else {
            assert_eq!(code, 0, "[{ctx}] SQLite has no lint rule: {out}");
        }
        let (code, out) = dsg_migrate(&url, &with(&["up", "--allow-unsafe"]));
        assert_eq!(code, 0, "[{ctx}] {out}");
        assert!(
            out.contains("applied 1") && out.contains("applied 2"),
            "[{ctx}] {out}"
        );
        let (code, out) = dsg_migrate(&url, &with(&["status"]));
        assert_eq!(
            (code, out.matches("applied at").count()),
            (0, 2),
            "[{ctx}] {out}"
        );

        // Migration 2 has no down part: `down` says so and changes nothing.
        let (code, out) = dsg_migrate(&url, &with(&["down"]));
        assert_eq!(code, 1, "[{ctx}] {out}");
        assert!(out.contains("has no down part"), "[{ctx}] {out}");

        // Wrong usage, a missing folder, and the shipped binary's generate.
        assert_eq!(dsg_migrate(&url, &with(&["frobnicate"])).0, 2);
        let (code, out) = dsg_migrate(&url, &["--dir", "/nonexistent/m", "status"]);
        assert!(code == 1 && out.contains("/nonexistent/m"), "[{ctx}] {out}");
        let (code, out) = dsg_migrate(&url, &with(&["generate", "x"]));
        assert!(code == 2 && out.contains("registers none"), "[{ctx}] {out}");

        let mut session = db.get_db_session().await.unwrap();
        session
            .execute_sql("DROP TABLE IF EXISTS mig_k_items")
            .await
            .unwrap();
        session
            .execute_sql("DROP TABLE IF EXISTS mig_k_history")
            .await
            .unwrap();
        session.commit().await.unwrap();
        db.disconnect().await;
        if let Some(file) = file {
            let _ = std::fs::remove_file(file);
        }
    }
    let (code, out) = dsg_migrate("", &["status"]);
    assert_eq!(code, 2, "no DATABASE_URL: {out}");
}

#[derive(Model, Debug, Clone)]
#[model(table = "mig_k_notes")]
struct Note {
    #[model(primary_key)]
    id: i64,
    #[model(size = 60, index)]
    title: String,
}

#[tokio::test]
async fn a_programs_own_command_generates_then_applies() {
    for (ctx, url, file) in urls() {
        let db = AsyncDatabase::new(DBConfig::new(json!({"database_uri": url})).unwrap());
        db.register::<Note>();
        db.drop_tables().await.unwrap();
        let dir =
            std::env::temp_dir().join(format!("dsg-mig-k-dir-{}", uuid::Uuid::new_v4().simple()));
        let d = dir.display().to_string();
        let args = |more: &[&str]| -> Vec<String> {
            [
                "--dir",
                d.as_str(),
                "--history-table",
                "mig_k_notes_history",
            ]
            .iter()
            .chain(more.iter())
            .map(|s| s.to_string())
            .collect()
        };
        assert_eq!(
            cli::run(&db, args(&["generate", "notes"])).await,
            0,
            "[{ctx}]"
        );
        assert!(dir.join("0001_notes.up.sql").exists(), "[{ctx}]");
        assert_eq!(
            cli::run(&db, args(&["up", "--allow-unsafe"])).await,
            0,
            "[{ctx}]"
        );
        assert_eq!(
            cli::run(&db, args(&["generate", "again"])).await,
            0,
            "[{ctx}]"
        );
        assert!(
            !dir.join("0002_again.up.sql").exists(),
            "[{ctx}] nothing to generate"
        );
        assert_eq!(cli::run(&db, args(&["down"])).await, 0, "[{ctx}]");
        assert_eq!(
            cli::run(&db, args(&["generate"])).await,
            2,
            "[{ctx}] a name is needed"
        );
        let mut session = db.get_db_session().await.unwrap();
        session
            .execute_sql("DROP TABLE IF EXISTS mig_k_notes_history")
            .await
            .unwrap();
        session.commit().await.unwrap();
        db.disconnect().await;
        let _ = std::fs::remove_dir_all(&dir);
        if let Some(file) = file {
            let _ = std::fs::remove_file(file);
        }
    }
}
