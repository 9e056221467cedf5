//! [`SqlField`]: the Rust types a model field (or a scalar read) may have, and how each maps to
//! a column on every dialect.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sea_query::Value;
use uuid::Uuid;

use super::database_config::Dialect;
use super::model::SqlType;
use super::row::RowRef;

/// A Rust type that is stored in one column.
///
/// Implemented for `String`, `i32`, `i64`, `f64`, `bool`, `chrono::DateTime<Utc>`,
/// `chrono::NaiveDateTime`, `chrono::NaiveDate`, `uuid::Uuid`, `serde_json::Value`, `Vec<u8>`
/// and `Option<T>` of each (nullable).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a model column",
    label = "unsupported field type",
    note = "supported: String, i32, i64, f64, bool, chrono::DateTime<Utc>, chrono::NaiveDateTime, \
            chrono::NaiveDate, uuid::Uuid, serde_json::Value, Vec<u8>, and Option<T> of these"
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

    /// Decodes the column at `index` of `row`.
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error>;
}

/// Decodes with sqlx's own `Decode` for whichever backend the row comes from.
macro_rules! decode_native {
    ($row:expr, $index:expr) => {
        match $row {
            #[cfg(feature = "sqlite")]
            RowRef::Sqlite(r) => sqlx::Row::try_get(r, $index),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => sqlx::Row::try_get(r, $index),
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => sqlx::Row::try_get(r, $index),
        }
    };
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
            fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error> {
                decode_native!(row, index)
            }
        }
    };
}

native_field!(String, SqlType::String(None), String);
native_field!(i64, SqlType::BigInteger, BigInt);
native_field!(f64, SqlType::Double, Double);
native_field!(bool, SqlType::Boolean, Bool);
native_field!(NaiveDate, SqlType::Date, ChronoDate);
native_field!(Vec<u8>, SqlType::Bytes, Bytes);

impl SqlField for i32 {
    const SQL_TYPE: SqlType = SqlType::Integer;
    fn to_value(&self, _: Dialect) -> Value {
        Value::Int(Some(*self))
    }
    fn null_value(_: Dialect) -> Value {
        Value::Int(None)
    }
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error> {
        let wide: Result<i32, _> = decode_native!(row, index);
        match wide {
            Ok(v) => Ok(v),
            // COUNT(*) and friends come back as 64-bit; narrow when the value fits.
            Err(first) => {
                let v: i64 = decode_native!(row, index).map_err(|_| first)?;
                i32::try_from(v).map_err(|e| sqlx::Error::Decode(Box::new(e)))
            }
        }
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
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error> {
        let naive: Result<NaiveDateTime, _> = decode_native!(row, index);
        match naive {
            Ok(v) => Ok(v.and_utc()),
            Err(first) => {
                let zoned: Result<DateTime<Utc>, _> = decode_native!(row, index);
                zoned.map_err(|_| first)
            }
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
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error> {
        decode_native!(row, index)
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
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error> {
        match row {
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => sqlx::Row::try_get(r, index),
            #[allow(unreachable_patterns)]
            _ => {
                let text: String = decode_native!(row, index)?;
                Uuid::parse_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
            }
        }
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
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error> {
        let json: Result<sqlx::types::Json<serde_json::Value>, _> = decode_native!(row, index);
        match json {
            Ok(v) => Ok(v.0),
            // MariaDB keeps JSON as LONGTEXT; parse the text.
            Err(first) => {
                let text: String = decode_native!(row, index).map_err(|_| first)?;
                serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
            }
        }
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
    fn decode(row: RowRef<'_>, index: usize) -> Result<Self, sqlx::Error> {
        if row.is_null(index)? {
            Ok(None)
        } else {
            T::decode(row, index).map(Some)
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
        SqlType::Integer => {
            let n = json.as_i64().ok_or_else(wrong)?;
            i32::try_from(n).map_err(|_| wrong())?.to_value(dialect)
        }
        SqlType::BigInteger => json.as_i64().ok_or_else(wrong)?.to_value(dialect),
        SqlType::Double => json.as_f64().ok_or_else(wrong)?.to_value(dialect),
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

fn null_of(sql_type: SqlType, dialect: Dialect) -> Value {
    match sql_type {
        SqlType::String(_) => String::null_value(dialect),
        SqlType::Integer => i32::null_value(dialect),
        SqlType::BigInteger => i64::null_value(dialect),
        SqlType::Double => f64::null_value(dialect),
        SqlType::Boolean => bool::null_value(dialect),
        SqlType::TimestampUtc | SqlType::Timestamp => NaiveDateTime::null_value(dialect),
        SqlType::Date => NaiveDate::null_value(dialect),
        SqlType::Uuid => Uuid::null_value(dialect),
        SqlType::Json => serde_json::Value::null_value(dialect),
        SqlType::Bytes => Vec::<u8>::null_value(dialect),
    }
}
