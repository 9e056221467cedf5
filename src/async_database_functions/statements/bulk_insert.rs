//! [`BulkInsert`]: the multi-row `INSERT` of `create_many`, rendered straight from the values.
//!
//! sea-query builds an expression tree per value and renders it back to text; for tens of
//! thousands of values that costs more than the database's own work on SQLite. Here the SQL
//! is written once, placeholders counted, and the values handed to the driver as they are.

use sea_query::{Value, Values};

use crate::async_database_functions::core::column::Column;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::dialect::{self, BulkCopy, ColumnArrays};
use crate::async_database_functions::statements::statement::Rendered;

/// `INSERT INTO table (columns) VALUES (…), (…) [RETURNING …]` with every value bound.
#[derive(Debug, Clone)]
pub(crate) struct BulkInsert {
    table: &'static str,
    columns: Vec<&'static Column>,
    /// Row after row, `columns.len()` values each.
    values: Vec<Value>,
    /// An upsert: the conflict keys, and the columns a conflicting row takes from the insert.
    upsert: Option<(Vec<&'static str>, Vec<&'static str>)>,
    returning: Vec<&'static str>,
}

impl BulkInsert {
    pub(crate) fn new(table: &'static str, columns: Vec<&'static Column>) -> Self {
        BulkInsert {
            table,
            columns,
            values: Vec::new(),
            upsert: None,
            returning: Vec::new(),
        }
    }

    /// Makes the insert an upsert: a row whose `keys` exist updates that row's `updated`
    /// columns from its own values instead.
    pub(crate) fn on_conflict(&mut self, keys: Vec<&'static str>, updated: Vec<&'static str>) {
        self.upsert = Some((keys, updated));
    }

    /// Adds one row; its values must follow `columns`.
    pub(crate) fn row(&mut self, values: impl IntoIterator<Item = Value>) {
        self.values.extend(values);
    }

    /// Where a row's values are pushed directly (they must follow `columns`).
    pub(crate) fn values_mut(&mut self) -> &mut Vec<Value> {
        &mut self.values
    }

    /// Asks for these columns of every row back.
    pub(crate) fn returning(&mut self, columns: impl IntoIterator<Item = &'static str>) {
        self.returning.extend(columns);
    }

    fn rows(&self) -> usize {
        self.values.len() / self.columns.len().max(1)
    }

    fn sql(&self, dialect: Dialect) -> String {
        let width = self.columns.len();
        let mut sql = String::with_capacity(32 + width * 16 + self.values.len() * 5);
        sql.push_str("INSERT INTO ");
        dialect::push_ident(dialect, &mut sql, self.table);
        sql.push_str(" (");
        dialect::push_ident_list(dialect, &mut sql, self.columns.iter().map(|c| c.name));
        sql.push_str(") VALUES ");
        let mut n = 0;
        for row in 0..self.rows() {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for i in 0..width {
                if i > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                dialect::push_placeholder(dialect, &mut sql, n);
            }
            sql.push(')');
        }
        if let Some((keys, updated)) = &self.upsert {
            dialect::push_upsert(dialect, &mut sql, keys, updated);
        }
        if !self.returning.is_empty() {
            sql.push_str(" RETURNING ");
            dialect::push_ident_list(dialect, &mut sql, self.returning.iter().copied());
        }
        sql
    }

    /// The SQL for `dialect`, and the values moved out (50 000 values are not copied). Where
    /// the dialect has a faster bulk form (PostgreSQL's `UNNEST` of one typed array per
    /// column), that, with how its values are bound.
    pub(crate) fn into_rendered(self, dialect: Dialect) -> BulkRendered {
        let unnest = dialect::unnest_insert(
            dialect,
            self.table,
            &self.columns,
            &self.values,
            self.upsert
                .as_ref()
                .map(|(keys, updated)| (keys.as_slice(), updated.as_slice())),
            &self.returning,
        );
        let copy = if self.upsert.is_none() && self.returning.is_empty() {
            dialect::bulk_copy(dialect, self.table, &self.columns, self.rows())
        } else {
            None
        };
        let (sql, arrays) = match unnest {
            Some((sql, arrays)) => (sql, Some(arrays)),
            None => (self.sql(dialect), None),
        };
        BulkRendered {
            rendered: Rendered {
                sql,
                values: Values(self.values),
            },
            arrays,
            copy,
        }
    }
}

/// A rendered [`BulkInsert`]: its SQL and values, row after row, and, for an `UNNEST` insert,
/// the arrays the values are bound as (else one placeholder per value); and its COPY form,
/// where the executor may send that instead.
#[derive(Debug)]
pub(crate) struct BulkRendered {
    pub rendered: Rendered,
    pub arrays: Option<ColumnArrays>,
    pub copy: Option<BulkCopy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::async_database_functions::core::column::SqlType;

