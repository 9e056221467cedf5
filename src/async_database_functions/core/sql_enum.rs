//! Enums stored as text: [`SqlEnum`] and `#[derive(SqlEnum)]`.
//!
//! A Rust enum of unit variants becomes a `VARCHAR` column holding the variant's name. The
//! derive implements [`SqlEnum`] and [`SqlField`], so the enum can be a model field
//! (`Option<E>` for a nullable one), a scalar read, and a sea-query value
//! (`User::ROLE.eq(Role::Admin)`); and `update_one` checks a new value through the enum, so a
//! name it does not know is refused (an invalid-input error naming the column) before
//! anything is written.
//!
//! ```
//! use dsg_lib::prelude::*;
//!
//! #[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
//! #[sql_enum(rename_all = "snake_case", size = 20)]
//! enum Role {
//!     Admin,
//!     Member,
//!     #[sql_enum(rename = "guest_user")]
//!     Guest,
//! }
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "sql_enum_doc")]
//! struct Account {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     name: String,
//!     role: Role,
//!     previous: Option<Role>,
//! }
//!
//! assert_eq!(Role::Guest.as_sql_str(), "guest_user");
//! assert_eq!(Role::from_sql_str("member"), Some(Role::Member));
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<Account>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db);
//! let ann = ops
//!     .create_one(Account { base: SchemaBase::default(), name: "Ann".into(), role: Role::Member, previous: None })
//!     .await?;
//!
//! let admins: Vec<Account> = ops.read_query(Account::select().and_where(Account::ROLE.eq(Role::Admin))).await?;
//! assert!(admins.is_empty());
//!
//! let ann = ops
//!     .update_one::<Account>(ann.base.pkid, serde_json::json!({"role": "admin", "previous": "member"}))
//!     .await?;
//! assert_eq!((ann.role, ann.previous), (Role::Admin, Some(Role::Member)));
//!
//! // A name the enum does not know is refused, and the row is left as it was.
//! let err = ops
//!     .update_one::<Account>(ann.base.pkid.clone(), serde_json::json!({"role": "owner"}))
//!     .await
//!     .unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidInput);
//! assert!(err.to_string().contains("sql_enum_doc.role"));
//! let roles: Vec<Role> = ops.read_query(&text("SELECT role FROM sql_enum_doc")).await?;
//! assert_eq!(roles, [Role::Admin]);
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! ```
//!
//! The derive takes only enums of unit variants, and checks its attributes at compile time:
//!
//! ```compile_fail
//! use dsg_lib::SqlEnum;
//!
//! #[derive(SqlEnum)]
//! enum Shape {
//!     Circle(f64), // error: #[derive(SqlEnum)] only supports unit variants (no fields)
//! }
//! ```
//!
//! ```compile_fail
//! use dsg_lib::SqlEnum;
//!
//! #[derive(SqlEnum)]
//! #[sql_enum(size = 3)] // error: `size = 3` is shorter than the longest stored name
//! enum Level {
//!     Low,
//!     Medium,
//! }
//! ```
//!
//! ```compile_fail
//! use dsg_lib::SqlEnum;
//!
//! #[derive(SqlEnum)]
//! enum Answer {
//!     Yes,
//!     #[sql_enum(rename = "Yes")] // error: two variants are stored as "Yes"
//!     Sure,
//! }
//! ```
//!
//! # Without the derive
//!
//! Any type can be a column by implementing [`SqlField`] by hand; override
//! [`SqlField::from_json`] when the type holds fewer values than its SQL type, so that
//! `update_one` refuses what [`SqlField::decode`] could not read back. For an enum, implement
//! [`SqlEnum`] and let [`decode_enum`] and [`enum_from_json`] do the work:
//!
//! ```
//! use dsg_lib::async_database_functions::database_config::Dialect;
//! use dsg_lib::async_database_functions::field::SqlField;
//! use dsg_lib::async_database_functions::model::{Column, SqlType};
//! use dsg_lib::async_database_functions::row::{DecodeError, RowRef};
//! use dsg_lib::async_database_functions::sql_enum::{SqlEnum, decode_enum, enum_from_json};
//! use dsg_lib::sea_query::Value;
//!
//! #[derive(Debug, Clone, Copy, PartialEq)]
//! enum Shade {
//!     Light,
//!     Dark,
//! }
//!
//! impl SqlEnum for Shade {
//!     const VARIANTS: &'static [&'static str] = &["light", "dark"];
//!     fn as_sql_str(&self) -> &'static str {
//!         match self {
//!             Shade::Light => "light",
//!             Shade::Dark => "dark",
//!         }
//!     }
//!     fn from_sql_str(text: &str) -> Option<Self> {
//!         match text {
//!             "light" => Some(Shade::Light),
//!             "dark" => Some(Shade::Dark),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! impl SqlField for Shade {
//!     const SQL_TYPE: SqlType = SqlType::String(Some(10));
//!     fn to_value(&self, _: Dialect) -> Value {
//!         Value::String(Some(self.as_sql_str().to_string()))
//!     }
//!     fn null_value(_: Dialect) -> Value {
//!         Value::String(None)
//!     }
//!     fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
//!         decode_enum(row, index)
//!     }
//!     fn from_json(json: &serde_json::Value, column: &Column, dialect: Dialect) -> Result<Value, String> {
//!         enum_from_json::<Self>(json, column, dialect)
//!     }
//! }
//!
//! let column = Column::new("shade", Shade::SQL_TYPE);
//! assert!(Shade::from_json(&serde_json::json!("dark"), &column, Dialect::Sqlite).is_ok());
//! let refused = Shade::from_json(&serde_json::json!("grey"), &column, Dialect::Sqlite).unwrap_err();
//! assert_eq!(refused, r#"unknown Shade value "grey"; expected one of "light", "dark""#);
//! ```

