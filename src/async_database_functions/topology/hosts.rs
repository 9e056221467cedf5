//! The servers of a database, one pool each, and which one a new session goes to.
//!
//! A URI names one host or several (`mysql://root@h1:3307,h2:3308,h3:3309/test`). Each host
//! gets a pool of its own; a session is taken from the first host that fits, in this order:
//! - `target_session_attrs=any` (the default): the hosts in turn, round robin, so a
//!   multi-primary cluster (MariaDB Galera) shares the load;
//! - otherwise: the hosts in the URI's order, keeping those whose role fits (`read-write`:
//!   a primary; `read-only`: a standby; `prefer-standby`: a standby, else any). The role is
//!   asked once per host (`pg_is_in_recovery()`, `@@global.read_only`) and asked again after
//!   the host failed or refused a write, so a promoted standby is found. While no host is a
//!   primary for `read-write` or `primary` (a failover: the primary is gone and no standby is
//!   promoted yet) while some host answers, a session waits for one, asking the roles again
//!   after 20 ms, then pausing doubling up to 250 ms (full jitter), for at most
//!   `pool_timeout`; then it fails with a `ConnectionError` listing the hosts as that last
//!   round saw them. A failover thus costs latency, not errors. When no host answers at all,
//!   the error comes at once.
//!
//! A host that refuses connections or loses one is marked down for [`DOWN_FOR`] and skipped
//! meanwhile (unless every host is down: then all are tried), so one dead node costs the
//! callers at most one fast-failing connect. With several hosts, `pool_size + max_overflow`
//! bounds the connections in use across all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use super::super::database_config::{DBConfig, Role, TargetSessionAttrs};
use super::super::dialect::{self, Conn, Keeper, Pool};
use super::checkout::Checkout;
use super::host_state::HostState;
pub use super::host_state::PROBE_EVERY;
use super::refused::{probe, refused_error};
use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::dialect::health::Health;

/// While no host fits `target_session_attrs`: the first pause before the hosts' roles are
/// asked again (it doubles up to [`ROLE_WAIT_MAX`], each pause drawn at random below it).
const ROLE_WAIT_FIRST: Duration = Duration::from_millis(20);
/// The longest pause between two rounds of asking the hosts' roles while none fits.
const ROLE_WAIT_MAX: Duration = Duration::from_millis(250);

/// A random fraction in [0, 1), for full jitter.
fn jitter_fraction() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

/// What a session needs of the server it gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// A host fitting these attributes (a primary set).
    Attrs(TargetSessionAttrs),
    /// A replica that has replayed the WAL up to `lsn`, waiting at most `within` for it.
    Replayed { lsn: u64, within: Duration },
}

/// One server: its URL (none for SQLite), its pool and its state.
pub(crate) struct Host {
    url: Option<Url>,
    pub(crate) pool: Pool,
    state: Arc<HostState>,
}

/// The servers of a database.
pub(crate) struct Hosts {
    hosts: Vec<Host>,
    /// Where the next round-robin turn starts.
    next: AtomicUsize,
    /// With several hosts: one permit per connection in use, across all of them.
    limit: Option<Arc<Semaphore>>,
}

impl Hosts {
    /// A pool per URL (one for SQLite, where there is none); no server connection is opened
    /// yet.
    pub(crate) async fn connect(
        config: &DBConfig,
        urls: &[Url],
        health: &Arc<Health>,
    ) -> Result<(Hosts, Vec<Keeper>), DatabaseError> {
        let labels: Vec<String> = urls
            .iter()
            .map(super::super::database_config::host_label)
            .collect();
        let urls: Vec<Option<&Url>> = if urls.is_empty() {
            vec![None]
        } else {
            urls.iter().map(Some).collect()
        };
        let mut hosts = Vec::with_capacity(urls.len());
        let mut keepers = Vec::with_capacity(urls.len());
        for (i, url) in urls.into_iter().enumerate() {
            let label = labels.get(i).cloned().unwrap_or_else(|| "local".into());
            let state = HostState::new(label);
            let (pool, keeper) =
                Pool::connect(config, url, health.clone(), state.stale.clone()).await?;
            hosts.push(Host {
                url: url.cloned(),
                pool,
                state,
            });
            keepers.push(keeper);
        }
        let limit =
            (hosts.len() > 1).then(|| Arc::new(Semaphore::new(config.max_connections() as usize)));
        Ok((
            Hosts {
                hosts,
                next: AtomicUsize::new(0),
                limit,
            },
            keepers,
        ))
    }

    /// The first host's pool (the one host's, but for multi-host URIs).
    pub(crate) fn first(&self) -> Option<&Pool> {
        self.hosts.first().map(|h| &h.pool)
    }

