//! [`Migrator`]: applies, rolls back and reports the versioned migrations of a database.

use std::time::Instant;

use crate::async_database_functions::async_database::AsyncDatabase;
use crate::async_database_functions::database_config::Dialect;
use crate::async_database_functions::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::record::Record;
use crate::async_database_functions::session::Session;
use crate::async_database_functions::statement::text;

use super::history::{self, AppliedMigration};
use super::lock::{self, Locked};
use super::source::{self, Body, Migration, Migrations};
use super::split::split_statements;

/// The directive, in a comment among an up part's first lines, that runs the migration outside
/// a transaction (PostgreSQL's `CREATE INDEX CONCURRENTLY`, which refuses to run inside one).
pub const NO_TRANSACTION: &str = "dsg:no-transaction";

/// The directive, in a comment among the first lines of a migration's up or down part, that
/// runs SQLite migrations with foreign keys off (checked after each migration with `PRAGMA
/// foreign_key_check`): what SQLite's table rebuild needs when other tables reference the
/// rebuilt one. Generated rebuilds carry it.
pub const FOREIGN_KEYS_OFF: &str = "dsg:foreign-keys-off";

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The versions applied, in order.
    pub applied: Vec<i64>,
    /// The versions rolled back, in order.
    pub reverted: Vec<i64>,
}

/// Where a migration stands on the database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationState {
    /// Applied, and its up part is the one that ran.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but its up part changed since (a different checksum): `migrate` refuses to run.
    Changed,
    /// Failed halfway on MySQL/MariaDB: `statements_run` of its statements ran and committed.
    Failed,
    /// In the history table but not among the migrations (applied by a newer release).
    Unknown,
}

/// One line of [`Migrator::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The version.
    pub version: i64,
    /// The migration's name (the history's for an `Unknown` one).
    pub name: String,
    /// Where it stands.
    pub state: MigrationState,
    /// Its history row, when it has one.
    pub applied: Option<AppliedMigration>,
}

/// Applies, rolls back and reports versioned migrations on a database, under a lock that makes
/// concurrent runs (several processes deploying at once) apply each migration exactly once.
///
/// Made by [`AsyncDatabase::migrator`]; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct Migrator {
    db: AsyncDatabase,
    migrations: Migrations,
    table: String,
}

impl AsyncDatabase {
    /// A [`Migrator`] of `migrations` on this database, keeping its history in
    /// `dsg_migrations`.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    /// use dsg_lib::async_database_functions::migrations::{Migration, Migrations, MigrationState};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// let migrations = Migrations::new(vec![
    ///     Migration::sql(1, "users", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
    ///                    Some("DROP TABLE users".into())),
    ///     Migration::sql(2, "users_email", "ALTER TABLE users ADD COLUMN email TEXT;\n\
    ///                    CREATE INDEX ix_users_email ON users (email)", None),
    /// ])?;
    /// let migrator = db.migrator(&migrations);
    /// assert_eq!(migrator.migrate().await?.applied, [1, 2]);
    /// assert!(migrator.migrate().await?.applied.is_empty()); // nothing pending
    /// let status = migrator.status().await?;
    /// assert!(status.iter().all(|s| s.state == MigrationState::Applied));
    ///
    /// // Version 2 has no down part: rolling it back is refused before anything runs.
    /// assert!(migrator.rollback(1).await.is_err());
    /// db.disconnect().await;
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    pub fn migrator(&self, migrations: &Migrations) -> Migrator {
        Migrator {
            db: self.clone(),
            migrations: migrations.clone(),
            table: history::DEFAULT_TABLE.to_string(),
        }
    }

    /// Applies every pending migration of `migrations`, in order: `self.migrator(migrations)
    /// .migrate()`.
    ///
    /// # Errors
    ///
    /// As [`Migrator::migrate`].
    pub async fn migrate(&self, migrations: &Migrations) -> Result<MigrationReport, DatabaseError> {
        self.migrator(migrations).migrate().await
    }
}

impl Migrator {
    /// This migrator with its history in table `name` instead of `dsg_migrations` (several
    /// independent sets of migrations in one database, or tests side by side).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput) when
    /// `name` is not 1 to 58 letters, digits and `_` (`<name>_lock` is the lock table on Galera).
    pub fn history_table(mut self, name: &str) -> Result<Migrator, DatabaseError> {
        self.table = history::checked_table(name)?;
        Ok(self)
    }

