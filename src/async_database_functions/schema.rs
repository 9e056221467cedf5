//! DDL from model metadata: `CREATE TABLE` with constraints, indexes and comments, per dialect,
//! and the order tables are created in.

use sea_query::{ColumnDef, ColumnType, Expr, ForeignKey, Index, Table};

use super::database_config::Dialect;
use super::dialect::{self, CommentStyle};
use super::model::Column;

/// A registered model's table: what `create_tables` needs to know.
#[derive(Debug, Clone)]
pub(crate) struct TableDef {
    pub name: &'static str,
    pub columns: &'static [Column],
}

impl TableDef {
    /// The tables this one references through foreign keys (itself excluded).
    fn references(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .filter_map(|c| c.foreign_key.map(|(t, _)| t))
            .filter(move |t| *t != self.name)
    }

    /// The statements that create this table and its indexes and comments.
    pub(crate) fn create_statements(&self, dialect: Dialect) -> Vec<String> {
        let comments = dialect::comment_style(dialect);
        let keys: Vec<&Column> = self.columns.iter().filter(|c| c.primary_key).collect();
        let mut table = Table::create();
        table.table(self.name).if_not_exists();
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
                table.foreign_key(
                    ForeignKey::create()
                        .name(format!("fk_{}_{}", self.name, column.name))
                        .from(self.name, column.name)
                        .to(ref_table, ref_column),
                );
            }
        }
        let mut statements = vec![dialect::build_schema(dialect, &table)];
        for column in self.columns.iter().filter(|c| c.index && !c.primary_key) {
            let mut index = Index::create();
            index
                .name(format!("ix_{}_{}", self.name, column.name))
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

    /// `DROP TABLE IF EXISTS`.
    pub(crate) fn drop_statement(&self, dialect: Dialect) -> String {
        dialect::build_schema(dialect, Table::drop().table(self.name).if_exists())
    }
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
}
