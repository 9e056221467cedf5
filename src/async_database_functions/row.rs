//! Typed row decoding: [`FromRow`] for models, scalars and tuples, over every backend's rows.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

use super::error::DatabaseError;
use super::field::SqlField;

/// A borrowed row of whichever backend produced it.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum RowRef<'r> {
    /// A SQLite row.
    #[cfg(feature = "sqlite")]
    Sqlite(&'r sqlx::sqlite::SqliteRow),
    /// A PostgreSQL (or CockroachDB) row.
    #[cfg(feature = "postgres")]
    Postgres(&'r sqlx::postgres::PgRow),
    /// A MySQL/MariaDB row.
    #[cfg(feature = "mysql")]
    MySql(&'r sqlx::mysql::MySqlRow),
    /// A row of the SQLite engine executor, which runs the library's SQLite statements (an
    /// opaque handle: read it through these methods and [`SqlField::decode`]).
    #[cfg(feature = "sqlite")]
    SqliteEngine(SqliteEngineRow<'r>),
}

#[cfg(feature = "sqlite")]
pub use super::dialect::sqlite_engine::row::SqliteEngineRow;

macro_rules! with_row {
    ($row:expr, $r:ident => $body:expr) => {
        match $row {
            #[cfg(feature = "sqlite")]
            RowRef::Sqlite($r) => $body,
            #[cfg(feature = "postgres")]
            RowRef::Postgres($r) => $body,
            #[cfg(feature = "mysql")]
            RowRef::MySql($r) => $body,
            #[cfg(feature = "sqlite")]
            RowRef::SqliteEngine(_) => unreachable!("handled before"),
        }
    };
}

impl<'r> RowRef<'r> {
    /// Number of columns in the row.
    pub fn len(self) -> usize {
        #[cfg(feature = "sqlite")]
        if let RowRef::SqliteEngine(r) = self {
            return r.len();
        }
        with_row!(self, r => sqlx::Row::len(r))
    }

    /// True when the row has no columns.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Whether the column at `index` is NULL.
    pub fn is_null(self, index: usize) -> Result<bool, sqlx::Error> {
        use sqlx::ValueRef;
        #[cfg(feature = "sqlite")]
        if let RowRef::SqliteEngine(r) = self {
            return r.value(index).map(|v| v == rusqlite::types::ValueRef::Null);
        }
        with_row!(self, r => sqlx::Row::try_get_raw(r, index).map(|v| v.is_null()))
    }

    /// The name of the column at `index`.
    pub fn column_name(self, index: usize) -> Option<&'r str> {
        use sqlx::Column;
        #[cfg(feature = "sqlite")]
        if let RowRef::SqliteEngine(r) = self {
            return r.column_name(index);
        }
        with_row!(self, r => sqlx::Row::columns(r).get(index).map(|c| c.name()))
    }

    /// The database's name for the type of the column at `index` (for dynamic decoding).
    pub fn type_name(self, index: usize) -> Option<String> {
        use sqlx::{Column, TypeInfo, ValueRef};
        #[cfg(feature = "sqlite")]
        if let RowRef::SqliteEngine(r) = self {
            return r.type_name(index);
        }
        with_row!(self, r => {
            let declared = sqlx::Row::columns(r).get(index).map(|c| c.type_info().name().to_string());
            let value = sqlx::Row::try_get_raw(r, index)
                .ok()
                .filter(|v| !v.is_null())
                .map(|v| v.type_info().name().to_string());
            match (declared, value) {
                (Some(d), Some(v)) if d == "NULL" => Some(v),
                (Some(d), _) => Some(d),
                (None, v) => v,
            }
        })
    }
}

/// Reads a row's columns in order; what [`FromRow`] implementations consume.
pub struct RowReader<'r> {
    row: RowRef<'r>,
    next: usize,
}

impl<'r> RowReader<'r> {
    /// A reader at the first column of `row`.
    pub fn new(row: RowRef<'r>) -> Self {
        RowReader { row, next: 0 }
    }

    /// The row being read.
    pub fn row(&self) -> RowRef<'r> {
        self.row
    }

    /// Decodes the next column as `T`; the error names the column.
    #[allow(clippy::should_implement_trait)]
    pub fn next<T: SqlField>(&mut self) -> Result<T, DatabaseError> {
        let index = self.next;
        self.next += 1;
        // SQLite's driver decodes NULL as "" or 0; only an `Option` may take a NULL.
        if !T::NULLABLE && self.row.is_null(index).unwrap_or(false) {
            let name = self.row.column_name(index).unwrap_or("?");
            return Err(DatabaseError::decode(format!(
                "column {index} ({name}) is NULL; read it as Option<{}>",
                std::any::type_name::<T>()
            )));
        }
        T::decode(self.row, index).map_err(|e| {
            let name = self.row.column_name(index).unwrap_or("?");
            DatabaseError::decode(format!(
                "column {index} ({name}) as {}: {e}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// A type a result row can be decoded into: a [`Model`](super::model::Model) (through its derive), a scalar for a single-column select,
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