    /// Whether a migration of the set asks for [`FOREIGN_KEYS_OFF`] (SQLite).
    fn foreign_keys_off(&self) -> bool {
        self.migrations.iter().any(|m| match &m.body {
            Body::Sql { up, down } => {
                directive(up, FOREIGN_KEYS_OFF)
                    || down
                        .as_deref()
                        .is_some_and(|d| directive(d, FOREIGN_KEYS_OFF))
            }
            Body::Rust { .. } => false,
        })
    }

    /// The migrations it runs.
    pub fn migrations(&self) -> &Migrations {
        &self.migrations
    }

    /// Applies every pending migration, in version order, under the migration lock.
    ///
    /// Each migration runs whole or not at all on SQLite and PostgreSQL (a savepoint of the
    /// run's transaction; those applied before a failing one stay). On MySQL/MariaDB, whose
    /// DDL commits statement by statement, the history records how many statements of a
    /// failing migration ran, and the next run resumes after them.
    ///
    /// # Errors
    ///
    /// Before anything runs, [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput)
    /// naming the migration: an applied migration whose up part changed (checksum), a version
    /// in the history that the migrations do not have (applied by a newer release), a pending
    /// migration older than an applied one, SQL that cannot be split (an unterminated quote).
    /// While running, the failing statement's own error (its kind, its code), its details
    /// naming the migration, the file, the statement, and what stays.
    pub async fn migrate(&self) -> Result<MigrationReport, DatabaseError> {
        self.up(None).await
    }

    /// Applies the pending migrations up to `version` included, or rolls back those above it
    /// when it is below the latest applied one (`0` rolls back everything).
    ///
    /// # Errors
    ///
    /// As [`migrate`](Self::migrate) and [`rollback`](Self::rollback);
    /// [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput) when
    /// `version` is neither 0 nor a migration's version.
    pub async fn migrate_to(&self, version: i64) -> Result<MigrationReport, DatabaseError> {
        if version != 0 && self.migrations.get(version).is_none() {
            return Err(DatabaseError::invalid_input(format!(
                "there is no migration {version} to migrate to (the migrations run from {} to {})",
                self.migrations.iter().next().map_or(0, |m| m.version),
                self.migrations.latest().unwrap_or(0)
            )));
        }
        let mut locked = Locked::acquire(&self.db, &self.table, self.foreign_keys_off()).await?;
        let result = async {
            let applied = self.prepare(&mut locked).await?;
            if applied.iter().any(|a| a.version > version) {
                let n = applied.iter().filter(|a| a.version > version).count();
                self.down_locked(&mut locked, &applied, n).await
            } else {
                self.up_locked(&mut locked, &applied, Some(version)).await
            }
        }
        .await;
        finish(locked, result).await
    }

    /// Rolls back the `n` latest applied migrations, newest first, with their down parts.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput) before
    /// anything runs when one of them has no down part, changed, or is not among the
    /// migrations; while running, the failing statement's error naming the migration.
    pub async fn rollback(&self, n: usize) -> Result<MigrationReport, DatabaseError> {
        let mut locked = Locked::acquire(&self.db, &self.table, self.foreign_keys_off()).await?;
        let result = async {
            let applied = self.prepare(&mut locked).await?;
            self.down_locked(&mut locked, &applied, n).await
        }
        .await;
        finish(locked, result).await
    }

    /// Every migration and where it stands, plus the history's versions the migrations do
    /// not have. Reads only (no lock, no history table created).
    ///
    /// # Errors
    ///
    /// The database's errors.
    pub async fn status(&self) -> Result<Vec<MigrationStatus>, DatabaseError> {
        let mut session = self.db.get_db_session().await?;
        let rows = if history::exists(&mut session, &self.table).await? {
            history::read(&mut session, &self.table).await?
        } else {
            Vec::new()
        };
        session.commit().await?;
        let mut status: Vec<MigrationStatus> = self
            .migrations
            .iter()
            .map(|m| {
                let row = rows.iter().find(|r| r.version == m.version).cloned();
                let state = match &row {
                    None => MigrationState::Pending,
                    Some(r) if !r.success => MigrationState::Failed,
                    Some(r) if r.checksum != m.checksum => MigrationState::Changed,
                    Some(_) => MigrationState::Applied,
                };
                MigrationStatus {
                    version: m.version,
                    name: m.name.clone(),
                    state,
                    applied: row,
                }
            })
            .collect();
        for row in rows {
            if self.migrations.get(row.version).is_none() {
                status.push(MigrationStatus {
                    version: row.version,
                    name: row.name.clone(),
                    state: MigrationState::Unknown,
                    applied: Some(row),
                });
            }
        }
        status.sort_by_key(|s| s.version);
        Ok(status)
    }

