//! The cross-process lock migrations run under, so that concurrent deploys apply each
//! migration once: PostgreSQL's `pg_advisory_xact_lock` (held by a transaction of its own on a
//! connection of its own for the whole run: a run that is cancelled or whose process dies
//! releases it with that transaction, and it holds through a transaction-pooling proxy),
//! MySQL/MariaDB's `GET_LOCK` (held by the run's connection; on a Galera cluster, where it
//! holds on one node only, also a row of `<history>_lock` that the cluster certifies),
//! SQLite's write lock (`BEGIN IMMEDIATE`, held by the run's transaction). Whoever comes second
//! waits, then reads the history the first one wrote and finds nothing pending.

use crate::async_database_functions::async_database::AsyncDatabase;
use crate::async_database_functions::database_config::Dialect;
use crate::async_database_functions::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::session::Session;
use crate::async_database_functions::statement::text;

/// How long MySQL/MariaDB's `GET_LOCK` waits for another process's run, in seconds (a day).
const MYSQL_LOCK_WAIT_SECONDS: i64 = 86_400;

/// On a Galera cluster, how old a lock row must be to be taken as left by a dead run, in
/// seconds (an hour): `GET_LOCK` is per node there, so the lock is a row of a table.
const GALERA_STALE_SECONDS: i64 = 3_600;

/// Whether migrations run inside a transaction (a savepoint per migration) on `dialect`:
/// SQLite and PostgreSQL; MySQL/MariaDB commit each DDL statement on their own.
pub(crate) fn transactional(dialect: Dialect) -> bool {
    !dialect.is_mysql_family()
}

