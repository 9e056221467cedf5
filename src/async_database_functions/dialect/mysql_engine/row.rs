//! mysql_async rows behind the crate's driver-neutral
//! [`RowRef`](crate::async_database_functions::core::row::RowRef): the core's [`DriverRow`],
//! decoding each native type as sqlx's MySQL rows do — the same SQL types accepted for the same
//! Rust type (a signed integer from a signed integer column, text only from a column that is
//! not binary, …), "mismatched types" and "unexpected null" as sqlx words them, binary values
//! (prepared statements) and text values (scripts) alike.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use mysql_async::consts::{ColumnFlags, ColumnType as T};
use mysql_async::{Column, Value};

use crate::async_database_functions::core::row::{DecodeError, DriverRow};

/// The `binary` character set: a column of bytes, not text.
const BINARY: u16 = 63;

/// A borrowed mysql_async row.
#[derive(Clone, Copy)]
pub(crate) struct MyEngineRow<'r>(pub(crate) &'r mysql_async::Row);

fn signed_int(c: &Column) -> bool {
    matches!(
        c.column_type(),
        T::MYSQL_TYPE_TINY
            | T::MYSQL_TYPE_SHORT
            | T::MYSQL_TYPE_LONG
            | T::MYSQL_TYPE_INT24
            | T::MYSQL_TYPE_LONGLONG
    ) && !c.flags().contains(ColumnFlags::UNSIGNED_FLAG)
}

fn unsigned_int(c: &Column) -> bool {
    matches!(
        c.column_type(),
        T::MYSQL_TYPE_TINY
            | T::MYSQL_TYPE_SHORT
            | T::MYSQL_TYPE_LONG
            | T::MYSQL_TYPE_INT24
            | T::MYSQL_TYPE_LONGLONG
            | T::MYSQL_TYPE_YEAR
            | T::MYSQL_TYPE_BIT
    ) && c.flags().contains(ColumnFlags::UNSIGNED_FLAG)
}

fn boolean(c: &Column) -> bool {
    matches!(
        c.column_type(),
        T::MYSQL_TYPE_TINY
            | T::MYSQL_TYPE_SHORT
            | T::MYSQL_TYPE_LONG
            | T::MYSQL_TYPE_INT24
            | T::MYSQL_TYPE_LONGLONG
            | T::MYSQL_TYPE_BIT
    )
}

fn real(c: &Column) -> bool {
    matches!(c.column_type(), T::MYSQL_TYPE_FLOAT | T::MYSQL_TYPE_DOUBLE)
}

fn bytes_type(c: &Column) -> bool {
    matches!(
        c.column_type(),
        T::MYSQL_TYPE_VARCHAR
            | T::MYSQL_TYPE_BLOB
            | T::MYSQL_TYPE_TINY_BLOB
            | T::MYSQL_TYPE_MEDIUM_BLOB
            | T::MYSQL_TYPE_LONG_BLOB
            | T::MYSQL_TYPE_STRING
            | T::MYSQL_TYPE_VAR_STRING
            | T::MYSQL_TYPE_ENUM
    )
}

fn text_type(c: &Column) -> bool {
    bytes_type(c) && c.character_set() != BINARY
}

fn datetime_type(c: &Column) -> bool {
    matches!(
        c.column_type(),
        T::MYSQL_TYPE_DATETIME
            | T::MYSQL_TYPE_TIMESTAMP
            | T::MYSQL_TYPE_DATETIME2
            | T::MYSQL_TYPE_TIMESTAMP2
    )
}

fn date_type(c: &Column) -> bool {
    matches!(c.column_type(), T::MYSQL_TYPE_DATE | T::MYSQL_TYPE_NEWDATE)
}

fn time_type(c: &Column) -> bool {
    matches!(c.column_type(), T::MYSQL_TYPE_TIME | T::MYSQL_TYPE_TIME2)
}

fn json_type(c: &Column) -> bool {
    c.column_type() == T::MYSQL_TYPE_JSON || bytes_type(c)
}

#[cfg(feature = "decimal")]
fn decimal_type(c: &Column) -> bool {
    matches!(
        c.column_type(),
        T::MYSQL_TYPE_DECIMAL | T::MYSQL_TYPE_NEWDECIMAL
    )
}