    async fn up(&self, target: Option<i64>) -> Result<MigrationReport, DatabaseError> {
        let mut locked = Locked::acquire(&self.db, &self.table, self.foreign_keys_off()).await?;
        let result = async {
            let applied = self.prepare(&mut locked).await?;
            self.up_locked(&mut locked, &applied, target).await
        }
        .await;
        finish(locked, result).await
    }

    /// Creates the history table if needed and reads it, checking it against the migrations.
    async fn prepare(&self, locked: &mut Locked) -> Result<Vec<AppliedMigration>, DatabaseError> {
        let session = locked.session().await?;
        let dialect = session.config().dialect();
        session
            .execute_sql(&history::create_sql(dialect, &self.table))
            .await?;
        let applied = history::read(session, &self.table).await?;
        for row in &applied {
            let Some(m) = self.migrations.get(row.version) else {
                return Err(DatabaseError::invalid_input(format!(
                    "{table} holds migration {} ({}), applied at {}, which these migrations do \
                     not have: it was applied by a newer release of the program (deploy that \
                     release), or its file was removed (restore it)",
                    row.version,
                    row.name,
                    row.applied_at,
                    table = self.table
                )));
            };
            if row.success && row.checksum != m.checksum {
                return Err(DatabaseError::invalid_input(format!(
                    "migration {} in {} changed after it was applied (checksum {} applied, {} \
                     now): an applied migration must not change; restore it and put the change \
                     into a new migration",
                    m.label(),
                    m.origin,
                    short(&row.checksum),
                    short(&m.checksum)
                )));
            }
        }
        Ok(applied)
    }

    async fn up_locked(
        &self,
        locked: &mut Locked,
        applied: &[AppliedMigration],
        target: Option<i64>,
    ) -> Result<MigrationReport, DatabaseError> {
        let dialect = locked.session().await?.config().dialect();
        let done = |v: i64| applied.iter().any(|a| a.version == v && a.success);
        let pending: Vec<&Migration> = self
            .migrations
            .iter()
            .filter(|m| !done(m.version) && target.is_none_or(|t| m.version <= t))
            .collect();
        let newest = applied
            .iter()
            .filter(|a| a.success)
            .map(|a| a.version)
            .max();
        if let (Some(first), Some(newest)) = (pending.first(), newest)
            && first.version < newest
        {
            return Err(DatabaseError::invalid_input(format!(
                "migration {} in {} is pending but migration {newest} is applied already: \
                 migrations run in version order; give it a version above {newest}",
                first.label(),
                first.origin
            )));
        }
        // Every pending migration's SQL is split before the first one runs.
        let mut plans = Vec::with_capacity(pending.len());
        for m in pending {
            plans.push((m, statements(m, dialect, true)?));
        }
        let mut report = MigrationReport::default();
        for (m, statements) in plans {
            let resume = applied.iter().find(|a| a.version == m.version);
            if lock::transactional(dialect) {
                self.apply_transactional(locked, m, &statements).await?;
            } else {
                self.apply_mysql(locked, m, &statements, resume).await?;
            }
            report.applied.push(m.version);
        }
        Ok(report)
    }

