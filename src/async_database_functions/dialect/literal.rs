//! MySQL/MariaDB values written as SQL literals, for a script: several statements sent as one
//! text query, in one round trip (the text protocol binds no parameters).
//!
//! Every literal is safe in every SQL mode, whatever the value holds: text is written in hex
//! (`_utf8mb4 X'6869'`) and bytes too (`X'00FF'`), so no byte of a value reaches the SQL as
//! itself and no escaping rule (`\` or not, `NO_BACKSLASH_ESCAPES`) matters. Numbers, dates and
//! times are written by Rust from their typed values, in the form the driver would have bound:
//! a `f32` widened to `f64`, dates and times to the microsecond (truncated, as sqlx does), a
//! UUID as its 16 bytes, a UTC date-time as its UTC wall time.
//!
//! Rows come back in the text protocol: a floating-point column is read as a `DOUBLE`
//! ([`push_column`]), whose text form is exact where a `FLOAT`'s is not.
//!
//! A value with no such literal (a float that is not finite, a year outside 1–9999, a leap
//! second, a type not listed here) is refused (`false`): the caller then binds it in a
//! statement of its own, so a script never stores anything a bound statement would not.

use std::fmt::Write as _;

use sea_query::{OptionEnum, Value};

use crate::async_database_functions::core::column::SqlType;

/// Appends column `name` as a script reads it back (`SELECT` list, under its own name). Rows
/// come back in the text protocol, where MariaDB writes a `FLOAT` with six significant digits
/// (`1.23457` for `1.2345678`): a floating-point column is read as `name * 1e0`, a `DOUBLE`,
/// whose text form is the shortest that reads back as the same value (and so the same `f32`),
/// also where a model's `f64` maps a `FLOAT` column another schema made.
pub(super) fn push_column(
    sql: &mut String,
    name: &str,
    ty: SqlType,
    ident: impl Fn(&mut String, &str),
) {
    ident(sql, name);
    if matches!(ty, SqlType::Float | SqlType::Double) {
        sql.push_str(" * 1e0 AS ");
        ident(sql, name);
    }
}

/// Appends `value` as a literal; `false` (with `sql` left as it was) when it has none.
pub(super) fn push(sql: &mut String, value: &Value) -> bool {
    let start = sql.len();
    let written = write(sql, value);
    if !written {
        sql.truncate(start);
    }
    written
}

fn write(sql: &mut String, value: &Value) -> bool {
    match value {
        Value::Bool(v) => some(sql, v, |sql, b| sql.push(if *b { '1' } else { '0' })),
        Value::TinyInt(v) => number(sql, v),
        Value::SmallInt(v) => number(sql, v),
        Value::Int(v) => number(sql, v),
        Value::BigInt(v) => number(sql, v),
        Value::TinyUnsigned(v) => number(sql, v),
        Value::SmallUnsigned(v) => number(sql, v),
        Value::Unsigned(v) => number(sql, v),
        Value::BigUnsigned(v) => number(sql, v),
        Value::Float(v) => float(sql, v.map(f64::from)),
        Value::Double(v) => float(sql, *v),
        Value::String(v) => some(sql, v, |sql, s| text(sql, s)),
        Value::Char(v) => some(sql, v, |sql, c| text(sql, c.encode_utf8(&mut [0; 4]))),
        Value::Enum(OptionEnum::Some(e)) => {
            text(sql, &e.value);
            true
        }
        Value::Enum(OptionEnum::None(_)) => null(sql),
        Value::Bytes(v) => some(sql, v, |sql, b| hex(sql, b)),
        Value::Json(v) => some(sql, v, |sql, j| text(sql, &j.to_string())),
        Value::Uuid(v) => some(sql, v, |sql, u| hex(sql, u.as_bytes())),
        Value::ChronoDate(v) => dated(sql, v, |d| (*d, d.format("'%Y-%m-%d'"))),
        Value::ChronoTime(None) => null(sql),
        Value::ChronoTime(Some(t)) => time(sql, t),
        Value::ChronoDateTime(v) => dated(sql, v, |t| (t.date(), t.format(DATE_TIME))),
        Value::ChronoDateTimeUtc(v) => dated(sql, v, |t| {
            (t.date_naive(), t.naive_utc().format(DATE_TIME))
        }),
        #[cfg(feature = "decimal")]
        Value::Decimal(v) => number(sql, v),
        _ => false,
    }
}

/// To the microsecond, truncated (what the driver sends).
const DATE_TIME: &str = "'%Y-%m-%d %H:%M:%S%.6f'";

fn null(sql: &mut String) -> bool {
    sql.push_str("NULL");
    true
}

/// `NULL`, or what `each` writes for the value.
fn some<T>(sql: &mut String, value: &Option<T>, each: impl FnOnce(&mut String, &T)) -> bool {
    match value {
        None => null(sql),
        Some(v) => {
            each(sql, v);
            true
        }
    }
}

fn number<T: std::fmt::Display>(sql: &mut String, value: &Option<T>) -> bool {
    match value {
        None => null(sql),
        Some(n) => write!(sql, "{n}").is_ok(),
    }
}

/// The shortest exponent form that reads back as the same `f64` (`1.5e0`): a float literal,
/// never an exact decimal of hundreds of digits. Not finite: refused.
fn float(sql: &mut String, value: Option<f64>) -> bool {
    match value {
        None => null(sql),
        Some(f) if f.is_finite() => write!(sql, "{f:e}").is_ok(),
        Some(_) => false,
    }
}

