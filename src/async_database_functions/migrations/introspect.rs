//! What a live database holds, per table: its columns (type, nullability, default), its
//! indexes and unique constraints, its foreign keys. Read from `PRAGMA table_info`,
//! `index_list`, `index_info`, `foreign_key_list` (SQLite), `pg_catalog` (PostgreSQL) and
//! `information_schema` (MySQL/MariaDB).

use crate::async_database_functions::database_config::Dialect;
use crate::async_database_functions::error::DatabaseError;
use crate::async_database_functions::session::Session;
use crate::async_database_functions::statement::text;

/// A live column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveColumn {
    pub(crate) name: String,
    /// The type as the database spells it (valid in DDL).
    pub(crate) ty: String,
    pub(crate) nullable: bool,
    /// The default's SQL as the database spells it.
    pub(crate) default: Option<String>,
    /// The column's comment (PostgreSQL, MySQL/MariaDB; SQLite keeps none).
    pub(crate) comment: Option<String>,
}

/// A live index (a unique constraint is one too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveIndex {
    pub(crate) name: String,
    pub(crate) columns: Vec<String>,
    pub(crate) unique: bool,
    /// Made by a `UNIQUE` constraint: PostgreSQL drops it with `DROP CONSTRAINT`, SQLite cannot
    /// drop it without rebuilding the table.
    pub(crate) constraint: bool,
}

/// A live single-column foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveForeignKey {
    pub(crate) name: Option<String>,
    pub(crate) column: String,
    pub(crate) ref_table: String,
    pub(crate) ref_column: String,
    /// `CASCADE`, `SET NULL`, `RESTRICT` (`NO ACTION` reads as `RESTRICT`), `SET DEFAULT`.
    pub(crate) on_delete: String,
}

/// A live table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LiveTable {
    pub(crate) name: String,
    pub(crate) columns: Vec<LiveColumn>,
    pub(crate) indexes: Vec<LiveIndex>,
    pub(crate) foreign_keys: Vec<LiveForeignKey>,
    /// SQLite: the `CREATE TABLE` and `CREATE INDEX` statements it was made with.
    pub(crate) sqlite_sql: Vec<String>,
}

/// The names of the tables of the current database or schema.
pub(crate) async fn table_names(session: &mut Session) -> Result<Vec<String>, DatabaseError> {
    let dialect = session.config().dialect();
    let sql = if dialect == Dialect::Sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    } else if dialect.is_mysql_family() {
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
    } else {
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    };
    session.fetch_all(text(sql)).await
}

/// Tables `names` as they are.
pub(crate) async fn tables(
    session: &mut Session,
    names: &[&str],
) -> Result<Vec<LiveTable>, DatabaseError> {
    let dialect = session.config().dialect();
    if dialect.is_mysql_family() {
        return mysql_tables(session, names).await;
    }
    if dialect.is_postgres_wire() {
        return postgres_tables(session, names).await;
    }
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        tables.push(sqlite_table(session, name).await?);
    }
    Ok(tables)
}

fn rule(rule: &str) -> String {
    match rule.to_ascii_uppercase().as_str() {
        "NO ACTION" | "RESTRICT" | "A" | "R" => "RESTRICT".into(),
        "CASCADE" | "C" => "CASCADE".into(),
        "SET NULL" | "N" => "SET NULL".into(),
        "SET DEFAULT" | "D" => "SET DEFAULT".into(),
        other => other.into(),
    }
}

fn quote_sqlite(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

async fn sqlite_table(session: &mut Session, name: &str) -> Result<LiveTable, DatabaseError> {
    let q = quote_sqlite(name);
    type Info = (i64, String, String, i64, Option<String>, i64);
    let info: Vec<Info> = session
        .fetch_all(text(format!(
            "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info({q})"
        )))
        .await?;
    let columns = info
        .into_iter()
        .map(|(_, name, ty, notnull, default, pk)| LiveColumn {
            name,
            ty,
            nullable: notnull == 0 && pk == 0,
            default,
            comment: None,
        })
        .collect();
    let list: Vec<(String, i64, String)> = session
        .fetch_all(text(format!(
            "SELECT name, \"unique\", origin FROM pragma_index_list({q}) ORDER BY name"
        )))
        .await?;
    let mut indexes = Vec::new();
    for (index, unique, origin) in list {
        if origin == "pk" {
            continue;
        }
        let columns: Vec<String> = session
            .fetch_all(text(format!(
                "SELECT name FROM pragma_index_info({}) ORDER BY seqno",
                quote_sqlite(&index)
            )))
            .await?;
        indexes.push(LiveIndex {
            name: index,
            columns,
            unique: unique != 0,
            constraint: origin == "u",
        });
    }
    type Fk = (String, String, String, String);
    let fks: Vec<Fk> = session
        .fetch_all(text(format!(
            "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list({q}) ORDER BY id, seq"
        )))
        .await?;
    let foreign_keys = fks
        .into_iter()
        .map(
            |(column, ref_table, ref_column, on_delete)| LiveForeignKey {
                name: None,
                column,
                ref_table,
                ref_column,
                on_delete: rule(&on_delete),
            },
        )
        .collect();
    let sqlite_sql: Vec<String> = session
        .fetch_all(
            text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = :t AND sql IS NOT NULL \
                 ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, name",
            )
            .bind("t", name.to_string()),
        )
        .await?;
    Ok(LiveTable {
        name: name.to_string(),
        columns,
        indexes,
        foreign_keys,
        sqlite_sql,
    })
}

