//! The migration command line: `up`, `down`, `status`, `generate`, `lint`, over a migrations
//! folder read at run time.
//!
//! The shipped binary `dsg-migrate` runs it on the database of `DATABASE_URL` / `DSG_DB_*`
//! ([`DBConfig::from_env`](crate::async_database_functions::database_config::DBConfig::from_env)).
//! It knows no models, so its `generate` has nothing to compare: generating needs the
//! program's own models, registered before [`run`] is called from a small binary of the
//! program (`src/bin/migrate.rs`):
//!
//! ```no_run
//! use dsg_lib::prelude::*;
//! use dsg_lib::async_database_functions::migrations::cli;
//! # #[derive(Model, Debug, Clone)] #[model(table = "users")] struct User { #[model(primary_key)] id: i64 }
//!
//! #[tokio::main]
//! async fn main() {
//!     let db = AsyncDatabase::new(DBConfig::from_env().expect("DATABASE_URL"));
//!     db.register::<User>(); // every model, as the service registers them
//!     let code = cli::run(&db, std::env::args().skip(1)).await;
//!     db.disconnect().await;
//!     std::process::exit(code);
//! }
//! ```
//!
//! ```text
//! dsg-migrate [--dir migrations] [--history-table dsg_migrations] COMMAND
//!   up [--to VERSION] [--allow-unsafe]   apply what is pending (refused when the lint flags it)
//!   down [N]                             roll back the N latest (1)
//!   status                               each migration and where it stands
//!   generate NAME [--rename TABLE.OLD=NEW]... [--drop-unknown-tables]
//!                                        write the migration from the models to the database
//!   lint [--all]                         the lint on the pending migrations (all of them)
//! ```
//!
//! Exit codes: 0 done, 1 failed (or the lint flagged something), 2 wrong usage.

use std::path::PathBuf;

use crate::async_database_functions::async_database::AsyncDatabase;
use crate::async_database_functions::error::DatabaseError;

use super::generate::GenerateOptions;
use super::history::DEFAULT_TABLE;
use super::migrator::MigrationState;
use super::source::Migrations;

/// The usage text.
pub const USAGE: &str = "usage: dsg-migrate [--dir DIR] [--history-table NAME] COMMAND
  up [--to VERSION] [--allow-unsafe]   apply the pending migrations (refused when the lint flags them)
  down [N]                             roll back the N latest migrations (default 1)
  status                               each migration and where it stands
  generate NAME [--rename TABLE.OLD=NEW]... [--drop-unknown-tables]
                                       write <version>_NAME.up.sql/.down.sql from the registered models
  lint [--all]                         lint the pending migrations (--all: every one)
The database is DATABASE_URL (and DSG_DB_* settings); DIR defaults to ./migrations.";

/// Runs the command line `args` (without the program's name) on `db`, printing to stdout and
/// stderr; returns the exit code (0 done, 1 failed or flagged, 2 wrong usage).
pub async fn run(db: &AsyncDatabase, args: impl IntoIterator<Item = String>) -> i32 {
    let args: Vec<String> = args.into_iter().collect();
    match Command::parse(&args) {
        Ok(command) => match command.run(db).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            2
        }
    }
}

#[derive(Debug, Default)]
struct Command {
    dir: Option<PathBuf>,
    history_table: Option<String>,
    verb: String,
    to: Option<i64>,
    n: Option<usize>,
    allow_unsafe: bool,
    all: bool,
    name: Option<String>,
    renames: Vec<(String, String, String)>,
    drop_unknown_tables: bool,
}

