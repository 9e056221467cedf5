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
//! - under `pool_pre_ping` or `pool_recycle`, once the pool is closed, and once a caller has
//!   taken the raw sqlx pool ([`AsyncDatabase::sqlx_pool`]), the stack is emptied into sqlx's
//!   pool and stays unused; after an invalidation of the host, it is unused until the next
//!   checkout has closed the stale connections (then in use again);
//! - a connection that waited on the stack for more than [`HOT_FOR`] goes back to sqlx's pool
//!   (and its ping) instead of being handed out;
//! - while callers wait for a connection, a connection parked here goes to one of them: straight
//!   to a caller that waits on a full pool ([`Hot::handed`]: it waits on sqlx's pool at the same
//!   time, for a connection coming back the sqlx way), else, when any caller waits on sqlx's
//!   pool alone (the pool was opening a connection for it), to sqlx's pool, which wakes it.
//!
//! A connection that carried a large statement is closed when its session ends, on a backend
//! that sets a limit ([`Hot::new`]'s `retire_above`): MySQL and MariaDB keep the network buffer
//! of a connection as large as the largest packet it received, for the connection's life, and
//! fill that buffer with a result's rows before sending any. After a 1.5 MB insert, reading
//! 10 000 rows on that connection took 1.6 times as long (the first row came after 8.4 ms
//! instead of 1.8); a fresh connection costs under a millisecond on loopback.
//!
//! [`AsyncDatabase::sqlx_pool`]: super::super::async_database::AsyncDatabase::sqlx_pool

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Database;
use sqlx::pool::PoolConnection;

use super::super::database_config::DBConfig;
use crate::async_database_functions::dialect::health::{Health, Staleness};

/// How long a connection may wait on the stack and still be handed out without sqlx's check.
pub(crate) const HOT_FOR: Duration = Duration::from_secs(1);

/// The stack of one server pool's hot connections.
pub(crate) struct Hot<DB: Database> {
    conns: Mutex<Vec<(PoolConnection<DB>, Instant)>>,
    health: Arc<Health>,
    /// The host's invalidation state: no connection is parked or handed out from here while
    /// a sweep is due.
    stale: Arc<Staleness>,
    /// Off for good: the configuration checks connections on checkout, the pool closed, or the
    /// raw pool was handed out.
    off: AtomicBool,
    /// Wakes a caller waiting for a connection when one is parked.
    handed: tokio::sync::Notify,
    /// Callers waiting on `handed` (each also counts as waiting in `Health`).
    listening: AtomicU32,
    /// Statements longer than this many bytes (SQL or values) retire their connection.
    retire_above: Option<usize>,
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
    /// The stack of a pool for `config`. A connection that sent a statement (its SQL or its
    /// values) longer than `retire_above` bytes is closed when its session ends.
    pub(crate) fn new(
        config: &DBConfig,
        health: Arc<Health>,
        stale: Arc<Staleness>,
        retire_above: Option<usize>,
    ) -> Arc<Self> {
        let off = config.pool_pre_ping() || config.pool_recycle().is_some();
        Arc::new(Hot {
            conns: Mutex::new(Vec::new()),
            health,
            stale,
            off: AtomicBool::new(off),
            handed: tokio::sync::Notify::new(),
            listening: AtomicU32::new(0),
            retire_above,
        })
    }

    fn usable(&self) -> bool {
        !self.off.load(Ordering::Acquire) && self.stale.sweep_due().is_none()
    }

    /// The host's invalidation state.
    pub(crate) fn stale(&self) -> &Staleness {
        &self.stale
    }

    /// Closes every parked connection (a sweep after an invalidation).
    pub(crate) fn close_parked(&self) {
        let conns = match self.conns.lock() {
            Ok(mut conns) => std::mem::take(&mut *conns),
            Err(_) => return,
        };
        for (mut conn, _) in conns {
            conn.close_on_drop();
        }
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

    /// Parks a connection whose session ended cleanly (when hot connections are off, it goes
    /// to sqlx's pool instead), and hands it on when a caller waits for one.
    fn park(&self, conn: PoolConnection<DB>) {
        if !self.usable() {
            return drop(conn);
        }
        if let Ok(mut conns) = self.conns.lock() {
            conns.push((conn, Instant::now()));
        }
        // Pushed before looking: a caller that began waiting before this look is served here,
        // and one that begins after it finds the connection on the stack (it looks again once
        // it counts as waiting).
        let waiting = self.health.waiting();
        if waiting == 0 {
            return;
        }
        if waiting > self.listening.load(Ordering::Acquire) {
            // Someone waits on sqlx's pool alone: sqlx's pool wakes it with this connection.
            let handed = self.conns.lock().ok().and_then(|mut conns| conns.pop());
            drop(handed);
        } else {
            // A wake-up no caller is there to take is kept for the next.
            self.handed.notify_one();
        }
    }

    /// Waits until a connection is parked while this caller listens, and takes it: raced
    /// against sqlx's acquire, whichever comes first. The caller must count as waiting in
    /// `Health` and hold [`listen`](Self::listen)'s guard. Never ends once hot connections are
    /// off (parked ones then go to sqlx's pool, whose acquire ends instead).
    pub(crate) async fn handed(self: &Arc<Self>) -> Pooled<DB> {
        loop {
            self.handed.notified().await;
            if let Some(conn) = self.take() {
                return conn;
            }
        }
    }

    /// Counts the caller as listening for a handed connection until the guard drops.
    pub(crate) fn listen(&self) -> Listening<'_, DB> {
        self.listening.fetch_add(1, Ordering::AcqRel);
        Listening(self)
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

/// A caller listening for a handed connection ([`Hot::listen`]).
pub(crate) struct Listening<'h, DB: Database>(&'h Hot<DB>);

impl<DB: Database> Drop for Listening<'_, DB> {
    fn drop(&mut self) {
        self.0.listening.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection of a server pool: back to the hot stack when its session ended cleanly
/// ([`Pooled::reusable`]), else to sqlx's pool; closed once it carried a large statement
/// ([`Pooled::sending`]).
pub(crate) struct Pooled<DB: Database> {
    conn: ManuallyDrop<PoolConnection<DB>>,
    hot: Arc<Hot<DB>>,
    reusable: bool,
    retire: bool,
    /// The host's invalidation in force when the connection was taken: one that came after
    /// it (the connection was in use then) closes the connection when it comes back.
    taken_at: u64,
}

impl<DB: Database> Pooled<DB> {
    pub(crate) fn new(conn: PoolConnection<DB>, hot: Arc<Hot<DB>>) -> Self {
        let taken_at = hot.stale.mark();
        Pooled {
            conn: ManuallyDrop::new(conn),
            hot,
            reusable: false,
            retire: false,
            taken_at,
        }
    }

    /// Notes a statement about to be sent: `len` gives its longest part in bytes (the SQL or
    /// the values), asked only on a backend with a limit. Past the limit the connection is
    /// closed when its session ends (see the [module](self) doc).
    pub(crate) fn sending(&mut self, len: impl FnOnce() -> usize) {
        if let Some(max) = self.hot.retire_above
            && !self.retire
            && len() > max
        {
            self.retire = true;
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
        let mut conn = unsafe { ManuallyDrop::take(&mut self.conn) };
        if self.retire || self.hot.stale.invalidated_since(self.taken_at) {
            conn.close_on_drop();
        } else if self.reusable {
            self.hot.park(conn);
        }
        // Otherwise `conn` drops here: sqlx's pool checks it (or closes it).
    }
}
