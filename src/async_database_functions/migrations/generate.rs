//! Migrations generated from the registered models: the difference between the models and the
//! live database, as up and down SQL in the database's dialect (Alembic's autogenerate).
//!
//! What it sees: tables added (and dropped, when asked), columns added, dropped and renamed (a
//! rename only when asked: `#[model(renamed_from = "old")]` on the field or
//! [`GenerateOptions::rename_column`], never guessed), type and size,
//! nullability, default and comment changes (comments on PostgreSQL and MySQL/MariaDB: SQLite
//! keeps none), indexes and unique constraints, single-column foreign keys. Not yet: primary
//! key changes. SQLite, whose `ALTER TABLE` cannot change a column or a foreign key, gets its
//! documented table rebuild (the new table created under another name and filled, the old one
//! dropped, the new one renamed, the indexes made again), with foreign keys off for the run and
//! checked after each migration ([`FOREIGN_KEYS_OFF`](super::FOREIGN_KEYS_OFF)).

use std::path::{Path, PathBuf};

use crate::async_database_functions::async_database::AsyncDatabase;
use crate::async_database_functions::database_config::Dialect;
use crate::async_database_functions::dialect;
use crate::async_database_functions::error::DatabaseError;
use crate::async_database_functions::model::{Column, OnDelete};
use crate::async_database_functions::statements::catalog::TableDef;
use crate::async_database_functions::statements::schema;

use super::history;
use super::introspect::{self, LiveColumn, LiveIndex, LiveTable};
use super::source::COUNTER_LIMIT;

/// What [`AsyncDatabase::generate_migration`] compares and how.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    renames: Vec<(String, String, String)>,
    drop_tables: bool,
    history_table: String,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            renames: Vec::new(),
            drop_tables: false,
            history_table: history::DEFAULT_TABLE.to_string(),
        }
    }
}

impl GenerateOptions {
    /// The default options: no renames, tables the models do not have are left alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Column `from` of `table` is now the model's column `to` (a rename keeps the data; without
    /// this, the diff is a dropped column and an added one).
    pub fn rename_column(mut self, table: &str, from: &str, to: &str) -> Self {
        self.renames
            .push((table.to_string(), from.to_string(), to.to_string()));
        self
    }

    /// Drops the database's tables no registered model has (the history table excepted). Off
    /// by default: a database often holds tables of other programs.
    pub fn drop_unknown_tables(mut self, drop: bool) -> Self {
        self.drop_tables = drop;
        self
    }

    /// The history table to leave alone, when it is not `dsg_migrations`.
    pub fn history_table(mut self, name: &str) -> Self {
        self.history_table = name.to_string();
        self
    }
}

/// A generated migration: its up and down statements, and what it could not do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GeneratedMigration {
    /// The statements that bring the database to the models.
    pub up: Vec<String>,
    /// The statements that undo them (a dropped column comes back empty).
    pub down: Vec<String>,
    /// What needs a person: a NOT NULL column added without a default, a dropped table, a
    /// change the generator does not make.
    pub notes: Vec<String>,
    /// SQLite: a table is rebuilt, so the migration runs with foreign keys off (its files
    /// start with [`FOREIGN_KEYS_OFF`](super::FOREIGN_KEYS_OFF)).
    pub foreign_keys_off: bool,
}

impl GeneratedMigration {
    /// Whether the database already matches the models.
    pub fn is_empty(&self) -> bool {
        self.up.is_empty()
    }

    /// The up part as a file's text: the notes as comments, then the statements.
    pub fn up_sql(&self) -> String {
        script(self.foreign_keys_off, &self.notes, &self.up)
    }

    /// The down part as a file's text.
    pub fn down_sql(&self) -> String {
        script(self.foreign_keys_off, &[], &self.down)
    }

