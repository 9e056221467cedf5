//! [`IsolationLevel`]: the transaction isolation level every session runs at.

use crate::async_database_functions::core::sql_dialect::Dialect;

/// A transaction isolation level, applied to every session.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (on SQLite: `PRAGMA read_uncommitted = 1`).
    ReadUncommitted,
    /// `READ COMMITTED`.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE` (SQLite's only other level, and its default).
    Serializable,
}

impl IsolationLevel {
    /// The SQL spelling, e.g. `REPEATABLE READ`.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }

    /// Reads a level; `Ok(None)` is SQLAlchemy's `AUTOCOMMIT`. The error goes on from the key.
    pub(crate) fn parse(text: &str) -> Result<Option<Self>, String> {
        Ok(Some(
            match text
                .trim()
                .to_ascii_uppercase()
                .replace(['_', '-'], " ")
                .as_str()
            {
                "READ UNCOMMITTED" => IsolationLevel::ReadUncommitted,
                "READ COMMITTED" => IsolationLevel::ReadCommitted,
                "REPEATABLE READ" => IsolationLevel::RepeatableRead,
                "SERIALIZABLE" => IsolationLevel::Serializable,
                "AUTOCOMMIT" => return Ok(None),
                _ => {
                    return Err(format!(
                        ": unknown isolation level {text:?}; expected one of READ UNCOMMITTED, \
                         READ COMMITTED, REPEATABLE READ, SERIALIZABLE, AUTOCOMMIT"
                    ));
                }
            },
        ))
    }

    /// Whether `dialect` has this level.
    pub(crate) fn supported_by(self, dialect: Dialect) -> bool {
        match dialect {
            Dialect::Sqlite => matches!(
                self,
                IsolationLevel::ReadUncommitted | IsolationLevel::Serializable
            ),
            Dialect::Cockroachdb => matches!(
                self,
                IsolationLevel::ReadCommitted | IsolationLevel::Serializable
            ),
            _ => true,
        }
    }
}
