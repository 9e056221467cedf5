//! Versioned schema migrations: a `migrations/` folder of ordered SQL files (and Rust
//! migrations for data changes), a history table with checksums, a cross-process lock, and
//! [`Migrator`]'s `migrate`, `migrate_to`, `rollback` and `status`.
//!
//! ```
//! use dsg_lib::prelude::*;
//! use dsg_lib::async_database_functions::migrations::Migrations;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // The folder, read at run time (or embedded: `dsg_lib::embed_migrations!("migrations")`).
//! let dir = std::env::temp_dir().join(format!("dsg-doc-migrations-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("0001_users.up.sql"), "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);")?;
//! std::fs::write(dir.join("0001_users.down.sql"), "DROP TABLE users;")?;
//! std::fs::write(dir.join("0002_seed.up.sql"), "INSERT INTO users (name) VALUES ('Mike'); INSERT INTO users (name) VALUES ('Sara');")?;
//! std::fs::write(dir.join("0002_seed.down.sql"), "DELETE FROM users;")?;
//! let migrations = Migrations::from_dir(&dir)?;
//!
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! let report = db.migrate(&migrations).await?;
//! assert_eq!(report.applied, [1, 2]);
//! let names: Vec<String> = DatabaseOperations::new(db.clone())
//!     .read_query(&text("SELECT name FROM users ORDER BY name")).await?;
//! assert_eq!(names, ["Mike", "Sara"]);
//!
//! assert_eq!(db.migrator(&migrations).rollback(1).await?.reverted, [2]);
//! db.disconnect().await;
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What each backend guarantees
//!
//! | | SQLite | PostgreSQL | MySQL / MariaDB |
//! |---|---|---|---|
//! | lock | the write lock (`BEGIN IMMEDIATE`) | `pg_advisory_xact_lock`, in a transaction of its own | `GET_LOCK`; on Galera also a row of `<history>_lock` |
//! | a failing migration | rolled back whole (a savepoint) | rolled back whole (a savepoint) | its statements before the failing one stay committed; the history says how many, the next run resumes after them |
//! | `-- dsg:no-transaction` | ignored (runs in the transaction) | runs outside any transaction (`CREATE INDEX CONCURRENTLY`) | (nothing runs in a transaction anyway) |
//!
//! The run's migrations before a failing one stay applied on every backend.
//!
//! # The history table
//!
//! `dsg_migrations` (another name with [`Migrator::history_table`]): `version`, `name`,
//! `checksum` (SHA-256 of the up part, see [`Migration::checksum`]), `applied_at` (RFC 3339,
//! UTC), `execution_ms`, `success`, `statements_total`, `statements_run`. An applied
//! migration whose file changed is refused, and so is a version in the history the program does
//! not know (applied by a newer release): the run stops before doing anything.

pub mod cli;
pub mod generate;
mod history;
mod introspect;
pub mod lint;
mod lock;
mod migrator;
pub mod source;
mod split;

pub use generate::{GenerateOptions, GeneratedMigration};
pub use history::{AppliedMigration, DEFAULT_TABLE};
pub use lint::{ALLOW_UNSAFE, LintFinding};
pub use migrator::{
    FOREIGN_KEYS_OFF, MigrationReport, MigrationState, MigrationStatus, Migrator, NO_TRANSACTION,
};
pub use source::{COUNTER_LIMIT, Migration, MigrationFuture, Migrations, RustStep};