/// PostgreSQL: every table of `names` in three queries.
async fn postgres_tables(
    session: &mut Session,
    names: &[&str],
) -> Result<Vec<LiveTable>, DatabaseError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut tables: Vec<LiveTable> = names
        .iter()
        .map(|n| LiveTable {
            name: n.to_string(),
            ..LiveTable::default()
        })
        .collect();
    type Col = (String, String, String, bool, Option<String>, Option<String>);
    let cols: Vec<Col> = session
        .fetch_all(
            text(
                "SELECT t.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                 a.attnotnull, pg_get_expr(d.adbin, d.adrelid), \
                 col_description(a.attrelid, a.attnum) \
                 FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE t.relname = ANY(:t) AND t.relkind = 'r' AND n.nspname = current_schema() \
                 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, a.attnum",
            )
            .bind("t", list.clone()),
        )
        .await?;
    for (table, name, ty, notnull, default, comment) in cols {
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.columns.push(LiveColumn {
                name,
                ty,
                nullable: !notnull,
                default,
                comment,
            });
        }
    }
    type Ix = (String, String, String, bool, bool);
    let rows: Vec<Ix> = session
        .fetch_all(
            text(
                "SELECT t.relname::text, i.relname::text, a.attname::text, ix.indisunique, \
                 EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid \
                 AND c.contype = 'u') \
                 FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_class i ON i.oid = ix.indexrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(ix.indkey) \
                 WHERE t.relname = ANY(:t) AND n.nspname = current_schema() \
                 AND NOT ix.indisprimary \
                 ORDER BY 1, 2, array_position(ix.indkey::int2[], a.attnum)",
            )
            .bind("t", list.clone()),
        )
        .await?;
    for (table, index, column, unique, constraint) in rows {
        let Some(t) = tables.iter_mut().find(|t| t.name == table) else {
            continue;
        };
        match t.indexes.iter_mut().find(|i| i.name == index) {
            Some(i) => i.columns.push(column),
            None => t.indexes.push(LiveIndex {
                name: index,
                columns: vec![column],
                unique,
                constraint,
            }),
        }
    }
    type Fk = (String, String, String, String, String, String);
    let fks: Vec<Fk> = session
        .fetch_all(
            text(
                "SELECT t.relname::text, c.conname::text, a.attname::text, rt.relname::text, \
                 ra.attname::text, c.confdeltype::text \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_class rt ON rt.oid = c.confrelid \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                 JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1] \
                 WHERE c.contype = 'f' AND t.relname = ANY(:t) AND n.nspname = current_schema() \
                 ORDER BY 1, 2",
            )
            .bind("t", list),
        )
        .await?;
    for (table, fk, column, ref_table, ref_column, on_delete) in fks {
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.foreign_keys.push(LiveForeignKey {
                name: Some(fk),
                column,
                ref_table,
                ref_column,
                on_delete: rule(&on_delete),
            });
        }
    }
    Ok(tables)
}

/// MySQL/MariaDB: every table of `names` in three queries (`information_schema` answers
/// slowly per query).
async fn mysql_tables(
    session: &mut Session,
    names: &[&str],
) -> Result<Vec<LiveTable>, DatabaseError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..names.len()).map(|i| format!(":t{i}")).collect();
    let list = list.join(", ");
    let bind = |sql: String| {
        names.iter().enumerate().fold(text(sql), |t, (i, n)| {
            t.bind(format!("t{i}"), n.to_string())
        })
    };
    let mut tables: Vec<LiveTable> = names
        .iter()
        .map(|n| LiveTable {
            name: n.to_string(),
            ..LiveTable::default()
        })
        .collect();
    type Col = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let cols: Vec<Col> = session
        .fetch_all(bind(format!(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
             CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_DEFAULT AS CHAR), \
             CAST(COLUMN_COMMENT AS CHAR) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME IN ({list}) ORDER BY TABLE_NAME, ORDINAL_POSITION"
        )))
        .await?;
    for (table, name, ty, nullable, default, comment) in cols {
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.columns.push(LiveColumn {
                name,
                ty,
                nullable: nullable == "YES",
                // MariaDB reports a nullable column without a default as the text NULL.
                default: default.filter(|d| !d.eq_ignore_ascii_case("NULL")),
                comment: comment.filter(|c| !c.is_empty()),
            });
        }
    }
    type Ix = (String, String, String, i64);
    let rows: Vec<Ix> = session
        .fetch_all(bind(format!(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
             CAST(NON_UNIQUE AS SIGNED) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({list}) \
             AND INDEX_NAME <> 'PRIMARY' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        )))
        .await?;
    for (table, index, column, non_unique) in rows {
        let Some(t) = tables.iter_mut().find(|t| t.name == table) else {
            continue;
        };
        match t.indexes.iter_mut().find(|i| i.name == index) {
            Some(i) => i.columns.push(column),
            None => t.indexes.push(LiveIndex {
                name: index,
                columns: vec![column],
                unique: non_unique == 0,
                constraint: false,
            }),
        }
    }
    type Fk = (String, String, String, String, String, String);
    let fks: Vec<Fk> = session
        .fetch_all(bind(format!(
            "SELECT CAST(k.TABLE_NAME AS CHAR), CAST(k.CONSTRAINT_NAME AS CHAR), \
             CAST(k.COLUMN_NAME AS CHAR), CAST(k.REFERENCED_TABLE_NAME AS CHAR), \
             CAST(k.REFERENCED_COLUMN_NAME AS CHAR), CAST(r.DELETE_RULE AS CHAR) \
             FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
             ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
             AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME IN ({list}) \
             AND k.REFERENCED_TABLE_NAME IS NOT NULL ORDER BY 1, 2"
        )))
        .await?;
    for (table, fk, column, ref_table, ref_column, on_delete) in fks {
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.foreign_keys.push(LiveForeignKey {
                name: Some(fk),
                column,
                ref_table,
                ref_column,
                on_delete: rule(&on_delete),
            });
        }
    }
    Ok(tables)
}
