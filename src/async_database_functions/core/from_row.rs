//! [`FromRow`]: what a result row decodes into (a model, a scalar, a tuple, a `Record`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

use super::error::DatabaseError;
use super::field::SqlField;
use super::row::RowRef;
use super::row_reader::RowReader;

/// A type a result row can be decoded into: a [`Model`](crate::async_database_functions::model::Model) (through its derive), a scalar for a single-column select,
/// a tuple for several columns, or a dynamic [`Record`](super::record::Record).
pub trait FromRow: Sized + Send + 'static {
    /// Decodes one row.
    fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError>;
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl FromRow for $t {
            fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
                RowReader::new(row).next()
            }
        }
        impl FromRow for Option<$t> {
            fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
                RowReader::new(row).next()
            }
        }
    )*};
}
scalar!(
    String,
    i16,
    i32,
    u32,
    i64,
    f32,
    f64,
    NaiveTime,
    bool,
    DateTime<Utc>,
    NaiveDateTime,
    NaiveDate,
    Uuid,
    serde_json::Value,
    Vec<u8>
);

#[cfg(feature = "decimal")]
scalar!(rust_decimal::Decimal);

macro_rules! tuple {
    ($($t:ident),+) => {
        impl<$($t: SqlField + Send + 'static),+> FromRow for ($($t,)+) {
            fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
                let mut reader = RowReader::new(row);
                Ok(($(reader.next::<$t>()?,)+))
            }
        }
    };
}
tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);
tuple!(A, B, C, D, E, F, G);
tuple!(A, B, C, D, E, F, G, H);

/// Ignores the rows: for statements run only for their effect.
impl FromRow for () {
    fn from_row(_: RowRef<'_>) -> Result<Self, DatabaseError> {
        Ok(())
    }
}
