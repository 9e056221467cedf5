//! [`SqlField`]: the Rust types a model field (or a scalar read) may have, and how each maps to
//! a column on every dialect.
//!
//! ```
//! use chrono::NaiveTime;
//! use dsg_lib::prelude::*;
//!
//! #[derive(Model, Debug, Clone, PartialEq)]
//! #[model(table = "field_doc")]
//! struct Reading {
//!     #[model(primary_key, auto_increment)]
//!     id: i64,
//!     floor: i16,        // SMALLINT
//!     count: u32,        // INT UNSIGNED on MySQL/MariaDB, BIGINT on PostgreSQL
//!     level: f32,        // REAL (FLOAT on MySQL/MariaDB)
//!     at: NaiveTime,     // TIME
//!     note: Option<u32>, // nullable
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<Reading>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db);
//! let at = NaiveTime::from_hms_milli_opt(7, 30, 0, 250).unwrap();
//! let stored = ops
//!     .create_one(Reading { id: 0, floor: -2, count: u32::MAX, level: 0.5, at, note: None })
//!     .await?;
//! assert_eq!(ops.read_by_pk::<Reading>(stored.id).await?, Some(stored.clone()));
//!
//! // update_one checks each value against the field's type before writing anything.
//! let updated = ops.update_one::<Reading>(stored.id, serde_json::json!({"floor": 3, "at": "08:00:00"})).await?;
//! assert_eq!((updated.floor, updated.at), (3, NaiveTime::from_hms_opt(8, 0, 0).unwrap()));
//! let err = ops.update_one::<Reading>(stored.id, serde_json::json!({"count": -1})).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidInput);
//! assert!(err.to_string().contains("field_doc.count"));
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! ```
//!
//! With the `decimal` feature, `rust_decimal::Decimal` (re-exported as `dsg_lib::rust_decimal`)
//! is exact on every backend:
//!
//! ```
//! # #[cfg(feature = "decimal")]
//! # {
//! use dsg_lib::prelude::*;
//! use dsg_lib::rust_decimal::Decimal;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "field_decimal_doc")]
//! struct Price {
//!     #[model(primary_key, auto_increment)]
//!     id: i64,
//!     amount: Decimal,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<Price>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db);
//! let exact: Decimal = "0.1000000000000000000000000001".parse().unwrap();
//! let price = ops.create_one(Price { id: 0, amount: exact }).await?;
//! assert_eq!(ops.read_by_pk::<Price>(price.id).await?.map(|p| p.amount), Some(exact));
//! let price = ops.update_one::<Price>(price.id, serde_json::json!({"amount": "19.99"})).await?;
//! assert_eq!(price.amount.to_string(), "19.99");
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! # }
//! ```

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sea_query::Value;
use uuid::Uuid;

use super::column::{Column, SqlType};
use super::sql_dialect::Dialect;
use crate::async_database_functions::core::row::{DecodeError, Native, RowRef};

impl RowRef<'_> {
    /// Decodes the column at `index` as `T` (any [`SqlField`]): `T::decode(row, index)`.
    ///
    /// # Errors
    ///
    /// When the column does not exist or its value does not fit `T`.
    #[inline]
    pub fn get<T: SqlField>(self, index: usize) -> Result<T, DecodeError> {
        T::decode(self, index)
    }
}

/// A Rust type that is stored in one column.
///
/// Implemented for `String`, `i16`, `i32`, `u32`, `i64`, `f32`, `f64`, `bool`,
/// `chrono::DateTime<Utc>`, `chrono::NaiveDateTime`, `chrono::NaiveDate`, `chrono::NaiveTime`,
/// `uuid::Uuid`, `serde_json::Value`, `Vec<u8>`, `rust_decimal::Decimal` (with the `decimal`
/// feature), and `Option<T>` of each (nullable). Each maps to a column type per dialect:
///
/// | Rust | SQLite | PostgreSQL | MySQL/MariaDB |
/// |------|--------|------------|---------------|
/// | `i16` | `INTEGER` | `SMALLINT` | `SMALLINT` |
/// | `i32` | `INTEGER` | `INTEGER` | `INT` |
/// | `u32` | `INTEGER` | `BIGINT` | `INT UNSIGNED` |
/// | `i64` | `INTEGER` | `BIGINT` | `BIGINT` |
/// | `f32` | `REAL` | `REAL` | `FLOAT` |
/// | `f64` | `REAL` | `DOUBLE PRECISION` | `DOUBLE` |
/// | `Decimal` | `TEXT` (exact) | `NUMERIC` | `DECIMAL(65, 30)` |
/// | `NaiveTime` | `TIME` (text) | `TIME` | `TIME(6)` |
///
/// Implement it for a type of your own (or derive [`SqlEnum`](macro@crate::SqlEnum) for
/// an enum stored as text); see the [module docs](self).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a model column",
    label = "unsupported field type",
    note = "supported: String, i16, i32, u32, i64, f32, f64, bool, chrono::DateTime<Utc>, \
            chrono::NaiveDateTime, chrono::NaiveDate, chrono::NaiveTime, uuid::Uuid, \
            serde_json::Value, Vec<u8>, rust_decimal::Decimal (feature `decimal`), enums with \
            #[derive(SqlEnum)], and Option<T> of these"
)]
pub trait SqlField: Sized {
    /// The portable column type.
    const SQL_TYPE: SqlType;
    /// Whether the column is nullable (true only for `Option<T>`).
    const NULLABLE: bool = false;

