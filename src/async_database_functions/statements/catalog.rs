//! The registered models' tables ([`Catalog`]): what `create_tables` creates, and the names of
//! the indexes and constraints the library gives them.

use super::super::core::column::Column;
use super::super::core::error::{ConstraintInfo, DatabaseError};

/// A registered model's table: what `create_tables` needs to know.
#[derive(Debug, Clone)]
pub(crate) struct TableDef {
    pub name: &'static str,
    pub columns: &'static [Column],
}

/// The registered models' tables, shared by an
/// [`AsyncDatabase`](super::async_database::AsyncDatabase) and its sessions: what
/// `create_tables` creates, and which unique index covers which column, so that a unique
/// violation names both whichever one the backend reported (MariaDB names only the index,
/// SQLite only the columns).
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    tables: std::sync::RwLock<Vec<TableDef>>,
}

impl Catalog {
    /// Adds `table` unless a table of that name is registered already.
    pub(crate) fn register(&self, table: TableDef) {
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        if !tables.iter().any(|t| t.name == table.name) {
            tables.push(table);
        }
    }

    /// The registered tables, in registration order.
    pub(crate) fn tables(&self) -> Vec<TableDef> {
        self.tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Completes what a unique violation says of its constraint from the registered models:
    /// the index's name when the backend gave only the column (SQLite), the column and table
    /// when it gave only the index's name (MariaDB, MySQL). Other errors pass unchanged.
    pub(crate) fn complete(&self, error: DatabaseError) -> DatabaseError {
        if !error.is_unique_violation() {
            return error;
        }
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        error.complete_constraint_info(|info| complete_unique(&tables, info))
    }
}

/// See [`Catalog::complete`].
fn complete_unique(tables: &[TableDef], info: &mut ConstraintInfo) {
    let of_table = |t: &&TableDef| info.table.as_deref().is_none_or(|name| name == t.name);
    match (&info.name, info.columns.as_slice()) {
        (Some(name), []) => {
            let found = tables.iter().filter(of_table).find_map(|t| {
                t.unique_indexes()
                    .find(|(index, _)| index == name)
                    .map(|(_, column)| (t.name, column))
            });
            if let Some((table, column)) = found {
                info.table.get_or_insert_with(|| table.to_string());
                info.columns.push(column.to_string());
            }
        }
        (None, [column]) if info.table.is_some() => {
            let found = tables.iter().filter(of_table).find_map(|t| {
                t.unique_indexes()
                    .find(|(_, c)| c == column)
                    .map(|(index, _)| index)
            });
            info.name = found;
        }
        _ => {}
    }
}

impl TableDef {
    /// The unique indexes `create_statements` makes (a `unique, index` column): each index's
    /// name and its column.
    pub(crate) fn unique_indexes(&self) -> impl Iterator<Item = (String, &'static str)> + '_ {
        self.columns
            .iter()
            .filter(|c| c.unique && c.index && !c.primary_key)
            .map(|c| (generated_name("ix", self.name, c.name), c.name))
    }
}

/// The longest generated index or constraint name, in bytes: PostgreSQL's identifier limit
/// (MySQL/MariaDB allow 64).
pub(crate) const MAX_GENERATED_NAME: usize = 63;

/// The name of an index or constraint the library creates: `<prefix>_<table>_<column>`.
///
/// sea-query writes these names between quotes without escaping them, so the name is made of
/// identifier characters only: any other character becomes `_`. A name that had to change, or
/// that is longer than [`MAX_GENERATED_NAME`] bytes (PostgreSQL would silently truncate it,
/// MySQL refuse it), is cut and ends with a hash of the full name, so that two long names with
/// the same beginning stay distinct. Names of models whose table and columns are plain
/// identifiers (as `#[derive(Model)]` requires) and short enough keep the plain form.
pub(crate) fn generated_name(prefix: &str, table: &str, column: &str) -> String {
    let full = format!("{prefix}_{table}_{column}");
    let mut name: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name != full || name.len() > MAX_GENERATED_NAME {
        let hash = format!("_{:08x}", fnv1a(full.as_bytes()));
        // ASCII only by now, so any byte index is a character boundary.
        name.truncate(MAX_GENERATED_NAME - hash.len());
        name.push_str(&hash);
    }
    name
}

/// 32-bit FNV-1a: a stable hash (the same in every build), for [`generated_name`].
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}
