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
//!     database_operations::DatabaseOperations, error::ErrorKind, model::Model as _,
//!     record::Record, statement::text,
//! };
//! use dsg_lib::sea_query::Order;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(flatten)]
//!     base: SchemaBase,                 // pkid (uuid string, primary key), date_created, date_updated
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
//! async_db.register::<User>();          // the Rust form of declaring a model on `Base`
//! async_db.create_tables().await?;
//! let db_ops = DatabaseOperations::new(async_db.clone());
//!
//! let mike = db_ops.create_one(User { base: SchemaBase::default(), name: "Mike".into(), color: Some("red".into()) }).await?;
//! db_ops.create_one(User { base: SchemaBase::default(), name: "Sara".into(), color: None }).await?;
//!
//! let red: Vec<User> = db_ops.read_query(User::select().and_where(User::col("color").eq("red"))).await?;
//! assert_eq!(red.len(), 1);
//! let names: Vec<String> = db_ops.read_query(&text("SELECT name FROM users ORDER BY name")).await?;
//! assert_eq!(names, ["Mike", "Sara"]);
//! let rows: Vec<Record> = db_ops.read_query(&text("SELECT name, color FROM users WHERE name = :n").bind("n", "Sara")).await?;
//! assert_eq!(serde_json::to_value(&rows)?, serde_json::json!([{"name": "Sara", "color": null}]));
//!
//! assert_eq!(db_ops.count_query(&User::select()).await?, 2);
//! let page = db_ops.paginate_query::<User>(User::select().order_by("name", Order::Asc), 1, 1).await?;
//! assert_eq!((page.items[0].name.as_str(), page.total, page.pages), ("Mike", 2, 2));
//!
//! let blue: User = db_ops.update_one::<User>(mike.base.pkid.clone(), serde_json::json!({"color": "blue"})).await?;
//! assert_eq!(blue.color.as_deref(), Some("blue"));
//! db_ops.delete_one::<User>(mike.base.pkid.clone()).await?;
//! let gone = db_ops.delete_one::<User>(mike.base.pkid).await.unwrap_err();
//! assert_eq!(gone.kind(), ErrorKind::RecordNotFound);
//!
//! async_db.disconnect().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! `examples/quickstart.rs` runs the seed's whole example, and `examples/service` an axum
//! service on the crate.
//!
//! # Map of the crate
//!
//! The seed's four pieces, under [`async_database_functions`]:
//!
//! | module | what it holds |
//! |---|---|
//! | [`database_config`](async_database_functions::database_config) | [`DBConfig`]: the config map, validated per dialect; `from_env` |
//! | [`async_database`](async_database_functions::async_database) | [`AsyncDatabase`]: the lazy pool, registered models, sessions, `disconnect`, pool stats |
//! | [`database_operations`](async_database_functions::database_operations) | `DatabaseOperations`: count, paginate, read, execute, create, update, delete, introspection |
//! | [`base_schema`](async_database_functions::base_schema) | [`SchemaBase`]: `pkid`, `date_created`, `date_updated` |
//! | [`relations`](async_database_functions::relations) | `#[model(belongs_to = …)]` relations and eager loading: `load`, `load_parents`, `load_through` |
//! | [`batch`](async_database_functions::batch) | many rows by key in one statement: `read_by_pks`, `update_many`, `update_many_no_return`, `update_one_no_return` |
//!
//! And what they are built from:
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`](async_database_functions::model) | the `Model` trait `#[derive(Model)]` implements, column metadata |
//! | [`field`](async_database_functions::field), [`row`](async_database_functions::row), [`record`](async_database_functions::record) | Rust types ↔ columns, driver-neutral row decoding (`RowRef`, `DecodeError`), the dynamic `Record` |
//! | [`statement`](async_database_functions::statement) | what runs: sea-query statements and `text()` with `:name` parameters |
//! | [`session`](async_database_functions::session) | `Session`: one connection in one transaction |
//! | [`error`](async_database_functions::error) | [`DatabaseError`] and its [`ErrorKind`]s, HTTP statuses, Python-style strings |
//! | [`telemetry`](async_database_functions::telemetry) | tracing spans per operation (OpenTelemetry fields), echo, slow statements, `PoolStats` |
//! | `http` (feature `axum`) | `IntoResponse` for errors and pages |
//!
//! Underneath, the crate is a house of floors, each importing only the floors below it
//! (`scripts/layers.py` checks it in CI; the table is in [`async_database_functions`]):
//!
//! | floor | folder | what it holds |
//! |---|---|---|
//! | API | `async_database_functions/` | the modules above, `transaction`, `upsert`, `stream`, `http` |
//! | statements and writes | `statements/` | `model`, `statement`, `session`, `catalog` and `schema` (DDL from models), `writes`, `bulk_insert` (the multi-row inserts of `create_many`), `telemetry` |
//! | topology | `topology/` | the servers and their health: one pool per host of a multi-host URI and `target_session_attrs` routing, read replicas with read-your-writes by WAL position, the bounded re-running of retryable transactions, fail-fast on a refused port |
//! | executors | `dialect/` | everything that differs between backends: the executor that talks to sqlx (PostgreSQL without `pg-pipeline`, MySQL/MariaDB without `mysql-async`), the tokio-postgres executor for PostgreSQL (`pg_engine/`: pipelined lanes, prepared statements, COPY), the mysql_async executor for MySQL/MariaDB (`mysql_engine/`: prepared statements, rows decoded as sqlx decodes them), the one pool of the three executors of our own (`engine_pool`: slots, idle connections, freshness, rollback before reuse, over a small link trait), the hot connections reused without sqlx's release round trip, MySQL/MariaDB literals for scripts sent in one round trip, the SQLite engine executor on rusqlite, each driver's rows behind `RowRef`, pool health and invalidation, the row hand-off of streams, the `text()` scanner |
//! | core | `core/` | the configuration (`DBConfig`, `database_config/`), SQL types and column metadata, `Dialect`, `SqlField`, `RowRef`/`FromRow`/`DecodeError`, `Record`, `DatabaseError`, `redact` (secrets and bound values kept out of output); imports nothing else of the crate |
//!
//! A new backend implements the core's row interface (`core::row::DriverRow`) and one executor
//! in `dialect/`; nothing above `dialect/` changes.