    /// The value to bind for this field on `dialect`.
    fn to_value(&self, dialect: Dialect) -> Value;

    /// A NULL of this field's type (used for `Option::None`).
    fn null_value(dialect: Dialect) -> Value;

    /// Decodes the column at `index` of `row`. A type of your own decodes through a type the
    /// library knows (`String::decode(row, index)` or `row.get::<String>(index)`) and
    /// converts: see [`RowRef`] for an example. The library adds the column's name and the
    /// type to the error.
    ///
    /// # Errors
    ///
    /// Any error (`?` converts it) when the stored value does not fit the type.
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError>;

    /// Converts `json`, a new value for `column` in an `update_one` map, into the value to
    /// bind, or says why this type cannot hold it (the library adds the column's name).
    ///
    /// The default checks the JSON value against the column's [`SqlType`] (and `VARCHAR`
    /// length). Override it when the Rust type holds fewer values than its SQL type, as an
    /// enum stored as text does, so that `update_one` refuses what [`decode`](Self::decode)
    /// could not read back: see the custom type example on this trait.
    ///
    /// # Errors
    ///
    /// A description of the mismatch (without the column's name).
    fn from_json(
        json: &serde_json::Value,
        column: &Column,
        dialect: Dialect,
    ) -> Result<Value, String> {
        value_from_json(column.sql_type, column.nullable, json, dialect)
    }
}

macro_rules! native_field {
    ($ty:ty, $sql:expr, $variant:ident) => {
        impl SqlField for $ty {
            const SQL_TYPE: SqlType = $sql;
            fn to_value(&self, _: Dialect) -> Value {
                Value::$variant(Some(self.clone()))
            }
            fn null_value(_: Dialect) -> Value {
                Value::$variant(None)
            }
            #[inline]
            fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
                row.native(index)
            }
        }
    };
}

native_field!(String, SqlType::String(None), String);
native_field!(f64, SqlType::Double, Double);

