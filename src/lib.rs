//! # dsg_lib for Rust
//!
//! The async database layer of the Python library dsg_lib (`async_database_functions`:
//! `DBConfig`, `AsyncDatabase`, `DatabaseOperations`, `base_schema`), typed, for SQLite
//! (the embedded default), PostgreSQL, CockroachDB and MySQL/MariaDB.
//!
//! ```
//! use dsg_lib::Model;
//! use dsg_lib::async_database_functions::{
//!     async_database::AsyncDatabase, base_schema::SchemaBase, database_config::DBConfig,
//!     model::Model as _,
//! };
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(unique, index, size = 100)]
//!     name: String,
//!     color: Option<String>,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db_config = DBConfig::new(serde_json::json!({
//!     "database_uri": "sqlite+aiosqlite:///:memory:?cache=shared", "echo": false, "pool_recycle": 3600,
//! }))?;
//! let async_db = AsyncDatabase::new(db_config);
//! async_db.register::<User>();
//! async_db.create_tables().await?;
//! # async_db.disconnect().await;
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! # }).unwrap();
//! ```

#![warn(missing_docs)]

extern crate self as dsg_lib;

pub mod async_database_functions;

pub use async_database_functions::async_database::AsyncDatabase;
pub use async_database_functions::base_schema::SchemaBase;
pub use async_database_functions::database_config::DBConfig;
pub use async_database_functions::error::{DatabaseError, ErrorKind};
/// `#[derive(Model)]`: see [`async_database_functions::model`].
pub use dsg_lib_derive::Model;
pub use sea_query;

/// What `#[derive(Model)]` expands to refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::async_database_functions::database_config::Dialect;
    pub use crate::async_database_functions::error::DatabaseError;
    pub use crate::async_database_functions::field::SqlField;
    pub use crate::async_database_functions::model::{Column, ColumnSet, Model, SqlType};
    pub use crate::async_database_functions::row::{FromRow, RowReader, RowRef};
    pub use sea_query::Value;
}
