//! [`ColumnSet`]: a group of columns (a model's own fields, or a mixin flattened into models)
//! and how its values are written and read.

use sea_query::Value;

use super::column::Column;
use super::error::DatabaseError;
use super::row_reader::RowReader;
use super::sql_dialect::Dialect;

/// A group of columns: a model's own fields, or a struct flattened into models.
///
/// Implemented by `#[derive(Model)]`; implement it by hand only for a reusable mixin such as
/// [`SchemaBase`](crate::async_database_functions::base_schema::SchemaBase).
pub trait ColumnSet: Sized {
    /// The columns, in declaration order (flattened sets in place).
    fn column_list() -> Vec<Column>;

    /// The values of the columns, in the order of [`ColumnSet::column_list`].
    fn push_values(&self, dialect: Dialect, out: &mut Vec<Value>);

    /// Reads the columns from a row, in order, starting at the reader's position.
    fn read_columns(reader: &mut RowReader<'_>) -> Result<Self, DatabaseError>;

    /// Called on a value before it is inserted by the library (stamps timestamps).
    fn before_insert(&mut self) {}

    /// Called on the new values before an update by the library (stamps `date_updated`).
    fn before_update(_values: &mut Vec<(&'static str, Value)>) {}

    /// Converts `json`, the new value of `column` in an `update_one` map, into the value to
    /// bind, through the Rust type of the column's field ([`SqlField::from_json`]), so that a
    /// value the field cannot hold (an unknown enum variant, an out-of-range number) is refused
    /// before anything is written. `None` when the column is not one of this set's.
    ///
    /// Implemented by `#[derive(Model)]`; the default (`None`) makes the library check the
    /// value against the column's [`SqlType`](super::column::SqlType) only.
    ///
    /// [`SqlField::from_json`]: super::field::SqlField::from_json
    fn column_from_json(
        _column: &Column,
        _json: &serde_json::Value,
        _dialect: Dialect,
    ) -> Option<Result<Value, String>> {
        None
    }

    /// The value of the column `name`, as [`push_values`](ColumnSet::push_values) gives it,
    /// without the others (the derive implements it with one comparison per column); `None`
    /// when the set has no such column.
    fn column_value(&self, name: &str, dialect: Dialect) -> Option<Value> {
        let mut values = Vec::new();
        self.push_values(dialect, &mut values);
        let position = Self::column_list().iter().position(|c| c.name == name)?;
        values.into_iter().nth(position)
    }

    /// Pushes the client-side defaults of a new row:
    /// [`SchemaBase`](crate::async_database_functions::base_schema::SchemaBase) gives a fresh `pkid` and stamps
    /// `date_created` / `date_updated`. Used by [`Model::insert`](crate::async_database_functions::model::Model::insert), once per row when the row
    /// is started, so that the caller can read a generated key before executing
    /// ([`ModelInsert::value_of`](crate::async_database_functions::model::ModelInsert::value_of)); the row keeps the values it names itself. The values are
    /// bound as they are on every dialect.
    fn insert_defaults(_out: &mut Vec<(&'static str, Value)>) {}
}

/// Marks a model (or column set) that flattens the column set `S`; `#[derive(Model)]`
/// implements it for every `#[model(flatten)]` field. Traits of typed columns for a column
/// set, such as [`SchemaBaseColumns`](crate::async_database_functions::base_schema::SchemaBaseColumns), are implemented
/// for every model that flattens it.
pub trait Flattens<S: ColumnSet> {}
