//! Binding `sea_query::Value`s as mysql_async parameters, as sqlx-mysql binds what
//! sea-query-sqlx gives it: integers and floats as numbers, text, JSON and decimals as strings,
//! bytes and UUIDs (16 bytes) as byte strings, date-times in UTC, so that a row written by
//! either executor reads the same.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use mysql_async::Value as My;
use sea_query::{OptionEnum, Value};

/// Why a value could not be bound.
pub(crate) type BindError = Box<dyn std::error::Error + Sync + Send>;

/// The statement's parameters.
pub(crate) fn params(values: Vec<Value>) -> Result<mysql_async::Params, BindError> {
    if values.is_empty() {
        return Ok(mysql_async::Params::Empty);
    }
    values
        .into_iter()
        .map(value)
        .collect::<Result<Vec<_>, _>>()
        .map(mysql_async::Params::Positional)
}

fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> My) -> My {
    v.map_or(My::NULL, f)
}

fn text(s: String) -> My {
    My::Bytes(s.into_bytes())
}

pub(crate) fn date(d: NaiveDate) -> My {
    // A year outside 0..=9999 is refused by the server either way.
    let year = u16::try_from(d.year()).unwrap_or(0);
    My::Date(year, d.month() as u8, d.day() as u8, 0, 0, 0, 0)
}

pub(crate) fn datetime(t: NaiveDateTime) -> My {
    let year = u16::try_from(t.year()).unwrap_or(0);
    My::Date(
        year,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
        // A leap second's nanoseconds run past 1e9: kept within the second.
        (t.nanosecond() / 1_000).min(999_999),
    )
}

pub(crate) fn time(t: NaiveTime) -> My {
    My::Time(
        false,
        0,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
        (t.nanosecond() / 1_000).min(999_999),
    )
}

/// One value.
pub(crate) fn value(v: Value) -> Result<My, BindError> {
    Ok(match v {
        Value::Bool(b) => or_null(b, |b| My::Int(i64::from(b))),
        Value::TinyInt(i) => or_null(i, |i| My::Int(i64::from(i))),
        Value::SmallInt(i) => or_null(i, |i| My::Int(i64::from(i))),
        Value::Int(i) => or_null(i, |i| My::Int(i64::from(i))),
        Value::BigInt(i) => or_null(i, My::Int),
        Value::TinyUnsigned(i) => or_null(i, |i| My::UInt(u64::from(i))),
        Value::SmallUnsigned(i) => or_null(i, |i| My::UInt(u64::from(i))),
        Value::Unsigned(i) => or_null(i, |i| My::UInt(u64::from(i))),
        Value::BigUnsigned(i) => or_null(i, My::UInt),
        Value::Float(f) => or_null(f, My::Float),
        Value::Double(f) => or_null(f, My::Double),
        Value::String(s) => or_null(s, text),
        Value::Char(c) => or_null(c, |c| text(c.to_string())),
        Value::Enum(e) => match e {
            OptionEnum::Some(e) => text(e.value.into_owned()),
            OptionEnum::None(_) => My::NULL,
        },
        Value::Bytes(b) => or_null(b, My::Bytes),
        Value::Json(j) => or_null(j, |j| text(j.to_string())),
        Value::ChronoDate(d) => or_null(d, date),
        Value::ChronoTime(t) => or_null(t, time),
        Value::ChronoDateTime(t) => or_null(t, datetime),
        Value::ChronoDateTimeUtc(t) => or_null(t, |t| datetime(t.naive_utc())),
        Value::ChronoDateTimeLocal(t) => or_null(t, |t| datetime(t.naive_utc())),
        Value::ChronoDateTimeWithTimeZone(t) => or_null(t, |t| datetime(t.naive_utc())),
        Value::Uuid(u) => or_null(u, |u| My::Bytes(u.as_bytes().to_vec())),
        #[cfg(feature = "decimal")]
        Value::Decimal(d) => or_null(d, |d| text(d.to_string())),
        other => return Err(format!("{other:?} cannot be bound on MySQL/MariaDB").into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_bind_as_sqlx_mysql_binds_them() {
        let at = NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_micro_opt(6, 40, 1, 250))
            .expect("a date-time");
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let bound = |v: Value| value(v).expect("bound");
        assert_eq!(bound(Value::Bool(Some(true))), My::Int(1));
        assert_eq!(bound(Value::Int(None)), My::NULL);
        assert_eq!(
            bound(Value::BigUnsigned(Some(u64::MAX))),
            My::UInt(u64::MAX)
        );
        assert_eq!(
            bound(Value::String(Some("é".into()))),
            My::Bytes("é".as_bytes().to_vec())
        );
        assert_eq!(
            bound(Value::ChronoDateTimeUtc(Some(at.and_utc()))),
            My::Date(2026, 12, 7, 6, 40, 1, 250)
        );
        assert_eq!(
            bound(Value::Uuid(Some(id))),
            My::Bytes(id.as_bytes().to_vec())
        );
        assert_eq!(
            bound(Value::Json(Some(Box::new(serde_json::json!({"a": [1]}))))),
            My::Bytes(br#"{"a":[1]}"#.to_vec())
        );
        assert!(matches!(params(Vec::new()), Ok(mysql_async::Params::Empty)));
    }
}
