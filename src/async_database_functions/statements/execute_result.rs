//! [`ExecuteResult`]: what running one statement reports.

use crate::async_database_functions::core::record::Record;

/// What [`DatabaseOperations::execute_one`](crate::async_database_functions::database_operations::DatabaseOperations::execute_one) reports of a statement.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExecuteResult {
    /// Rows affected (INSERT/UPDATE/DELETE) or returned (SELECT).
    pub rowcount: u64,
    /// The primary key the backend reports for an INSERT (SQLite rowid, MySQL
    /// `LAST_INSERT_ID()`); on PostgreSQL use a RETURNING clause.
    pub inserted_primary_key: Option<i64>,
    /// The rows of a SELECT or of a RETURNING clause.
    pub rows: Vec<Record>,
}
