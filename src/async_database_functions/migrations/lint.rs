//! The migration lint: statements that lock or rewrite a big table on the target dialect, each
//! with the safer form to use (as squawk and strong_migrations do).
//!
//! | rule | dialect | flags | safer form |
//! |---|---|---|---|
//! | `volatile-default` | PostgreSQL | `ADD COLUMN … DEFAULT` a volatile function (`random()`, `gen_random_uuid()`, `clock_timestamp()`, …) or a `SERIAL` column | add it without the default, backfill in batches, then `SET DEFAULT` |
//! | `index-not-concurrent` | PostgreSQL | `CREATE INDEX` without `CONCURRENTLY` on an existing table | `CREATE INDEX CONCURRENTLY`, in a migration of its own marked `-- dsg:no-transaction` |
//! | `type-change` | PostgreSQL | `ALTER COLUMN … TYPE` (but to `TEXT` or `VARCHAR`, which widening keeps in place) | a new column, backfilled, then swapped |
//! | `set-not-null` | PostgreSQL | `SET NOT NULL` without a validated `CHECK (… IS NOT NULL)` before it | `ADD CONSTRAINT … CHECK (c IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT`, then `SET NOT NULL` |
//! | `foreign-key-not-valid` | PostgreSQL | `ADD … FOREIGN KEY` without `NOT VALID` on an existing table | `… NOT VALID`, then `VALIDATE CONSTRAINT` |
//! | `algorithm` | MySQL/MariaDB | `ALTER TABLE` or `CREATE INDEX` on an existing table without `ALGORITHM=INSTANT` or `INPLACE` | state `ALGORITHM=INSTANT` (or `INPLACE, LOCK=NONE`): the server then refuses a change it would do by copying the table |
//!
//! Statements on a table the same migration creates are not flagged (it is empty). A
//! migration whose first lines say `-- dsg:allow-unsafe` is not linted.

use crate::async_database_functions::database_config::Dialect;
use crate::async_database_functions::error::DatabaseError;

use super::source::{Body, Migrations};
use super::split::split_statements;

/// The directive, in a comment among a migration's first lines, that skips the lint for it.
pub const ALLOW_UNSAFE: &str = "dsg:allow-unsafe";

/// One statement the lint flags.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LintFinding {
    /// The migration's version.
    pub version: i64,
    /// Its file (or `<code>`).
    pub origin: String,
    /// The statement's number in the migration, from 1.
    pub statement: usize,
    /// The rule: `volatile-default`, `index-not-concurrent`, `type-change`, `set-not-null`,
    /// `foreign-key-not-valid`, `algorithm`.
    pub rule: &'static str,
    /// What the statement does to a big table.
    pub problem: String,
    /// The safer form to use.
    pub safer: String,
}

impl std::fmt::Display for LintFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} statement {} [{}]: {} Instead: {}",
            self.origin, self.statement, self.rule, self.problem, self.safer
        )
    }
}

