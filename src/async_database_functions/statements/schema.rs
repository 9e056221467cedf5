//! DDL from model metadata: `CREATE TABLE` with constraints, indexes and comments, per dialect,
//! and the order tables are created in.

use sea_query::{ColumnDef, ColumnType, Expr, ForeignKey, Index, Table};

use super::catalog::{TableDef, generated_name};
use crate::async_database_functions::core::column::{Column, OnDelete};
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::dialect::{self, CommentStyle};
use crate::async_database_functions::statements::session::Session;

impl TableDef {
    /// The tables this one references through foreign keys (itself excluded).
    fn references(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .filter_map(|c| c.foreign_key.map(|(t, _)| t))
            .filter(move |t| *t != self.name)
    }

    /// The statements that create this table and its indexes and comments.
    ///
    /// The `CREATE TABLE` has `IF NOT EXISTS` only where DDL is transactional: on MySQL/MariaDB
    /// a `CREATE TABLE` that succeeds must mean this call created the table, since
    /// [`create`](Self::create) drops it again when a later statement fails.
    pub(crate) fn create_statements(&self, dialect: Dialect) -> Vec<String> {
        let comments = dialect::comment_style(dialect);
        let keys: Vec<&Column> = self.columns.iter().filter(|c| c.primary_key).collect();
        let mut table = Table::create();
        table.table(self.name);
        if transactional_ddl(dialect) {
            table.if_not_exists();
        }
        for column in self.columns {
            let sql_type = dialect::column_type_sql(dialect, column);
            let mut def = ColumnDef::new_with_type(column.name, ColumnType::custom(sql_type));
            if column.nullable {
                def.null();
            } else {
                def.not_null();
            }
            if column.primary_key && keys.len() == 1 {
                def.primary_key();
            }
            if column.auto_increment && dialect::auto_increment_keyword(dialect) {
                def.auto_increment();
            }
            // A unique column that is also indexed gets a unique index instead (as SQLAlchemy).
            if column.unique && !column.index && !column.primary_key {
                def.unique_key();
            }
            if let Some(default) = column.default {
                def.default(Expr::cust(default));
            } else if let Some(server) = column.server_default
                && let Some(sql) = dialect::server_default_sql(dialect, server, column.sql_type)
            {
                def.default(Expr::cust(sql));
            }
            if let (Some(comment), CommentStyle::Inline) = (column.comment, comments) {
                def.comment(comment);
            }
            table.col(def);
        }
        if keys.len() > 1 {
            let mut pk = Index::create();
            for key in &keys {
                pk.col(key.name);
            }
            table.primary_key(&mut pk);
        }
        for column in self.columns {
            if let Some((ref_table, ref_column)) = column.foreign_key {
                let mut foreign_key = ForeignKey::create();
                foreign_key
                    .name(generated_name("fk", self.name, column.name))
                    .from(self.name, column.name)
                    .to(ref_table, ref_column);
                if let Some(action) = column.on_delete {
                    foreign_key.on_delete(match action {
                        OnDelete::Cascade => sea_query::ForeignKeyAction::Cascade,
                        OnDelete::SetNull => sea_query::ForeignKeyAction::SetNull,
                        OnDelete::Restrict => sea_query::ForeignKeyAction::Restrict,
                    });
                }
                table.foreign_key(&mut foreign_key);
            }
        }
        let mut statements = vec![dialect::build_schema(dialect, &table)];
        for column in self.columns.iter().filter(|c| c.index && !c.primary_key) {
            let mut index = Index::create();
            index
                .name(generated_name("ix", self.name, column.name))
                .table(self.name)
                .col(column.name);
            if column.unique {
                index.unique();
            }
            if dialect::index_if_not_exists(dialect) {
                index.if_not_exists();
            }
            statements.push(dialect::build_schema(dialect, &index));
        }
        if comments == CommentStyle::Statement {
            for column in self.columns {
                if let Some(comment) = column.comment {
                    statements.push(format!(
                        "COMMENT ON COLUMN {}.{} IS {}",
                        quote_ident(self.name),
                        quote_ident(column.name),
                        quote_literal(comment)
                    ));
                }
            }
        }
        statements
    }

    /// Runs [`create_statements`](Self::create_statements) on `session`, all or nothing.
    ///
    /// Where DDL is transactional (PostgreSQL, CockroachDB, SQLite) `session` must have been
    /// opened in a transaction: it is committed when every statement succeeded and rolled
    /// back otherwise, so a failing `CREATE INDEX` leaves no table behind. MySQL/MariaDB commit
    /// each DDL statement at once: there, when a statement after the `CREATE TABLE` fails, the
    /// table just created is dropped again (best effort), so that the next call creates it
    /// whole instead of finding it and skipping it without its indexes.
    ///
    /// # Errors
    ///
    /// The error of the first statement that failed.
    pub(crate) async fn create(&self, mut session: Session) -> Result<(), DatabaseError> {
        let dialect = session.config().dialect();
        for (index, sql) in self.create_statements(dialect).iter().enumerate() {
            let Err(error) = session.execute_sql(sql).await else {
                continue;
            };
            tracing::warn!(
                target: "dsg_lib",
                table = self.name,
                "creating the table failed: {error}"
            );
            if transactional_ddl(dialect) {
                // The rollback's own failure changes nothing: the connection's transaction
                // ends with it either way, and the first error is the one to report.
                let _ = session.rollback().await;
            } else if index > 0
                && let Err(cleanup) = session.execute_sql(&self.drop_statement(dialect)).await
            {
                tracing::warn!(
                    target: "dsg_lib",
                    table = self.name,
                    "could not drop the partly created table: {cleanup}"
                );
            }
            return Err(error);
        }
        session.commit().await
    }

