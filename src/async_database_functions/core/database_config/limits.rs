//! The bounds of a configuration's values.

use std::time::Duration;

/// The most connections one pool may open (`pool_size + max_overflow`): far above what a
/// server accepts (PostgreSQL's default is 100), far below what would exhaust memory.
pub const MAX_CONNECTIONS: usize = 10_000;
/// The longest duration any key takes (a year): beyond it the drivers' deadlines overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// SQLite's busy timeout is a C `int` of milliseconds (about 24.8 days).
pub(crate) const MAX_SQLITE_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);
/// The most prepared statements cached per connection.
pub const MAX_STATEMENT_CACHE: usize = 100_000;
