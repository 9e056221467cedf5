//! What the crate knows of one server ([`HostState`]): whether it is down, its role, what a
//! replica has replayed, which of its connections are stale, when it was last probed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::async_database_functions::database_config::Role;
use crate::async_database_functions::dialect::health::Staleness;

/// How long a host that failed is skipped before it is tried again.
pub const DOWN_FOR: Duration = Duration::from_secs(1);

/// While callers wait for a connection that does not come, the host's port is probed this
/// often (by one of them), so that a host refusing connections fails them within
/// 2 × `PROBE_EVERY` plus a connect, instead of `pool_timeout` (the driver retries a refused
/// connect as a server still starting).
pub const PROBE_EVERY: Duration = Duration::from_millis(100);

/// What the crate knows of one server: whether it is down, and its role. Shared with the
/// sessions on it, so that a failure seen in a session marks the host.
#[derive(Debug)]
pub(crate) struct HostState {
    /// `host:port`, for messages (no user, no password).
    pub(crate) label: String,
    pub(crate) epoch: Instant,
    /// Nanoseconds after `epoch` until which the host is skipped; 0: up.
    pub(crate) down_until: AtomicU64,
    /// 0: not known; 1: primary; 2: standby.
    pub(crate) role: AtomicU8,
    /// A replica: the highest WAL position it was seen to have replayed.
    pub(crate) replayed: AtomicU64,
    /// Which connections of this host's pool are stale.
    pub(crate) stale: Arc<Staleness>,
    /// Nanoseconds after `epoch` when a probe of this host last began, plus one (one probe per
    /// [`PROBE_EVERY`] at most, whoever waits).
    pub(crate) probed_at: AtomicU64,
    /// Nanoseconds after `epoch` when a probe last found the port refusing, plus one.
    pub(crate) refused_at: AtomicU64,
}

impl HostState {
    pub(crate) fn new(label: String) -> Arc<Self> {
        Arc::new(HostState {
            label,
            epoch: Instant::now(),
            down_until: AtomicU64::new(0),
            role: AtomicU8::new(0),
            replayed: AtomicU64::new(0),
            stale: Staleness::new(),
            probed_at: AtomicU64::new(0),
            refused_at: AtomicU64::new(0),
        })
    }

    /// A connection to this host was found lost: every connection to it opened until now is
    /// stale (the other hosts' pools are left alone).
    pub(crate) fn invalidate(&self) {
        self.stale.invalidate();
    }

    /// Whether this caller may probe the host now (no probe began within [`PROBE_EVERY`]).
    pub(crate) fn claim_probe(&self) -> bool {
        let now = self.now().saturating_add(1);
        let last = self.probed_at.load(Ordering::Acquire);
        let every = u64::try_from(PROBE_EVERY.as_nanos()).unwrap_or(u64::MAX);
        (last == 0 || now.saturating_sub(last) >= every)
            && self
                .probed_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Whether a probe found the port refusing after `since` (nanoseconds after `epoch`).
    pub(crate) fn refused_after(&self, since: u64) -> bool {
        self.refused_at.load(Ordering::Acquire) > since
    }

    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The host failed: skip it for [`DOWN_FOR`], and ask its role and (a replica) its replay
    /// position again when it is back: the server found there then may be another one, say a
    /// standby restored from an older backup, behind what this one had replayed.
    pub(crate) fn mark_down(&self) {
        let until = self.now().saturating_add(DOWN_FOR.as_nanos() as u64);
        self.down_until.store(until, Ordering::Release);
        self.forget_role();
        self.replayed.store(0, Ordering::Release);
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down_until.load(Ordering::Acquire) > self.now()
    }

    pub(crate) fn mark_up(&self) {
        self.down_until.store(0, Ordering::Release);
    }

    pub(crate) fn role(&self) -> Option<Role> {
        match self.role.load(Ordering::Acquire) {
            1 => Some(Role::Primary),
            2 => Some(Role::Standby),
            _ => None,
        }
    }

    pub(crate) fn set_role(&self, role: Role) {
        let code = match role {
            Role::Primary => 1,
            Role::Standby => 2,
        };
        self.role.store(code, Ordering::Release);
    }

    /// The role may have changed (a write was refused, a failover): ask again next time.
    pub(crate) fn forget_role(&self) {
        self.role.store(0, Ordering::Release);
    }
}
