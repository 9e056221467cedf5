//! `COPY … FROM STDIN (FORMAT binary)` for large bulk inserts (issue 24): `create_many` of at
//! least [`COPY_MIN_ROWS`] rows whose every column is given (nothing to read back) is sent as one
//! COPY instead of `INSERT … SELECT unnest(…)`.
//!
//! Measured with `examples/copy_bench.rs` (2026-12-06, PostgreSQL 15 on loopback, the
//! benchmark's user model): COPY takes 0.96× the `unnest` insert's time at 100 rows, 1.03× at
//! 1 000, 0.91× at 3 000, 0.79× at 10 000 and 0.81× at 30 000; its text format is no faster
//! than `unnest` (1.03–1.13×). Below the threshold its extra exchange (the server's
//! `CopyInResponse` before any row) costs what the binary rows save.
//!
//! The binary format leaves no cast to the server: every field must be in its column's own
//! type. The columns' types are read from the server (a `SELECT … LIMIT 0` prepared once per
//! connection), and each value is checked against its column before anything is sent
//! ([`fits`]). Where one does not fit (an integer out of its column's range, a column of a
//! type the library does not write in binary, a table changed behind the model's back), the
//! insert runs as the `unnest` statement instead, and the server answers as it always has.

use bytes::BytesMut;
use postgres_types::{IsNull, Kind, ToSql, Type, to_sql_checked};
use sea_query::Value;

use super::bind::BindError;

/// The fewest rows sent by COPY (see the module doc for the measurements).
pub(crate) const COPY_MIN_ROWS: usize = 2_000;

/// The `COPY` statement and the probe that reads the columns' types.
pub(crate) fn statements(table: &str, columns: &[&str]) -> (String, String) {
    let mut list = String::with_capacity(columns.len() * 16);
    super::super::ident::push_quoted_list('"', &mut list, columns.iter().copied());
    let mut quoted = String::with_capacity(table.len() + 2);
    super::super::ident::push_quoted('"', &mut quoted, table);
    (
        format!("COPY {quoted} ({list}) FROM STDIN (FORMAT binary)"),
        format!("SELECT {list} FROM {quoted} LIMIT 0"),
    )
}

/// An integer value as `i64` (`Some(None)`: a NULL integer; `None`: not an integer, or an
/// unsigned one above `i64::MAX`).
fn int(value: &Value) -> Option<Option<i64>> {
    Some(match value {
        Value::TinyInt(v) => v.map(i64::from),
        Value::SmallInt(v) => v.map(i64::from),
        Value::Int(v) => v.map(i64::from),
        Value::BigInt(v) => *v,
        Value::TinyUnsigned(v) => v.map(i64::from),
        Value::SmallUnsigned(v) => v.map(i64::from),
        Value::Unsigned(v) => v.map(i64::from),
        Value::BigUnsigned(v) => match v {
            Some(u) => Some(i64::try_from(*u).ok()?),
            None => None,
        },
        _ => return None,
    })
}

fn float(value: &Value) -> Option<Option<f64>> {
    Some(match value {
        Value::Float(v) => v.map(f64::from),
        Value::Double(v) => *v,
        _ => return None,
    })
}

fn text(value: &Value) -> Option<Option<&str>> {
    Some(match value {
        Value::String(v) => v.as_deref(),
        Value::Enum(sea_query::OptionEnum::Some(v)) => Some(v.value.as_ref()),
        Value::Enum(sea_query::OptionEnum::None(_)) => None,
        _ => return None,
    })
}

fn is_text(ty: &Type) -> bool {
    [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty)
        || matches!(ty.kind(), Kind::Enum(_))
}

/// A `float8` the server would also store in a `real` column without an overflow or underflow
/// error.
fn fits_real(v: f64) -> bool {
    !v.is_finite() || v == 0.0 || (v.abs() <= f64::from(f32::MAX) && (v as f32) != 0.0)
}

