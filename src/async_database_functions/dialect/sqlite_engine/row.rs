//! Rows of the SQLite engine as the crate's driver-neutral [`RowRef`](crate::async_database_functions::core::row::RowRef): what `SqlField::decode`,
//! `FromRow` and `Record` read. Each native type decodes as sqlx-sqlite decodes it (the same
//! storage classes accepted, the same text forms parsed), so models read the same either way.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use rusqlite::types::ValueRef;

use crate::async_database_functions::core::row::{DecodeError, DriverRow};

/// A row of the SQLite engine, read through
/// [`RowRef`](crate::async_database_functions::core::row::RowRef).
#[derive(Clone, Copy)]
pub(crate) struct SqliteEngineRow<'r> {
    row: &'r rusqlite::Row<'r>,
}

impl std::fmt::Debug for SqliteEngineRow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEngineRow")
            .field("columns", &self.len())
            .finish()
    }
}

/// The storage class names sqlx-sqlite reports.
fn class_name(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "INTEGER",
        ValueRef::Real(_) => "REAL",
        ValueRef::Text(_) => "TEXT",
        ValueRef::Blob(_) => "BLOB",
    }
}

/// A declared column type by sqlx-sqlite's rules (`DataType::from_str`); `None` when it
/// does not recognise it.
fn declared_name(decl: &str) -> Option<&'static str> {
    let s = decl.to_ascii_lowercase();
    Some(match s.as_str() {
        "int4" | "int8" => "INTEGER",
        "boolean" | "bool" => "BOOLEAN",
        "date" => "DATE",
        "time" => "TIME",
        "datetime" | "timestamp" => "DATETIME",
        _ if s.contains("int") => "INTEGER",
        _ if s.contains("char") || s.contains("clob") || s.contains("text") => "TEXT",
        _ if s.contains("blob") => "BLOB",
        _ if s.contains("real") || s.contains("floa") || s.contains("doub") => "REAL",
        _ => return None,
    })
}

impl<'r> SqliteEngineRow<'r> {
    pub(crate) fn new(row: &'r rusqlite::Row<'r>) -> Self {
        SqliteEngineRow { row }
    }

    pub(crate) fn len(self) -> usize {
        self.row.as_ref().column_count()
    }