impl Migrations {
    /// The lint's findings on these migrations' up parts for `dialect` (see the
    /// [module docs](crate::async_database_functions::migrations::lint)); `versions` limits it to those (the pending ones), `None` lints
    /// all.
    ///
    /// ```
    /// use dsg_lib::async_database_functions::database_config::Dialect;
    /// use dsg_lib::async_database_functions::migrations::{Migration, Migrations};
    ///
    /// let set = Migrations::new(vec![
    ///     Migration::sql(1, "users", "CREATE TABLE users (id INT, email TEXT);\
    ///                                 CREATE INDEX ix_users_email ON users (email)", None),
    ///     Migration::sql(2, "index", "CREATE INDEX ix_users_id ON users (id)", None),
    /// ])?;
    /// let findings = set.lint(Dialect::Postgresql, None)?;
    /// assert_eq!(findings.len(), 1); // the new table's index is fine
    /// assert_eq!((findings[0].version, findings[0].rule), (2, "index-not-concurrent"));
    /// # Ok::<(), dsg_lib::DatabaseError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput) for
    /// SQL that cannot be split, naming the file.
    pub fn lint(
        &self,
        dialect: Dialect,
        versions: Option<&[i64]>,
    ) -> Result<Vec<LintFinding>, DatabaseError> {
        let mut findings = Vec::new();
        // A validated NOT NULL check in an earlier migration counts for a later SET NOT NULL.
        let mut validated = false;
        for m in self.iter() {
            let Body::Sql { up, .. } = &m.body else {
                continue;
            };
            let statements = split_statements(up, dialect).map_err(|e| {
                DatabaseError::invalid_input(format!(
                    "the SQL of migration {} in {} cannot be split into statements: line {}: {}",
                    m.label(),
                    m.origin,
                    e.line,
                    e.what
                ))
            })?;
            let wanted = versions.is_none_or(|v| v.contains(&m.version));
            let allowed = up
                .lines()
                .map(str::trim)
                .take_while(|l| l.is_empty() || l.starts_with("--"))
                .any(|l| l.contains(ALLOW_UNSAFE));
            let mut created: Vec<String> = Vec::new();
            for (i, sql) in statements.iter().enumerate() {
                let s = normalize(sql);
                if let Some(table) = created_table(&s) {
                    created.push(table);
                }
                if s.contains("VALIDATE CONSTRAINT") {
                    validated = true;
                }
                if !wanted || allowed {
                    continue;
                }
                for (rule, problem, safer) in check(dialect, &s, &created, validated) {
                    findings.push(LintFinding {
                        version: m.version,
                        origin: m.origin.clone(),
                        statement: i + 1,
                        rule,
                        problem,
                        safer,
                    });
                }
            }
        }
        Ok(findings)
    }
}

/// Upper case, comments out, single spaces, quotes around names dropped.
fn normalize(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or_default();
        out.push_str(code);
        out.push(' ');
    }
    let out = out.replace(['"', '`'], "");
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// The table a `CREATE TABLE` statement creates.
fn created_table(s: &str) -> Option<String> {
    let rest = s.strip_prefix("CREATE TABLE ")?;
    let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
    rest.split([' ', '(']).next().map(str::to_string)
}

/// The word after `keyword` in `s`.
fn word_after(s: &str, keyword: &str) -> Option<String> {
    let at = s.find(keyword)? + keyword.len();
    s[at..]
        .split([' ', '(', ';'])
        .find(|w| !w.is_empty())
        .map(str::to_string)
}

/// The table an `ALTER TABLE` or `CREATE INDEX … ON` statement works on.
fn target(s: &str) -> Option<String> {
    if s.starts_with("ALTER TABLE") {
        let t = word_after(s, "ALTER TABLE ")?;
        if t == "ONLY" || t == "IF" {
            return s
                .split_whitespace()
                .skip(3)
                .find(|w| !matches!(*w, "ONLY" | "IF" | "EXISTS"))
                .map(str::to_string);
        }
        Some(t)
    } else {
        word_after(s, " ON ").map(|t| {
            if t == "ONLY" {
                word_after(s, " ON ONLY ").unwrap_or(t)
            } else {
                t
            }
        })
    }
}

const VOLATILE: [&str; 8] = [
    "RANDOM(",
    "GEN_RANDOM_UUID(",
    "UUID_GENERATE_V4(",
    "UUID_GENERATE_V1(",
    "CLOCK_TIMESTAMP(",
    "TIMEOFDAY(",
    "NEXTVAL(",
    "TXID_CURRENT(",
];