    pub(crate) fn pools(&self) -> impl Iterator<Item = &Pool> {
        self.hosts.iter().map(|h| &h.pool)
    }

    /// (open, idle) connections over every host.
    pub(crate) fn stats(&self) -> (u32, usize) {
        self.pools().fold((0, 0), |(open, idle), pool| {
            let (o, i) = pool.stats();
            (open.saturating_add(o), idle.saturating_add(i))
        })
    }

    /// The most connections in use at once.
    pub(crate) fn max_connections(&self, config: &DBConfig) -> u32 {
        match (&self.limit, self.first()) {
            (None, Some(pool)) => pool.max_connections(),
            _ => config.max_connections(),
        }
    }

    /// Closes every pool, waiting for the connections in use to come back.
    pub(crate) async fn close(&self) {
        for pool in self.pools() {
            pool.close().await;
        }
    }

    /// A connection shared with other reads outside transactions, at once, when there is one
    /// host and no role to check and its executor shares connections (see
    /// [`Pool::try_acquire_shared`]); `None` otherwise: [`acquire`](Self::acquire) then.
    #[cfg(feature = "pg-pipeline")]
    pub(crate) fn try_acquire_shared(
        &self,
        config: &DBConfig,
        track_writes: bool,
    ) -> Option<(Conn, Checkout)> {
        let [host] = self.hosts.as_slice() else {
            return None;
        };
        if config.target_session_attrs().needs_role() || self.limit.is_some() {
            return None;
        }
        let conn = host.pool.try_acquire_shared()?;
        Some((conn, Checkout::new(host.state.clone(), None, track_writes)))
    }