#![warn(missing_docs)]

extern crate self as dsg_lib;

// Without a backend there is nothing to build: one clear error instead of hundreds.
#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "dsg_lib needs at least one backend feature: enable `sqlite`, `postgres` or `mysql` \
     (e.g. `dsg_lib = { version = \"0.1\", default-features = false, features = [\"sqlite\"] }`)"
);

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod async_database_functions;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod guide;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use async_database_functions::async_database::AsyncDatabase;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use async_database_functions::base_schema::SchemaBase;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use async_database_functions::database_config::DBConfig;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use async_database_functions::error::{DatabaseError, ErrorKind};
/// `#[derive(Model)]`: see [`async_database_functions::model`].
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use dsg_lib_derive::Model;
/// `#[derive(SqlEnum)]`: see [`async_database_functions::sql_enum`].
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use dsg_lib_derive::SqlEnum;
/// `embed_migrations!("migrations")`: a migrations folder embedded at compile time; see
/// [`async_database_functions::migrations`].
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use dsg_lib_derive::embed_migrations;
/// The driver of the MySQL/MariaDB executor with the `mysql-async` feature:
/// [`DatabaseError`]'s `source()` is a [`sqlx::Error`] whose database error (read through
/// sqlx's `DatabaseError` trait: `code()` is the SQLSTATE) has the driver's
/// [`mysql_async::Error`] as its own `source()` (`Error::Server`: the error number, SQLSTATE
/// and message).
#[cfg(feature = "mysql-async")]
pub use mysql_async;
/// rusqlite, the SQLite engine the library runs SQLite on: on SQLite,
/// [`DatabaseError`]'s `source()` downcasts to [`rusqlite::Error`] (its `SqliteFailure`
/// carries the extended result code).
#[cfg(feature = "sqlite")]
pub use rusqlite;
/// rust_decimal, whose `Decimal` is a column type with the `decimal` feature.
#[cfg(feature = "decimal")]
pub use rust_decimal;
pub use sea_query;
/// sqlx, the driver layer underneath, for going down to it: run your own queries on the pool
/// [`AsyncDatabase::sqlx_pool`] (or `sqlite_pool`, `pg_pool`, `mysql_pool`) gives, or
/// implement a column type.
pub use sqlx;
/// tokio-postgres, the driver PostgreSQL runs on with the `pg-pipeline` feature (default):
/// [`DatabaseError`]'s `source()` is a [`sqlx::Error`] whose database error (read through
/// sqlx's `DatabaseError` trait: `code()`, `constraint()`, `table()`) has the driver's
/// [`tokio_postgres::Error`] as its own `source()` (`as_db_error()`: every field the server
/// sent).
#[cfg(feature = "pg-pipeline")]
pub use tokio_postgres;

/// `use dsg_lib::prelude::*;`: the derive, the traits, the seed's types, `text`, the errors.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod prelude;

/// What `#[derive(Model)]` expands to refers to; not a public API.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[doc(hidden)]
pub mod __private {
    pub use crate::async_database_functions::database_config::Dialect;
    pub use crate::async_database_functions::error::DatabaseError;
    pub use crate::async_database_functions::field::SqlField;
    pub use crate::async_database_functions::model::{Column, ColumnSet, Model, OnDelete, SqlType};
    pub use crate::async_database_functions::row::{DecodeError, FromRow, RowReader, RowRef};
    pub use crate::async_database_functions::sql_enum::{SqlEnum, decode_enum, enum_from_json};
    pub use sea_query::Value;
    pub use serde_json::Value as JsonValue;
}
