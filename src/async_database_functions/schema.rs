//! DDL from model metadata: `CREATE TABLE` with constraints, indexes and comments, per dialect,
//! and the order tables are created in.

use sea_query::{ColumnDef, ColumnType, Expr, ForeignKey, Index, Table};

use super::database_config::Dialect;
use super::dialect::{self, CommentStyle};
use super::error::{ConstraintInfo, DatabaseError};
use super::model::{Column, OnDelete};
use super::session::Session;

/// A registered model's table: what `create_tables` needs to know.
#[derive(Debug, Clone)]
pub(crate) struct TableDef {
    pub name: &'static str,
    pub columns: &'static [Column],
}

/// The registered models' tables, shared by an
/// [`AsyncDatabase`](super::async_database::AsyncDatabase) and its sessions: what
/// `create_tables` creates, and which unique index covers which column, so that a unique
/// violation names both whichever one the backend reported (MariaDB names only the index,
/// SQLite only the columns).
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    tables: std::sync::RwLock<Vec<TableDef>>,
}

impl Catalog {
    /// Adds `table` unless a table of that name is registered already.
    pub(crate) fn register(&self, table: TableDef) {
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        if !tables.iter().any(|t| t.name == table.name) {
            tables.push(table);
        }
    }

    /// The registered tables, in registration order.
    pub(crate) fn tables(&self) -> Vec<TableDef> {
        self.tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Completes what a unique violation says of its constraint from the registered models:
    /// the index's name when the backend gave only the column (SQLite), the column and table
    /// when it gave only the index's name (MariaDB, MySQL). Other errors pass unchanged.
    pub(crate) fn complete(&self, error: DatabaseError) -> DatabaseError {
        if !error.is_unique_violation() {
            return error;
        }
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        error.complete_constraint_info(|info| complete_unique(&tables, info))
    }
}

/// See [`Catalog::complete`].
fn complete_unique(tables: &[TableDef], info: &mut ConstraintInfo) {
    let of_table = |t: &&TableDef| info.table.as_deref().is_none_or(|name| name == t.name);
    match (&info.name, info.columns.as_slice()) {
        (Some(name), []) => {
            let found = tables.iter().filter(of_table).find_map(|t| {
                t.unique_indexes()
                    .find(|(index, _)| index == name)
                    .map(|(_, column)| (t.name, column))
            });
            if let Some((table, column)) = found {
                info.table.get_or_insert_with(|| table.to_string());
                info.columns.push(column.to_string());
            }
        }
        (None, [column]) if info.table.is_some() => {
            let found = tables.iter().filter(of_table).find_map(|t| {
                t.unique_indexes()
                    .find(|(_, c)| c == column)
                    .map(|(index, _)| index)
            });
            info.name = found;
        }
        _ => {}
    }
}

impl TableDef {
    /// The tables this one references through foreign keys (itself excluded).
    fn references(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .filter_map(|c| c.foreign_key.map(|(t, _)| t))
            .filter(move |t| *t != self.name)
    }

    /// The unique indexes `create_statements` makes (a `unique, index` column): each index's
    /// name and its column.
    fn unique_indexes(&self) -> impl Iterator<Item = (String, &'static str)> + '_ {
        self.columns
            .iter()
            .filter(|c| c.unique && c.index && !c.primary_key)
            .map(|c| (generated_name("ix", self.name, c.name), c.name))
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

/// The longest generated index or constraint name, in bytes: PostgreSQL's identifier limit
/// (MySQL/MariaDB allow 64).
const MAX_GENERATED_NAME: usize = 63;

/// The name of an index or constraint the library creates: `<prefix>_<table>_<column>`.
///
/// sea-query writes these names between quotes without escaping them, so the name is made of
/// identifier characters only: any other character becomes `_`. A name that had to change, or
/// that is longer than [`MAX_GENERATED_NAME`] bytes (PostgreSQL would silently truncate it,
/// MySQL refuse it), is cut and ends with a hash of the full name, so that two long names with
/// the same beginning stay distinct. Names of models whose table and columns are plain
/// identifiers (as `#[derive(Model)]` requires) and short enough keep the plain form.
fn generated_name(prefix: &str, table: &str, column: &str) -> String {
    let full = format!("{prefix}_{table}_{column}");
    let mut name: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name != full || name.len() > MAX_GENERATED_NAME {
        let hash = format!("_{:08x}", fnv1a(full.as_bytes()));
        // ASCII only by now, so any byte index is a character boundary.
        name.truncate(MAX_GENERATED_NAME - hash.len());
        name.push_str(&hash);
    }
    name
}

/// 32-bit FNV-1a: a stable hash (the same in every build), for [`generated_name`].
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
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
    use crate::async_database_functions::model::SqlType;

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
