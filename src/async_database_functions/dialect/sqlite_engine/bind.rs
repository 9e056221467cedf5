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
        Value::ChronoTime(t) => text(t.map(|t| t.format("%T%.f").to_string())),
        Value::ChronoDateTime(t) => text(t.map(|t| t.format("%F %T%.f").to_string())),
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

/// A value bound by reference.
pub(crate) struct Bind<'a>(pub &'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        to_sql(self.0)
    }
}