/// Reads any integer column that fits: PostgreSQL's `INTEGER` and `SMALLINT` too (a plain
/// `SELECT 1`, a `SERIAL` key), which the driver alone decodes only as `i32` and `i16`.
impl SqlField for i64 {
    const SQL_TYPE: SqlType = SqlType::BigInteger;
    fn to_value(&self, _: Dialect) -> Value {
        Value::BigInt(Some(*self))
    }
    fn null_value(_: Dialect) -> Value {
        Value::BigInt(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        match row.native::<i64>(index) {
            Ok(v) => Ok(v),
            Err(first) => row
                .native::<i32>(index)
                .map(i64::from)
                .or_else(|_| row.native::<i16>(index).map(i64::from))
                .map_err(|_| first),
        }
    }
}
native_field!(f32, SqlType::Float, Float);
native_field!(NaiveTime, SqlType::Time, ChronoTime);
native_field!(bool, SqlType::Boolean, Bool);
native_field!(NaiveDate, SqlType::Date, ChronoDate);
native_field!(Vec<u8>, SqlType::Bytes, Bytes);

/// COUNT(*) and friends come back as 64-bit: read the narrow type natively, else narrow the
/// 64-bit value when it fits.
fn narrow_from_i64<T>(row: RowRef<'_>, index: usize) -> Result<T, DecodeError>
where
    T: Native + TryFrom<i64>,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    match row.native::<T>(index) {
        Ok(v) => Ok(v),
        Err(first) => {
            let wide = row.native::<i64>(index).map_err(|_| first)?;
            Ok(T::try_from(wide)?)
        }
    }
}

impl SqlField for i32 {
    const SQL_TYPE: SqlType = SqlType::Integer;
    fn to_value(&self, _: Dialect) -> Value {
        Value::Int(Some(*self))
    }
    fn null_value(_: Dialect) -> Value {
        Value::Int(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        narrow_from_i64(row, index)
    }
}

impl SqlField for i16 {
    const SQL_TYPE: SqlType = SqlType::SmallInteger;
    fn to_value(&self, _: Dialect) -> Value {
        Value::SmallInt(Some(*self))
    }
    fn null_value(_: Dialect) -> Value {
        Value::SmallInt(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        narrow_from_i64(row, index)
    }
}

/// `INT UNSIGNED` on MySQL/MariaDB; `BIGINT` on PostgreSQL and `INTEGER` on SQLite, which
/// have no unsigned types. Bound as a 64-bit integer everywhere.
impl SqlField for u32 {
    const SQL_TYPE: SqlType = SqlType::UnsignedInteger;
    fn to_value(&self, _: Dialect) -> Value {
        Value::BigInt(Some(i64::from(*self)))
    }
    fn null_value(_: Dialect) -> Value {
        Value::BigInt(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        row.native(index)
    }
}

/// `NUMERIC` on PostgreSQL, `DECIMAL(65, 30)` on MySQL/MariaDB (read back rounded to the 28
/// decimal places `Decimal` keeps), the exact text form on SQLite. Needs the `decimal` feature.
#[cfg(feature = "decimal")]
impl SqlField for rust_decimal::Decimal {
    const SQL_TYPE: SqlType = SqlType::Decimal;
    fn to_value(&self, _: Dialect) -> Value {
        Value::Decimal(Some(*self))
    }
    fn null_value(_: Dialect) -> Value {
        Value::Decimal(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        row.native(index)
    }
}

/// Stored as a UTC wall-clock timestamp without zone, as the Python seed does.
impl SqlField for DateTime<Utc> {
    const SQL_TYPE: SqlType = SqlType::TimestampUtc;
    fn to_value(&self, _: Dialect) -> Value {
        Value::ChronoDateTime(Some(self.naive_utc()))
    }
    fn null_value(_: Dialect) -> Value {
        Value::ChronoDateTime(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        match row.native::<NaiveDateTime>(index) {
            Ok(v) => Ok(v.and_utc()),
            // A `TIMESTAMPTZ` column another schema declared.
            Err(first) => row.native::<DateTime<Utc>>(index).map_err(|_| first),
        }
    }
}

impl SqlField for NaiveDateTime {
    const SQL_TYPE: SqlType = SqlType::Timestamp;
    fn to_value(&self, _: Dialect) -> Value {
        Value::ChronoDateTime(Some(*self))
    }
    fn null_value(_: Dialect) -> Value {
        Value::ChronoDateTime(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        row.native(index)
    }
}

/// Native `UUID` on PostgreSQL; the 36-character text form elsewhere.
impl SqlField for Uuid {
    const SQL_TYPE: SqlType = SqlType::Uuid;
    fn to_value(&self, dialect: Dialect) -> Value {
        if dialect.is_postgres_wire() {
            Value::Uuid(Some(*self))
        } else {
            Value::String(Some(self.hyphenated().to_string()))
        }
    }
    fn null_value(dialect: Dialect) -> Value {
        if dialect.is_postgres_wire() {
            Value::Uuid(None)
        } else {
            Value::String(None)
        }
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        row.native(index)
    }
}

impl SqlField for serde_json::Value {
    const SQL_TYPE: SqlType = SqlType::Json;
    fn to_value(&self, _: Dialect) -> Value {
        Value::Json(Some(Box::new(self.clone())))
    }
    fn null_value(_: Dialect) -> Value {
        Value::Json(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        row.native(index)
    }
}

impl<T: SqlField> SqlField for Option<T> {
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;
    fn to_value(&self, dialect: Dialect) -> Value {
        match self {
            Some(v) => v.to_value(dialect),
            None => T::null_value(dialect),
        }
    }
    fn null_value(dialect: Dialect) -> Value {
        T::null_value(dialect)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
        if row.is_null(index)? {
            Ok(None)
        } else {
            T::decode(row, index).map(Some)
        }
    }
    fn from_json(
        json: &serde_json::Value,
        column: &Column,
        dialect: Dialect,
    ) -> Result<Value, String> {
        if json.is_null() {
            Ok(T::null_value(dialect))
        } else {
            T::from_json(json, column, dialect)
        }
    }
}

/// Converts a JSON value (from an update map) into the bound value of a column of `sql_type`.
///
/// # Errors
///
/// A description of the mismatch when the JSON value does not fit the column type.
pub(crate) fn value_from_json(
    sql_type: SqlType,
    nullable: bool,
    json: &serde_json::Value,
    dialect: Dialect,
) -> Result<Value, String> {
    use serde_json::Value as J;
    if json.is_null() {
        return if nullable {
            Ok(null_of(sql_type, dialect))
        } else {
            Err("the column is not nullable".into())
        };
    }
    let wrong = || format!("expected a value of type {}, got {json}", sql_type.name());
    Ok(match sql_type {
        SqlType::String(size) => {
            let s = json.as_str().ok_or_else(wrong)?;
            if let Some(n) = size
                && s.chars().count() > n as usize
            {
                return Err(format!(
                    "the value is longer than the column's {n} characters"
                ));
            }
            s.to_string().to_value(dialect)
        }
        SqlType::SmallInteger => {
            let n = json.as_i64().ok_or_else(wrong)?;
            i16::try_from(n).map_err(|_| wrong())?.to_value(dialect)
        }
        SqlType::Integer => {
            let n = json.as_i64().ok_or_else(wrong)?;
            i32::try_from(n).map_err(|_| wrong())?.to_value(dialect)
        }
        SqlType::UnsignedInteger => {
            let n = json.as_u64().ok_or_else(wrong)?;
            u32::try_from(n).map_err(|_| wrong())?.to_value(dialect)
        }
        SqlType::BigInteger => json.as_i64().ok_or_else(wrong)?.to_value(dialect),
        SqlType::Float => {
            let f = json.as_f64().ok_or_else(wrong)?;
            #[allow(clippy::cast_possible_truncation)]
            let narrow = f as f32;
            if !narrow.is_finite() {
                return Err(format!("{f} is out of range of a single precision float"));
            }
            narrow.to_value(dialect)
        }
        SqlType::Double => json.as_f64().ok_or_else(wrong)?.to_value(dialect),
        SqlType::Decimal => decimal_from_json(json, dialect).ok_or_else(wrong)?,
        SqlType::Boolean => json.as_bool().ok_or_else(wrong)?.to_value(dialect),
        SqlType::TimestampUtc | SqlType::Timestamp => {
            let text = json.as_str().ok_or_else(wrong)?;
            let naive = DateTime::parse_from_rfc3339(text)
                .map(|d| d.naive_utc())
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
                .map_err(|_| wrong())?;
            naive.to_value(dialect)
        }
        SqlType::Date => {
            let text = json.as_str().ok_or_else(wrong)?;
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| wrong())?
                .to_value(dialect)
        }
        SqlType::Time => {
            let text = json.as_str().ok_or_else(wrong)?;
            NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
                .map_err(|_| wrong())?
                .to_value(dialect)
        }
        SqlType::Uuid => {
            let text = json.as_str().ok_or_else(wrong)?;
            Uuid::parse_str(text)
                .map_err(|_| wrong())?
                .to_value(dialect)
        }
        SqlType::Json => json.to_value(dialect),
        SqlType::Bytes => match json {
            J::Array(items) => items
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(wrong)?
                .to_value(dialect),
            _ => return Err(wrong()),
        },
    })
}

/// A decimal from a JSON string (exact) or number; `None` when it is neither.
#[cfg(feature = "decimal")]
fn decimal_from_json(json: &serde_json::Value, dialect: Dialect) -> Option<Value> {
    let decimal = match json {
        serde_json::Value::String(text) => rust_decimal::Decimal::from_str_exact(text.trim()).ok(),
        serde_json::Value::Number(n) => rust_decimal::Decimal::from_str_exact(&n.to_string())
            .ok()
            .or_else(|| {
                n.as_f64()
                    .and_then(|f| rust_decimal::Decimal::try_from(f).ok())
            }),
        _ => None,
    }?;
    Some(decimal.to_value(dialect))
}

/// Without the `decimal` feature no value fits a decimal column through the library.
#[cfg(not(feature = "decimal"))]
fn decimal_from_json(_: &serde_json::Value, _: Dialect) -> Option<Value> {
    None
}

fn null_of(sql_type: SqlType, dialect: Dialect) -> Value {
    match sql_type {
        SqlType::String(_) => String::null_value(dialect),
        SqlType::SmallInteger => i16::null_value(dialect),
        SqlType::Integer => i32::null_value(dialect),
        SqlType::UnsignedInteger => u32::null_value(dialect),
        SqlType::BigInteger => i64::null_value(dialect),
        SqlType::Float => f32::null_value(dialect),
        SqlType::Double => f64::null_value(dialect),
        #[cfg(feature = "decimal")]
        SqlType::Decimal => rust_decimal::Decimal::null_value(dialect),
        #[cfg(not(feature = "decimal"))]
        SqlType::Decimal => Value::String(None),
        SqlType::Time => NaiveTime::null_value(dialect),
        SqlType::Boolean => bool::null_value(dialect),
        SqlType::TimestampUtc | SqlType::Timestamp => NaiveDateTime::null_value(dialect),
        SqlType::Date => NaiveDate::null_value(dialect),
        SqlType::Uuid => Uuid::null_value(dialect),
        SqlType::Json => serde_json::Value::null_value(dialect),
        SqlType::Bytes => Vec::<u8>::null_value(dialect),
    }
}