/// Whether `value` is written in `ty`'s binary format by [`Field`], and is a value the server
/// would have stored from the `unnest` insert without an error.
pub(crate) fn fits(value: &Value, ty: &Type) -> bool {
    if let Some(n) = int(value) {
        return match *ty {
            Type::INT2 => n.is_none_or(|n| i16::try_from(n).is_ok()),
            Type::INT4 => n.is_none_or(|n| i32::try_from(n).is_ok()),
            Type::INT8 => true,
            _ => false,
        };
    }
    if let Some(v) = float(value) {
        return match *ty {
            Type::FLOAT8 => true,
            Type::FLOAT4 => v.is_none_or(fits_real),
            _ => false,
        };
    }
    if text(value).is_some() {
        return is_text(ty);
    }
    match value {
        Value::Bool(_) => *ty == Type::BOOL,
        Value::Bytes(_) => *ty == Type::BYTEA,
        Value::Uuid(_) => *ty == Type::UUID,
        Value::Json(_) => *ty == Type::JSONB || *ty == Type::JSON,
        Value::ChronoDate(_) => *ty == Type::DATE,
        Value::ChronoTime(_) => *ty == Type::TIME,
        Value::ChronoDateTime(_) => *ty == Type::TIMESTAMP,
        #[cfg(feature = "decimal")]
        Value::Decimal(_) => *ty == Type::NUMERIC,
        _ => false,
    }
}

/// A value written in its column's binary format (checked first by [`fits`]).
#[derive(Debug)]
pub(crate) struct Field<'a>(pub &'a Value);

impl ToSql for Field<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BindError> {
        let value = self.0;
        if let Some(n) = int(value) {
            return match *ty {
                Type::INT2 => n.map(i16::try_from).transpose()?.to_sql(ty, out),
                Type::INT4 => n.map(i32::try_from).transpose()?.to_sql(ty, out),
                _ => n.to_sql(ty, out),
            };
        }
        if let Some(v) = float(value) {
            return match *ty {
                // What the server's float8-to-real cast does (range checked by `fits`).
                Type::FLOAT4 => v.map(|v| v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            };
        }
        if let Some(s) = text(value) {
            // Text, varchar, char, name and enum labels share one binary format: the bytes.
            return s.to_sql(&Type::TEXT, out);
        }
        match value {
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.as_deref().to_sql(ty, out),
            Value::Uuid(v) => v.to_sql(ty, out),
            Value::Json(v) => v.as_deref().to_sql(ty, out),
            Value::ChronoDate(v) => v.to_sql(ty, out),
            Value::ChronoTime(v) => v.to_sql(ty, out),
            Value::ChronoDateTime(v) => v.to_sql(ty, out),
            #[cfg(feature = "decimal")]
            Value::Decimal(v) => v.to_sql(ty, out),
            other => Err(format!("{other:?} is not written by COPY").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_fit_their_column_only_within_its_range() {
        assert!(fits(&Value::BigInt(Some(7)), &Type::INT4));
        assert!(!fits(
            &Value::BigInt(Some(i64::from(i32::MAX) + 1)),
            &Type::INT4
        ));
        assert!(fits(&Value::BigInt(None), &Type::INT2));
        assert!(!fits(&Value::Int(Some(40_000)), &Type::INT2));
        assert!(!fits(&Value::BigUnsigned(Some(u64::MAX)), &Type::INT8));
        assert!(!fits(&Value::Int(Some(1)), &Type::TEXT));
    }

    #[test]
    fn floats_that_a_real_column_would_refuse_do_not_fit() {
        assert!(fits(&Value::Double(Some(1.5)), &Type::FLOAT4));
        assert!(!fits(&Value::Double(Some(1e300)), &Type::FLOAT4));
        assert!(!fits(&Value::Double(Some(1e-300)), &Type::FLOAT4));
        assert!(fits(&Value::Double(Some(1e300)), &Type::FLOAT8));
    }

    #[test]
    fn text_fits_text_columns_and_timestamps_only_timestamp_columns() {
        assert!(fits(&Value::String(Some("a".into())), &Type::VARCHAR));
        assert!(!fits(&Value::String(Some("a".into())), &Type::UUID));
        assert!(!fits(&Value::ChronoDateTime(None), &Type::TIMESTAMPTZ));
        assert!(fits(&Value::ChronoDateTime(None), &Type::TIMESTAMP));
    }
}
