//! The Rust form of dsg_lib's `async_database_functions` package.

pub mod async_database;
pub mod base_schema;
pub mod database_config;
pub(crate) mod dialect;
pub mod error;
pub mod field;
pub mod model;
pub mod row;
pub mod session;
pub mod statement;
pub(crate) mod schema;