impl Command {
    fn parse(args: &[String]) -> Result<Command, String> {
        let mut c = Command::default();
        let mut i = 0;
        let value = |i: &mut usize, flag: &str| -> Result<String, String> {
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        while i < args.len() {
            let a = args[i].as_str();
            match a {
                "--dir" => c.dir = Some(PathBuf::from(value(&mut i, a)?)),
                "--history-table" => c.history_table = Some(value(&mut i, a)?),
                "--to" => {
                    let v = value(&mut i, a)?;
                    c.to = Some(v.parse().map_err(|_| format!("--to {v}: not a version"))?);
                }
                "--allow-unsafe" => c.allow_unsafe = true,
                "--all" => c.all = true,
                "--drop-unknown-tables" => c.drop_unknown_tables = true,
                "--rename" => {
                    let v = value(&mut i, a)?;
                    let parsed = v.split_once('.').and_then(|(table, rest)| {
                        rest.split_once('=')
                            .map(|(old, new)| (table.to_string(), old.to_string(), new.to_string()))
                    });
                    c.renames.push(
                        parsed.ok_or_else(|| format!("--rename {v}: expected TABLE.OLD=NEW"))?,
                    );
                }
                "-h" | "--help" | "help" => c.verb = "help".into(),
                flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
                word if c.verb.is_empty() => c.verb = word.to_string(),
                word if c.verb == "down" && c.n.is_none() => {
                    c.n = Some(
                        word.parse()
                            .map_err(|_| format!("down {word}: not a number"))?,
                    )
                }
                word if c.verb == "generate" && c.name.is_none() => c.name = Some(word.into()),
                word => return Err(format!("unexpected argument {word}")),
            }
            i += 1;
        }
        match c.verb.as_str() {
            "up" | "down" | "status" | "lint" | "help" => Ok(c),
            "generate" if c.name.is_some() => Ok(c),
            "generate" => Err("generate needs the migration's NAME".into()),
            "" => Err("no command".into()),
            other => Err(format!("unknown command {other}")),
        }
    }

    async fn run(&self, db: &AsyncDatabase) -> Result<i32, DatabaseError> {
        if self.verb == "help" {
            println!("{USAGE}");
            return Ok(0);
        }
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("migrations"));
        let table = self.history_table.as_deref().unwrap_or(DEFAULT_TABLE);
        if self.verb == "generate" {
            return self.generate(db, &dir, table).await;
        }
        let migrations = Migrations::from_dir(&dir)?;
        let migrator = db.migrator(&migrations).history_table(table)?;
        let dialect = db.config().dialect();
        let pending = || async {
            let status = migrator.status().await?;
            Ok::<Vec<i64>, DatabaseError>(
                status
                    .iter()
                    .filter(|s| matches!(s.state, MigrationState::Pending | MigrationState::Failed))
                    .filter(|s| self.to.is_none_or(|t| s.version <= t))
                    .map(|s| s.version)
                    .collect(),
            )
        };
        match self.verb.as_str() {
            "up" => {
                let versions = pending().await?;
                let findings = migrations.lint(dialect, Some(&versions))?;
                if !findings.is_empty() && !self.allow_unsafe {
                    for f in &findings {
                        println!("{f}");
                    }
                    println!(
                        "{} unsafe statement(s): nothing applied. Use the safer forms, mark a \
                         migration `-- dsg:allow-unsafe`, or pass --allow-unsafe.",
                        findings.len()
                    );
                    return Ok(1);
                }
                let report = match self.to {
                    Some(v) => migrator.migrate_to(v).await?,
                    None => migrator.migrate().await?,
                };
                for v in &report.applied {
                    println!("applied {v}");
                }
                for v in &report.reverted {
                    println!("reverted {v}");
                }
                if report.applied.is_empty() && report.reverted.is_empty() {
                    println!("nothing to apply");
                }
                Ok(0)
            }
            "down" => {
                let report = migrator.rollback(self.n.unwrap_or(1)).await?;
                for v in &report.reverted {
                    println!("reverted {v}");
                }
                Ok(0)
            }
            "status" => {
                for s in migrator.status().await? {
                    let state = match s.state {
                        MigrationState::Applied => "applied",
                        MigrationState::Pending => "pending",
                        MigrationState::Changed => "CHANGED since applied",
                        MigrationState::Failed => "FAILED halfway",
                        MigrationState::Unknown => "UNKNOWN (not in this folder)",
                    };
                    let at = s
                        .applied
                        .as_ref()
                        .map(|a| format!(" at {} ({} ms)", a.applied_at, a.execution_ms))
                        .unwrap_or_default();
                    println!("{:>14} {:<32} {state}{at}", s.version, s.name);
                }
                Ok(0)
            }
            "lint" => {
                let versions = if self.all {
                    None
                } else {
                    Some(pending().await?)
                };
                let findings = migrations.lint(dialect, versions.as_deref())?;
                for f in &findings {
                    println!("{f}");
                }
                println!("{} finding(s) for {}", findings.len(), dialect.name());
                Ok(i32::from(!findings.is_empty()))
            }
            _ => Ok(2),
        }
    }

    async fn generate(
        &self,
        db: &AsyncDatabase,
        dir: &std::path::Path,
        table: &str,
    ) -> Result<i32, DatabaseError> {
        if db.table_names().is_empty() {
            eprintln!(
                "generate needs the program's models: this binary registers none. Call \
                 dsg_lib::async_database_functions::migrations::cli::run from a binary of \
                 your program after registering them (see the docs of that module)."
            );
            return Ok(2);
        }
        let mut options = GenerateOptions::new()
            .history_table(table)
            .drop_unknown_tables(self.drop_unknown_tables);
        for (t, old, new) in &self.renames {
            options = options.rename_column(t, old, new);
        }
        let generated = db.generate_migration(&options).await?;
        if generated.is_empty() {
            println!("the database matches the models: nothing to generate");
            return Ok(0);
        }
        let name = self.name.as_deref().unwrap_or("generated");
        let path = generated.write(dir, name)?;
        println!("wrote {}", path.display());
        for note in &generated.notes {
            println!("note: {note}");
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, String> {
        Command::parse(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn command_lines_parse() {
        let c = parse("--dir db/m up --to 3 --allow-unsafe").unwrap();
        assert_eq!(
            (c.verb.as_str(), c.to, c.allow_unsafe),
            ("up", Some(3), true)
        );
        assert_eq!(c.dir, Some(PathBuf::from("db/m")));
        assert_eq!(parse("down 2").unwrap().n, Some(2));
        let g = parse("generate add_email --rename users.nick=handle").unwrap();
        assert_eq!(g.name.as_deref(), Some("add_email"));
        assert_eq!(
            g.renames,
            [("users".into(), "nick".into(), "handle".into())]
        );
        for bad in [
            "",
            "frobnicate",
            "generate",
            "up --to x",
            "down x",
            "lint --nope",
            "--rename a up",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
