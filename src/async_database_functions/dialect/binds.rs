//! Bound values a backend cannot take.

use sea_query::Values;

use crate::async_database_functions::core::error::DatabaseError;

/// Refuses an array bound on a backend without array parameters, naming the value and what
/// to write instead.
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) fn refuse_arrays(backend: &str, values: &Values) -> Result<(), DatabaseError> {
    match values.0.iter().position(sea_query::Value::is_array) {
        Some(n) => Err(DatabaseError::invalid_input(format!(
            "bound value {} is an array: {backend} has no array parameters (PostgreSQL has); \
             list the values in `IN (…)` (`Col::is_in`), or read by many keys with \
             `read_by_pks`",
            n + 1
        ))),
        None => Ok(()),
    }
}