    /// A connection from a host that fits `target_session_attrs`, counted as checked out.
    ///
    /// # Errors
    ///
    /// `PoolTimeout` when every connection is in use for `pool_timeout`; `ConnectionError`
    /// naming every host and its state when none could be used.
    /// `track_writes`: the session's statements count as writes (for read-your-writes).
    pub(crate) async fn acquire(
        &self,
        config: &DBConfig,
        health: &Arc<Health>,
        want: Want,
        track_writes: bool,
    ) -> Result<(Conn, Checkout), DatabaseError> {
        let permit = self.permit(config).await?;
        let attrs = match want {
            Want::Attrs(attrs) => attrs,
            Want::Replayed { .. } => TargetSessionAttrs::Any,
        };
        if let ([host], false) = (self.hosts.as_slice(), attrs.needs_role()) {
            // One host: no choice to make, no role to check unless asked for.
            if let Want::Attrs(_) = want {
                let conn = self.acquire_on(host, config, health).await?;
                return Ok((
                    conn,
                    Checkout::new(host.state.clone(), permit, track_writes),
                ));
            }
        }
        // While no host is a primary where one is needed (a failover: the primary is gone, no
        // standby promoted yet), the session waits for one, asking the hosts' roles again with
        // a short backoff, up to `pool_timeout` from the start of the call. A standby asked for
        // and not found fails at once: reads have the primary to go to.
        let waits = matches!(
            want,
            Want::Attrs(TargetSessionAttrs::ReadWrite | TargetSessionAttrs::Primary)
        );
        let started = Instant::now();
        let deadline = started + config.pool_timeout();
        let mut pause = ROLE_WAIT_FIRST;
        loop {
            // What this pass saw of each host, for the error: read here, not from the shared
            // state afterwards (other sessions change it meanwhile).
            let mut seen: Vec<&'static str> = vec!["not tried"; self.hosts.len()];
            let order = self.order(attrs);
            // When every host is down all are tried, but for replicas: their reads go to the
            // primary instead.
            let all_down = matches!(want, Want::Attrs(_))
                && order.iter().all(|&i| self.hosts[i].state.is_down());
            let mut last_error = None;
            // Whether any host gave a connection in this round: when none did, nothing is
            // waited for (every host refused or failed: no failover under way to wait out).
            let mut answered = false;
            // `prefer-standby` makes a second, lenient pass; the others one.
            for strict in [true, false] {
                for &i in &order {
                    let host = &self.hosts[i];
                    if host.state.is_down() && !all_down {
                        seen[i] = "down";
                        continue;
                    }
                    let mut conn = match self.acquire_on(host, config, health).await {
                        Ok(conn) => conn,
                        Err(e) if e.kind() == ErrorKind::ConnectionError => {
                            host.state.mark_down();
                            seen[i] = "down";
                            last_error = Some(e);
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    host.state.mark_up();
                    answered = true;
                    if attrs.needs_role() {
                        let role = match host.state.role() {
                            Some(role) => role,
                            // Boxed (as the other rare steps here): kept out of every
                            // session's future.
                            None => match Box::pin(ask_role(&mut conn, config)).await {
                                Ok(role) => {
                                    host.state.set_role(role);
                                    role
                                }
                                Err(e) => {
                                    conn.close_on_drop();
                                    host.state.mark_down();
                                    seen[i] = "down";
                                    last_error = Some(e);
                                    continue;
                                }
                            },
                        };
                        seen[i] = match role {
                            Role::Primary => "primary",
                            Role::Standby => "standby",
                        };
                        if !attrs.accepts(role, strict) {
                            continue;
                        }
                    }
                    if let Want::Replayed { lsn, within } = want {
                        let ready = if host.state.replayed.load(Ordering::Acquire) >= lsn {
                            Ok(true)
                        } else {
                            Box::pin(wait_replayed(&mut conn, &host.state, config, lsn, within))
                                .await
                        };
                        match ready {
                            Ok(true) => {}
                            Ok(false) => {
                                // Lagging: skipped for a while; the read goes elsewhere.
                                host.state.mark_down();
                                seen[i] = "lagging";
                                last_error = Some(DatabaseError::new(
                                    ErrorKind::ConnectionError,
                                    format!(
                                        "replica {} lags by more than {within:?}",
                                        host.state.label
                                    ),
                                ));
                                continue;
                            }
                            Err(e) => {
                                conn.close_on_drop();
                                host.state.mark_down();
                                seen[i] = "down";
                                last_error = Some(e);
                                continue;
                            }
                        }
                    }
                    return Ok((
                        conn,
                        Checkout::new(host.state.clone(), permit, track_writes),
                    ));
                }
                if attrs != TargetSessionAttrs::PreferStandby {
                    break;
                }
            }
            // None fits now; roles may change (a promotion): ask again next time.
            for host in &self.hosts {
                host.state.forget_role();
            }
            let now = Instant::now();
            if waits && answered && now < deadline {
                // Full jitter, so that the sessions waiting do not ask in step.
                let jittered = pause.mul_f64(jitter_fraction());
                tokio::time::sleep(jittered.min(deadline - now)).await;
                pause = (pause * 2).min(ROLE_WAIT_MAX);
                continue;
            }
            let states: Vec<String> = self
                .hosts
                .iter()
                .zip(&seen)
                .map(|(h, state)| format!("{} ({state})", h.state.label))
                .collect();
            let cause = last_error
                .map(|e| format!("; last error: {}", e.details()))
                .unwrap_or_default();
            let waited = if waits && answered {
                format!(
                    " after waiting {:.1?} for one (pool_timeout)",
                    started.elapsed()
                )
            } else {
                String::new()
            };
            let error = DatabaseError::new(
                ErrorKind::ConnectionError,
                format!(
                    "no host fits target_session_attrs={attrs}{waited}: {}{cause}",
                    states.join(", ")
                ),
            );
            return Err(if waits && answered {
                error.with_waited_out()
            } else {
                error
            });
        }
    }

    /// The order in which hosts are tried: in turn for `any`, else as in the URI.
    fn order(&self, attrs: TargetSessionAttrs) -> Vec<usize> {
        let n = self.hosts.len();
        let start = if attrs.needs_role() {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % n
        };
        (0..n).map(|k| (start + k) % n).collect()
    }

    /// With several hosts, a share of the connection limit, waiting at most `pool_timeout`.
    async fn permit(
        &self,
        config: &DBConfig,
    ) -> Result<Option<OwnedSemaphorePermit>, DatabaseError> {
        let Some(limit) = &self.limit else {
            return Ok(None);
        };
        let timeout = dialect::acquire_timeout(config);
        match tokio::time::timeout(timeout, limit.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_)) => Err(crate::async_database_functions::dialect::health::disconnected()),
            Err(_) => Err(DatabaseError::new(
                ErrorKind::PoolTimeout,
                format!(
                    "all {} connections across the hosts were in use for {timeout:?} \
                     (pool_size + max_overflow)",
                    config.max_connections()
                ),
            )),
        }
    }