    fn columns() -> Vec<&'static Column> {
        let pkid: &'static Column =
            Box::leak(Box::new(Column::new("pkid", SqlType::String(Some(36)))));
        let name: &'static Column = Box::leak(Box::new(Column::new("name", SqlType::String(None))));
        vec![pkid, name]
    }

    #[test]
    fn rows_render_with_the_dialects_placeholders_and_quotes() {
        let mut insert = BulkInsert::new("users", columns());
        insert.row([Value::from("a"), Value::from("x")]);
        insert.row([Value::from("b"), Value::from("y")]);
        let sqlite = insert.clone().into_rendered(Dialect::Sqlite);
        assert!(sqlite.arrays.is_none());
        let sqlite = sqlite.rendered;
        assert_eq!(
            sqlite.sql,
            r#"INSERT INTO "users" ("pkid", "name") VALUES (?, ?), (?, ?)"#
        );
        assert_eq!(sqlite.values.0.len(), 4);
        insert.returning(["pkid"]);
        assert_eq!(
            insert.into_rendered(Dialect::Mysql).rendered.sql,
            "INSERT INTO `users` (`pkid`, `name`) VALUES (?, ?), (?, ?) RETURNING `pkid`"
        );
    }

    #[test]
    #[cfg(feature = "postgres")]
    fn postgres_binds_one_array_per_column() {
        let mut insert = BulkInsert::new("users", columns());
        insert.row([Value::from("a"), Value::from("it's \"x\", {y}")]);
        insert.row([Value::from("b"), Value::String(None)]);
        let cockroach = insert.clone().into_rendered(Dialect::Cockroachdb);
        assert_eq!(
            cockroach.rendered.sql,
            r#"INSERT INTO "users" ("pkid", "name") SELECT * FROM UNNEST($1::text[], $2::text[])"#
        );
        let pg = insert.into_rendered(Dialect::Postgresql);
        assert_eq!(
            pg.rendered.sql,
            r#"INSERT INTO "users" ("pkid", "name") SELECT unnest($1::text[]), unnest($2::text[])"#
        );
        // The values stay row after row, as given (for logs and redaction); they are bound as
        // typed arrays (see `dialect::postgres`).
        assert_eq!(
            pg.rendered.values.0,
            [
                Value::from("a"),
                Value::from("it's \"x\", {y}"),
                Value::from("b"),
                Value::String(None)
            ]
        );
        assert!(pg.arrays.is_some());
    }

    #[test]
    #[cfg(feature = "postgres")]
    fn postgres_falls_back_to_values_for_a_value_without_an_array_form() {
        let mut insert = BulkInsert::new("users", columns());
        insert.row([Value::from("a"), Value::Int(Some(1))]);
        let pg = insert.into_rendered(Dialect::Postgresql);
        assert_eq!(
            pg.rendered.sql,
            r#"INSERT INTO "users" ("pkid", "name") VALUES ($1, $2)"#
        );
        assert!(pg.arrays.is_none());
    }

    #[test]
    fn an_upsert_renders_each_dialects_conflict_clause() {
        let mut insert = BulkInsert::new("users", columns());
        insert.row([Value::from("a"), Value::from("x")]);
        insert.on_conflict(vec!["pkid"], vec!["name"]);
        insert.returning(["pkid", "name"]);
        #[cfg(feature = "sqlite")]
        assert_eq!(
            insert.clone().into_rendered(Dialect::Sqlite).rendered.sql,
            r#"INSERT INTO "users" ("pkid", "name") VALUES (?, ?) ON CONFLICT ("pkid") DO UPDATE SET "name" = excluded."name" RETURNING "pkid", "name""#
        );
        #[cfg(feature = "mysql")]
        assert_eq!(
            insert.clone().into_rendered(Dialect::Mysql).rendered.sql,
            "INSERT INTO `users` (`pkid`, `name`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`) RETURNING `pkid`, `name`"
        );
        #[cfg(feature = "postgres")]
        {
            assert_eq!(
                insert
                    .clone()
                    .into_rendered(Dialect::Postgresql)
                    .rendered
                    .sql,
                r#"INSERT INTO "users" ("pkid", "name") SELECT unnest($1::text[]), unnest($2::text[]) ON CONFLICT ("pkid") DO UPDATE SET "name" = excluded."name" RETURNING "pkid", "name""#
            );
            // CockroachDB keeps VALUES for an upsert.
            let cockroach = insert.into_rendered(Dialect::Cockroachdb);
            assert!(cockroach.arrays.is_none());
            assert!(
                cockroach
                    .rendered
                    .sql
                    .contains(r#"VALUES ($1, $2) ON CONFLICT ("pkid")"#),
                "{}",
                cockroach.rendered.sql
            );
        }
    }
}
