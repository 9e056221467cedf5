//! The core: the driver-neutral vocabulary every other floor speaks, importing nothing else of
//! the crate.
//!
//! - [`sql_dialect`]: which SQL dialect a database speaks ([`Dialect`](sql_dialect::Dialect)).
//! - [`column`], [`column_set`]: column metadata (SQL types, server defaults, `ON DELETE`) and
//!   the [`ColumnSet`](column_set::ColumnSet) trait models and mixins implement.
//! - [`row`]: a result row whichever driver produced it ([`RowRef`](row::RowRef)), and the
//!   [`DriverRow`](row::DriverRow) interface each executor implements for its rows.
//! - [`field`], [`row_reader`], [`from_row`], [`record`], [`sql_enum`]: Rust values to and from
//!   columns: [`SqlField`](field::SqlField), rows read in order, typed rows, dynamic rows, enums.
//! - [`database_config`]: [`DBConfig`](database_config::DBConfig), the configuration map read
//!   and validated per dialect.
//! - [`error`]: [`DatabaseError`](error::DatabaseError), the one error type.
//! - [`redact`]: secrets and bound values kept out of output.

pub mod column;
pub mod column_set;
pub mod database_config;
pub mod error;
pub mod field;
pub mod from_row;
pub mod record;
pub(crate) mod redact;
pub mod row;
pub mod row_reader;
pub mod sql_dialect;
pub mod sql_enum;