    /// Runs migration `m` inside a savepoint of the run's transaction (SQLite, PostgreSQL), or
    /// outside any transaction when it says [`NO_TRANSACTION`] (PostgreSQL).
    async fn apply_transactional(
        &self,
        locked: &mut Locked,
        m: &Migration,
        statements: &[String],
    ) -> Result<(), DatabaseError> {
        let started = Instant::now();
        let outside = no_transaction(m)
            && locked
                .session()
                .await?
                .config()
                .dialect()
                .is_postgres_wire();
        if outside {
            let session = locked.outside_transaction().await?;
            for (i, sql) in statements.iter().enumerate() {
                if let Err(e) = session.execute_sql(sql).await {
                    return Err(failed(m, statements, i, e, Stays::NoTransaction));
                }
            }
            return history::insert(session, &self.table, &row(m, statements, started, true)).await;
        }
        let check_keys = locked.foreign_keys_off();
        let session = locked.session().await?;
        session.execute_sql("SAVEPOINT dsg_migration").await?;
        let ran = async {
            match &m.body {
                Body::Sql { .. } => {
                    for (i, sql) in statements.iter().enumerate() {
                        session
                            .execute_sql(sql)
                            .await
                            .map_err(|e| failed(m, statements, i, e, Stays::Nothing))?;
                    }
                }
                Body::Rust { up, .. } => up(session)
                    .await
                    .map_err(|e| failed_rust(m, e, "up", Stays::Nothing))?,
            }
            history::insert(session, &self.table, &row(m, statements, started, true)).await?;
            if check_keys {
                foreign_key_check(session, m).await?;
            }
            Ok(())
        }
        .await;
        match ran {
            Ok(()) => session.execute_sql("RELEASE SAVEPOINT dsg_migration").await,
            Err(e) => {
                session
                    .execute_sql("ROLLBACK TO SAVEPOINT dsg_migration")
                    .await?;
                session
                    .execute_sql("RELEASE SAVEPOINT dsg_migration")
                    .await?;
                Err(e)
            }
        }
    }

    /// Runs migration `m` statement by statement on MySQL/MariaDB, noting each one in the
    /// history as it commits; `resume` is its row from a run that failed halfway.
    async fn apply_mysql(
        &self,
        locked: &mut Locked,
        m: &Migration,
        statements: &[String],
        resume: Option<&AppliedMigration>,
    ) -> Result<(), DatabaseError> {
        let started = Instant::now();
        if let Body::Rust { up, .. } = &m.body {
            // Data changes: one transaction of their own, with the history row.
            let mut session = self.db.write_session(true).await?;
            up(&mut session)
                .await
                .map_err(|e| failed_rust(m, e, "up", Stays::Nothing))?;
            history::insert(
                &mut session,
                &self.table,
                &row(m, statements, started, true),
            )
            .await?;
            return session.commit().await;
        }
        let session = locked.session().await?;
        let mut progress = row(m, statements, started, false);
        let first = match resume {
            Some(r) => {
                let ran = usize::try_from(r.statements_run)
                    .unwrap_or(0)
                    .min(statements.len());
                if r.checksum != prefix_checksum(&statements[..ran]) {
                    return Err(DatabaseError::invalid_input(format!(
                        "migration {} in {} failed halfway before and its first {ran} statements \
                         ran; they changed since: keep them as they ran (only the failed \
                         statement and those after it may change), or undo them by hand and \
                         delete version {} from {}",
                        m.label(),
                        m.origin,
                        m.version,
                        self.table
                    )));
                }
                ran
            }
            None => {
                progress.checksum = prefix_checksum(&[]);
                history::insert(session, &self.table, &progress).await?;
                0
            }
        };
        for i in first..statements.len() {
            if let Err(e) = session.execute_sql(&statements[i]).await {
                return Err(failed(m, statements, i, e, Stays::Statements(&self.table)));
            }
            if i + 1 == statements.len() {
                // The final row below records the last one.
                break;
            }
            progress.statements_run = i64::try_from(i + 1).unwrap_or(i64::MAX);
            progress.checksum = prefix_checksum(&statements[..=i]);
            progress.applied_at = history::now();
            history::update(session, &self.table, &progress).await?;
        }
        history::update(session, &self.table, &row(m, statements, started, true)).await
    }

