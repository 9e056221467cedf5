//! Binds sea-query values to a rusqlite statement, in the forms sqlx-sqlite writes them (via
//! sea-query-sqlx), so that rows written by the engine and by `sqlite_pool()` read alike.

use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use sea_query::{OptionEnum, Value};

/// The engine value of one sea-query value.
pub(crate) fn to_sql(value: &Value) -> rusqlite::Result<ToSqlOutput<'_>> {
    use rusqlite::types::ValueRef;
    fn int<T: Into<i64> + Copy>(v: &Option<T>) -> ToSqlOutput<'static> {
        match v {
            Some(v) => ToSqlOutput::Owned(SqlValue::Integer((*v).into())),
            None => ToSqlOutput::Owned(SqlValue::Null),
        }
    }
    fn text(v: Option<String>) -> ToSqlOutput<'static> {
        ToSqlOutput::Owned(v.map_or(SqlValue::Null, SqlValue::Text))
    }
    Ok(match value {
        Value::Bool(v) => int(&v.map(i64::from)),
        Value::TinyInt(v) => int(v),
        Value::SmallInt(v) => int(v),
        Value::Int(v) => int(v),
        Value::BigInt(v) => int(v),
        Value::TinyUnsigned(v) => int(v),
        Value::SmallUnsigned(v) => int(v),
        Value::Unsigned(v) => int(v),
        Value::BigUnsigned(v) => match v {
            Some(v) => ToSqlOutput::Owned(SqlValue::Integer(
                i64::try_from(*v)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
            )),
            None => ToSqlOutput::Owned(SqlValue::Null),
        },
        Value::Float(v) => {
            ToSqlOutput::Owned(v.map_or(SqlValue::Null, |f| SqlValue::Real(f64::from(f))))
        }
        Value::Double(v) => ToSqlOutput::Owned(v.map_or(SqlValue::Null, SqlValue::Real)),
        Value::String(v) => match v {
            Some(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            None => ToSqlOutput::Owned(SqlValue::Null),
        },
        Value::Enum(e) => match e {
            OptionEnum::Some(v) => text(Some(v.value.to_string())),
            OptionEnum::None(_) => ToSqlOutput::Owned(SqlValue::Null),
        },
        Value::Char(c) => text(c.map(|c| c.to_string())),
        Value::Bytes(v) => match v {
            Some(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            None => ToSqlOutput::Owned(SqlValue::Null),
        },
        Value::ChronoDate(d) => text(d.map(|d| d.format("%F").to_string())),
        Value::ChronoTime(t) => text(t.map(time_text)),
        Value::ChronoDateTime(t) => text(t.map(datetime_text)),
        Value::ChronoDateTimeUtc(t) => {
            text(t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)))
        }
        Value::ChronoDateTimeLocal(t) => {
            text(t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)))
        }
        Value::ChronoDateTimeWithTimeZone(t) => {
            text(t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)))
        }
        // sqlx-sqlite stores a uuid as its 16 bytes.
        Value::Uuid(u) => {
            ToSqlOutput::Owned(u.map_or(SqlValue::Null, |u| SqlValue::Blob(u.as_bytes().to_vec())))
        }
        #[cfg(feature = "decimal")]
        Value::Decimal(d) => text(d.map(|d| d.to_string())),
        Value::Json(j) => text(j.as_ref().map(|j| j.to_string())),
        #[allow(unreachable_patterns)]
        other => {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("sqlite cannot bind {other:?}").into(),
            ));
        }
    })
}

/// `t.format("%F %T%.f")`, written directly: chrono parses the format string on every call,
/// which cost more than the rest of a bound update.
fn datetime_text(t: chrono::NaiveDateTime) -> String {
    use chrono::Datelike;
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%F %T%.f").to_string();
    }
    let mut out = String::with_capacity(29);
    push_digits(&mut out, year.unsigned_abs(), 4);
    out.push('-');
    push_digits(&mut out, t.month(), 2);
    out.push('-');
    push_digits(&mut out, t.day(), 2);
    out.push(' ');
    push_time(&mut out, t.time());
    out
}

/// `t.format("%T%.f")`, written directly.
fn time_text(t: chrono::NaiveTime) -> String {
    let mut out = String::with_capacity(18);
    push_time(&mut out, t);
    out
}

/// `%T%.f`: the fraction as chrono's `%.f` writes it (none, or 3, 6 or 9 digits).
fn push_time(out: &mut String, t: chrono::NaiveTime) {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        // A leap second: chrono's own rendering.
        out.push_str(&t.format("%T%.f").to_string());
        return;
    }
    push_digits(out, t.hour(), 2);
    out.push(':');
    push_digits(out, t.minute(), 2);
    out.push(':');
    push_digits(out, t.second(), 2);
    if nanos == 0 {
    } else if nanos.is_multiple_of(1_000_000) {
        out.push('.');
        push_digits(out, nanos / 1_000_000, 3);
    } else if nanos.is_multiple_of(1_000) {
        out.push('.');
        push_digits(out, nanos / 1_000, 6);
    } else {
        out.push('.');
        push_digits(out, nanos, 9);
    }
}

/// `n` in decimal, zero-padded to `width` digits (`n` has at most `width` digits).
fn push_digits(out: &mut String, n: u32, width: u32) {
    for i in (0..width).rev() {
        let digit = (n / 10u32.pow(i)) % 10;
        out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

/// A value bound by reference.
pub(crate) struct Bind<'a>(pub &'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        to_sql(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

    #[test]
    fn date_times_are_written_as_chrono_formats_them() {
        let date = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let mut times = Vec::new();
        for nanos in [
            0,
            1,
            7,
            999,
            1_000,
            120_000,
            999_000,
            1_000_000,
            5_000_000,
            123_456_000,
            123_456_789,
            999_999_999,
            100_000_000,
            1_500_000_000,
        ] {
            for (h, m, s) in [(0, 0, 0), (9, 5, 7), (23, 59, 59)] {
                times.extend(NaiveTime::from_hms_nano_opt(h, m, s, nanos));
            }
        }
        for time in times {
            assert_eq!(time_text(time), time.format("%T%.f").to_string());
            for day in [
                date,
                NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
                NaiveDate::from_ymd_opt(-44, 3, 15).unwrap(),
                NaiveDate::from_ymd_opt(12345, 6, 7).unwrap(),
            ] {
                let t = NaiveDateTime::new(day, time);
                assert_eq!(datetime_text(t), t.format("%F %T%.f").to_string());
            }
        }
    }
}
