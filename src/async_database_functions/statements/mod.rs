//! Statements and writes: what runs on a connection, above the executors and the topology.
//!
//! - [`model`]: the [`Model`](model::Model) trait `#[derive(Model)]` implements, typed columns
//!   and inserts.
//! - [`statement`]: sea-query statements and `text()` with `:name` parameters, rendered per
//!   dialect.
//! - [`session`]: one connection in one transaction.
//! - [`execute_result`]: what running one statement reports.
//! - [`catalog`], [`schema`]: the registered models' tables, and the DDL that creates them.
//! - [`writes`], [`bulk_insert`]: the typed writes shared by operations and sessions, and the
//!   multi-row inserts of `create_many`.
//! - [`row_key`]: key values as batch work hashes, compares and orders them.
//! - [`telemetry`]: spans per operation, echo, slow statements, pool statistics.
//! - [`kept`]: what is built once per model and kept for the process (a model's plain
//!   `SELECT`, the SQL of its point and every-row reads).

pub(crate) mod bulk_insert;
pub(crate) mod catalog;
pub mod execute_result;
pub(crate) mod kept;
pub mod model;
pub(crate) mod row_key;
pub(crate) mod schema;
pub mod session;
pub mod statement;
pub mod telemetry;
pub(crate) mod writes;