/// The advisory lock key of history table `table` on PostgreSQL: a stable 64-bit FNV-1a hash.
pub(crate) fn advisory_key(table: &str) -> i64 {
    let hash = format!("dsg_lib migrations {table}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The sessions of a run that holds the migration lock.
pub(crate) struct Locked {
    db: AsyncDatabase,
    /// SQLite and PostgreSQL: the transaction migrations run in (opened again after a
    /// migration that runs outside a transaction). MySQL/MariaDB: the connection holding
    /// `GET_LOCK`, without a transaction.
    work: Option<Session>,
    /// PostgreSQL: the transaction holding `pg_advisory_xact_lock`.
    holder: Option<Session>,
    /// PostgreSQL: a connection without a transaction, for the migrations that run outside
    /// one (opened when the first needs it).
    autocommit: Option<Session>,
    /// The `GET_LOCK` name (MySQL/MariaDB), for the release.
    mysql_lock: Option<String>,
    /// On a Galera cluster: the lock table and this run's owner id in it.
    galera: Option<(String, String)>,
    /// SQLite with foreign keys off: the transaction was begun by hand (`BEGIN IMMEDIATE`
    /// after `PRAGMA foreign_keys = OFF`), and is ended by hand.
    sqlite_fk_off: bool,
}

impl Locked {
    /// Waits for the lock of history table `table` and returns the sessions holding it.
    ///
    /// `foreign_keys_off`: on SQLite, the run's connection turns foreign key enforcement off
    /// before its transaction (a table rebuild drops and renames tables other tables
    /// reference); each migration is then checked with `PRAGMA foreign_key_check`.
    pub(crate) async fn acquire(
        db: &AsyncDatabase,
        table: &str,
        foreign_keys_off: bool,
    ) -> Result<Locked, DatabaseError> {
        let dialect = db.config().dialect();
        let mut locked = Locked {
            db: db.clone(),
            work: None,
            holder: None,
            autocommit: None,
            mysql_lock: None,
            galera: None,
            sqlite_fk_off: false,
        };
        if dialect.is_mysql_family() {
            let mut session = db.session(false).await?;
            let name = format!("dsg:{table}");
            let got: Vec<Option<i64>> = session
                .fetch_all(
                    text("SELECT GET_LOCK(:name, :wait)")
                        .bind("name", name.clone())
                        .bind("wait", MYSQL_LOCK_WAIT_SECONDS),
                )
                .await?;
            if got.first().copied().flatten() != Some(1) {
                let _ = session.rollback().await;
                return Err(DatabaseError::new(
                    ErrorKind::DatabaseError,
                    format!(
                        "the migration lock {name:?} (GET_LOCK) was not granted within \
                         {MYSQL_LOCK_WAIT_SECONDS} s: another migration run holds it"
                    ),
                ));
            }
            locked.mysql_lock = Some(name);
            if is_galera(&mut session).await? {
                match galera_lock(&mut session, table).await {
                    Ok(owner) => locked.galera = Some(owner),
                    Err(e) => {
                        locked.work = Some(session);
                        let _ = locked.release().await;
                        return Err(e);
                    }
                }
            }
            locked.work = Some(session);
        } else if dialect.is_postgres_wire() {
            let mut holder = db.write_session(true).await?;
            let key = advisory_key(table);
            holder
                .execute_sql(&format!("SELECT pg_advisory_xact_lock({key})"))
                .await?;
            locked.holder = Some(holder);
        } else if foreign_keys_off {
            // SQLite's documented way for schema changes other tables' keys point at: foreign
            // keys off (only possible outside a transaction), checked after each migration.
            let mut session = db.session(false).await?;
            session.execute_sql("PRAGMA foreign_keys = OFF").await?;
            if let Err(e) = session.execute_sql("BEGIN IMMEDIATE").await {
                let _ = session.execute_sql("PRAGMA foreign_keys = ON").await;
                return Err(e);
            }
            locked.work = Some(session);
            locked.sqlite_fk_off = true;
        } else {
            // SQLite: BEGIN IMMEDIATE takes the write lock at once, and holds it to the end.
            locked.work = Some(db.write_session(true).await?);
        }
        Ok(locked)
    }

    /// The session migrations run on: a transaction on SQLite and PostgreSQL, the lock's
    /// connection on MySQL/MariaDB.
    /// Whether foreign keys are off on SQLite, to be checked after each migration.
    pub(crate) fn foreign_keys_off(&self) -> bool {
        self.sqlite_fk_off
    }

    pub(crate) async fn session(&mut self) -> Result<&mut Session, DatabaseError> {
        if self.work.is_none() {
            self.work = Some(self.db.write_session(true).await?);
        }
        self.work
            .as_mut()
            .ok_or_else(|| DatabaseError::new(ErrorKind::DatabaseError, "no migration session"))
    }

    /// A session outside any transaction, for a migration that cannot run in one (PostgreSQL's
    /// `CREATE INDEX CONCURRENTLY`): on PostgreSQL the work so far is committed and a
    /// connection without a transaction is used (the lock's transaction stays open, idle, on
    /// its own connection); SQLite has no such statements and keeps its transaction (its
    /// write lock); MySQL/MariaDB run nothing in a transaction anyway.
    pub(crate) async fn outside_transaction(&mut self) -> Result<&mut Session, DatabaseError> {
        if self.holder.is_some() {
            if let Some(work) = self.work.take() {
                work.commit().await?;
            }
            if self.autocommit.is_none() {
                self.autocommit = Some(self.db.session(false).await?);
            }
            return self
                .autocommit
                .as_mut()
                .ok_or_else(|| DatabaseError::new(ErrorKind::DatabaseError, "no session"));
        }
        self.session().await
    }

    /// Ends the run: commits the transaction (a failed migration was rolled back to its
    /// savepoint already), releases the lock.
    pub(crate) async fn release(mut self) -> Result<(), DatabaseError> {
        let mut result = Ok(());
        if let Some(mut work) = self.work.take() {
            if let Some((lock_table, owner)) = self.galera.take() {
                result = galera_unlock(&mut work, &lock_table, owner).await;
            }
            if self.sqlite_fk_off {
                let committed = work.execute_sql("COMMIT").await;
                if committed.is_err() {
                    let _ = work.execute_sql("ROLLBACK").await;
                }
                let restored = work.execute_sql("PRAGMA foreign_keys = ON").await;
                let ended = work.commit().await;
                return committed.and(restored).and(ended);
            }
            if let Some(name) = self.mysql_lock.take() {
                let released = work
                    .execute(text("SELECT RELEASE_LOCK(:name)").bind("name", name))
                    .await
                    .map(|_| ());
                result = result.and(released);
            }
            let ended = work.commit().await;
            result = result.and(ended);
        }
        if let Some(autocommit) = self.autocommit.take() {
            result = result.and(autocommit.commit().await);
        }
        if let Some(holder) = self.holder.take() {
            // The lock ends with its transaction.
            result = result.and(holder.rollback().await);
        }
        result
    }
}

/// A run dropped before [`Locked::release`] (its future cancelled): what a transaction's end
/// does not undo by itself is undone on a task of its own — the `GET_LOCK` of MySQL/MariaDB
/// (held by the connection, which would otherwise go back to the pool still holding it), and
/// SQLite's hand-begun transaction and foreign keys setting. PostgreSQL's lock ends with its
/// transaction, which dropping the session rolls back.
impl Drop for Locked {
    fn drop(&mut self) {
        let Some(mut work) = self.work.take() else {
            return;
        };
        let mysql_lock = self.mysql_lock.take();
        let galera = self.galera.take();
        let sqlite_fk_off = self.sqlite_fk_off;
        if mysql_lock.is_none() && !sqlite_fk_off {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if let Some((lock_table, owner)) = galera {
                let _ = galera_unlock(&mut work, &lock_table, owner).await;
            }
            if let Some(name) = mysql_lock {
                let _ = work
                    .execute(text("SELECT RELEASE_LOCK(:name)").bind("name", name))
                    .await;
            }
            if sqlite_fk_off {
                let _ = work.execute_sql("ROLLBACK").await;
                let _ = work.execute_sql("PRAGMA foreign_keys = ON").await;
            }
            let _ = work.commit().await;
        });
    }
}

/// Whether the server is a Galera cluster node (`wsrep_on`).
async fn is_galera(session: &mut Session) -> Result<bool, DatabaseError> {
    let rows: Vec<(String, String)> = session
        .fetch_all(text("SHOW VARIABLES LIKE 'wsrep_on'"))
        .await?;
    Ok(rows.iter().any(|(_, v)| v.eq_ignore_ascii_case("ON")))
}

/// Galera: `GET_LOCK` is per node, so the run also takes a row of `<history>_lock` (a write
/// the cluster certifies: of two nodes inserting it at once, one wins). A row older than
/// [`GALERA_STALE_SECONDS`] is taken as left by a dead run. The session's reads then wait for
/// the cluster's earlier writes (`wsrep_sync_wait`), so the history it reads is the latest.
async fn galera_lock(
    session: &mut Session,
    table: &str,
) -> Result<(String, String), DatabaseError> {
    let lock_table = format!("{table}_lock");
    session
        .execute_sql(&format!(
            "CREATE TABLE IF NOT EXISTS {lock_table} (id INT NOT NULL PRIMARY KEY, \
             owner VARCHAR(64) NOT NULL, taken_at BIGINT NOT NULL) ENGINE=InnoDB"
        ))
        .await?;
    let owner = uuid::Uuid::new_v4().simple().to_string();
    let started = std::time::Instant::now();
    loop {
        let now = chrono::Utc::now().timestamp();
        let taken = session
            .execute(
                text(format!(
                    "INSERT INTO {lock_table} (id, owner, taken_at) VALUES (1, :owner, :now)"
                ))
                .bind("owner", owner.clone())
                .bind("now", now),
            )
            .await;
        match taken {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::IntegrityError || e.is_retryable() => {
                if started.elapsed().as_secs() > MYSQL_LOCK_WAIT_SECONDS.unsigned_abs() {
                    return Err(DatabaseError::new(
                        ErrorKind::DatabaseError,
                        format!(
                            "the migration lock row of {lock_table} (Galera) was not free \
                             within {MYSQL_LOCK_WAIT_SECONDS} s"
                        ),
                    ));
                }
                session
                    .execute(
                        text(format!(
                            "DELETE FROM {lock_table} WHERE id = 1 AND taken_at < :stale"
                        ))
                        .bind("stale", now - GALERA_STALE_SECONDS),
                    )
                    .await?;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    }
    session
        .execute_sql("SET SESSION wsrep_sync_wait = 1")
        .await?;
    Ok((lock_table, owner))
}

/// Gives the Galera lock row back.
async fn galera_unlock(
    session: &mut Session,
    lock_table: &str,
    owner: String,
) -> Result<(), DatabaseError> {
    let _ = session.execute_sql("SET SESSION wsrep_sync_wait = 0").await;
    session
        .execute(
            text(format!(
                "DELETE FROM {lock_table} WHERE id = 1 AND owner = :owner"
            ))
            .bind("owner", owner),
        )
        .await
        .map(|_| ())
}
