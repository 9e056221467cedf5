//! Typed row decoding: [`FromRow`] for models, scalars and tuples, over every backend's rows.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

use super::dialect::row::{DriverRow, Native};
use super::error::DatabaseError;
use super::field::SqlField;

/// Why a column could not be decoded: any error, boxed (the same shape as sqlx's
/// `BoxDynError`), so that a custom [`SqlField`] needs no driver's types. `?` converts any
/// error into it, and `"message".into()` makes one.
pub type DecodeError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A borrowed result row, whichever backend produced it: what [`FromRow`] and
/// [`SqlField::decode`] read. Driver-neutral: read columns with [`get`](Self::get) (or a
/// [`RowReader`]) and inspect them with the other methods.
///
/// ```
/// use dsg_lib::async_database_functions::database_config::Dialect;
/// use dsg_lib::async_database_functions::field::SqlField;
/// use dsg_lib::async_database_functions::model::SqlType;
/// use dsg_lib::async_database_functions::row::{DecodeError, RowRef};
/// use dsg_lib::prelude::*;
/// use dsg_lib::sea_query::Value;
///
/// /// A point stored as `"x,y"` text: a custom column type built on `String`'s decoding.
/// #[derive(Debug, Clone, PartialEq)]
/// struct Point(i32, i32);
///
/// impl SqlField for Point {
///     const SQL_TYPE: SqlType = SqlType::String(Some(23));
///     fn to_value(&self, _: Dialect) -> Value {
///         Value::String(Some(format!("{},{}", self.0, self.1)))
///     }
///     fn null_value(_: Dialect) -> Value {
///         Value::String(None)
///     }
///     fn decode(row: RowRef<'_>, index: usize) -> Result<Self, DecodeError> {
///         let text: String = row.get(index)?;
///         let (x, y) = text.split_once(',').ok_or("expected \"x,y\"")?;
///         Ok(Point(x.parse()?, y.parse()?))
///     }
/// }
///
/// #[derive(Model, Debug, Clone, PartialEq)]
/// #[model(table = "row_ref_doc")]
/// struct Pin {
///     #[model(primary_key, auto_increment)]
///     id: i64,
///     at: Point,
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
/// db.register::<Pin>();
/// db.create_tables().await?;
/// let ops = DatabaseOperations::new(db);
/// let pin = ops.create_one(Pin { id: 0, at: Point(3, -4) }).await?;
/// assert_eq!(ops.read_by_pk::<Pin>(pin.id).await?.map(|p| p.at), Some(Point(3, -4)));
///
/// // A stored value the type cannot read is a decode error naming the column.
/// ops.execute_one(&text("UPDATE row_ref_doc SET at = 'nowhere'")).await?;
/// let err = ops.read_by_pk::<Pin>(pin.id).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::DecodeError);
/// assert!(err.to_string().contains("(at)"), "{err}");
/// # Ok::<(), DatabaseError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy)]
pub struct RowRef<'r>(DriverRow<'r>);

impl std::fmt::Debug for RowRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns: Vec<&str> = (0..self.len())
            .map(|i| self.column_name(i).unwrap_or("?"))
            .collect();
        f.debug_struct("RowRef").field("columns", &columns).finish()
    }
}

impl<'r> RowRef<'r> {
    pub(crate) fn new(row: DriverRow<'r>) -> Self {
        RowRef(row)
    }

    /// Number of columns in the row.
    pub fn len(self) -> usize {
        self.0.len()
    }

    /// True when the row has no columns.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Whether the column at `index` is NULL.
    ///
    /// # Errors
    ///
    /// When the row has no column `index`.
    pub fn is_null(self, index: usize) -> Result<bool, DecodeError> {
        self.0.is_null(index)
    }

    /// The name of the column at `index`.
    pub fn column_name(self, index: usize) -> Option<&'r str> {
        self.0.column_name(index)
    }

    /// The database's name for the type of the column at `index` (for dynamic decoding).
    pub fn type_name(self, index: usize) -> Option<String> {
        self.0.type_name(index)
    }

    /// Decodes the column at `index` as `T` (any [`SqlField`]): `T::decode(row, index)`.
    ///
    /// # Errors
    ///
    /// When the column does not exist or its value does not fit `T`.
    #[inline]
    pub fn get<T: SqlField>(self, index: usize) -> Result<T, DecodeError> {
        T::decode(self, index)
    }

    /// Reads the column with the driver's native decoding of `T`.
    #[inline]
    pub(crate) fn native<T: Native>(self, index: usize) -> Result<T, DecodeError> {
        T::read(self.0, index)
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

    /// The index of the column [`next`](Self::next) decodes.
    pub fn position(&self) -> usize {
        self.next
    }

    /// Decodes the next column as `T`; the error names the column.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next<T: SqlField>(&mut self) -> Result<T, DatabaseError> {
        let index = self.next;
        self.next += 1;
        match T::decode(self.row, index) {
            Ok(v) => Ok(v),
            Err(e) => Err(decode_error(
                self.row,
                index,
                std::any::type_name::<T>(),
                T::NULLABLE,
                e,
            )),
        }
    }
}

/// The error of [`RowReader::next`], built out of the hot path. Decoded first, NULL looked for
/// only on failure: every driver refuses a NULL for a non-`Option` type, and the message then
/// says what to do.
#[cold]
#[inline(never)]
fn decode_error(
    row: RowRef<'_>,
    index: usize,
    type_name: &str,
    nullable: bool,
    e: DecodeError,
) -> DatabaseError {
    let name = row.column_name(index).unwrap_or("?");
    if !nullable && row.is_null(index).unwrap_or(false) {
        DatabaseError::decode(format!(
            "column {index} ({name}) is NULL; read it as Option<{type_name}>"
        ))
    } else {
        DatabaseError::decode(format!("column {index} ({name}) as {type_name}: {e}"))
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
