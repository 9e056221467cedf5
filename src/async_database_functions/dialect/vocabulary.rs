//! What every executor and the dispatch in `mod.rs` share: the outcome of a statement and its
//! errors, what keeps a pool alive, how a dialect stores comments, the integrity kinds.

use crate::async_database_functions::core::error::{Constraint, DatabaseError, ErrorKind};

/// What running one statement produced.
pub(crate) struct Outcome<T> {
    pub rows: Vec<T>,
    pub rows_affected: u64,
    pub last_insert_id: Option<i64>,
}

/// An error of [`Conn::run`]: from the driver, or from decoding a row.
pub(crate) enum RunError {
    Driver(sqlx::Error),
    Decode(DatabaseError),
}

impl From<sqlx::Error> for RunError {
    fn from(e: sqlx::Error) -> Self {
        RunError::Driver(e)
    }
}

/// What a pool needs to stay alive besides itself (the in-memory SQLite keeper connection).
pub(crate) struct Keeper(#[allow(dead_code)] Option<Box<dyn Send + Sync>>);

impl Keeper {
    /// Nothing to keep.
    pub(crate) fn none() -> Keeper {
        Keeper(None)
    }

    /// Keeps `thing` alive as long as the pool.
    #[cfg(feature = "sqlite")]
    pub(crate) fn some(thing: Box<dyn Send + Sync>) -> Keeper {
        Keeper(Some(thing))
    }
}

/// How a dialect stores column comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Each variant belongs to one backend; a build without it never constructs it.
#[cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) enum CommentStyle {
    /// Not at all (SQLite).
    None,
    /// Inline in the column definition (MySQL/MariaDB).
    Inline,
    /// A separate `COMMENT ON COLUMN` statement (PostgreSQL).
    Statement,
}

/// Integrity error kinds shared by the dialect classifiers.
pub(crate) fn integrity(constraint: Constraint) -> (ErrorKind, Option<Constraint>) {
    (ErrorKind::IntegrityError, Some(constraint))
}
