//! The Rust form of dsg_lib's `async_database_functions` package.
//!
//! The crate is a house of floors; each imports only the floors below it (checked by
//! `scripts/layers.py` in CI):
//!
//! | floor | folder | what it holds |
//! |---|---|---|
//! | API | this folder | [`async_database`], [`database_operations`], [`transaction`], `upsert`, [`stream`], [`relations`], [`batch`], [`base_schema`], `http` |
//! | statements and writes | `statements/` | [`model`], [`statement`], [`session`], schema (DDL), writes, bulk inserts, [`telemetry`] |
//! | topology | `topology/` | hosts, replicas, retry: which server a session goes to |
//! | executors | `dialect/` | one per backend behind one internal interface; per-backend SQL; pool health; the row hand-off of streams |
//! | core | `core/` | driver-neutral vocabulary: the configuration ([`DBConfig`](database_config::DBConfig), the map validated per dialect), SQL types and column metadata, [`Dialect`](database_config::Dialect), values, [`RowRef`](row::RowRef) / [`FromRow`](row::FromRow) / [`DecodeError`](row::DecodeError), [`DatabaseError`](error::DatabaseError); imports nothing else of the crate |
//!
//! The public modules keep the paths of the seed and of earlier releases: [`database_config`], [`error`],
//! [`field`], [`record`], [`sql_enum`], [`row`] and [`model`] are re-exported from the floors
//! that hold them.

pub(crate) mod core;
pub(crate) mod dialect;
pub(crate) mod statements;
pub(crate) mod topology;

pub mod async_database;
pub mod base_schema;
pub mod batch;
pub mod database_operations;
#[cfg(feature = "axum")]
pub mod http;
pub mod migrations;
pub mod relations;
pub mod stream;
pub mod transaction;
pub(crate) mod upsert;

pub use self::core::{database_config, error, field, record, sql_enum};
pub use self::statements::{model, session, statement, telemetry};

/// Typed row decoding: [`FromRow`](row::FromRow) for models, scalars and tuples, over every backend's rows;
/// [`RowRef`](row::RowRef), a row whichever backend produced it; [`RowReader`](row::RowReader),
/// its columns in order.
pub mod row {
    pub use super::core::from_row::FromRow;
    pub use super::core::row::{DecodeError, RowRef};
    pub use super::core::row_reader::RowReader;
}