    async fn down_locked(
        &self,
        locked: &mut Locked,
        applied: &[AppliedMigration],
        n: usize,
    ) -> Result<MigrationReport, DatabaseError> {
        let dialect = locked.session().await?.config().dialect();
        if let Some(failed) = applied.iter().find(|a| !a.success) {
            return Err(DatabaseError::invalid_input(format!(
                "migration {} ({}) failed halfway ({} of {} statements ran): finish it (run the \
                 migrations again once it is fixed) before rolling back",
                failed.version, failed.name, failed.statements_run, failed.statements_total
            )));
        }
        let mut plans = Vec::new();
        for row in applied.iter().rev().take(n) {
            let m = self.migrations.get(row.version).ok_or_else(|| {
                DatabaseError::invalid_input(format!("migration {} is unknown", row.version))
            })?;
            if !m.has_down() {
                return Err(DatabaseError::invalid_input(format!(
                    "migration {} in {} has no down part ({}_{}.down.sql): it cannot be rolled \
                     back",
                    m.label(),
                    m.origin,
                    m.version,
                    m.name
                )));
            }
            plans.push((m, statements(m, dialect, false)?));
        }
        let mut report = MigrationReport::default();
        let check_keys = locked.foreign_keys_off();
        for (m, statements) in plans {
            let session = locked.session().await?;
            let transactional = lock::transactional(dialect);
            if transactional {
                session.execute_sql("SAVEPOINT dsg_migration").await?;
            }
            let stays = if transactional {
                Stays::Nothing
            } else {
                Stays::DownStatements
            };
            let ran = async {
                match &m.body {
                    Body::Sql { .. } => {
                        for (i, sql) in statements.iter().enumerate() {
                            session
                                .execute_sql(sql)
                                .await
                                .map_err(|e| failed(m, &statements, i, e, stays))?;
                        }
                    }
                    Body::Rust {
                        down: Some(down), ..
                    } => down(session)
                        .await
                        .map_err(|e| failed_rust(m, e, "down", stays))?,
                    Body::Rust { down: None, .. } => {}
                }
                history::forget(session, &self.table, m.version).await?;
                if check_keys {
                    foreign_key_check(session, m).await?;
                }
                Ok(())
            }
            .await;
            match ran {
                Ok(()) if transactional => {
                    session
                        .execute_sql("RELEASE SAVEPOINT dsg_migration")
                        .await?;
                }
                Ok(()) => {}
                Err(e) => {
                    if transactional {
                        session
                            .execute_sql("ROLLBACK TO SAVEPOINT dsg_migration")
                            .await?;
                        session
                            .execute_sql("RELEASE SAVEPOINT dsg_migration")
                            .await?;
                    }
                    return Err(e);
                }
            }
            report.reverted.push(m.version);
        }
        Ok(report)
    }
}

/// SQLite with foreign keys off: fails when migration `m` left rows whose parent is missing.
async fn foreign_key_check(session: &mut Session, m: &Migration) -> Result<(), DatabaseError> {
    let rows: Vec<Record> = session.fetch_all(text("PRAGMA foreign_key_check")).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let tables: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("table").and_then(|t| t.as_str()).map(str::to_string))
        .collect();
    Err(DatabaseError::new(
        ErrorKind::IntegrityError,
        format!(
            "migration {} in {} leaves {} row(s) whose foreign key points at no row (tables {}): \
             nothing of it stays (it was rolled back)",
            m.label(),
            m.origin,
            rows.len(),
            tables.join(", ")
        ),
    ))
}

/// Releases the lock whatever `result` is, reporting `result`'s error first.
async fn finish(
    locked: Locked,
    result: Result<MigrationReport, DatabaseError>,
) -> Result<MigrationReport, DatabaseError> {
    let released = locked.release().await;
    let report = result?;
    released?;
    Ok(report)
}

/// The statements of `m`'s up (or down) part on `dialect`.
fn statements(m: &Migration, dialect: Dialect, up: bool) -> Result<Vec<String>, DatabaseError> {
    let sql = match (&m.body, up) {
        (Body::Sql { up, .. }, true) => up.as_str(),
        (Body::Sql { down, .. }, false) => down.as_deref().unwrap_or_default(),
        (Body::Rust { .. }, _) => return Ok(Vec::new()),
    };
    split_statements(sql, dialect).map_err(|e| {
        let file = if up {
            m.origin.clone()
        } else {
            m.origin.replace(".up.sql", ".down.sql")
        };
        DatabaseError::invalid_input(format!(
            "the SQL of migration {} in {file} cannot be split into statements: line {}: {}",
            m.label(),
            e.line,
            e.what
        ))
    })
}

