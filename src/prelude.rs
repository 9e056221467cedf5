//! Everything a typical program needs, in one import: `use dsg_lib::prelude::*;`.
//!
//! It brings `Model`, both the derive and the trait whose methods (`User::select()`,
//! `User::col(..)`, `User::TABLE`) the derive implements (they share the name, as serde's
//! `Serialize` does: a derive and a trait live in different namespaces), and
//! [`ColumnSet`](crate::async_database_functions::model::ColumnSet); the seed's four types
//! ([`DBConfig`](crate::DBConfig), [`AsyncDatabase`](crate::AsyncDatabase),
//! [`DatabaseOperations`](crate::async_database_functions::database_operations::DatabaseOperations),
//! [`SchemaBase`](crate::SchemaBase)); [`Session`](crate::async_database_functions::session::Session);
//! [`text`](crate::async_database_functions::statement::text); the result types
//! [`Record`](crate::async_database_functions::record::Record) and
//! [`Page`](crate::async_database_functions::database_operations::Page); the errors
//! [`DatabaseError`](crate::DatabaseError) and [`ErrorKind`](crate::ErrorKind); typed columns
//! ([`Col`](crate::async_database_functions::model::Col),
//! [`SchemaBaseColumns`](crate::async_database_functions::base_schema::SchemaBaseColumns));
//! [`TxFuture`](crate::async_database_functions::transaction::TxFuture) for transaction
//! closures; and sea-query's [`Order`](sea_query::Order).
//!
//! It brings no trait that gives methods to types of other crates: code that does not touch
//! the database means what it meant without the prelude (`a.max(b)` on numbers, `a.eq(&b)`
//! on strings and dates). Typed columns carry their own comparison methods
//! (`User::NAME.eq("Mike")`); sea-query's `ExprTrait` (`.and(..)`, `.or(..)` on an `Expr`) is
//! one explicit import away: `use dsg_lib::sea_query::ExprTrait;`.
//!
//! `#[derive(Model)]` and a bound `M: Model` both work with the prelude alone:
//!
//! ```
//! use dsg_lib::prelude::*;
//!
//! fn table_of<M: Model>() -> &'static str {
//!     M::TABLE
//! }
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "colors")]
//! struct Color {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     name: String,
//! }
//!
//! assert_eq!(table_of::<Color>(), "colors");
//! ```
//!
//! ```
//! use dsg_lib::prelude::*;
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
//! let db_ops = DatabaseOperations::new(async_db.clone());
//!
//! let mike = db_ops.create_one(User { base: SchemaBase::default(), name: "Mike".into(), color: Some("red".into()) }).await?;
//! let red: Vec<User> = db_ops.read_query(User::select().and_where(User::col("color").eq("red"))).await?;
//! assert_eq!(red.len(), 1);
//! let rows: Vec<Record> = db_ops.read_query(&text("SELECT name FROM users WHERE name = :n").bind("n", "Mike")).await?;
//! assert_eq!(rows.len(), 1);
//! let page: Page<User> = db_ops.paginate_query(User::select().order_by("name", Order::Asc), 1, 10).await?;
//! assert_eq!(page.total, 1);
//! assert_eq!(db_ops.read_by_pk::<User>(mike.base.pkid.clone()).await?.map(|u| u.name).as_deref(), Some("Mike"));
//!
//! let mut session: Session = async_db.get_db_session().await?;
//! let names: Vec<String> = session.fetch_all(&text("SELECT name FROM users")).await?;
//! assert_eq!(names, ["Mike"]);
//! session.commit().await?;
//!
//! db_ops.delete_one::<User>(mike.base.pkid.clone()).await?;
//! let gone: DatabaseError = db_ops.delete_one::<User>(mike.base.pkid).await.unwrap_err();
//! assert_eq!(gone.kind(), ErrorKind::RecordNotFound);
//! async_db.disconnect().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub use crate::async_database_functions::async_database::AsyncDatabase;
pub use crate::async_database_functions::base_schema::{SchemaBase, SchemaBaseColumns};
pub use crate::async_database_functions::database_config::{
    DBConfig, RetryPolicy, TargetSessionAttrs,
};
pub use crate::async_database_functions::database_operations::{DatabaseOperations, Page};
pub use crate::async_database_functions::error::{DatabaseError, ErrorKind};
pub use crate::async_database_functions::model::{Col, ColumnSet, Model};
pub use crate::async_database_functions::record::Record;
pub use crate::async_database_functions::session::Session;
pub use crate::async_database_functions::sql_enum::SqlEnum;
pub use crate::async_database_functions::statement::text;
pub use crate::async_database_functions::transaction::TxFuture;
pub use dsg_lib_derive::{Model, SqlEnum};
pub use sea_query::Order;