/// sqlx's name of a column's type (`BIGINT`, `VARCHAR`, `LONGBLOB`, `BOOLEAN` for `TINYINT(1)`),
/// so that a `Record`'s dynamic decoding reads the same names on both executors.
pub(crate) fn type_name(c: &Column) -> &'static str {
    let flags = c.flags();
    let binary = flags.contains(ColumnFlags::BINARY_FLAG);
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let is_enum = flags.contains(ColumnFlags::ENUM_FLAG);
    match c.column_type() {
        T::MYSQL_TYPE_TINY if c.column_length() == 1 => "BOOLEAN",
        T::MYSQL_TYPE_TINY if unsigned => "TINYINT UNSIGNED",
        T::MYSQL_TYPE_SHORT if unsigned => "SMALLINT UNSIGNED",
        T::MYSQL_TYPE_LONG if unsigned => "INT UNSIGNED",
        T::MYSQL_TYPE_INT24 if unsigned => "MEDIUMINT UNSIGNED",
        T::MYSQL_TYPE_LONGLONG if unsigned => "BIGINT UNSIGNED",
        T::MYSQL_TYPE_TINY => "TINYINT",
        T::MYSQL_TYPE_SHORT => "SMALLINT",
        T::MYSQL_TYPE_LONG => "INT",
        T::MYSQL_TYPE_INT24 => "MEDIUMINT",
        T::MYSQL_TYPE_LONGLONG => "BIGINT",
        T::MYSQL_TYPE_FLOAT => "FLOAT",
        T::MYSQL_TYPE_DOUBLE => "DOUBLE",
        T::MYSQL_TYPE_NULL => "NULL",
        T::MYSQL_TYPE_TIMESTAMP | T::MYSQL_TYPE_TIMESTAMP2 => "TIMESTAMP",
        T::MYSQL_TYPE_DATE | T::MYSQL_TYPE_NEWDATE => "DATE",
        T::MYSQL_TYPE_TIME | T::MYSQL_TYPE_TIME2 => "TIME",
        T::MYSQL_TYPE_DATETIME | T::MYSQL_TYPE_DATETIME2 => "DATETIME",
        T::MYSQL_TYPE_YEAR => "YEAR",
        T::MYSQL_TYPE_BIT => "BIT",
        T::MYSQL_TYPE_ENUM => "ENUM",
        T::MYSQL_TYPE_SET => "SET",
        T::MYSQL_TYPE_DECIMAL | T::MYSQL_TYPE_NEWDECIMAL => "DECIMAL",
        T::MYSQL_TYPE_GEOMETRY => "GEOMETRY",
        T::MYSQL_TYPE_JSON => "JSON",
        T::MYSQL_TYPE_STRING if binary => "BINARY",
        T::MYSQL_TYPE_STRING if is_enum => "ENUM",
        T::MYSQL_TYPE_VARCHAR | T::MYSQL_TYPE_VAR_STRING if binary => "VARBINARY",
        T::MYSQL_TYPE_STRING => "CHAR",
        T::MYSQL_TYPE_VARCHAR | T::MYSQL_TYPE_VAR_STRING => "VARCHAR",
        T::MYSQL_TYPE_TINY_BLOB if binary => "TINYBLOB",
        T::MYSQL_TYPE_TINY_BLOB => "TINYTEXT",
        T::MYSQL_TYPE_BLOB if binary => "BLOB",
        T::MYSQL_TYPE_BLOB => "TEXT",
        T::MYSQL_TYPE_MEDIUM_BLOB if binary => "MEDIUMBLOB",
        T::MYSQL_TYPE_MEDIUM_BLOB => "MEDIUMTEXT",
        T::MYSQL_TYPE_LONG_BLOB if binary => "LONGBLOB",
        T::MYSQL_TYPE_LONG_BLOB => "LONGTEXT",
        _ => "UNKNOWN",
    }
}

#[cold]
fn mismatched(rust: &str, sql: &str, column: &Column) -> DecodeError {
    format!(
        "mismatched types; Rust type `{rust}` (as SQL type `{sql}`) is not compatible with SQL \
         type `{}`",
        type_name(column)
    )
    .into()
}

#[cold]
fn unexpected_null() -> DecodeError {
    "unexpected null; try decoding as an `Option`".into()
}

fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    Ok(std::str::from_utf8(bytes)?)
}

