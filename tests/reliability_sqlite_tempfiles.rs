//! In-memory SQLite is a temporary file (issue 28, item 4): it is removed when its database is
//! disconnected or dropped, and on Linux the files left by processes that are gone (killed,
//! or ended without dropping their database) are removed by the next process that makes one.
//! Its own binary: that clean-up runs once per process, at the first in-memory database.

use std::path::{Path, PathBuf};

use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::statement::text;
use serde_json::json;

const PREFIX: &str = "dsg-lib-memory-";

fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_str()?.to_string();
    Some(text.strip_prefix("pid:[")?.strip_suffix(']')?.to_string())
}

/// The temporary database files of this process.
fn ours() -> Vec<PathBuf> {
    let me = format!("-{}-", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(PREFIX) && n.contains(&me))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn touch(path: &Path) {
    std::fs::write(path, b"").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

async fn use_memory_database() -> AsyncDatabase {
    let db = AsyncDatabase::new(
        DBConfig::new(json!({"database_uri": "sqlite::memory:"})).unwrap_or_else(|e| panic!("{e}")),
    );
    DatabaseOperations::new(db.clone())
        .execute_one(&text("CREATE TABLE t (x INTEGER)"))
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    db
}

#[tokio::test]
async fn temporary_files_are_removed_with_their_database_and_after_their_process() {
    let Some(ns) = pid_namespace() else {
        return; // not Linux: only the removal with the database applies (below)
    };
    // A process id that no longer runs: a child that has exited.
    let mut child = std::process::Command::new("true")
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let dead = child.id();
    child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    let dir = std::env::temp_dir();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let orphan = dir.join(format!("{PREFIX}{ns}-{dead}-0-{tag}.db"));
    let orphan_wal = dir.join(format!("{PREFIX}{ns}-{dead}-0-{tag}.db-wal"));
    // pid 1 runs in every namespace: its file stays.
    let alive = dir.join(format!("{PREFIX}{ns}-1-0-{tag}.db"));
    // Another pid namespace (another container sharing the dir): never touched.
    let elsewhere = dir.join(format!("{PREFIX}1{ns}-{dead}-0-{tag}.db"));
    for path in [&orphan, &orphan_wal, &alive, &elsewhere] {
        touch(path);
    }

    let db = use_memory_database().await;
    let kept = [
        (!orphan.exists(), "the orphan's file is removed"),
        (!orphan_wal.exists(), "the orphan's -wal is removed"),
        (alive.exists(), "a running process's file stays"),
        (elsewhere.exists(), "another pid namespace's file stays"),
    ];
    for path in [&alive, &elsewhere, &orphan, &orphan_wal] {
        let _ = std::fs::remove_file(path);
    }
    for (ok, what) in kept {
        assert!(ok, "{what}");
    }

    assert!(!ours().is_empty(), "the in-memory database has no file");
    db.disconnect().await;
    assert!(
        ours().is_empty(),
        "files left after disconnect: {:?}",
        ours()
    );
    let db = use_memory_database().await;
    assert!(!ours().is_empty(), "the in-memory database has no file");
    drop(db);
    assert!(ours().is_empty(), "files left after drop: {:?}", ours());
}
