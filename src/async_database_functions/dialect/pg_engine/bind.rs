//! Binding `sea_query::Value`s, and the crate's typed arrays, as tokio-postgres parameters,
//! declared with the same PostgreSQL types sqlx declares for them (so a statement means the
//! same on both executors: `SELECT $1` is `text` for a string on either).

use bytes::BytesMut;
use postgres_types::{IsNull, ToSql, Type, to_sql_checked};
use sea_query::Value;
use smallvec::SmallVec;

use super::super::postgres::{ArrayKind, TypedArray, kind_of_array, typed_arrays};

/// Why a value could not be bound.
pub(crate) type BindError = Box<dyn std::error::Error + Sync + Send>;

/// One bound parameter: a value as given, or a typed array built from an array value (or from
/// a bulk insert's column).
#[derive(Debug)]
pub(crate) enum Bound<'a> {
    Scalar(&'a Value),
    Array(TypedArray),
    /// A NULL array (its type is declared beside it).
    NullArray,
}

/// The parameters of one statement and their declared types; a few held inline (a point read's
/// one key takes no allocation).
pub(crate) struct Params<'a> {
    pub values: SmallVec<[Bound<'a>; INLINE]>,
    pub types: SmallVec<[Type; INLINE]>,
}

/// How many parameters [`Params`] holds without allocating.
const INLINE: usize = 4;

/// The declared type of a scalar value: sqlx's for the Rust type sea-query-sqlx binds.
fn scalar_type(value: &Value) -> Result<Type, BindError> {
    Ok(match value {
        Value::Bool(_) => Type::BOOL,
        Value::TinyInt(_) | Value::SmallInt(_) | Value::TinyUnsigned(_) => Type::INT2,
        Value::Int(_) | Value::SmallUnsigned(_) => Type::INT4,
        Value::BigInt(_) | Value::Unsigned(_) | Value::BigUnsigned(_) => Type::INT8,
        Value::Float(_) => Type::FLOAT4,
        Value::Double(_) => Type::FLOAT8,
        Value::String(_) | Value::Char(_) | Value::Enum(_) => Type::TEXT,
        Value::Bytes(_) => Type::BYTEA,
        Value::Json(_) => Type::JSONB,
        Value::ChronoDate(_) => Type::DATE,
        Value::ChronoTime(_) => Type::TIME,
        Value::ChronoDateTime(_) => Type::TIMESTAMP,
        Value::ChronoDateTimeUtc(_)
        | Value::ChronoDateTimeLocal(_)
        | Value::ChronoDateTimeWithTimeZone(_) => Type::TIMESTAMPTZ,
        Value::Uuid(_) => Type::UUID,
        #[cfg(feature = "decimal")]
        Value::Decimal(_) => Type::NUMERIC,
        other => return Err(format!("{other:?} cannot be bound on PostgreSQL").into()),
    })
}

/// The declared type of an array of `kind`.
fn array_type(kind: ArrayKind) -> Type {
    match kind {
        ArrayKind::Bool => Type::BOOL_ARRAY,
        ArrayKind::Int => Type::INT8_ARRAY,
        ArrayKind::Float => Type::FLOAT8_ARRAY,
        ArrayKind::Text => Type::TEXT_ARRAY,
        ArrayKind::Bytes => Type::BYTEA_ARRAY,
        ArrayKind::Uuid => Type::UUID_ARRAY,
        ArrayKind::Json => Type::JSONB_ARRAY,
        ArrayKind::Date => Type::DATE_ARRAY,
        ArrayKind::Time => Type::TIME_ARRAY,
        ArrayKind::Timestamp => Type::TIMESTAMP_ARRAY,
        #[cfg(feature = "decimal")]
        ArrayKind::Decimal => Type::NUMERIC_ARRAY,
    }
}

fn typed_array_kind(array: &TypedArray) -> ArrayKind {
    match array {
        TypedArray::Bool(_) => ArrayKind::Bool,
        TypedArray::Int(_) => ArrayKind::Int,
        TypedArray::Float(_) => ArrayKind::Float,
        TypedArray::Text(_) => ArrayKind::Text,
        TypedArray::Bytes(_) => ArrayKind::Bytes,
        TypedArray::Uuid(_) => ArrayKind::Uuid,
        TypedArray::Json(_) => ArrayKind::Json,
        TypedArray::Date(_) => ArrayKind::Date,
        TypedArray::Time(_) => ArrayKind::Time,
        TypedArray::Timestamp(_) => ArrayKind::Timestamp,
        #[cfg(feature = "decimal")]
        TypedArray::Decimal(_) => ArrayKind::Decimal,
    }
}