fn check(
    dialect: Dialect,
    s: &str,
    created: &[String],
    validated: bool,
) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let on_new_table = target(s).is_some_and(|t| created.contains(&t));
    if on_new_table {
        return out;
    }
    if dialect.is_postgres_wire() {
        let adds_column = s.contains("ADD COLUMN")
            || (s.contains(" ADD ") && !s.contains("CONSTRAINT") && !s.contains("FOREIGN KEY"));
        if s.starts_with("ALTER TABLE") && adds_column {
            let volatile_default = s.contains("DEFAULT") && VOLATILE.iter().any(|f| s.contains(f));
            let serial = [
                " SERIAL",
                " BIGSERIAL",
                " SMALLSERIAL",
                "GENERATED ALWAYS AS (",
            ]
            .iter()
            .any(|k| s.contains(k));
            if volatile_default || serial {
                out.push((
                    "volatile-default",
                    "adding a column with a volatile default (or a serial or stored generated \
                     column) rewrites the whole table under an ACCESS EXCLUSIVE lock."
                        .to_string(),
                    "add the column without a default (or with a constant one), backfill it in \
                     batches, then ALTER COLUMN … SET DEFAULT."
                        .to_string(),
                ));
            }
        }
        if (s.starts_with("CREATE INDEX") || s.starts_with("CREATE UNIQUE INDEX"))
            && !s.contains(" CONCURRENTLY ")
        {
            out.push((
                "index-not-concurrent",
                "CREATE INDEX without CONCURRENTLY blocks every write to the table while it \
                 builds."
                    .to_string(),
                "CREATE INDEX CONCURRENTLY, in a migration of its own whose first line is \
                 `-- dsg:no-transaction`."
                    .to_string(),
            ));
        }
        if s.starts_with("ALTER TABLE") && s.contains(" TYPE ") && s.contains("ALTER COLUMN") {
            let to = word_after(s, " TYPE ").unwrap_or_default();
            if !matches!(to.as_str(), "TEXT" | "VARCHAR" | "CHARACTER") {
                out.push((
                    "type-change",
                    format!(
                        "changing a column's type to {to} rewrites the table (and its indexes) \
                         under an ACCESS EXCLUSIVE lock."
                    ),
                    "add a column of the new type, backfill it in batches, switch the code to \
                     it, then drop the old one (widening a VARCHAR or making it TEXT is safe)."
                        .to_string(),
                ));
            }
        }
        if s.starts_with("ALTER TABLE") && s.contains("SET NOT NULL") && !validated {
            out.push((
                "set-not-null",
                "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock.".to_string(),
                "ALTER TABLE … ADD CONSTRAINT c_not_null CHECK (c IS NOT NULL) NOT VALID; then \
                 ALTER TABLE … VALIDATE CONSTRAINT c_not_null; then SET NOT NULL (PostgreSQL 12+ \
                 uses the check and skips the scan)."
                    .to_string(),
            ));
        }
        if s.starts_with("ALTER TABLE")
            && s.contains("FOREIGN KEY")
            && s.contains(" ADD ")
            && !s.contains("NOT VALID")
        {
            out.push((
                "foreign-key-not-valid",
                "adding a foreign key checks every row while it locks both tables against \
                 writes."
                    .to_string(),
                "ADD CONSTRAINT … FOREIGN KEY … NOT VALID; then VALIDATE CONSTRAINT in a later \
                 statement (it takes a weaker lock)."
                    .to_string(),
            ));
        }
    } else if dialect.is_mysql_family() {
        let alters = s.starts_with("ALTER TABLE")
            || s.starts_with("CREATE INDEX")
            || s.starts_with("CREATE UNIQUE INDEX");
        let stated = s.contains("ALGORITHM=INSTANT")
            || s.contains("ALGORITHM = INSTANT")
            || s.contains("ALGORITHM=INPLACE")
            || s.contains("ALGORITHM = INPLACE");
        if alters && !stated && !s.contains(" RENAME TO ") {
            out.push((
                "algorithm",
                "without ALGORITHM=INSTANT or INPLACE, MySQL/MariaDB may copy the whole table \
                 and block writes while they do."
                    .to_string(),
                "state ALGORITHM=INSTANT (or ALGORITHM=INPLACE, LOCK=NONE): the server then \
                 refuses a change it could only make by copying, instead of copying."
                    .to_string(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_database_functions::migrations::Migration;

    fn rules(dialect: Dialect, sql: &str) -> Vec<&'static str> {
        let set = Migrations::new(vec![
            Migration::sql(1, "base", "CREATE TABLE t (id INT, name TEXT, n INT)", None),
            Migration::sql(2, "change", sql, None),
        ])
        .unwrap();
        set.lint(dialect, Some(&[2]))
            .unwrap()
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    const PG: Dialect = Dialect::Postgresql;
    const MY: Dialect = Dialect::Mariadb;

    #[test]
    fn postgres_unsafe_operations_are_flagged() {
        assert_eq!(
            rules(
                PG,
                "ALTER TABLE t ADD COLUMN u UUID DEFAULT gen_random_uuid()"
            ),
            ["volatile-default"]
        );
        assert_eq!(
            rules(PG, "ALTER TABLE t ADD COLUMN k BIGSERIAL"),
            ["volatile-default"]
        );
        assert_eq!(
            rules(PG, "CREATE INDEX ix ON t (name)"),
            ["index-not-concurrent"]
        );
        assert_eq!(
            rules(PG, "CREATE UNIQUE INDEX ix ON \"t\" (name)"),
            ["index-not-concurrent"]
        );
        assert_eq!(
            rules(PG, "ALTER TABLE t ALTER COLUMN n TYPE BIGINT"),
            ["type-change"]
        );
        assert_eq!(
            rules(PG, "ALTER TABLE t ALTER COLUMN n SET NOT NULL"),
            ["set-not-null"]
        );
        assert_eq!(
            rules(
                PG,
                "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (n) REFERENCES u (id)"
            ),
            ["foreign-key-not-valid"]
        );
    }

    #[test]
    fn postgres_safe_forms_pass() {
        for sql in [
            "ALTER TABLE t ADD COLUMN c INT",
            "ALTER TABLE t ADD COLUMN c INT DEFAULT 0",
            "ALTER TABLE t ADD COLUMN at TIMESTAMP DEFAULT now()",
            "-- dsg:no-transaction\nCREATE INDEX CONCURRENTLY ix ON t (name)",
            "ALTER TABLE t ALTER COLUMN name TYPE VARCHAR(200)",
            "ALTER TABLE t ALTER COLUMN name TYPE TEXT",
            "ALTER TABLE t ADD CONSTRAINT n_nn CHECK (n IS NOT NULL) NOT VALID;\n\
             ALTER TABLE t VALIDATE CONSTRAINT n_nn;\nALTER TABLE t ALTER COLUMN n SET NOT NULL",
            "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (n) REFERENCES u (id) NOT VALID",
            "CREATE TABLE fresh (id INT); CREATE INDEX ix_fresh ON fresh (id);\n\
             ALTER TABLE fresh ALTER COLUMN id SET NOT NULL",
            "-- dsg:allow-unsafe\nCREATE INDEX ix ON t (name)",
        ] {
            assert!(rules(PG, sql).is_empty(), "{sql}: {:?}", rules(PG, sql));
        }
    }

    #[test]
    fn mysql_changes_without_an_in_place_algorithm_are_flagged() {
        assert_eq!(
            rules(MY, "ALTER TABLE t MODIFY COLUMN name VARCHAR(200)"),
            ["algorithm"]
        );
        assert_eq!(rules(MY, "ALTER TABLE t ADD COLUMN c INT"), ["algorithm"]);
        assert_eq!(rules(MY, "CREATE INDEX ix ON t (name)"), ["algorithm"]);
        for sql in [
            "ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INSTANT",
            "ALTER TABLE t ADD INDEX ix (name), ALGORITHM=INPLACE, LOCK=NONE",
            "CREATE INDEX ix ON t (name) ALGORITHM=INPLACE LOCK=NONE",
            "CREATE TABLE fresh (id INT); ALTER TABLE fresh ADD COLUMN c INT",
        ] {
            assert!(rules(MY, sql).is_empty(), "{sql}");
        }
        // PostgreSQL's rules are not MySQL's.
        assert!(
            rules(
                MY,
                "ALTER TABLE t ADD COLUMN u CHAR(36) DEFAULT (uuid()), ALGORITHM=INSTANT"
            )
            .is_empty()
        );
    }

    #[test]
    fn sqlite_has_no_rule() {
        assert!(rules(Dialect::Sqlite, "CREATE INDEX ix ON t (name)").is_empty());
    }
}