/// Whether `m`'s up part says [`NO_TRANSACTION`] in a comment among its first lines.
fn no_transaction(m: &Migration) -> bool {
    let Body::Sql { up, .. } = &m.body else {
        return false;
    };
    directive(up, NO_TRANSACTION)
}

/// Whether `sql` says `directive` in a comment among its first lines.
fn directive(sql: &str, directive: &str) -> bool {
    sql.lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with("--"))
        .any(|l| l.contains(directive))
}

/// The history row of `m` having run.
fn row(m: &Migration, statements: &[String], started: Instant, success: bool) -> AppliedMigration {
    let total = i64::try_from(statements.len()).unwrap_or(i64::MAX);
    AppliedMigration {
        version: m.version,
        name: m.name.clone(),
        checksum: m.checksum.clone(),
        applied_at: history::now(),
        execution_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        success,
        statements_total: total,
        statements_run: if success { total } else { 0 },
    }
}

/// The checksum of the statements of a half-run MySQL/MariaDB migration that ran.
fn prefix_checksum(statements: &[String]) -> String {
    // Never equal to a whole migration's checksum.
    format!("{}half", &source::checksum(&statements.join(";\n"))[..60])
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

/// What stays of a migration that failed.
#[derive(Clone, Copy)]
enum Stays<'a> {
    /// Nothing: its savepoint was rolled back.
    Nothing,
    /// Its statements before the failing one, noted in this history table (MySQL/MariaDB).
    Statements(&'a str),
    /// A down part's statements before the failing one (MySQL/MariaDB).
    DownStatements,
    /// Its statements before the failing one, run outside a transaction (PostgreSQL).
    NoTransaction,
}

/// The error of statement `i` of migration `m`: the driver's error, its details naming the
/// migration, the statement and what stays.
fn failed(
    m: &Migration,
    statements: &[String],
    i: usize,
    e: DatabaseError,
    stays: Stays<'_>,
) -> DatabaseError {
    let n = i + 1;
    let total = statements.len();
    let preview = preview(&statements[i]);
    let ran = if i == 0 {
        "no statement before it ran".to_string()
    } else if i == 1 {
        "statement 1 ran".to_string()
    } else {
        format!("statements 1 to {i} ran")
    };
    let tail = match stays {
        Stays::Nothing => "; nothing of it stays (it was rolled back), the migrations before it \
                           stay applied"
            .to_string(),
        Stays::Statements(table) => format!(
            "; MySQL/MariaDB commit DDL statement by statement: {ran} and stay{}; {table} \
             records version {} with success = 0 and statements_run = {i}. Fix statement {n} \
             (keep the ones before it as they are) and run the migrations again: they resume at \
             statement {n}. Or undo what ran by hand and delete version {} from {table}",
            if i == 0 { "s none" } else { "" },
            m.version,
            m.version
        ),
        Stays::DownStatements => format!(
            "; MySQL/MariaDB commit DDL statement by statement: of the down part, {ran}; the \
             migration stays recorded as applied. Finish undoing it by hand, then delete version \
             {} from the history table",
            m.version
        ),
        Stays::NoTransaction => format!(
            "; it ran outside a transaction ({NO_TRANSACTION}): {ran} and stay{}; it is not \
             recorded as applied. Undo what ran (e.g. drop an INVALID index) and run the \
             migrations again",
            if i == 0 { "s none" } else { "" }
        ),
    };
    e.scrubbed(|details| {
        format!(
            "migration {} in {} failed at statement {n} of {total} ({preview}): {details}{tail}",
            m.label(),
            m.origin
        )
    })
}

fn failed_rust(m: &Migration, e: DatabaseError, part: &str, stays: Stays<'_>) -> DatabaseError {
    let tail = match stays {
        Stays::Nothing => "; nothing of it stays (it was rolled back)",
        _ => "; what it wrote before failing stays (MySQL/MariaDB)",
    };
    e.scrubbed(|details| {
        format!(
            "Rust migration {} ({part}) failed: {details}{tail}",
            m.label()
        )
    })
}

/// The first line of a statement, cut at 80 characters, between backquotes.
fn preview(sql: &str) -> String {
    let line = sql.lines().next().unwrap_or_default();
    let cut: String = line.chars().take(80).collect();
    if cut.len() < sql.len() {
        format!("`{cut}…`")
    } else {
        format!("`{cut}`")
    }
}