/// A date or date-time, quoted by its format, for years 1–9999 only (outside them the format would not be
/// one the server reads the same).
fn dated<T, F: std::fmt::Display>(
    sql: &mut String,
    value: &Option<T>,
    form: impl FnOnce(&T) -> (chrono::NaiveDate, F),
) -> bool {
    use chrono::Datelike;
    let Some(value) = value else {
        return null(sql);
    };
    let (date, formatted) = form(value);
    if !(1..=9999).contains(&date.year()) {
        return false;
    }
    write!(sql, "{formatted}").is_ok()
}

/// A time of day to the microsecond; a leap second has no literal.
fn time(sql: &mut String, t: &chrono::NaiveTime) -> bool {
    use chrono::Timelike;
    if t.nanosecond() >= 1_000_000_000 {
        return false;
    }
    write!(sql, "{}", t.format("'%H:%M:%S%.6f'")).is_ok()
}

/// Text as a hex literal of the UTF-8 character set; `''` when empty.
fn text(sql: &mut String, s: &str) {
    if s.is_empty() {
        sql.push_str("''");
    } else {
        sql.push_str("_utf8mb4 ");
        hex(sql, s.as_bytes());
    }
}

/// Bytes as a hex literal (`X'00FF'`).
fn hex(sql: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    sql.reserve(bytes.len() * 2 + 3);
    sql.push_str("X'");
    for b in bytes {
        sql.push(char::from(DIGITS[usize::from(b >> 4)]));
        sql.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
    sql.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn literal(value: Value) -> Option<String> {
        let mut sql = String::from("x = ");
        push(&mut sql, &value).then(|| sql[4..].to_string())
    }

    #[test]
    fn text_and_bytes_are_hex_so_no_quote_or_backslash_reaches_the_sql() {
        assert_eq!(
            literal("a'b\\".into()).as_deref(),
            Some("_utf8mb4 X'6127625C'")
        );
        assert_eq!(literal("é".into()).as_deref(), Some("_utf8mb4 X'C3A9'"));
        assert_eq!(literal("".into()).as_deref(), Some("''"));
        assert_eq!(literal(vec![0u8, 255].into()).as_deref(), Some("X'00FF'"));
        assert_eq!(
            literal(Value::Char(Some('\''))).as_deref(),
            Some("_utf8mb4 X'27'")
        );
        let json = serde_json::json!({"k": "'"});
        assert_eq!(
            literal(json.into()).as_deref(),
            Some("_utf8mb4 X'7B226B223A2227227D'")
        );
    }

    #[test]
    fn numbers_as_the_driver_binds_them() {
        assert_eq!(literal(true.into()).as_deref(), Some("1"));
        assert_eq!(
            literal(i64::MIN.into()).as_deref(),
            Some("-9223372036854775808")
        );
        assert_eq!(
            literal(u64::MAX.into()).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(literal(1.5f64.into()).as_deref(), Some("1.5e0"));
        assert_eq!(literal(1e300f64.into()).as_deref(), Some("1e300"));
        // A f32 is bound widened to f64.
        assert_eq!(
            literal(0.1f32.into()).as_deref(),
            Some("1.0000000149011612e-1")
        );
        assert_eq!(literal(f64::NAN.into()), None);
        assert_eq!(literal(f32::INFINITY.into()), None);
    }

    #[test]
    fn dates_to_the_microsecond_within_years_one_to_9999() {
        let t = NaiveDate::from_ymd_opt(2026, 12, 3)
            .and_then(|d| d.and_hms_nano_opt(7, 8, 9, 123_456_789))
            .unwrap();
        assert_eq!(
            literal(t.into()).as_deref(),
            Some("'2026-12-03 07:08:09.123456'")
        );
        assert_eq!(
            literal(Utc.from_utc_datetime(&t).into()).as_deref(),
            Some("'2026-12-03 07:08:09.123456'")
        );
        assert_eq!(literal(t.date().into()).as_deref(), Some("'2026-12-03'"));
        assert_eq!(
            literal(t.time().into()).as_deref(),
            Some("'07:08:09.123456'")
        );
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert_eq!(literal(far.into()), None);
        let leap = chrono::NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
        assert_eq!(literal(leap.into()), None);
    }

    #[test]
    fn nulls_of_every_type_and_refusals_leave_the_sql_as_it_was() {
        assert_eq!(literal(Value::String(None)).as_deref(), Some("NULL"));
        assert_eq!(literal(Value::ChronoTime(None)).as_deref(), Some("NULL"));
        assert_eq!(literal(Value::Uuid(None)).as_deref(), Some("NULL"));
        let mut sql = String::from("SET x = ");
        assert!(!push(&mut sql, &f64::NEG_INFINITY.into()));
        assert_eq!(sql, "SET x = ");
        let local = Value::ChronoDateTimeLocal(Some(chrono::Local::now()));
        assert!(!push(&mut sql, &local));
    }

    #[test]
    fn a_uuid_is_its_sixteen_bytes() {
        let u = uuid::Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        assert_eq!(
            literal(u.into()).as_deref(),
            Some("X'0102030405060708090A0B0C0D0E0F10'")
        );
    }
}
