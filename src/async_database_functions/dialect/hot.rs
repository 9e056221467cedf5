//! Hot connections: a server connection whose session ended cleanly goes back on a short
//! stack of its own instead of into sqlx's pool, and the next session takes it from there.
//!
//! sqlx returns every connection to its pool through a task that first sends the server a
//! round trip (`Sync` on PostgreSQL, `COM_PING` on MySQL) to flush whatever a cut-short
//! statement left behind. After a session whose every statement ran to its end, outside a
//! transaction, there is nothing to flush: the library knows, the pool does not. Skipping that
//! round trip and the task saves the client and the server the work of a second exchange per
//! operation (and the last connection used is the one reused, with its server process warm).
//!
//! What keeps sqlx's own checks in force:
//! - a session cut short (a statement in flight, a transaction left open) returns its
//!   connection the sqlx way, so the ping or the close still happens;
//! - under `pool_pre_ping` or `pool_recycle`, after an invalidation, once the pool is closed,
//!   and once a caller has taken the raw sqlx pool ([`AsyncDatabase::sqlx_pool`]), the stack is
//!   emptied into sqlx's pool and stays unused;
//! - a connection that waited on the stack for more than [`HOT_FOR`] goes back to sqlx's pool
//!   (and its ping) instead of being handed out;
//! - while a caller waits on sqlx's pool for a connection, a connection parked here is handed to
//!   sqlx's pool instead, which wakes that caller.
//!
//! [`AsyncDatabase::sqlx_pool`]: super::super::async_database::AsyncDatabase::sqlx_pool

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Database;
use sqlx::pool::PoolConnection;

use super::super::database_config::DBConfig;
use super::super::topology::Health;

/// How long a connection may wait on the stack and still be handed out without sqlx's check.
pub(crate) const HOT_FOR: Duration = Duration::from_secs(1);

/// The stack of one server pool's hot connections.
pub(crate) struct Hot<DB: Database> {
    conns: Mutex<Vec<(PoolConnection<DB>, Instant)>>,
    health: Arc<Health>,
    /// Off for good: the configuration checks connections on checkout, the pool closed, or the
    /// raw pool was handed out.
    off: AtomicBool,
}

impl<DB: Database> std::fmt::Debug for Hot<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hot")
            .field("parked", &self.len())
            .field("off", &self.off.load(Ordering::Relaxed))
            .finish()
    }
}

impl<DB: Database> Hot<DB> {
    pub(crate) fn new(config: &DBConfig, health: Arc<Health>) -> Arc<Self> {
        let off = config.pool_pre_ping() || config.pool_recycle().is_some();
        Arc::new(Hot {
            conns: Mutex::new(Vec::new()),
            health,
            off: AtomicBool::new(off),
        })
    }

    fn usable(&self) -> bool {
        !self.off.load(Ordering::Acquire) && !self.health.ever_invalidated()
    }

    /// The most recently parked connection, when hot connections are in use.
    pub(crate) fn take(self: &Arc<Self>) -> Option<Pooled<DB>> {
        if !self.usable() {
            self.drain();
            return None;
        }
        let mut cold = Vec::new();
        let taken = {
            let mut conns = self.conns.lock().ok()?;
            loop {
                match conns.pop() {
                    Some((conn, parked)) if parked.elapsed() > HOT_FOR => cold.push(conn),
                    other => break other.map(|(conn, _)| conn),
                }
            }
        };
        // Back to sqlx's pool (outside the lock): its release pings them.
        drop(cold);
        taken.map(|conn| Pooled::new(conn, self.clone()))
    }

    /// Parks a connection whose session ended cleanly; when hot connections are off or a
    /// caller waits on sqlx's pool, it goes to sqlx's pool instead.
    fn park(&self, conn: PoolConnection<DB>) {
        if !self.usable() {
            return drop(conn);
        }
        if let Ok(mut conns) = self.conns.lock() {
            conns.push((conn, Instant::now()));
        }
        // Pushed before looking: a caller that began waiting before this look is seen here, and
        // one that begins after it finds the connection on the stack (it looks again once it
        // counts as waiting).
        if self.health.waiting() > 0 {
            let handed = self.conns.lock().ok().and_then(|mut conns| conns.pop());
            drop(handed);
        }
    }

    /// Hands every parked connection to sqlx's pool.
    pub(crate) fn drain(&self) {
        let conns = match self.conns.lock() {
            Ok(mut conns) => std::mem::take(&mut *conns),
            Err(_) => return,
        };
        drop(conns);
    }

    /// Turns hot connections off for good and hands the parked ones to sqlx's pool (before it
    /// closes, or once the raw pool is handed out).
    pub(crate) fn turn_off(&self) {
        self.off.store(true, Ordering::Release);
        self.drain();
    }

    /// Connections parked now.
    pub(crate) fn len(&self) -> usize {
        self.conns.lock().map_or(0, |conns| conns.len())
    }
}

/// A connection of a server pool: back to the hot stack when its session ended cleanly
/// ([`Pooled::reusable`]), else to sqlx's pool.
pub(crate) struct Pooled<DB: Database> {
    conn: ManuallyDrop<PoolConnection<DB>>,
    hot: Arc<Hot<DB>>,
    reusable: bool,
}

impl<DB: Database> Pooled<DB> {
    pub(crate) fn new(conn: PoolConnection<DB>, hot: Arc<Hot<DB>>) -> Self {
        Pooled {
            conn: ManuallyDrop::new(conn),
            hot,
            reusable: false,
        }
    }

    /// The session on this connection ended with every statement run to its end and no
    /// transaction open: it may be reused without sqlx's check.
    pub(crate) fn reusable(&mut self) {
        self.reusable = true;
    }

    /// Makes the pool close this connection instead of reusing it.
    pub(crate) fn close_on_drop(&mut self) {
        self.reusable = false;
        self.conn.close_on_drop();
    }
}

impl<DB: Database> Deref for Pooled<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> DerefMut for Pooled<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl<DB: Database> Drop for Pooled<DB> {
    fn drop(&mut self) {
        // SAFETY: `conn` is taken once, here, and `self` is not used after this.
        let conn = unsafe { ManuallyDrop::take(&mut self.conn) };
        if self.reusable {
            self.hot.park(conn);
        }
        // Otherwise `conn` drops here: sqlx's pool checks it (or closes it).
    }
}
