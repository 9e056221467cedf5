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
    Postgres(&'r sqlx::postgres::PgRow),
    /// A MySQL/MariaDB row.
    #[cfg(feature = "mysql")]
    MySql(&'r sqlx::mysql::MySqlRow),
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

/// `try_get` on a sqlx row, with the error reduced to its cause.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[inline]
fn sqlx_get<'r, R, T>(row: &'r R, index: usize) -> Result<T, DecodeError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    row.try_get(index).map_err(cause)
}

impl<'r> DriverRow<'r> {
    pub(crate) fn len(self) -> usize {
        per_row!(self, r => sqlx::Row::len(r), e => e.len())
    }

    pub(crate) fn is_null(self, index: usize) -> Result<bool, DecodeError> {
        per_row!(
            self,
            r => {
                use sqlx::ValueRef;
                sqlx::Row::try_get_raw(r, index).map(|v| v.is_null()).map_err(cause)
            },
            e => e.value(index).map(|v| v == rusqlite::types::ValueRef::Null)
        )
    }

    pub(crate) fn column_name(self, index: usize) -> Option<&'r str> {
        per_row!(
            self,
            r => {
                use sqlx::Column;
                sqlx::Row::columns(r).get(index).map(|c| c.name())
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
                let declared = sqlx::Row::columns(r)
                    .get(index)
                    .map(|c| c.type_info().name().to_string());
                let value = sqlx::Row::try_get_raw(r, index)
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
                per_row!(row, r => sqlx_get(r, index), e => e.get(index))
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
            && let Ok(v) = sqlx_get::<_, u32>(r, index)
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
            return sqlx_get(r, index);
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
            return sqlx_get(r, index);
        }
        Ok(Uuid::parse_str(&String::read(row, index)?)?)
    }
}

/// `JSON`/`JSONB`, or JSON text (MariaDB keeps JSON as `LONGTEXT`).
impl Native for serde_json::Value {
    fn read(row: DriverRow<'_>, index: usize) -> Result<Self, DecodeError> {
        type Json = sqlx::types::Json<serde_json::Value>;
        let json: Result<Json, DecodeError> =
            per_row!(row, r => sqlx_get(r, index), e => e.get(index));
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
        per_row!(row, r => sqlx_get(r, index), _e => {
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