/// An integer from a binary value (a number) or a text one.
fn int_of(value: &Value) -> Result<i64, DecodeError> {
    match value {
        Value::Int(v) => Ok(*v),
        Value::UInt(v) => Ok(i64::try_from(*v)?),
        // BIT values, little-endian as sqlx reads them in binary; text integers.
        Value::Bytes(b) => match std::str::from_utf8(b).ok().map(str::parse::<i64>) {
            Some(Ok(v)) => Ok(v),
            _ if !b.is_empty() && b.len() <= 8 && !b.iter().all(u8::is_ascii_digit) => Ok(b
                .iter()
                .rev()
                .fold(0i64, |acc, x| (acc << 8) | i64::from(*x))),
            _ => Err(format!("invalid integer {:?}", String::from_utf8_lossy(b)).into()),
        },
        other => Err(format!("expected an integer, got {}", kind(other)).into()),
    }
}

fn uint_of(value: &Value) -> Result<u64, DecodeError> {
    match value {
        Value::UInt(v) => Ok(*v),
        Value::Int(v) => Ok(u64::try_from(*v)?),
        Value::Bytes(b) => match std::str::from_utf8(b).ok().map(str::parse::<u64>) {
            Some(Ok(v)) => Ok(v),
            _ if !b.is_empty() && b.len() <= 8 => Ok(b
                .iter()
                .rev()
                .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))),
            _ => Err(format!("invalid integer {:?}", String::from_utf8_lossy(b)).into()),
        },
        other => Err(format!("expected an integer, got {}", kind(other)).into()),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::NULL => "NULL",
        Value::Bytes(_) => "bytes",
        Value::Int(_) | Value::UInt(_) => "an integer",
        Value::Float(_) | Value::Double(_) => "a float",
        Value::Date(..) => "a date",
        Value::Time(..) => "a time",
    }
}

fn date_of(y: u16, m: u8, d: u8) -> Result<NaiveDate, DecodeError> {
    NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
        .ok_or_else(|| format!("invalid date {y:04}-{m:02}-{d:02}").into())
}

fn time_of(h: u8, mi: u8, s: u8, us: u32) -> Result<NaiveTime, DecodeError> {
    NaiveTime::from_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), us)
        .ok_or_else(|| format!("invalid time {h:02}:{mi:02}:{s:02}.{us:06}").into())
}

fn datetime_of(value: &Value) -> Result<NaiveDateTime, DecodeError> {
    match value {
        Value::Date(y, m, d, h, mi, s, us) => {
            Ok(date_of(*y, *m, *d)?.and_time(time_of(*h, *mi, *s, *us)?))
        }
        Value::Bytes(b) => {
            let text = utf8(b)?;
            Ok(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))?)
        }
        other => Err(format!("expected a date-time, got {}", kind(other)).into()),
    }
}

impl<'r> MyEngineRow<'r> {
    /// The column and value at `index`, the column's type checked with `compatible` as sqlx
    /// checks it (only for a value that is not NULL); NULL an error for these non-optional reads.
    #[inline]
    fn checked(
        self,
        index: usize,
        compatible: fn(&Column) -> bool,
        rust: &str,
        sql: &str,
    ) -> Result<&'r Value, DecodeError> {
        let (column, value) = self.at(index)?;
        if matches!(value, Value::NULL) {
            return Err(unexpected_null());
        }
        if column.column_type() != T::MYSQL_TYPE_NULL && !compatible(column) {
            return Err(mismatched(rust, sql, column));
        }
        Ok(value)
    }

    fn at(self, index: usize) -> Result<(&'r Column, &'r Value), DecodeError> {
        let columns = self.0.columns_ref();
        match (columns.get(index), self.0.as_ref(index)) {
            (Some(c), Some(v)) => Ok((c, v)),
            _ => Err(format!(
                "column index out of bounds: the len is {}, but the index is {index}",
                self.0.len()
            )
            .into()),
        }
    }

    fn text(self, index: usize, rust: &str) -> Result<&'r [u8], DecodeError> {
        match self.checked(index, text_type, rust, "TEXT")? {
            Value::Bytes(b) => Ok(b),
            other => Err(format!("expected text, got {}", kind(other)).into()),
        }
    }
}