use sea_query::Value;

use crate::async_database_functions::core::column::Column;
use crate::async_database_functions::core::field::{SqlField, value_from_json};
use crate::async_database_functions::core::row::{DecodeError, RowRef};
use crate::async_database_functions::core::sql_dialect::Dialect;

/// An enum of unit variants stored as text, one name per variant. Derive it with
/// `#[derive(SqlEnum)]`, which also implements [`SqlField`]; see the [module docs](self).
pub trait SqlEnum: Sized {
    /// The stored name of every variant, in declaration order.
    const VARIANTS: &'static [&'static str];

    /// The stored name of this variant.
    fn as_sql_str(&self) -> &'static str;

    /// The variant stored as `text`, if there is one.
    fn from_sql_str(text: &str) -> Option<Self>;
}

/// The short name of `E` for messages (`Role`, not `my_app::models::Role`).
fn short_name<E>() -> &'static str {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

fn unknown<E: SqlEnum>(text: &str) -> String {
    let expected: Vec<String> = E::VARIANTS.iter().map(|v| format!("{v:?}")).collect();
    format!(
        "unknown {} value {text:?}; expected one of {}",
        short_name::<E>(),
        expected.join(", ")
    )
}

/// Decodes a text column into the enum `E`: [`SqlField::decode`] for an enum.
///
/// # Errors
///
/// When the column is not text, or holds a name `E` does not know (the error names the value
/// and the names `E` knows).
pub fn decode_enum<E: SqlEnum>(row: RowRef<'_>, index: usize) -> Result<E, DecodeError> {
    let text = String::decode(row, index)?;
    E::from_sql_str(&text).ok_or_else(|| unknown::<E>(&text).into())
}

/// Checks a JSON value of an `update_one` map against the enum `E` and gives the text to
/// bind: [`SqlField::from_json`] for an enum. `null` is refused here (an `Option<E>` field
/// takes it before calling this).
///
/// # Errors
///
/// A description naming the value and the names `E` knows when the value is not one of them,
/// or when it is not a string.
pub fn enum_from_json<E: SqlEnum>(
    json: &serde_json::Value,
    column: &Column,
    dialect: Dialect,
) -> Result<Value, String> {
    if json.is_null() {
        return Err("the column is not nullable".into());
    }
    let Some(text) = json.as_str() else {
        return Err(format!(
            "expected one of the {} names as a string, got {json}",
            short_name::<E>()
        ));
    };
    if E::from_sql_str(text).is_none() {
        return Err(unknown::<E>(text));
    }
    // The column's own checks too (a `size` shorter than a name).
    value_from_json(column.sql_type, false, json, dialect)
}
