//! The Rust form of dsg_lib's `async_database_functions` package.

pub mod async_database;
pub mod base_schema;
pub mod batch;
pub(crate) mod bulk_insert;
pub mod database_config;
pub mod database_operations;
pub(crate) mod dialect;
pub mod error;
pub mod field;
#[cfg(feature = "axum")]
pub mod http;
pub mod model;
pub mod record;
pub(crate) mod redact;
pub mod relations;
pub mod row;
pub(crate) mod schema;
pub mod session;
pub mod sql_enum;
pub mod statement;
pub mod stream;
pub mod telemetry;
pub(crate) mod topology;
pub mod transaction;
pub(crate) mod upsert;
pub(crate) mod writes;
