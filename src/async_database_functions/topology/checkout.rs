//! [`Checkout`]: a connection counted as checked out of its database and host while it lives.

use std::sync::Arc;

use crate::async_database_functions::dialect::health::Health;

use super::host_state::HostState;

/// A checked-out connection, counted in [`Health::in_use`] while it lives.
#[derive(Debug)]
pub(crate) struct Checkout {
    health: Arc<Health>,
    host: Arc<HostState>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// On the primary of a database with replicas: statements count as writes.
    track_writes: bool,
}

impl Checkout {
    /// Counts a connection to `host` as checked out of `health`'s database until the guard is
    /// dropped; `permit` is its share of the connection limit across hosts.
    pub(crate) fn new(
        health: &Arc<Health>,
        host: Arc<HostState>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        track_writes: bool,
    ) -> Checkout {
        health.checked_out();
        Checkout {
            health: health.clone(),
            host,
            _permit: permit,
            track_writes,
        }
    }

    /// A statement or a commit finished on this connection: when it is to the primary of a
    /// database with replicas, the reads that start from now on must see it.
    pub(crate) fn note_write(&self) {
        if self.track_writes {
            self.health.note_write();
        }
    }

    pub(crate) fn health(&self) -> &Health {
        &self.health
    }

    /// The server the connection is to.
    pub(crate) fn host(&self) -> &HostState {
        &self.host
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        self.health.checked_in();
    }
}
