//! sqlx's PostgreSQL and MySQL/MariaDB rows behind the crate's driver-neutral
//! [`RowRef`](crate::async_database_functions::core::row::RowRef): each implements the core's
//! [`DriverRow`] (the SQLite engine's rows do so in `sqlite_engine/row.rs`). `SqlField`
//! implementations, `FromRow` and `Record` reach the drivers only through that trait, so
//! nothing outside `dialect/` names a driver's row or error type, and a custom column type
//! never needs one.

#[cfg(any(feature = "postgres", feature = "mysql"))]
#[cfg(feature = "postgres")]
use uuid::Uuid;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::async_database_functions::core::row::{DecodeError, DriverRow};

/// A sqlx row, with what is already known of its result's column types.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) struct SqlxRow<'r, R> {
    row: &'r R,
    verified: Option<&'r Verified>,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<R> Clone for SqlxRow<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<R> Copy for SqlxRow<'_, R> {}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<'r, R: sqlx::Row> SqlxRow<'r, R>
where
    usize: sqlx::ColumnIndex<R>,
{
    pub(crate) fn new(row: &'r R, verified: Option<&'r Verified>) -> Self {
        SqlxRow { row, verified }
    }

    /// The column at `index` as `T`. sqlx's `try_get` first checks that the column's SQL type
    /// is one `T` decodes (for a PostgreSQL `TEXT`, a walk over every name a string may
    /// have), on every row: about a fifth of the client's work reading 10 000 rows. A column's
    /// type is one for the whole result, so once a non-null value of it was checked for `T`,
    /// the result's later rows decode it straight away; a value that still does not decode
    /// fails as before.
    #[inline]
    fn get<T>(self, index: usize) -> Result<T, DecodeError>
    where
        T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database> + 'static,
    {
        use sqlx::ValueRef;
        let Some(verified) = self.verified else {
            return self.row.try_get(index).map_err(cause);
        };
        let ty = std::any::TypeId::of::<T>();
        if verified.checked(index, ty) {
            return self.row.try_get_unchecked(index).map_err(cause);
        }
        let value = self.row.try_get(index).map_err(cause)?;
        if sqlx::Row::try_get_raw(self.row, index).is_ok_and(|v| !v.is_null()) {
            verified.record(index, ty);
        }
        Ok(value)
    }
}

/// Per column of one result, the Rust type its SQL type was checked against (see
/// [`SqlxRow`]); kept while a result is read, reset when the next result begins.
#[derive(Default)]
pub(crate) struct Verified {
    /// Which result's columns these are (the address of the driver's column list).
    result: usize,
    types: Vec<std::cell::Cell<Option<std::any::TypeId>>>,
}

impl Verified {
    /// Starts on the row of a result with `columns`: a different result forgets what was
    /// checked.
    pub(crate) fn start<C>(&mut self, columns: &[C]) {
        let result = columns.as_ptr() as usize;
        if result != self.result || self.types.len() != columns.len() {
            self.result = result;
            self.types.clear();
            self.types
                .resize_with(columns.len(), std::cell::Cell::default);
        }
    }

    /// Forgets every column: the next rows are of another statement's result.
    pub(crate) fn reset(&mut self) {
        self.result = 0;
        self.types.clear();
    }

    fn checked(&self, index: usize, ty: std::any::TypeId) -> bool {
        self.types.get(index).is_some_and(|t| t.get() == Some(ty))
    }

    fn record(&self, index: usize, ty: std::any::TypeId) {
        if let Some(t) = self.types.get(index) {
            t.set(Some(ty));
        }
    }
}

/// sqlx's column decode error carries the column's index; the caller names the column
/// itself, so keep only the cause.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[cold]
fn cause(e: sqlx::Error) -> DecodeError {
    match e {
        sqlx::Error::ColumnDecode { source, .. } | sqlx::Error::Decode(source) => source,
        e => Box::new(e),
    }
}

