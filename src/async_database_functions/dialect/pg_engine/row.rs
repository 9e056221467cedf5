//! tokio-postgres rows behind the crate's driver-neutral
//! [`RowRef`](crate::async_database_functions::core::row::RowRef): the core's [`DriverRow`],
//! decoding each native type from the binary protocol as sqlx's PostgreSQL rows do (the same
//! Rust type for the same PostgreSQL types, NULL an error for a non-optional read).

use postgres_types::{FromSql, Kind, Type};
use uuid::Uuid;

use crate::async_database_functions::core::row::{DecodeError, DriverRow};

/// A borrowed tokio-postgres row.
#[derive(Clone, Copy)]
pub(crate) struct PgEngineRow<'r>(pub(crate) &'r tokio_postgres::Row);

/// Whether a value is NULL, for any column type.
struct Nullness(bool);

impl<'a> FromSql<'a> for Nullness {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(Nullness(false))
    }
    fn from_sql_null(_: &Type) -> Result<Self, DecodeError> {
        Ok(Nullness(true))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// sqlx's name of a PostgreSQL type (`INT8`, `TEXT`, `TIMESTAMPTZ`, `INT4[]`), so that a
/// `Record`'s dynamic decoding reads the same names on both executors.
pub(crate) fn type_name(ty: &Type) -> String {
    match ty.kind() {
        Kind::Array(element) => format!("{}[]", type_name(element)),
        _ if *ty == Type::BPCHAR => "CHAR".into(),
        _ if *ty == Type::CHAR => "\"CHAR\"".into(),
        _ => ty.name().to_ascii_uppercase(),
    }
}

impl<'r> PgEngineRow<'r> {
    /// The column at `index` as `T`; the caller names the column, so only the cause is kept.
    #[inline]
    fn get<T: FromSql<'r>>(self, index: usize) -> Result<T, DecodeError> {
        self.0.try_get::<usize, T>(index).map_err(cause)
    }
}

#[cold]
fn cause(e: tokio_postgres::Error) -> DecodeError {
    match e.into_source() {
        // sqlx's words for it, which users (and the tests) look for.
        Some(source) if source.is::<postgres_types::WrongType>() => {
            format!("mismatched types; {source}").into()
        }
        Some(source) => source,
        None => "the column could not be read".into(),
    }
}

impl DriverRow for PgEngineRow<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_null(&self, index: usize) -> Result<bool, DecodeError> {
        if index >= self.0.len() {
            return Err(format!(
                "column index out of bounds: the len is {}, but the index is {index}",
                self.0.len()
            )
            .into());
        }
        self.get::<Nullness>(index).map(|n| n.0)
    }

    fn column_name(&self, index: usize) -> Option<&str> {
        self.0.columns().get(index).map(|c| c.name())
    }

    fn type_name(&self, index: usize) -> Option<String> {
        self.0.columns().get(index).map(|c| type_name(c.type_()))
    }

    super::super::row::driver_row_getters!();
    fn json(&self, index: usize) -> Option<Result<serde_json::Value, DecodeError>> {
        Some(self.get(index))
    }
    /// PostgreSQL's `UUID`.
    fn uuid(&self, index: usize) -> Result<Uuid, DecodeError> {
        self.get(index)
    }
    #[cfg(feature = "decimal")]
    fn decimal(&self, index: usize) -> Result<rust_decimal::Decimal, DecodeError> {
        self.get(index)
    }
}
