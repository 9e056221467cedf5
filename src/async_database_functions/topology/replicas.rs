//! Read replicas (`read_replica_uris`) and read-your-writes by WAL position.
//!
//! Reads go to a replica, in turn over the live ones. Every statement and commit on the
//! primary counts as a write. A read that starts after writes asks the primary for its
//! current WAL position (`pg_current_wal_lsn()`): it is at or past the commit of every write
//! that had returned. The question is single-flight: reads that start while it is under way
//! wait for its answer, and one answer serves every read whose writes were counted before it
//! was asked, so 64 concurrent reads after a write ask once. A replica serves the read only once it has replayed that far
//! (`pg_last_wal_replay_lsn()`, remembered per replica so a replica known to be far enough
//! is not asked again); it is asked again every millisecond for at most
//! `read_replica_max_lag_ms`, after which it is skipped for a second and the read goes to
//! another replica or, when none is ready, to the primary. A replica that is down is skipped
//! the same way, and what it was seen to have replayed is forgotten when it is marked down (a
//! server back on that address may be a standby restored from an older backup). So a read
//! never sees less than the writes that returned before it started, and never fails because a
//! replica did.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use url::Url;

use super::super::database_config::DBConfig;
use super::super::dialect::{self, Conn, Keeper};
use super::checkout::Checkout;
use super::hosts::{Hosts, Want, parse_lsn};
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::dialect::health::Health;

/// The replicas of a database and the WAL position reads must see.
pub(crate) struct Replicas {
    hosts: Hosts,
    /// (the primary's write count when last asked, its WAL position then).
    needed: Mutex<(u64, u64)>,
    /// Held while the primary is asked its position: the single flight.
    asking: tokio::sync::Mutex<()>,
    /// How many times the primary was asked its position.
    asked: AtomicU64,
}

impl Replicas {
    /// A pool per replica host; `None` without replicas.
    pub(crate) async fn connect(
        config: &DBConfig,
        health: &Arc<Health>,
    ) -> Result<Option<(Replicas, Vec<Keeper>)>, DatabaseError> {
        let urls: &[Url] = config.replica_urls();
        if urls.is_empty() {
            return Ok(None);
        }
        let (hosts, keepers) = Hosts::connect(config, urls, health).await?;
        Ok(Some((
            Replicas {
                hosts,
                needed: Mutex::new((0, 0)),
                asking: tokio::sync::Mutex::new(()),
                asked: AtomicU64::new(0),
            },
            keepers,
        )))
    }

    /// A connection to a replica that has replayed every write that returned before now.
    ///
    /// # Errors
    ///
    /// When no replica is ready (down, or lagging past `read_replica_max_lag_ms`), or the
    /// primary's position cannot be read: the caller reads on the primary instead.
    pub(crate) async fn acquire(
        &self,
        config: &DBConfig,
        health: &Arc<Health>,
        primary: &Hosts,
    ) -> Result<(Conn, Checkout), DatabaseError> {
        let lsn = self.needed(config, health, primary).await?;
        let want = Want::Replayed {
            lsn,
            within: config.read_replica_max_lag(),
        };
        self.hosts.acquire(config, health, want, false).await
    }

    /// The WAL position a read starting now must see: the primary is asked only when it took
    /// writes since it was last asked, and by one read at a time; the others wait for that
    /// answer and take it when it covers their writes.
    async fn needed(
        &self,
        config: &DBConfig,
        health: &Arc<Health>,
        primary: &Hosts,
    ) -> Result<u64, DatabaseError> {
        let writes = health.writes();
        if let Some(lsn) = self.known(writes) {
            return Ok(lsn);
        }
        let Some(sql) = dialect::write_position_sql(config.dialect()) else {
            return Ok(0);
        };
        // Single flight: a read that waited here finds the answer of the read before it.
        let _asking = self.asking.lock().await;
        if let Some(lsn) = self.known(writes) {
            return Ok(lsn);
        }
        // Writes counted before the question are covered by its answer: those of every read
        // waiting now, too.
        let covered = health.writes();
        let want = Want::Attrs(config.target_session_attrs());
        let (mut conn, _checkout) = primary.acquire(config, health, want, false).await?;
        self.asked.fetch_add(1, Ordering::Relaxed);
        let lsn = conn
            .probe::<String>(config, sql)
            .await?
            .and_then(|text| parse_lsn(&text))
            .unwrap_or(0);
        let mut needed = self.needed.lock().unwrap_or_else(|e| e.into_inner());
        if covered > needed.0 || (covered == needed.0 && lsn > needed.1) {
            *needed = (covered, lsn.max(needed.1));
        }
        Ok(lsn)
    }

    /// The position last asked, if it covers `writes` writes.
    fn known(&self, writes: u64) -> Option<u64> {
        let needed = self.needed.lock().unwrap_or_else(|e| e.into_inner());
        (needed.0 >= writes).then_some(needed.1)
    }

    /// How many times the primary was asked its WAL position.
    pub(crate) fn positions_asked(&self) -> u64 {
        self.asked.load(Ordering::Relaxed)
    }

    /// Closes every replica pool.
    pub(crate) async fn close(&self) {
        self.hosts.close().await;
    }

    /// (open, idle) connections over the replicas.
    pub(crate) fn stats(&self) -> (u32, usize) {
        self.hosts.stats()
    }
}