/// The parts of [`DriverRow`] both sqlx backends implement alike; `$($own)*` adds the
/// backend's own native types.
/// The [`DriverRow`] getters every executor's row answers the same way: through its own
/// generic `get` (sqlx's `Decode`, tokio-postgres's `FromSql`, the SQLite engine's decoding).
macro_rules! driver_row_getters {
    () => {
        fn string(&self, index: usize) -> Result<String, DecodeError> {
            self.get(index)
        }
        fn i64(&self, index: usize) -> Result<i64, DecodeError> {
            self.get(index)
        }
        fn i32(&self, index: usize) -> Result<i32, DecodeError> {
            self.get(index)
        }
        fn i16(&self, index: usize) -> Result<i16, DecodeError> {
            self.get(index)
        }
        fn f64(&self, index: usize) -> Result<f64, DecodeError> {
            self.get(index)
        }
        fn f32(&self, index: usize) -> Result<f32, DecodeError> {
            self.get(index)
        }
        fn bool(&self, index: usize) -> Result<bool, DecodeError> {
            self.get(index)
        }
        fn time(&self, index: usize) -> Result<chrono::NaiveTime, DecodeError> {
            self.get(index)
        }
        fn date(&self, index: usize) -> Result<chrono::NaiveDate, DecodeError> {
            self.get(index)
        }
        fn datetime(&self, index: usize) -> Result<chrono::NaiveDateTime, DecodeError> {
            self.get(index)
        }
        fn datetime_utc(&self, index: usize) -> Result<chrono::DateTime<chrono::Utc>, DecodeError> {
            self.get(index)
        }
        fn bytes(&self, index: usize) -> Result<Vec<u8>, DecodeError> {
            self.get(index)
        }
    };
}
#[cfg(any(feature = "sqlite", feature = "pg-pipeline"))]
pub(crate) use driver_row_getters;

#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! sqlx_driver_row {
    ($row:ty, $($own:tt)*) => {
        impl DriverRow for SqlxRow<'_, $row> {
            fn len(&self) -> usize {
                sqlx::Row::len(self.row)
            }

            fn is_null(&self, index: usize) -> Result<bool, DecodeError> {
                use sqlx::ValueRef;
                sqlx::Row::try_get_raw(self.row, index).map(|v| v.is_null()).map_err(cause)
            }

            fn column_name(&self, index: usize) -> Option<&str> {
                use sqlx::Column;
                sqlx::Row::columns(self.row).get(index).map(|c| c.name())
            }

            /// The declared type, or the value's own type where the declared one is unknown
            /// (`NULL`).
            fn type_name(&self, index: usize) -> Option<String> {
                use sqlx::{Column, TypeInfo, ValueRef};
                let declared = sqlx::Row::columns(self.row)
                    .get(index)
                    .map(|c| c.type_info().name().to_string());
                let value = sqlx::Row::try_get_raw(self.row, index)
                    .ok()
                    .filter(|v| !v.is_null())
                    .map(|v| v.type_info().name().to_string());
                match (declared, value) {
                    (Some(d), Some(v)) if d == "NULL" => Some(v),
                    (Some(d), _) => Some(d),
                    (None, v) => v,
                }
            }

            driver_row_getters!();
            fn json(&self, index: usize) -> Option<Result<serde_json::Value, DecodeError>> {
                Some(self.get::<sqlx::types::Json<serde_json::Value>>(index).map(|json| json.0))
            }
            #[cfg(feature = "decimal")]
            fn decimal(&self, index: usize) -> Result<rust_decimal::Decimal, DecodeError> {
                self.get(index)
            }
            $($own)*
        }
    };
}

#[cfg(feature = "postgres")]
sqlx_driver_row! {
    sqlx::postgres::PgRow,
    /// PostgreSQL's `UUID`.
    fn uuid(&self, index: usize) -> Result<Uuid, DecodeError> {
        self.get(index)
    }
}

#[cfg(feature = "mysql")]
sqlx_driver_row! {
    sqlx::mysql::MySqlRow,
    /// `INT UNSIGNED`, or a 64-bit integer that fits.
    fn u32(&self, index: usize) -> Result<u32, DecodeError> {
        match self.get::<u32>(index) {
            Ok(v) => Ok(v),
            Err(_) => Ok(u32::try_from(self.i64(index)?)?),
        }
    }
    /// `BIGINT UNSIGNED`.
    fn u64(&self, index: usize) -> Result<u64, DecodeError> {
        self.get(index)
    }
}