    /// Writes `<version>_<name>.up.sql` and `.down.sql` into folder `dir` (created if needed),
    /// the version following the folder's last one (a counter, `0001` for the first; a
    /// timestamp when the folder uses timestamps). Returns the up file's path.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput) for a
    /// name that is not letters, digits and `_`, a folder that cannot be read or written.
    pub fn write(&self, dir: impl AsRef<Path>, name: &str) -> Result<PathBuf, DatabaseError> {
        let dir = dir.as_ref();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(DatabaseError::invalid_input(format!(
                "the migration's name {name:?} must be letters, digits and _"
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            DatabaseError::invalid_input(format!("{} cannot be created: {e}", dir.display()))
        })?;
        let existing = if dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
        {
            super::source::Migrations::from_dir(dir)?.latest()
        } else {
            None
        };
        let version = match existing {
            Some(v) if v >= COUNTER_LIMIT => chrono::Utc::now()
                .format("%Y%m%d%H%M%S")
                .to_string()
                .parse::<i64>()
                .unwrap_or(v + 1)
                .max(v + 1),
            Some(v) => v + 1,
            None => 1,
        };
        let stem = if version < COUNTER_LIMIT {
            format!("{version:04}_{name}")
        } else {
            format!("{version}_{name}")
        };
        let up = dir.join(format!("{stem}.up.sql"));
        let write = |path: &Path, text: String| {
            std::fs::write(path, text).map_err(|e| {
                DatabaseError::invalid_input(format!("{} cannot be written: {e}", path.display()))
            })
        };
        write(&up, self.up_sql())?;
        write(&dir.join(format!("{stem}.down.sql")), self.down_sql())?;
        Ok(up)
    }
}

fn script(foreign_keys_off: bool, notes: &[String], statements: &[String]) -> String {
    let mut text = String::new();
    if foreign_keys_off {
        text.push_str(&format!(
            "-- {} (SQLite's table rebuild)\n",
            super::FOREIGN_KEYS_OFF
        ));
    }
    for note in notes {
        text.push_str(&format!("-- NOTE: {}\n", note.replace('\n', " ")));
    }
    if !notes.is_empty() {
        text.push('\n');
    }
    for statement in statements {
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

impl AsyncDatabase {
    /// The migration that brings the live database to the registered models: see the
    /// [module docs](crate::async_database_functions::migrations::generate). Empty when they match, so generating again right after applying
    /// gives nothing.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    /// use dsg_lib::async_database_functions::migrations::{GenerateOptions, Migration, Migrations};
    ///
    /// #[derive(Model, Debug, Clone)]
    /// #[model(table = "pets")]
    /// struct Pet {
    ///     #[model(primary_key)]
    ///     id: i64,
    ///     #[model(size = 50, index)]
    ///     name: String,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// db.register::<Pet>();
    /// let first = db.generate_migration(&GenerateOptions::new()).await?;
    /// assert!(first.up[0].starts_with("CREATE TABLE"));
    /// let set = Migrations::new(vec![Migration::sql(1, "pets", first.up_sql(), Some(first.down_sql()))])?;
    /// db.migrate(&set).await?;
    /// assert!(db.generate_migration(&GenerateOptions::new()).await?.is_empty());
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// The database's errors while reading its catalog.
    pub async fn generate_migration(
        &self,
        options: &GenerateOptions,
    ) -> Result<GeneratedMigration, DatabaseError> {
        let dialect = self.config().dialect();
        let mut session = self.get_db_session().await?;
        let names = introspect::table_names(&mut session).await?;
        let models = schema::dependency_order(&self.tables());
        let present: Vec<&str> = models
            .iter()
            .map(|m| m.name)
            .filter(|m| names.iter().any(|n| n == m))
            .collect();
        let live = introspect::tables(&mut session, &present).await?;
        session.commit().await?;
        let mut out = GeneratedMigration::default();
        let mut foreign_keys_up = Vec::new();
        let mut foreign_keys_down = Vec::new();
        for model in &models {
            match live.iter().find(|l| l.name == model.name) {
                None => {
                    out.up.extend(model.create_statements(dialect));
                    out.down.insert(0, model.drop_statement(dialect));
                }
                Some(table) => {
                    let diff = TableDiff::new(dialect, model, table, options);
                    diff.emit(&mut out, &mut foreign_keys_up, &mut foreign_keys_down);
                }
            }
        }
        out.up.extend(foreign_keys_up);
        foreign_keys_down.extend(std::mem::take(&mut out.down));
        out.down = foreign_keys_down;
        if options.drop_tables {
            for name in &names {
                let known = models.iter().any(|m| m.name == name)
                    || *name == options.history_table
                    || name.starts_with("_dsg_");
                if !known {
                    out.up.push(format!("DROP TABLE {}", quote(dialect, name)));
                    out.notes.push(format!(
                        "table {name} is dropped with its data; the down part does not bring \
                         it back"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Quotes an identifier for `dialect`.
fn quote(dialect: Dialect, name: &str) -> String {
    if dialect.is_mysql_family() {
        format!("`{}`", name.replace('`', "``"))
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal for `dialect` (MySQL/MariaDB also escape backslashes).
fn literal(dialect: Dialect, text: &str) -> String {
    let text = text.replace('\'', "''");
    if dialect.is_mysql_family() {
        format!("'{}'", text.replace('\\', "\\\\"))
    } else {
        format!("'{text}'")
    }
}

/// The model column's type on `dialect`, for comparison and for DDL.
fn model_type(dialect: Dialect, column: &Column) -> String {
    dialect::column_type_sql(dialect, column)
}

/// The model column's default SQL on `dialect`.
fn model_default(dialect: Dialect, column: &Column) -> Option<String> {
    column.default.map(str::to_string).or_else(|| {
        column
            .server_default
            .and_then(|d| dialect::server_default_sql(dialect, d, column.sql_type))
            .map(str::to_string)
    })
}

/// A type as a comparable string: upper case, single spaces, the dialect's synonyms folded.
pub(crate) fn norm_type(dialect: Dialect, ty: &str) -> String {
    let mut t = ty
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
        .replace(", ", ",")
        .replace(" (", "(");
    t = t.replace(" GENERATED BY DEFAULT AS IDENTITY", "");
    if dialect.is_postgres_wire() {
        for (from, to) in [
            ("CHARACTER VARYING", "VARCHAR"),
            ("TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP"),
            ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"),
            ("TIME WITHOUT TIME ZONE", "TIME"),
            ("CHARACTER(", "CHAR("),
        ] {
            t = t.replace(from, to);
        }
        t = match t.as_str() {
            "INT" | "INT4" => "INTEGER".into(),
            "INT8" => "BIGINT".into(),
            "INT2" => "SMALLINT".into(),
            "BOOL" => "BOOLEAN".into(),
            "FLOAT8" => "DOUBLE PRECISION".into(),
            "FLOAT4" => "REAL".into(),
            _ => t,
        };
    } else if dialect.is_mysql_family() {
        t = match t.as_str() {
            "BOOL" | "BOOLEAN" => "TINYINT(1)".into(),
            "INTEGER" => "INT".into(),
            "JSON" => "LONGTEXT".into(),
            _ => t,
        };
        for int in ["TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT"] {
            if t.starts_with(&format!("{int}("))
                && t != "TINYINT(1)"
                && let Some(end) = t.find(')')
            {
                t = format!("{int}{}", &t[end + 1..]);
            }
        }
    }
    t
}

/// A default as a comparable string: lower case, outer parentheses, PostgreSQL casts and
/// quotes taken off.
pub(crate) fn norm_default(default: &str) -> String {
    let mut d = default.trim().to_ascii_lowercase();
    // PostgreSQL's casts: `'x'::character varying`, `'utc'::text`.
    while let Some(at) = d.find("::") {
        let rest = &d[at + 2..];
        let len = rest
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == ' ')
            .map(|(i, c)| i + c.len_utf8())
            .last()
            .unwrap_or(0);
        let cut = rest[..len].trim_end().len();
        d = format!("{}{}", &d[..at], &rest[cut..]);
    }
    loop {
        let t = d.trim();
        if t.starts_with('(') && t.ends_with(')') && balanced(&t[1..t.len() - 1]) {
            d = t[1..t.len() - 1].to_string();
        } else {
            d = t.to_string();
            break;
        }
    }
    d = d.replace("current_timestamp()", "current_timestamp");
    if d.len() >= 2 && d.starts_with('\'') && d.ends_with('\'') {
        d = d[1..d.len() - 1].to_string();
    }
    d
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

fn same_default(model: Option<&str>, live: Option<&str>) -> bool {
    match (model, live) {
        (None, None) => true,
        // PostgreSQL's serial columns: a sequence's default the model does not spell.
        (None, Some(l)) => l.starts_with("nextval("),
        (Some(m), Some(l)) => norm_default(m) == norm_default(l),
        (Some(_), None) => false,
    }
}

fn on_delete(column: &Column) -> &'static str {
    match column.on_delete {
        Some(OnDelete::Cascade) => "CASCADE",
        Some(OnDelete::SetNull) => "SET NULL",
        Some(OnDelete::Restrict) | None => "RESTRICT",
    }
}

/// An index the models want: its columns and whether it is unique.
struct WantedIndex {
    name: String,
    column: &'static str,
    unique: bool,
}

/// One table's differences.
struct TableDiff<'a> {
    dialect: Dialect,
    model: &'a TableDef,
    live: &'a LiveTable,
    /// (live column, model column) pairs matched by name or by a rename asked for.
    matched: Vec<(&'a LiveColumn, &'a Column)>,
    added: Vec<&'a Column>,
    dropped: Vec<&'a LiveColumn>,
    renamed: Vec<(&'a str, &'static str)>,
    /// Columns whose type, nullability or default differ.
    changed: Vec<(&'a LiveColumn, &'a Column)>,
    indexes_added: Vec<WantedIndex>,
    indexes_dropped: Vec<&'a LiveIndex>,
    fks_added: Vec<&'a Column>,
    fks_dropped: Vec<&'a introspect::LiveForeignKey>,
}

impl<'a> TableDiff<'a> {
    fn new(
        dialect: Dialect,
        model: &'a TableDef,
        live: &'a LiveTable,
        options: &GenerateOptions,
    ) -> Self {
        let mut diff = TableDiff {
            dialect,
            model,
            live,
            matched: Vec::new(),
            added: Vec::new(),
            dropped: Vec::new(),
            renamed: Vec::new(),
            changed: Vec::new(),
            indexes_added: Vec::new(),
            indexes_dropped: Vec::new(),
            fks_added: Vec::new(),
            fks_dropped: Vec::new(),
        };
        let rename_from = |to: &str| {
            options
                .renames
                .iter()
                .find(|(t, _, r)| t == model.name && r == to)
                .map(|(_, from, _)| from.as_str())
        };
        for column in model.columns {
            let by_name = live.columns.iter().find(|l| l.name == column.name);
            let found = by_name.or_else(|| {
                let from = rename_from(column.name).or(column.renamed_from)?;
                let l = live.columns.iter().find(|l| l.name == from)?;
                diff.renamed.push((l.name.as_str(), column.name));
                Some(l)
            });
            match found {
                Some(l) => diff.matched.push((l, column)),
                None => diff.added.push(column),
            }
        }
        for l in &live.columns {
            if !diff.matched.iter().any(|(m, _)| m.name == l.name) {
                diff.dropped.push(l);
            }
        }
        for &(l, column) in &diff.matched {
            if column.primary_key {
                continue;
            }
            let ty_differs =
                norm_type(dialect, &l.ty) != norm_type(dialect, &model_type(dialect, column));
            let default = model_default(dialect, column);
            let comment_differs =
                dialect != Dialect::Sqlite && l.comment.as_deref() != column.comment;
            if ty_differs
                || comment_differs
                || l.nullable != column.nullable
                || !same_default(default.as_deref(), l.default.as_deref())
            {
                diff.changed.push((l, column));
            }
        }
        // Indexes: the models' `index` columns and their unique constraints.
        let fk_names: Vec<&str> = live
            .foreign_keys
            .iter()
            .filter_map(|f| f.name.as_deref())
            .collect();
        let live_name = |column: &str| {
            diff.renamed
                .iter()
                .find(|(_, to)| *to == column)
                .map_or(column.to_string(), |(from, _)| from.to_string())
        };
        let mut wanted = Vec::new();
        for column in model.columns.iter().filter(|c| !c.primary_key) {
            if column.index || column.unique {
                let prefix = if column.index { "ix" } else { "uq" };
                wanted.push(WantedIndex {
                    name: index_name(prefix, model.name, column.name),
                    column: column.name,
                    unique: column.unique,
                });
            }
        }
        let candidates: Vec<&LiveIndex> = live
            .indexes
            .iter()
            .filter(|i| !fk_names.contains(&i.name.as_str()))
            .collect();
        for w in wanted {
            let old = live_name(w.column);
            let found = candidates
                .iter()
                .any(|i| i.columns == [old.clone()] && i.unique == w.unique);
            if !found {
                diff.indexes_added.push(w);
            }
        }
        for i in candidates {
            let wanted_here = model.columns.iter().any(|c| {
                !c.primary_key
                    && (c.index || c.unique)
                    && i.columns == [live_name(c.name)]
                    && i.unique == c.unique
            });
            let ours = i.name.starts_with("ix_")
                || i.name.starts_with("uq_")
                || i.constraint
                || (dialect.is_mysql_family() && i.unique && i.columns == [i.name.clone()]);
            if !wanted_here && ours {
                diff.indexes_dropped.push(i);
            }
        }
        // Foreign keys.
        for column in model.columns {
            let Some((ref_table, ref_column)) = column.foreign_key else {
                continue;
            };
            let old = live_name(column.name);
            let found = live.foreign_keys.iter().any(|f| {
                f.column == old
                    && f.ref_table == ref_table
                    && f.ref_column == ref_column
                    && f.on_delete == on_delete(column)
            });
            if !found {
                diff.fks_added.push(column);
            }
        }
        for f in &live.foreign_keys {
            let kept = model.columns.iter().any(|c| {
                c.foreign_key.is_some_and(|(t, rc)| {
                    live_name(c.name) == f.column
                        && t == f.ref_table
                        && rc == f.ref_column
                        && on_delete(c) == f.on_delete
                })
            });
            if !kept {
                diff.fks_dropped.push(f);
            }
        }
        diff
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.dropped.is_empty()
            && self.renamed.is_empty()
            && self.changed.is_empty()
            && self.indexes_added.is_empty()
            && self.indexes_dropped.is_empty()
            && self.fks_added.is_empty()
            && self.fks_dropped.is_empty()
    }

    /// SQLite: whether `ALTER TABLE` can do it, or the table must be rebuilt.
    fn needs_rebuild(&self) -> bool {
        self.dialect == Dialect::Sqlite
            && (!self.dropped.is_empty()
                || !self.changed.is_empty()
                || !self.fks_added.is_empty()
                || !self.fks_dropped.is_empty()
                || self.indexes_dropped.iter().any(|i| i.constraint)
                || self.added.iter().any(|c| {
                    (!c.nullable && model_default(self.dialect, c).is_none())
                        || c.primary_key
                        || (c.unique && !c.index)
                        || c.foreign_key.is_some()
                        || c.server_default.is_some()
                }))
    }

    fn emit(
        &self,
        out: &mut GeneratedMigration,
        fks_up: &mut Vec<String>,
        fks_down: &mut Vec<String>,
    ) {
        if self.is_empty() {
            return;
        }
        if self.needs_rebuild() {
            self.emit_rebuild(out);
            return;
        }
        let d = self.dialect;
        let t = quote(d, self.model.name);
        let mut up = Vec::new();
        let mut down = Vec::new();
        for f in &self.fks_dropped {
            if let Some(name) = &f.name {
                let kind = if d.is_mysql_family() {
                    "FOREIGN KEY"
                } else {
                    "CONSTRAINT"
                };
                up.push(format!("ALTER TABLE {t} DROP {kind} {}", quote(d, name)));
                down.push(format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
                    quote(d, name),
                    quote(d, &f.column),
                    quote(d, &f.ref_table),
                    quote(d, &f.ref_column),
                    f.on_delete
                ));
            }
        }
        for i in &self.indexes_dropped {
            up.push(self.drop_index(i));
            down.push(self.create_live_index(i));
        }
        for (from, to) in &self.renamed {
            up.push(format!(
                "ALTER TABLE {t} RENAME COLUMN {} TO {}",
                quote(d, from),
                quote(d, to)
            ));
            down.push(format!(
                "ALTER TABLE {t} RENAME COLUMN {} TO {}",
                quote(d, to),
                quote(d, from)
            ));
        }
        for c in &self.added {
            up.push(format!("ALTER TABLE {t} ADD COLUMN {}", self.column_def(c)));
            if let (Some(comment), true) = (c.comment, d.is_postgres_wire()) {
                up.push(format!(
                    "COMMENT ON COLUMN {t}.{} IS {}",
                    quote(d, c.name),
                    literal(d, comment)
                ));
            }
            down.push(format!("ALTER TABLE {t} DROP COLUMN {}", quote(d, c.name)));
            if !c.nullable && model_default(d, c).is_none() {
                out.notes.push(format!(
                    "{}.{} is added NOT NULL without a default: a table with rows refuses it; \
                     give it a default, or add it nullable, fill it, then make it NOT NULL",
                    self.model.name, c.name
                ));
            }
        }
        for (l, c) in &self.changed {
            let (u, dn) = self.alter_column(l, c);
            up.extend(u);
            down.extend(dn);
        }
        for l in &self.dropped {
            up.push(format!("ALTER TABLE {t} DROP COLUMN {}", quote(d, &l.name)));
            down.push(format!(
                "ALTER TABLE {t} ADD COLUMN {}",
                self.live_def(l, true)
            ));
            out.notes.push(format!(
                "{}.{} is dropped with its data; the down part adds it back empty",
                self.model.name, l.name
            ));
        }
        for w in &self.indexes_added {
            up.push(format!(
                "CREATE {}INDEX {} ON {t} ({})",
                if w.unique { "UNIQUE " } else { "" },
                quote(d, &w.name),
                quote(d, w.column)
            ));
            down.push(if d.is_mysql_family() {
                format!("DROP INDEX {} ON {t}", quote(d, &w.name))
            } else {
                format!("DROP INDEX {}", quote(d, &w.name))
            });
        }
        for c in &self.fks_added {
            if let Some((rt, rc)) = c.foreign_key {
                let name = index_name("fk", self.model.name, c.name);
                fks_up.push(format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
                    quote(d, &name),
                    quote(d, c.name),
                    quote(d, rt),
                    quote(d, rc),
                    on_delete(c)
                ));
                let kind = if d.is_mysql_family() {
                    "FOREIGN KEY"
                } else {
                    "CONSTRAINT"
                };
                fks_down.insert(
                    0,
                    format!("ALTER TABLE {t} DROP {kind} {}", quote(d, &name)),
                );
            }
        }
        out.up.extend(up);
        down.reverse();
        out.down.splice(0..0, down);
    }

    /// `name TYPE [NOT NULL] [DEFAULT x]` of a model column.
    fn column_def(&self, c: &Column) -> String {
        let d = self.dialect;
        let mut def = format!("{} {}", quote(d, c.name), model_type(d, c));
        if !c.nullable {
            def.push_str(" NOT NULL");
        }
        if let Some(default) = model_default(d, c) {
            def.push_str(&format!(" DEFAULT {default}"));
        }
        if let (Some(comment), true) = (c.comment, d.is_mysql_family()) {
            def.push_str(&format!(" COMMENT {}", literal(d, comment)));
        }
        def
    }

    /// The definition of a live column, to bring it back. `dropped`: its values are gone, so a
    /// NOT NULL column without a default comes back nullable.
    fn live_def(&self, l: &LiveColumn, dropped: bool) -> String {
        let mut def = format!("{} {}", quote(self.dialect, &l.name), l.ty);
        let comes_back_null = l.nullable || (dropped && l.default.is_none());
        if !comes_back_null {
            def.push_str(" NOT NULL");
        }
        if let Some(default) = &l.default {
            def.push_str(&format!(" DEFAULT {default}"));
        }
        if let (Some(comment), true) = (&l.comment, self.dialect.is_mysql_family()) {
            def.push_str(&format!(" COMMENT {}", literal(self.dialect, comment)));
        }
        def
    }

    fn alter_column(&self, l: &LiveColumn, c: &Column) -> (Vec<String>, Vec<String>) {
        let d = self.dialect;
        let t = quote(d, self.model.name);
        let name = quote(d, c.name);
        if d.is_mysql_family() {
            return (
                vec![format!(
                    "ALTER TABLE {t} MODIFY COLUMN {}",
                    self.column_def(c)
                )],
                vec![format!(
                    "ALTER TABLE {t} MODIFY COLUMN {}",
                    self.live_def(
                        &LiveColumn {
                            name: c.name.to_string(),
                            ..l.clone()
                        },
                        false
                    )
                )],
            );
        }
        let mut up = Vec::new();
        let mut down = Vec::new();
        let new_ty = model_type(d, c);
        if norm_type(d, &l.ty) != norm_type(d, &new_ty) {
            let bare = new_ty.replace(" GENERATED BY DEFAULT AS IDENTITY", "");
            up.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {name} TYPE {bare} USING {name}::{bare}"
            ));
            down.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {name} TYPE {} USING {name}::{}",
                l.ty, l.ty
            ));
        }
        let default = model_default(d, c);
        if !same_default(default.as_deref(), l.default.as_deref()) {
            up.push(match &default {
                Some(x) => format!("ALTER TABLE {t} ALTER COLUMN {name} SET DEFAULT {x}"),
                None => format!("ALTER TABLE {t} ALTER COLUMN {name} DROP DEFAULT"),
            });
            down.push(match &l.default {
                Some(x) => format!("ALTER TABLE {t} ALTER COLUMN {name} SET DEFAULT {x}"),
                None => format!("ALTER TABLE {t} ALTER COLUMN {name} DROP DEFAULT"),
            });
        }
        if l.comment.as_deref() != c.comment {
            let text =
                |comment: Option<&str>| comment.map_or("NULL".to_string(), |x| literal(d, x));
            up.push(format!(
                "COMMENT ON COLUMN {t}.{name} IS {}",
                text(c.comment)
            ));
            down.push(format!(
                "COMMENT ON COLUMN {t}.{name} IS {}",
                text(l.comment.as_deref())
            ));
        }
        if l.nullable != c.nullable {
            let (set, unset) = ("SET NOT NULL", "DROP NOT NULL");
            let (u, dn) = if c.nullable {
                (unset, set)
            } else {
                (set, unset)
            };
            up.push(format!("ALTER TABLE {t} ALTER COLUMN {name} {u}"));
            down.push(format!("ALTER TABLE {t} ALTER COLUMN {name} {dn}"));
        }
        down.reverse();
        (up, down)
    }

    fn drop_index(&self, i: &LiveIndex) -> String {
        let d = self.dialect;
        let t = quote(d, self.model.name);
        if d.is_mysql_family() {
            format!("DROP INDEX {} ON {t}", quote(d, &i.name))
        } else if i.constraint {
            format!("ALTER TABLE {t} DROP CONSTRAINT {}", quote(d, &i.name))
        } else {
            format!("DROP INDEX {}", quote(d, &i.name))
        }
    }

    fn create_live_index(&self, i: &LiveIndex) -> String {
        let d = self.dialect;
        let t = quote(d, self.model.name);
        let columns: Vec<String> = i.columns.iter().map(|c| quote(d, c)).collect();
        if i.constraint && d.is_postgres_wire() {
            format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} UNIQUE ({})",
                quote(d, &i.name),
                columns.join(", ")
            )
        } else {
            format!(
                "CREATE {}INDEX {} ON {t} ({})",
                if i.unique { "UNIQUE " } else { "" },
                quote(d, &i.name),
                columns.join(", ")
            )
        }
    }

    /// SQLite's table rebuild, as <https://www.sqlite.org/lang_altertable.html#otheralter>
    /// says: the new table created under another name and filled, the old one dropped, the
    /// new one renamed, the indexes made again; foreign keys off for the run
    /// ([`FOREIGN_KEYS_OFF`](super::FOREIGN_KEYS_OFF)) and checked after.
    fn emit_rebuild(&self, out: &mut GeneratedMigration) {
        let d = self.dialect;
        let name = self.model.name;
        let new = format!("_dsg_new_{name}");
        let t = quote(d, name);
        let n = quote(d, &new);
        out.foreign_keys_off = true;
        let (into, from): (Vec<String>, Vec<String>) = self
            .matched
            .iter()
            .map(|(l, c)| (quote(d, c.name), quote(d, &l.name)))
            .unzip();
        let create = self.model.create_statements(d);
        let mut up = vec![rename_create(&create[0], &n)];
        up.push(format!(
            "INSERT INTO {n} ({}) SELECT {} FROM {t}",
            into.join(", "),
            from.join(", ")
        ));
        up.push(format!("DROP TABLE {t}"));
        up.push(format!("ALTER TABLE {n} RENAME TO {t}"));
        up.extend(create[1..].iter().cloned());
        // Down: the table as it was (its own CREATE statements), filled back.
        let (tables, indexes): (Vec<&String>, Vec<&String>) =
            self.live.sqlite_sql.iter().partition(|s| {
                s.trim_start()
                    .to_ascii_uppercase()
                    .starts_with("CREATE TABLE")
            });
        let mut ordered: Vec<String> = tables.iter().map(|s| rename_create(s, &n)).collect();
        ordered.push(format!(
            "INSERT INTO {n} ({}) SELECT {} FROM {t}",
            from.join(", "),
            into.join(", ")
        ));
        ordered.push(format!("DROP TABLE {t}"));
        ordered.push(format!("ALTER TABLE {n} RENAME TO {t}"));
        ordered.extend(indexes.into_iter().cloned());
        for l in &self.dropped {
            out.notes.push(format!(
                "{name}.{} is dropped with its data; the down part brings it back empty",
                l.name
            ));
        }
        for c in &self.added {
            if !c.nullable && model_default(d, c).is_none() {
                out.notes.push(format!(
                    "{name}.{} is added NOT NULL without a default: the copy of the existing \
                     rows fails; give it a default",
                    c.name
                ));
            }
        }
        out.up.extend(up);
        out.down.splice(0..0, ordered);
    }
}

/// `sql`, a `CREATE TABLE`, creating table `quoted` instead.
fn rename_create(sql: &str, quoted: &str) -> String {
    let upper = sql.to_ascii_uppercase();
    let mut at = upper.find("TABLE").map_or(0, |i| i + "TABLE".len());
    let rest = upper[at..].trim_start();
    at = upper.len() - rest.len();
    if rest.starts_with("IF NOT EXISTS") {
        at += "IF NOT EXISTS".len();
        at = upper.len() - upper[at..].trim_start().len();
    }
    let bytes = sql.as_bytes();
    let end = match bytes.get(at) {
        Some(b'"') | Some(b'`') | Some(b'[') => {
            let close = match bytes[at] {
                b'[' => b']',
                q => q,
            };
            let mut i = at + 1;
            while i < bytes.len() {
                if bytes[i] == close {
                    if bytes.get(i + 1) == Some(&close) && close != b']' {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            (i + 1).min(bytes.len())
        }
        _ => {
            at + bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count()
        }
    };
    format!("{}{quoted}{}", &sql[..at], &sql[end..])
}

/// `<prefix>_<table>_<column>`, as `create_tables` names indexes and constraints.
fn index_name(prefix: &str, table: &str, column: &str) -> String {
    let mut name = format!("{prefix}_{table}_{column}");
    name.truncate(63);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_database_functions::model::SqlType;

    fn live(name: &str, ty: &str) -> LiveColumn {
        LiveColumn {
            name: name.into(),
            ty: ty.into(),
            nullable: true,
            default: None,
            comment: None,
        }
    }

    /// The renames a diff of `columns` against a live table (`id`, `nickname`) finds, and the
    /// columns it would add and drop.
    fn renames(
        columns: Vec<Column>,
        options: &GenerateOptions,
    ) -> (Vec<(String, String)>, Vec<String>, Vec<String>) {
        let model = TableDef {
            name: "users",
            columns: Box::leak(columns.into_boxed_slice()),
        };
        let table = LiveTable {
            name: "users".into(),
            columns: vec![
                live("id", "bigint"),
                live("nickname", "character varying(40)"),
            ],
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            sqlite_sql: Vec::new(),
        };
        let diff = TableDiff::new(Dialect::Postgresql, &model, &table, options);
        (
            diff.renamed
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            diff.added.iter().map(|c| c.name.to_string()).collect(),
            diff.dropped.iter().map(|c| c.name.clone()).collect(),
        )
    }

    #[test]
    fn a_rename_is_taken_from_the_attribute_or_the_option_never_guessed() {
        let id = Column {
            primary_key: true,
            ..Column::new("id", SqlType::BigInteger)
        };
        let handle = Column {
            nullable: true,
            ..Column::new("handle", SqlType::String(Some(40)))
        };
        let renamed = (
            vec![("nickname".to_string(), "handle".to_string())],
            Vec::new(),
            Vec::new(),
        );
        // `#[model(renamed_from = "nickname")]`.
        let by_attribute = Column {
            renamed_from: Some("nickname"),
            ..handle.clone()
        };
        assert_eq!(
            renames(vec![id.clone(), by_attribute], &GenerateOptions::new()),
            renamed
        );
        // `--rename users.nickname=handle`.
        let by_option = GenerateOptions::new().rename_column("users", "nickname", "handle");
        assert_eq!(
            renames(vec![id.clone(), handle.clone()], &by_option),
            renamed
        );
        // Neither: the old column is dropped and the new one added, as written.
        assert_eq!(
            renames(vec![id, handle], &GenerateOptions::new()),
            (
                Vec::new(),
                vec!["handle".to_string()],
                vec!["nickname".to_string()]
            )
        );
    }

    #[test]
    fn create_statements_are_renamed() {
        assert_eq!(
            rename_create("CREATE TABLE IF NOT EXISTS \"a\"\"b\" (x INT)", "\"n\""),
            "CREATE TABLE IF NOT EXISTS \"n\" (x INT)"
        );
        assert_eq!(
            rename_create("create table users(x)", "\"n\""),
            "create table \"n\"(x)"
        );
    }

    #[test]
    fn types_compare_through_each_dialects_spelling() {
        let pg = Dialect::Postgresql;
        assert_eq!(
            norm_type(pg, "character varying(100)"),
            norm_type(pg, "VARCHAR(100)")
        );
        assert_eq!(norm_type(pg, "timestamp without time zone"), "TIMESTAMP");
        assert_eq!(
            norm_type(pg, "INTEGER GENERATED BY DEFAULT AS IDENTITY"),
            norm_type(pg, "integer")
        );
        let my = Dialect::Mysql;
        assert_eq!(norm_type(my, "int(11)"), norm_type(my, "INT"));
        assert_eq!(norm_type(my, "bigint(20)"), "BIGINT");
        assert_eq!(norm_type(my, "tinyint(1)"), norm_type(my, "BOOL"));
        assert_eq!(
            norm_type(my, "int(10) unsigned"),
            norm_type(my, "INT UNSIGNED")
        );
        assert_eq!(
            norm_type(my, "decimal(65,30)"),
            norm_type(my, "DECIMAL(65, 30)")
        );
        assert_eq!(norm_type(my, "longtext"), norm_type(my, "JSON"));
        assert_ne!(norm_type(my, "varchar(50)"), norm_type(my, "VARCHAR(120)"));
    }

    #[test]
    fn defaults_compare_without_casts_parentheses_and_quotes() {
        assert_eq!(
            norm_default("(CURRENT_TIMESTAMP AT TIME ZONE 'UTC'::text)"),
            norm_default("CURRENT_TIMESTAMP AT TIME ZONE 'UTC'")
        );
        assert_eq!(
            norm_default("'abc'::character varying"),
            norm_default("'abc'")
        );
        assert_eq!(norm_default("0"), norm_default("(0)"));
        assert_eq!(
            norm_default("current_timestamp()"),
            norm_default("CURRENT_TIMESTAMP")
        );
        assert_eq!(
            norm_default("utc_timestamp(6)"),
            norm_default("UTC_TIMESTAMP(6)")
        );
        assert_ne!(norm_default("0"), norm_default("1"));
    }
}
