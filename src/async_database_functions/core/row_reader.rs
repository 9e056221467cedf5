//! [`RowReader`]: a row's columns read in order, each decode error naming its column.

use super::error::DatabaseError;
use super::field::SqlField;
use super::row::DecodeError;
use super::row::RowRef;

/// Reads a row's columns in order; what [`FromRow`](super::from_row::FromRow) implementations consume.
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