    pub(crate) fn value(self, index: usize) -> Result<ValueRef<'r>, BoxError> {
        self.row.get_ref(index).map_err(|_| {
            format!(
                "column index out of bounds: the len is {}, but the index is {index}",
                self.len()
            )
            .into()
        })
    }

    pub(crate) fn column_name(self, index: usize) -> Option<&'r str> {
        let stmt: &'r rusqlite::Statement<'r> = self.row.as_ref();
        stmt.column_name(index).ok()
    }

    /// The declared type as sqlx-sqlite names it, else the value's storage class.
    pub(crate) fn type_name(self, index: usize) -> Option<String> {
        let stmt: &rusqlite::Statement<'_> = self.row.as_ref();
        if index >= stmt.column_count() {
            return None;
        }
        let declared = stmt
            .columns()
            .get(index)
            .and_then(|c| c.decl_type().and_then(declared_name));
        let value = self
            .row
            .get_ref(index)
            .ok()
            .filter(|v| !matches!(v, ValueRef::Null))
            .map(class_name);
        match (declared, value) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(v)) => Some(v.to_string()),
            (None, None) => Some("NULL".to_string()),
        }
    }

    /// Decodes the column at `index` as `T`, as sqlx-sqlite's `try_get` would.
    pub(crate) fn get<T: EngineDecode>(self, index: usize) -> Result<T, BoxError> {
        T::decode(self.value(index)?)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn mismatch<T>(value: ValueRef<'_>) -> BoxError {
    format!(
        "mismatched types; Rust type `{}` is not compatible with SQL type `{}`",
        std::any::type_name::<T>(),
        class_name(value)
    )
    .into()
}

fn null<T>() -> BoxError {
    format!(
        "unexpected NULL; read it as Option<{}>",
        std::any::type_name::<T>()
    )
    .into()
}

fn text<T>(value: ValueRef<'_>) -> Result<&str, BoxError> {
    match value {
        ValueRef::Text(t) => Ok(std::str::from_utf8(t)?),
        // Only an `Option` takes a NULL (it looks before decoding).
        ValueRef::Null => Err(null::<T>()),
        v => Err(mismatch::<T>(v)),
    }
}

fn integer<T>(value: ValueRef<'_>) -> Result<i64, BoxError> {
    match value {
        ValueRef::Integer(i) => Ok(i),
        ValueRef::Null => Err(null::<T>()),
        v => Err(mismatch::<T>(v)),
    }
}

fn real<T>(value: ValueRef<'_>) -> Result<f64, BoxError> {
    match value {
        ValueRef::Real(f) => Ok(f),
        ValueRef::Null => Err(null::<T>()),
        v => Err(mismatch::<T>(v)),
    }
}

/// A type the engine's values decode into (the natives of `SqlField`).
pub(crate) trait EngineDecode: Sized {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError>;
}

impl EngineDecode for String {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        text::<Self>(value).map(str::to_string)
    }
}
impl EngineDecode for i64 {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        integer::<Self>(value)
    }
}
impl EngineDecode for i32 {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        Ok(integer::<Self>(value)?.try_into()?)
    }
}
impl EngineDecode for i16 {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        Ok(integer::<Self>(value)?.try_into()?)
    }
}
impl EngineDecode for u32 {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        Ok(integer::<Self>(value)?.try_into()?)
    }
}
impl EngineDecode for bool {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        Ok(integer::<Self>(value)? != 0)
    }
}
impl EngineDecode for f64 {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        real::<Self>(value)
    }
}
impl EngineDecode for f32 {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        #[allow(clippy::cast_possible_truncation)]
        real::<Self>(value).map(|f| f as f32)
    }
}
impl EngineDecode for Vec<u8> {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        match value {
            ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b.to_vec()),
            ValueRef::Null => Err(null::<Self>()),
            v => Err(mismatch::<Self>(v)),
        }
    }
}
impl EngineDecode for NaiveDate {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        Ok(NaiveDate::parse_from_str(text::<Self>(value)?, "%F")?)
    }
}
impl EngineDecode for NaiveTime {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        let value = text::<Self>(value)?;
        for format in ["%T.f", "%T%.f", "%R", "%RZ", "%T%.fZ", "%R%:z", "%T%.f%:z"] {
            if let Ok(t) = NaiveTime::parse_from_str(value, format) {
                return Ok(t);
            }
        }
        Err(format!("invalid time: {value}").into())
    }
}
impl EngineDecode for NaiveDateTime {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        // The form the library writes, without the round trip through an offset.
        if let Some(naive) = fast_text(value) {
            return Ok(naive);
        }
        Ok(datetime(value)?.naive_local())
    }
}
impl EngineDecode for DateTime<Utc> {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        if let Some(naive) = fast_text(value) {
            return Ok(naive.and_utc());
        }
        Ok(Utc.from_utc_datetime(&datetime(value)?.naive_utc()))
    }
}

/// A text value in exactly the form the library writes (see [`fast_naive`]).
fn fast_text(value: ValueRef<'_>) -> Option<NaiveDateTime> {
    match value {
        // Bytes, not text: the form is ASCII, so no UTF-8 check is needed first.
        ValueRef::Text(t) => fast_naive(t),
        _ => None,
    }
}
impl EngineDecode for sqlx::types::Json<serde_json::Value> {
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxError> {
        Ok(sqlx::types::Json(serde_json::from_str(text::<Self>(
            value,
        )?)?))
    }
}

/// sqlx-sqlite's date-time reading: RFC 3339 or SQLite's text forms, Unix seconds, or a
/// Julian day number.
fn datetime(value: ValueRef<'_>) -> Result<DateTime<FixedOffset>, BoxError> {
    let parsed = match value {
        ValueRef::Text(_) => datetime_from_text(text::<NaiveDateTime>(value)?),
        ValueRef::Integer(i) => Utc.fix().timestamp_opt(i, 0).single(),
        ValueRef::Real(f) => {
            let timestamp = (f - 2_440_587.5) * 86400.0;
            if timestamp.is_finite() {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let (seconds, nanos) = (
                    timestamp.trunc() as i64,
                    (timestamp.fract() * 1E9).abs() as u32,
                );
                Utc.fix().timestamp_opt(seconds, nanos).single()
            } else {
                None
            }
        }
        v => return Err(mismatch::<NaiveDateTime>(v)),
    };
    parsed.ok_or_else(|| match value {
        ValueRef::Text(t) => format!("invalid datetime: {}", String::from_utf8_lossy(t)).into(),
        _ => "invalid datetime".into(),
    })
}

