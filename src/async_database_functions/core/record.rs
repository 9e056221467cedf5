//! [`Record`]: a row whose shape is not known at compile time — the seed's "dict" results.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::field::SqlField;
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::row::{DecodeError, RowRef};

/// An ordered map of column name → value, decoded from any row.
///
/// Integers, floats, booleans, strings and JSON map to their JSON forms; date-times become
/// ISO-8601 strings, UUIDs their hyphenated text, binary data an array of bytes; a type with
/// no such form (PostgreSQL's `void`, as `SELECT pg_sleep(0.1)` returns, arrays and other
/// types no decoding accepts) becomes `null`. Serialises as a JSON object:
///
/// ```
/// use dsg_lib::async_database_functions::record::Record;
///
/// let mut record = Record::default();
/// record.insert("name", "Mike".into());
/// record.insert("age", 42.into());
/// assert_eq!(serde_json::to_string(&record).unwrap(), r#"{"name":"Mike","age":42}"#);
/// assert_eq!(record.get("age"), Some(&serde_json::json!(42)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Record(Map<String, Value>);

impl Record {
    /// The value of `column`, if the row has it.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.get(column)
    }

    /// Sets `column` to `value` (kept in insertion order).
    pub fn insert(&mut self, column: impl Into<String>, value: Value) {
        self.0.insert(column.into(), value);
    }

    /// Column names, in select order.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the record has no columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The record as a JSON object map.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Record> for Value {
    fn from(record: Record) -> Value {
        Value::Object(record.0)
    }
}

impl FromRow for Record {
    fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
        let mut map = Map::with_capacity(row.len());
        for index in 0..row.len() {
            let name = row.column_name(index).unwrap_or_default().to_string();
            let value = decode_dynamic(row, index)
                .map_err(|e| DatabaseError::decode(format!("column {index} ({name}): {e}")))?;
            map.insert(name, value);
        }
        Ok(Record(map))
    }
}

/// Decodes a column by the type the database reports for it.
///
/// A type with no JSON form here (PostgreSQL's `void`, returned by `pg_sleep` or
/// `pg_advisory_lock`; arrays, ranges, geometry and other types none of the driver's own
/// decodings accepts) reads as `null`: the statement ran, and its result must not fail for a
/// value nobody can read. A column of a type named below whose value does not decode still
/// fails, naming the column.
fn decode_dynamic(row: RowRef<'_>, index: usize) -> Result<Value, DecodeError> {
    if row.is_null(index)? {
        return Ok(Value::Null);
    }
    let type_name = row
        .type_name(index)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let ty = type_name.as_str();
    if ty == "VOID" || ty.ends_with("[]") {
        return Ok(Value::Null);
    }
    let mut mapped = true;
    let get = |f: fn(RowRef<'_>, usize) -> Result<Value, DecodeError>| f(row, index);
    let result = if ty == "BOOLEAN" || ty == "BOOL" {
        get(|r, i| bool::decode(r, i).map(Value::from))
    } else if ty.contains("INT") || ty == "SERIAL" || ty == "BIGSERIAL" {
        get(|r, i| i64::decode(r, i).map(Value::from)).or_else(|_| get(integer_text))
    } else if ty.contains("REAL") || ty.contains("FLOAT") || ty.contains("DOUBLE") {
        get(|r, i| f64::decode(r, i).map(Value::from))
            // PostgreSQL's REAL (FLOAT4) and MySQL's FLOAT decode only as f32.
            .or_else(|_| get(|r, i| f32::decode(r, i).map(|f| Value::from(f64::from(f)))))
    } else if ty.contains("NUMERIC") || ty.contains("DECIMAL") {
        get(decimal_text)
            .or_else(|_| get(|r, i| String::decode(r, i).map(Value::from)))
            .or_else(|_| get(|r, i| f64::decode(r, i).map(Value::from)))
    } else if ty.contains("JSON") {
        get(serde_json::Value::decode)
    } else if ty == "UUID" {
        get(|r, i| Uuid::decode(r, i).map(|u| Value::from(u.to_string())))
    } else if ty.contains("TIMESTAMPTZ") || ty == "TIMESTAMP WITH TIME ZONE" {
        get(|r, i| DateTime::<Utc>::decode(r, i).map(|d| Value::from(d.to_rfc3339())))
    } else if ty.contains("TIMESTAMP") || ty.contains("DATETIME") {
        get(|r, i| {
            NaiveDateTime::decode(r, i)
                .map(|d| Value::from(d.format("%Y-%m-%dT%H:%M:%S%.f").to_string()))
        })
        .or_else(|_| get(|r, i| String::decode(r, i).map(Value::from)))
    } else if ty == "DATE" {
        get(|r, i| NaiveDate::decode(r, i).map(|d| Value::from(d.to_string())))
            .or_else(|_| get(|r, i| String::decode(r, i).map(Value::from)))
    } else if ty == "TIME" {
        get(time_text)
    } else if ty.contains("BLOB") || ty.contains("BYTEA") || ty.contains("BINARY") {
        get(|r, i| Vec::<u8>::decode(r, i).map(Value::from))
    } else {
        mapped = false;
        get(|r, i| String::decode(r, i).map(Value::from))
    };
    // Last resort for types not named above: whatever the driver can give.
    let result = result
        .or_else(|_| get(|r, i| String::decode(r, i).map(Value::from)))
        .or_else(|_| get(|r, i| i64::decode(r, i).map(Value::from)))
        .or_else(|_| get(|r, i| f64::decode(r, i).map(Value::from)))
        .or_else(|_| get(|r, i| Vec::<u8>::decode(r, i).map(Value::from)));
    match result {
        Err(_) if !mapped => Ok(Value::Null),
        result => result,
    }
}

/// Unsigned or narrow integers that do not decode as `i64` (MySQL `BIGINT UNSIGNED`,
/// PostgreSQL's `INT4` and `INT2`).
fn integer_text(row: RowRef<'_>, index: usize) -> Result<Value, DecodeError> {
    row.native::<u64>(index)
        .map(Value::from)
        .or_else(|_| i32::decode(row, index).map(Value::from))
        .or_else(|_| i16::decode(row, index).map(Value::from))
}

/// An exact decimal as its text (a JSON number would round it).
#[cfg(feature = "decimal")]
fn decimal_text(row: RowRef<'_>, index: usize) -> Result<Value, DecodeError> {
    rust_decimal::Decimal::decode(row, index).map(|d| Value::from(d.to_string()))
}

/// Without the `decimal` feature PostgreSQL's NUMERIC has no Rust type to decode into.
#[cfg(not(feature = "decimal"))]
fn decimal_text(row: RowRef<'_>, index: usize) -> Result<Value, DecodeError> {
    String::decode(row, index).map(Value::from)
}

fn time_text(row: RowRef<'_>, index: usize) -> Result<Value, DecodeError> {
    NaiveTime::decode(row, index).map(|t| Value::from(t.to_string()))
}