    /// A connection from `host`'s pool. When a new connection is needed, the pool's connect
    /// (which retries a refused port until the timeout) races a probe that reports a refused
    /// port at once.
    async fn acquire_on(
        &self,
        host: &Host,
        config: &DBConfig,
        health: &Health,
    ) -> Result<Conn, DatabaseError> {
        let pool = &host.pool;
        if let Some(conn) = pool.try_acquire_idle(config) {
            return Ok(conn);
        }
        let max = pool.max_connections();
        let waiting = health.wait();
        // Counted as waiting, look again: a connection parked on the hot stack just before is
        // found here; one parked after sees this caller waiting and goes to sqlx's pool.
        if let Some(conn) = pool.try_acquire_idle(config) {
            return Ok(conn);
        }
        // Whether the pool will open a connection: read only where a server may refuse it
        // (SQLite has no URL, and counting its idle connections takes a lock).
        let opening = || {
            let (open, idle) = pool.stats();
            idle == 0 && open < max
        };
        let acquired = match &host.url {
            Some(url) => {
                // When the pool opens a connection at once, the port is probed at once; else
                // (an idle connection to check, or every connection open: one coming back
                // serves this caller) only if none came within `PROBE_EVERY`: an idle
                // connection found dead (`pool_pre_ping`, or stale) makes the pool open one.
                let opening = opening();
                tokio::select! {
                    // Boxed, as below.
                    acquired = Box::pin(pool.acquire(!opening)) => acquired,
                    // Boxed: kept out of every session's future.
                    refused = Box::pin(refused_while_waiting(config, url, &host.state, opening)) => {
                        return Err(refused);
                    }
                }
            }
            // Boxed: waiting for the pool (or a connection it opens) is a future of kilobytes
            // that every statement's future would otherwise carry and move; the idle
            // connection above is the common way and needs none.
            None => Box::pin(pool.acquire(false)).await,
        };
        drop(waiting);
        match acquired {
            Ok(conn) => Ok(conn),
            // Not every connection was in use, so the pool was opening one, and it did not
            // come: the server did not answer in time.
            Err(sqlx::Error::PoolTimedOut) if health.in_use() < max => Err(DatabaseError::new(
                ErrorKind::ConnectionError,
                format!(
                    "could not connect to {} within {:?}: the server did not answer",
                    host.url.as_ref().map_or_else(
                        || config.redacted_uri(),
                        crate::async_database_functions::core::redact::redact_url
                    ),
                    dialect::acquire_timeout(config)
                ),
            )),
            Err(e) => Err(dialect::map_error(config, e)),
        }
    }
}

/// Resolves only when `url`'s port refuses connections while this caller waits, with the error
/// to report: probed at once with `at_once`, else after [`PROBE_EVERY`], then every
/// `PROBE_EVERY` (one probe per host at a time, whoever waits; the others see its finding).
async fn refused_while_waiting(
    config: &DBConfig,
    url: &Url,
    host: &HostState,
    at_once: bool,
) -> DatabaseError {
    let since = host.now();
    let mut first = true;
    loop {
        let now = first && at_once;
        first = false;
        if !now {
            tokio::time::sleep(PROBE_EVERY).await;
        }
        if host.refused_after(since) {
            return refused_error(url, "connection refused");
        }
        if (now || host.claim_probe())
            && let Some(e) = probe(config, url).await
        {
            host.refused_at
                .store(host.now().saturating_add(1), Ordering::Release);
            return e;
        }
    }
}

/// Asks a server whether it takes writes.
async fn ask_role(conn: &mut Conn, config: &DBConfig) -> Result<Role, DatabaseError> {
    let Some(sql) = dialect::role_sql(config.dialect()) else {
        return Ok(Role::Primary);
    };
    let read_only = conn.probe::<i64>(config, sql).await?;
    Ok(if read_only == Some(1) {
        Role::Standby
    } else {
        Role::Primary
    })
}

/// Whether the replica on `conn` has replayed the WAL up to `lsn`, asking it again every
/// millisecond for at most `within`. What it was seen to have replayed is kept, so a replica
/// known to be far enough needs no question.
async fn wait_replayed(
    conn: &mut Conn,
    host: &HostState,
    config: &DBConfig,
    lsn: u64,
    within: Duration,
) -> Result<bool, DatabaseError> {
    if host.replayed.load(Ordering::Acquire) >= lsn {
        return Ok(true);
    }
    let Some(sql) = dialect::replay_position_sql(config.dialect()) else {
        return Ok(true);
    };
    let deadline = Instant::now() + within;
    loop {
        let replayed = conn
            .probe::<String>(config, sql)
            .await?
            .and_then(|text| parse_lsn(&text))
            .unwrap_or(0);
        host.replayed.fetch_max(replayed, Ordering::AcqRel);
        if replayed >= lsn {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A PostgreSQL WAL position (`pg_lsn` as text, `16/B374D848`) as a number.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    Some(hi << 32 | lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_compare_as_numbers() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert!(parse_lsn("1/0").unwrap() > parse_lsn("0/FFFFFFFF").unwrap());
        assert_eq!(parse_lsn("x"), None);
    }
}