/// The parameters of a statement: each value as given, an array value (`text()`'s
/// `Vec<i32>` binds) as a typed binary array of its element type, NULL elements and a NULL
/// array included.
///
/// # Errors
///
/// A value of a type PostgreSQL cannot bind here, an array of a type without an array form,
/// or an element that is not of its array's type; the value's position is named.
pub(crate) fn params(values: &[Value]) -> Result<Params<'_>, BindError> {
    let mut params = Params {
        values: SmallVec::with_capacity(values.len()),
        types: SmallVec::with_capacity(values.len()),
    };
    for (n, value) in values.iter().enumerate() {
        if let Value::Array(ty, elements) = value {
            let kind = kind_of_array(ty)
                .ok_or_else(|| format!("bound value {}: no array of {ty:?} here", n + 1))?;
            params.types.push(array_type(kind));
            let Some(elements) = elements else {
                params.values.push(Bound::NullArray);
                continue;
            };
            let mut array = TypedArray::with_capacity(kind, elements.len());
            for element in elements.iter() {
                array.push(element.clone()).ok_or_else(|| {
                    format!(
                        "bound value {}: an element is not of the array's type",
                        n + 1
                    )
                })?;
            }
            params.values.push(Bound::Array(array));
            continue;
        }
        params
            .types
            .push(scalar_type(value).map_err(|e| format!("bound value {}: {e}", n + 1))?);
        params.values.push(Bound::Scalar(value));
    }
    Ok(params)
}

/// The parameters of a bulk statement from `unnest_insert`/`unnest_update`/`any_key_clause`:
/// row-major `values` as one typed array per column, of the kinds `kinds` names.
///
/// # Errors
///
/// When a value does not fit its column's array (or the values are not whole rows).
pub(crate) fn array_params(
    values: Vec<Value>,
    kinds: &[ArrayKind],
) -> Result<Params<'static>, BindError> {
    let arrays = typed_arrays(values, kinds)
        .ok_or("a bulk statement's value does not fit its column's array")?;
    let types = arrays
        .iter()
        .map(|a| array_type(typed_array_kind(a)))
        .collect();
    Ok(Params {
        values: arrays.into_iter().map(Bound::Array).collect(),
        types,
    })
}

impl ToSql for Bound<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BindError> {
        match self {
            Bound::Scalar(value) => scalar_to_sql(value, ty, out),
            Bound::Array(array) => match array {
                TypedArray::Bool(a) => a.to_sql(ty, out),
                TypedArray::Int(a) => a.to_sql(ty, out),
                TypedArray::Float(a) => a.to_sql(ty, out),
                TypedArray::Text(a) => a.to_sql(ty, out),
                TypedArray::Bytes(a) => a.to_sql(ty, out),
                TypedArray::Uuid(a) => a.to_sql(ty, out),
                TypedArray::Json(a) => a.to_sql(ty, out),
                TypedArray::Date(a) => a.to_sql(ty, out),
                TypedArray::Time(a) => a.to_sql(ty, out),
                TypedArray::Timestamp(a) => a.to_sql(ty, out),
                #[cfg(feature = "decimal")]
                TypedArray::Decimal(a) => a.to_sql(ty, out),
            },
            Bound::NullArray => Ok(IsNull::Yes),
        }
    }

    /// The statement's parameter types are the ones declared for these values.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn scalar_to_sql(value: &Value, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BindError> {
    match value {
        Value::Bool(v) => v.to_sql(ty, out),
        Value::TinyInt(v) => v.map(i16::from).to_sql(ty, out),
        Value::SmallInt(v) => v.to_sql(ty, out),
        Value::TinyUnsigned(v) => v.map(i16::from).to_sql(ty, out),
        Value::Int(v) => v.to_sql(ty, out),
        Value::SmallUnsigned(v) => v.map(i32::from).to_sql(ty, out),
        Value::BigInt(v) => v.to_sql(ty, out),
        Value::Unsigned(v) => v.map(i64::from).to_sql(ty, out),
        Value::BigUnsigned(v) => v.map(i64::try_from).transpose()?.to_sql(ty, out),
        Value::Float(v) => v.to_sql(ty, out),
        Value::Double(v) => v.to_sql(ty, out),
        Value::String(v) => v.as_deref().to_sql(&Type::TEXT, out),
        Value::Char(v) => v.map(String::from).to_sql(&Type::TEXT, out),
        Value::Enum(e) => match e {
            sea_query::OptionEnum::Some(v) => v.value.as_ref().to_sql(&Type::TEXT, out),
            sea_query::OptionEnum::None(_) => Ok(IsNull::Yes),
        },
        Value::Bytes(v) => v.as_deref().to_sql(ty, out),
        Value::Json(v) => v.as_deref().to_sql(ty, out),
        Value::ChronoDate(v) => v.to_sql(ty, out),
        Value::ChronoTime(v) => v.to_sql(ty, out),
        Value::ChronoDateTime(v) => v.to_sql(ty, out),
        Value::ChronoDateTimeUtc(v) => v.to_sql(ty, out),
        Value::ChronoDateTimeLocal(v) => v.to_sql(ty, out),
        Value::ChronoDateTimeWithTimeZone(v) => v.to_sql(ty, out),
        Value::Uuid(v) => v.to_sql(ty, out),
        #[cfg(feature = "decimal")]
        Value::Decimal(v) => v.to_sql(ty, out),
        other => Err(format!("{other:?} cannot be bound on PostgreSQL").into()),
    }
}