impl DriverRow for MyEngineRow<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_null(&self, index: usize) -> Result<bool, DecodeError> {
        self.at(index).map(|(_, v)| matches!(v, Value::NULL))
    }

    fn column_name(&self, index: usize) -> Option<&str> {
        let column = self.0.columns_ref().get(index)?;
        std::str::from_utf8(column.name_ref()).ok()
    }

    fn type_name(&self, index: usize) -> Option<String> {
        self.0
            .columns_ref()
            .get(index)
            .map(|c| type_name(c).to_string())
    }

    fn string(&self, index: usize) -> Result<String, DecodeError> {
        Ok(utf8(self.text(index, "String")?)?.to_string())
    }

    fn i64(&self, index: usize) -> Result<i64, DecodeError> {
        int_of(self.checked(index, signed_int, "i64", "BIGINT")?)
    }

    fn i32(&self, index: usize) -> Result<i32, DecodeError> {
        Ok(i32::try_from(int_of(
            self.checked(index, signed_int, "i32", "INT")?,
        )?)?)
    }

    fn i16(&self, index: usize) -> Result<i16, DecodeError> {
        Ok(i16::try_from(int_of(
            self.checked(index, signed_int, "i16", "SMALLINT")?,
        )?)?)
    }

    fn f64(&self, index: usize) -> Result<f64, DecodeError> {
        match self.checked(index, real, "f64", "DOUBLE")? {
            Value::Double(v) => Ok(*v),
            Value::Float(v) => Ok(f64::from(*v)),
            Value::Bytes(b) => Ok(utf8(b)?.parse()?),
            other => Err(format!("expected a DOUBLE, got {}", kind(other)).into()),
        }
    }

    fn f32(&self, index: usize) -> Result<f32, DecodeError> {
        match self.checked(index, real, "f32", "FLOAT")? {
            Value::Float(v) => Ok(*v),
            // As MySQL does: a DOUBLE read as FLOAT is cut to its precision.
            #[allow(clippy::cast_possible_truncation)]
            Value::Double(v) => Ok(*v as f32),
            Value::Bytes(b) => Ok(utf8(b)?.parse()?),
            other => Err(format!("expected a FLOAT, got {}", kind(other)).into()),
        }
    }

    fn bool(&self, index: usize) -> Result<bool, DecodeError> {
        let v = int_of(self.checked(index, boolean, "bool", "BOOLEAN")?)?;
        Ok(i8::try_from(v)? != 0)
    }

    fn time(&self, index: usize) -> Result<NaiveTime, DecodeError> {
        match self.checked(index, time_type, "NaiveTime", "TIME")? {
            Value::Time(false, 0, h, m, s, us) => time_of(*h, *m, *s, *us),
            Value::Time(..) => Err("a TIME beyond 24 hours or negative is not a NaiveTime".into()),
            Value::Bytes(b) => Ok(NaiveTime::parse_from_str(utf8(b)?, "%H:%M:%S%.f")?),
            other => Err(format!("expected a TIME, got {}", kind(other)).into()),
        }
    }

    fn date(&self, index: usize) -> Result<NaiveDate, DecodeError> {
        match self.checked(index, date_type, "NaiveDate", "DATE")? {
            Value::Date(y, m, d, ..) => date_of(*y, *m, *d),
            Value::Bytes(b) => Ok(NaiveDate::parse_from_str(utf8(b)?, "%Y-%m-%d")?),
            other => Err(format!("expected a DATE, got {}", kind(other)).into()),
        }
    }

    fn datetime(&self, index: usize) -> Result<NaiveDateTime, DecodeError> {
        datetime_of(self.checked(index, datetime_type, "NaiveDateTime", "DATETIME")?)
    }

    fn datetime_utc(&self, index: usize) -> Result<DateTime<Utc>, DecodeError> {
        let value = self.checked(index, datetime_type, "DateTime<Utc>", "DATETIME")?;
        Ok(datetime_of(value)?.and_utc())
    }

    fn bytes(&self, index: usize) -> Result<Vec<u8>, DecodeError> {
        match self.checked(index, bytes_type, "Vec<u8>", "BLOB")? {
            Value::Bytes(b) => Ok(b.clone()),
            other => Err(format!("expected bytes, got {}", kind(other)).into()),
        }
    }

    fn json(&self, index: usize) -> Option<Result<serde_json::Value, DecodeError>> {
        Some(
            match self.checked(index, json_type, "Json<Value>", "JSON") {
                Ok(Value::Bytes(b)) => serde_json::from_slice(b).map_err(Into::into),
                Ok(other) => Err(format!("expected JSON, got {}", kind(other)).into()),
                Err(e) => Err(e),
            },
        )
    }

    /// `INT UNSIGNED`, or a 64-bit integer that fits.
    fn u32(&self, index: usize) -> Result<u32, DecodeError> {
        match self
            .checked(index, unsigned_int, "u32", "INT UNSIGNED")
            .and_then(uint_of)
        {
            Ok(v) => Ok(u32::try_from(v)?),
            Err(_) => Ok(u32::try_from(self.i64(index)?)?),
        }
    }

    /// `BIGINT UNSIGNED`.
    fn u64(&self, index: usize) -> Result<u64, DecodeError> {
        uint_of(self.checked(index, unsigned_int, "u64", "BIGINT UNSIGNED")?)
    }

    #[cfg(feature = "decimal")]
    fn decimal(&self, index: usize) -> Result<rust_decimal::Decimal, DecodeError> {
        match self.checked(index, decimal_type, "Decimal", "DECIMAL")? {
            Value::Bytes(b) => Ok(utf8(b)?.parse()?),
            other => Err(format!("expected a DECIMAL, got {}", kind(other)).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(ty: T, flags: ColumnFlags, charset: u16, length: u32) -> Column {
        Column::new(ty)
            .with_flags(flags)
            .with_character_set(charset)
            .with_column_length(length)
    }

    #[test]
    fn types_are_named_and_accepted_as_sqlx_mysql_does() {
        let none = ColumnFlags::empty();
        let bigint = column(T::MYSQL_TYPE_LONGLONG, none, BINARY, 20);
        let unsigned = column(
            T::MYSQL_TYPE_LONGLONG,
            ColumnFlags::UNSIGNED_FLAG,
            BINARY,
            20,
        );
        let boolean_col = column(T::MYSQL_TYPE_TINY, none, BINARY, 1);
        let varchar = column(T::MYSQL_TYPE_VAR_STRING, none, 45, 400);
        let varbinary = column(
            T::MYSQL_TYPE_VAR_STRING,
            ColumnFlags::BINARY_FLAG,
            BINARY,
            100,
        );
        let longtext = column(T::MYSQL_TYPE_BLOB, none, 45, u32::MAX);
        let longblob = column(
            T::MYSQL_TYPE_BLOB,
            ColumnFlags::BINARY_FLAG,
            BINARY,
            u32::MAX,
        );
        assert_eq!(type_name(&bigint), "BIGINT");
        assert_eq!(type_name(&unsigned), "BIGINT UNSIGNED");
        assert_eq!(type_name(&boolean_col), "BOOLEAN");
        assert_eq!(type_name(&varchar), "VARCHAR");
        assert_eq!(type_name(&varbinary), "VARBINARY");
        assert_eq!(type_name(&longtext), "TEXT");
        assert_eq!(type_name(&longblob), "BLOB");
        // Signed integers only from signed columns, unsigned from unsigned ones.
        assert!(signed_int(&bigint) && !signed_int(&unsigned));
        assert!(unsigned_int(&unsigned) && !unsigned_int(&bigint));
        assert!(boolean(&boolean_col) && boolean(&unsigned));
        // Text only from a column that is not binary; bytes from either.
        assert!(text_type(&varchar) && text_type(&longtext));
        assert!(!text_type(&varbinary) && !text_type(&longblob));
        assert!(bytes_type(&varbinary) && bytes_type(&varchar));
        assert!(!real(&bigint) && !text_type(&bigint));
    }

    #[test]
    fn binary_and_text_values_read_alike() {
        assert_eq!(int_of(&Value::Int(-7)).ok(), Some(-7));
        assert_eq!(int_of(&Value::Bytes(b"-7".to_vec())).ok(), Some(-7));
        assert!(int_of(&Value::UInt(u64::MAX)).is_err());
        assert_eq!(
            uint_of(&Value::Bytes(b"18446744073709551615".to_vec())).ok(),
            Some(u64::MAX)
        );
        let at = NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_micro_opt(6, 40, 1, 250))
            .expect("a date-time");
        let binary = Value::Date(2026, 12, 7, 6, 40, 1, 250);
        let text = Value::Bytes(b"2026-12-07 06:40:01.000250".to_vec());
        assert_eq!(datetime_of(&binary).ok(), Some(at));
        assert_eq!(datetime_of(&text).ok(), Some(at));
        assert!(datetime_of(&Value::Date(0, 0, 0, 0, 0, 0, 0)).is_err());
    }
}