fn datetime_from_text(value: &str) -> Option<DateTime<FixedOffset>> {
    // The form the library writes (`2024-05-01 12:34:56.789012`), read without a format
    // string; anything else as sqlx-sqlite reads it (a text in this exact form parses the same
    // way there: not as RFC 3339, which needs an offset).
    if let Some(naive) = fast_naive(value.as_bytes()) {
        return Some(Utc.fix().from_utc_datetime(&naive));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(value) {
        return Some(dt);
    }
    for format in [
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(value, format) {
            return Some(dt);
        }
        if let Ok(dt) = NaiveDateTime::parse_from_str(value, format) {
            return Some(Utc.fix().from_utc_datetime(&dt));
        }
    }
    None
}

/// `YYYY-MM-DD HH:MM:SS[.f{1,9}]` (ASCII), exactly; `None` for any other form.
fn fast_naive(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    // Two ASCII digits at `i`, as a number.
    let two = |i: usize| -> Option<u32> {
        let (hi, lo) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
        (hi < 10 && lo < 10).then(|| u32::from(hi) * 10 + u32::from(lo))
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut n = 0u32;
            for &c in digits {
                let d = c.wrapping_sub(b'0');
                if d >= 10 {
                    return None;
                }
                n = n * 10 + u32::from(d);
            }
            const SCALE: [u32; 10] = [
                1_000_000_000,
                100_000_000,
                10_000_000,
                1_000_000,
                100_000,
                10_000,
                1_000,
                100,
                10,
                1,
            ];
            n * SCALE[digits.len()]
        }
        _ => return None,
    };
    let year = two(0)? * 100 + two(2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, two(5)?, two(8)?)?;
    let time = NaiveTime::from_hms_nano_opt(two(11)?, two(14)?, two(17)?, nanos)?;
    Some(NaiveDateTime::new(date, time))
}

impl DriverRow for SqliteEngineRow<'_> {
    fn len(&self) -> usize {
        SqliteEngineRow::len(*self)
    }
    fn is_null(&self, index: usize) -> Result<bool, DecodeError> {
        self.value(index).map(|v| v == ValueRef::Null)
    }
    fn column_name(&self, index: usize) -> Option<&str> {
        SqliteEngineRow::column_name(*self, index)
    }
    fn type_name(&self, index: usize) -> Option<String> {
        SqliteEngineRow::type_name(*self, index)
    }
    super::super::row::driver_row_getters!();
    fn json(&self, index: usize) -> Option<Result<serde_json::Value, DecodeError>> {
        Some(
            self.get::<sqlx::types::Json<serde_json::Value>>(index)
                .map(|json| json.0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_reads_what_the_formats_read() {
        for text in [
            "2024-05-01 12:34:56",
            "2024-05-01 12:34:56.7",
            "2024-05-01 12:34:56.789",
            "2024-05-01 12:34:56.789012",
            "2024-05-01 12:34:56.123456789",
            "1999-12-31 23:59:59.000001",
        ] {
            let slow = NaiveDateTime::parse_from_str(text, "%F %T%.f").unwrap();
            assert_eq!(fast_naive(text.as_bytes()), Some(slow), "{text}");
        }
        for text in [
            "2024-05-01T12:34:56",
            "2024-05-01 12:34",
            "2024-05-01 12:34:56Z",
            "2024-05-01 12:34:56+02:00",
            "2024-13-01 12:34:56",
            "2024-05-01 12:34:56.",
            "2024-05-01 12:34:56.1234567890",
            "2024-05-01 12:34:56.12a",
            "2024-05-01 12:34:56.é",
            "2024-05-01 12:3é:56",
            "2024-0a-01 12:34:56",
            "2024-05-01 1 :34:56",
            "2024-02-30 12:34:56",
            "2024-05-01 24:00:00",
        ] {
            assert_eq!(fast_naive(text.as_bytes()), None, "{text}");
        }
        // The slow path still reads the other forms.
        assert!(datetime_from_text("2024-05-01T12:34:56Z").is_some());
        assert!(datetime_from_text("2024-05-01 12:34").is_some());
    }
}
