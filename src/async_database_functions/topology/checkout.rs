//! [`Checkout`]: a connection's host and its share of the connection limit, while it lives.

use std::sync::Arc;

use super::host_state::HostState;

/// A checked-out connection's host, and its permit of the limit across hosts. Counted as in use
/// ([`Health::in_use`](crate::async_database_functions::dialect::health::Health::in_use)) by
/// the session that holds it, whose database's health it shares.
#[derive(Debug)]
pub(crate) struct Checkout {
    host: Arc<HostState>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// On the primary of a database with replicas: statements count as writes.
    track_writes: bool,
}

impl Checkout {
    /// A connection to `host`; `permit` is its share of the connection limit across hosts.
    pub(crate) fn new(
        host: Arc<HostState>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        track_writes: bool,
    ) -> Checkout {
        Checkout {
            host,
            _permit: permit,
            track_writes,
        }
    }

    /// Whether the connection's statements count as writes (for read-your-writes).
    pub(crate) fn tracks_writes(&self) -> bool {
        self.track_writes
    }

    /// The server the connection is to.
    pub(crate) fn host(&self) -> &HostState {
        &self.host
    }
}
