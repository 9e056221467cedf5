//! Each backend's rows behind the crate's driver-neutral [`RowRef`](crate::async_database_functions::row::RowRef).
//!
//! A [`DriverRow`] is a borrowed row of whichever driver produced it: the SQLite engine
//! executor's rows, sqlx's PostgreSQL and MySQL rows. [`Native`] is how each driver reads the
//! column types the library supports natively; `SqlField` implementations, `FromRow` and
//! `Record` reach the drivers only through here, so nothing outside `dialect/` names a
//! driver's row or error type, and a custom column type never needs one.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

use crate::async_database_functions::row::DecodeError;

#[cfg(feature = "sqlite")]
use super::sqlite_engine::row::SqliteEngineRow;

/// A borrowed row of one driver.
#[derive(Clone, Copy)]
pub(crate) enum DriverRow<'r> {
    /// The SQLite engine executor's row.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteEngineRow<'r>),
    /// A PostgreSQL (or CockroachDB) row.
    #[cfg(feature = "postgres")]
    Postgres(SqlxRow<'r, sqlx::postgres::PgRow>),
    /// A MySQL/MariaDB row.
    #[cfg(feature = "mysql")]
    MySql(SqlxRow<'r, sqlx::mysql::MySqlRow>),
}

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

/// Runs `$body` with `$r` bound to the sqlx row of a server backend, `$engine` on SQLite's.
macro_rules! per_row {
    ($row:expr, $r:ident => $body:expr, $e:ident => $engine:expr) => {
        match $row {
            #[cfg(feature = "sqlite")]
            DriverRow::Sqlite($e) => $engine,
            #[cfg(feature = "postgres")]
            DriverRow::Postgres($r) => $body,
            #[cfg(feature = "mysql")]
            DriverRow::MySql($r) => $body,
        }
    };
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

impl<'r> DriverRow<'r> {
    pub(crate) fn len(self) -> usize {
        per_row!(self, r => sqlx::Row::len(r.row), e => e.len())
    }

    pub(crate) fn is_null(self, index: usize) -> Result<bool, DecodeError> {
        per_row!(
            self,
            r => {
                use sqlx::ValueRef;
                sqlx::Row::try_get_raw(r.row, index).map(|v| v.is_null()).map_err(cause)
            },
            e => e.value(index).map(|v| v == rusqlite::types::ValueRef::Null)
        )
    }

    pub(crate) fn column_name(self, index: usize) -> Option<&'r str> {
        per_row!(
            self,
            r => {
                use sqlx::Column;
                sqlx::Row::columns(r.row).get(index).map(|c| c.name())
            },
            e => e.column_name(index)
        )
    }

    /// The database's name for the column's type: the declared type, or the value's own type
    /// where the declared one is unknown (`NULL` in SQLite's expressions).
    pub(crate) fn type_name(self, index: usize) -> Option<String> {
        per_row!(
            self,
            r => {
                use sqlx::{Column, TypeInfo, ValueRef};
                let declared = sqlx::Row::columns(r.row)
                    .get(index)
                    .map(|c| c.type_info().name().to_string());
                let value = sqlx::Row::try_get_raw(r.row, index)
                    .ok()
                    .filter(|v| !v.is_null())
                    .map(|v| v.type_info().name().to_string());
                match (declared, value) {
                    (Some(d), Some(v)) if d == "NULL" => Some(v),
                    (Some(d), _) => Some(d),
                    (None, v) => v,
                }
            },
            e => e.type_name(index)
        )
    }
}

/// A type every driver reads natively (or, where one cannot, through a form it can: a UUID
/// from text, JSON from MariaDB's text).
pub(crate) trait Native: Sized {
    fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError>;
}

macro_rules! native {
    ($($t:ty),*) => {$(
        impl Native for $t {
            #[inline]
            fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError> {
                per_row!(row, r => r.get(index), e => e.get(index))
            }
        }
    )*};
}
native!(
    String,
    i64,
    i32,
    i16,
    f64,
    f32,
    bool,
    NaiveTime,
    NaiveDate,
    NaiveDateTime,
    DateTime<Utc>,
    Vec<u8>
);

fn narrow<T: TryFrom<i64>>(row: DriverRow<'_>, index: usize) -> Result<T, DecodeError>
where
    T::Error: std::error::Error + Send + Sync + 'static,
{
    Ok(T::try_from(i64::read(row, index)?)?)
}

/// MySQL's `INT UNSIGNED`; a 64-bit integer that fits elsewhere.
impl Native for u32 {
    fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError> {
        #[cfg(feature = "mysql")]
        if let DriverRow::MySql(r) = row
            && let Ok(v) = r.get::<u32>(index)
        {
            return Ok(v);
        }
        narrow(row, index)
    }
}

/// MySQL's `BIGINT UNSIGNED`; a non-negative 64-bit integer elsewhere.
impl Native for u64 {
    #[allow(irrefutable_let_patterns)] // with `mysql` alone
    fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError> {
        #[cfg(feature = "mysql")]
        if let DriverRow::MySql(r) = row {
            return r.get(index);
        }
        narrow(row, index)
    }
}

/// PostgreSQL's `UUID`; the 36-character text form elsewhere.
impl Native for Uuid {
    #[allow(irrefutable_let_patterns)] // with `postgres` alone
    fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError> {
        #[cfg(feature = "postgres")]
        if let DriverRow::Postgres(r) = row {
            return r.get(index);
        }
        Ok(Uuid::parse_str(&String::read(row, index)?)?)
    }
}

/// `JSON`/`JSONB`, or JSON text (MariaDB keeps JSON as `LONGTEXT`).
impl Native for serde_json::Value {
    fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError> {
        type Json = sqlx::types::Json<serde_json::Value>;
        let json: Result<Json, DecodeError> = per_row!(row, r => r.get(index), e => e.get(index));
        match json {
            Ok(v) => Ok(v.0),
            Err(first) => {
                let text = String::read(row, index).map_err(|_| first)?;
                Ok(serde_json::from_str(&text)?)
            }
        }
    }
}

/// `NUMERIC`/`DECIMAL` on the servers; on SQLite the exact text form the library writes, or a
/// number another client stored.
#[cfg(feature = "decimal")]
impl Native for rust_decimal::Decimal {
    fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError> {
        per_row!(row, r => r.get(index), _e => {
            match String::read(row, index) {
                Ok(text) => Ok(text.parse::<rust_decimal::Decimal>()?),
                Err(first) => {
                    let v = f64::read(row, index).map_err(|_| first)?;
                    Ok(rust_decimal::Decimal::try_from(v)?)
                }
            }
        })
    }
}