    /// `DROP TABLE IF EXISTS`.
    pub(crate) fn drop_statement(&self, dialect: Dialect) -> String {
        dialect::build_schema(dialect, Table::drop().table(self.name).if_exists())
    }
}

/// Whether the dialect runs DDL inside transactions (PostgreSQL, CockroachDB, SQLite), so that
/// a table and its indexes can be created all or nothing. MySQL/MariaDB commit every DDL
/// statement implicitly.
pub(crate) fn transactional_ddl(dialect: Dialect) -> bool {
    dialect::transactional_ddl(dialect)
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Orders tables so that each comes after the tables it references (registration order
/// otherwise). Cycles keep registration order for the tables involved.
pub(crate) fn dependency_order(tables: &[TableDef]) -> Vec<TableDef> {
    let mut ordered: Vec<TableDef> = Vec::with_capacity(tables.len());
    let mut pending: Vec<&TableDef> = tables.iter().collect();
    while !pending.is_empty() {
        let ready = pending.iter().position(|t| {
            t.references().all(|r| {
                ordered.iter().any(|o| o.name == r) || !pending.iter().any(|p| p.name == r)
            })
        });
        // A cycle: take the first pending table as it is.
        let next = pending.remove(ready.unwrap_or(0));
        ordered.push(next.clone());
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_database_functions::core::column::SqlType;
    use crate::async_database_functions::statements::catalog::MAX_GENERATED_NAME;

    fn table(name: &'static str, columns: Vec<Column>) -> TableDef {
        TableDef {
            name,
            columns: Box::leak(columns.into_boxed_slice()),
        }
    }

    #[test]
    fn referenced_tables_come_first() {
        let mut fk = Column::new("user_id", SqlType::String(Some(36)));
        fk.foreign_key = Some(("users", "pkid"));
        let posts = table("posts", vec![fk]);
        let users = table(
            "users",
            vec![Column::new("pkid", SqlType::String(Some(36)))],
        );
        let order: Vec<_> = dependency_order(&[posts, users])
            .iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(order, ["users", "posts"]);
    }

    #[test]
    fn generated_names_of_plain_models_keep_their_form() {
        assert_eq!(generated_name("ix", "users", "name"), "ix_users_name");
        assert_eq!(generated_name("fk", "posts", "user_id"), "fk_posts_user_id");
    }

    #[test]
    fn generated_names_are_identifiers_of_at_most_63_bytes_and_distinct() {
        let long = "t".repeat(63);
        let names = [
            generated_name("ix", "we\"ird", "na`me"),
            generated_name("ix", "we_ird", "na_me"),
            generated_name("ix", "we'ird", "na;me"),
            generated_name("ix", &long, "a"),
            generated_name("ix", &long, "b"),
            generated_name("ix", "caf\u{e9}", "x"),
        ];
        for name in &names {
            assert!(name.len() <= MAX_GENERATED_NAME, "{name}");
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{name}"
            );
        }
        for (i, a) in names.iter().enumerate() {
            assert!(names[i + 1..].iter().all(|b| a != b), "{names:?}");
        }
    }

    #[test]
    fn hostile_names_render_escaped_on_every_dialect() {
        let mut name = Column::new("na\"me`", SqlType::String(Some(10)));
        name.index = true;
        name.foreign_key = Some(("ot'her", "i\"d"));
        let def = table("we\"ird`t", vec![name]);
        for dialect in [Dialect::Sqlite, Dialect::Postgresql, Dialect::Mysql] {
            let statements = def.create_statements(dialect);
            let index = &statements[1];
            assert!(
                index.contains("ix_we_ird_t_na_me__"),
                "{dialect:?}: {index}"
            );
            let create = &statements[0];
            // sea-query leaves the constraint's name out on SQLite.
            assert!(
                dialect == Dialect::Sqlite || create.contains("fk_we_ird_t_na_me__"),
                "{dialect:?}: {create}"
            );
            // Every quote inside a quoted name is doubled.
            let quoted = if dialect.is_mysql_family() {
                "`we\"ird``t`"
            } else {
                "\"we\"\"ird`t\""
            };
            assert!(create.contains(quoted), "{dialect:?}: {create}");
        }
    }

    #[test]
    fn create_table_if_not_exists_only_with_transactional_ddl() {
        let def = table("plain", vec![Column::new("id", SqlType::BigInteger)]);
        for dialect in [Dialect::Sqlite, Dialect::Postgresql] {
            assert!(def.create_statements(dialect)[0].contains("IF NOT EXISTS"));
        }
        assert!(!def.create_statements(Dialect::Mysql)[0].contains("IF NOT EXISTS"));
    }
}
