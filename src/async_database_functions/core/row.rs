//! A result row, whichever backend produced it: [`RowRef`], what [`FromRow`](super::from_row::FromRow)
//! and [`SqlField::decode`](super::field::SqlField::decode) read, and [`DriverRow`], what each
//! executor implements for its rows (the one interface between a driver's rows and the rest of
//! the crate: adding a backend means implementing it, nothing above `dialect/`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

/// Why a column could not be decoded: any error, boxed (the same shape as sqlx's
/// `BoxDynError`), so that a custom [`SqlField`](super::field::SqlField) needs no driver's types. `?` converts any
/// error into it, and `"message".into()` makes one.
pub type DecodeError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A borrowed result row, whichever backend produced it: what [`FromRow`](super::from_row::FromRow) and
/// [`SqlField::decode`](super::field::SqlField::decode) read. Driver-neutral: read columns with [`get`](Self::get) (or a
/// [`RowReader`](super::row_reader::RowReader)) and inspect them with the other methods.
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
pub struct RowRef<'r>(&'r dyn DriverRow);

impl std::fmt::Debug for RowRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns: Vec<&str> = (0..self.len())
            .map(|i| self.column_name(i).unwrap_or("?"))
            .collect();
        f.debug_struct("RowRef").field("columns", &columns).finish()
    }
}

impl<'r> RowRef<'r> {
    pub(crate) fn new(row: &'r dyn DriverRow) -> Self {
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

    /// Reads the column with the driver's native decoding of `T`.
    #[inline]
    pub(crate) fn native<T: Native>(self, index: usize) -> Result<T, DecodeError> {
        T::read(self.0, index)
    }
}

/// A borrowed row of one driver, as each executor in `dialect/` gives it: the column types the
/// library supports natively, read the driver's way. The defaults read a type through another
/// one (a UUID from its text, an unsigned integer from a 64-bit one) where a driver has no
/// native form of its own.
pub(crate) trait DriverRow {
    /// Number of columns.
    fn len(&self) -> usize;
    /// Whether the column at `index` is NULL; an error when there is no such column.
    fn is_null(&self, index: usize) -> Result<bool, DecodeError>;
    /// The name of the column at `index`.
    fn column_name(&self, index: usize) -> Option<&str>;
    /// The database's name for the column's type: the declared type, or the value's own type
    /// where the declared one is unknown.
    fn type_name(&self, index: usize) -> Option<String>;

    fn string(&self, index: usize) -> Result<String, DecodeError>;
    fn i64(&self, index: usize) -> Result<i64, DecodeError>;
    fn i32(&self, index: usize) -> Result<i32, DecodeError>;
    fn i16(&self, index: usize) -> Result<i16, DecodeError>;
    fn f64(&self, index: usize) -> Result<f64, DecodeError>;
    fn f32(&self, index: usize) -> Result<f32, DecodeError>;
    fn bool(&self, index: usize) -> Result<bool, DecodeError>;
    fn time(&self, index: usize) -> Result<NaiveTime, DecodeError>;
    fn date(&self, index: usize) -> Result<NaiveDate, DecodeError>;
    fn datetime(&self, index: usize) -> Result<NaiveDateTime, DecodeError>;
    fn datetime_utc(&self, index: usize) -> Result<DateTime<Utc>, DecodeError>;
    fn bytes(&self, index: usize) -> Result<Vec<u8>, DecodeError>;
    /// JSON, or `None` when the driver has no JSON type for the column (then its text is
    /// parsed).
    fn json(&self, index: usize) -> Option<Result<serde_json::Value, DecodeError>>;

    /// MySQL's `INT UNSIGNED`; a 64-bit integer that fits elsewhere.
    fn u32(&self, index: usize) -> Result<u32, DecodeError> {
        Ok(u32::try_from(self.i64(index)?)?)
    }
    /// MySQL's `BIGINT UNSIGNED`; a non-negative 64-bit integer elsewhere.
    fn u64(&self, index: usize) -> Result<u64, DecodeError> {
        Ok(u64::try_from(self.i64(index)?)?)
    }
    /// PostgreSQL's `UUID`; the 36-character text form elsewhere.
    fn uuid(&self, index: usize) -> Result<Uuid, DecodeError> {
        Ok(Uuid::parse_str(&self.string(index)?)?)
    }
    /// `NUMERIC`/`DECIMAL` on the servers; on SQLite the exact text form the library writes,
    /// or a number another client stored.
    #[cfg(feature = "decimal")]
    fn decimal(&self, index: usize) -> Result<rust_decimal::Decimal, DecodeError> {
        match self.string(index) {
            Ok(text) => Ok(text.parse::<rust_decimal::Decimal>()?),
            Err(first) => {
                let v = self.f64(index).map_err(|_| first)?;
                Ok(rust_decimal::Decimal::try_from(v)?)
            }
        }
    }
}

/// A type every driver reads natively (or, where one cannot, through a form it can: a UUID
/// from text, JSON from MariaDB's text).
pub(crate) trait Native: Sized {
    fn read(row: &dyn DriverRow, index: usize) -> Result<Self, DecodeError>;
}

macro_rules! native {
    ($($t:ty => $method:ident),* $(,)?) => {$(
        impl Native for $t {
            #[inline]
            fn read(row: &dyn DriverRow, index: usize) -> Result<Self, DecodeError> {
                row.$method(index)
            }
        }
    )*};
}
native!(
    String => string,
    i64 => i64,
    i32 => i32,
    i16 => i16,
    f64 => f64,
    f32 => f32,
    bool => bool,
    NaiveTime => time,
    NaiveDate => date,
    NaiveDateTime => datetime,
    DateTime<Utc> => datetime_utc,
    Vec<u8> => bytes,
    u32 => u32,
    u64 => u64,
    Uuid => uuid,
);
#[cfg(feature = "decimal")]
native!(rust_decimal::Decimal => decimal);

/// `JSON`/`JSONB`, or JSON text (MariaDB keeps JSON as `LONGTEXT`).
impl Native for serde_json::Value {
    fn read(row: &dyn DriverRow, index: usize) -> Result<Self, DecodeError> {
        match row.json(index) {
            Some(Ok(v)) => Ok(v),
            Some(Err(first)) => {
                let text = row.string(index).map_err(|_| first)?;
                Ok(serde_json::from_str(&text)?)
            }
            None => Ok(serde_json::from_str(&row.string(index)?)?),
        }
    }
}
