//! Where migrations come from: a folder read at run time ([`Migrations::from_dir`]), the same
//! folder embedded at compile time (`dsg_lib::embed_migrations!`), or built in code
//! ([`Migration::sql`], [`Migration::rust`]).
//!
//! A folder holds, per migration, `<version>_<name>.up.sql` and optionally
//! `<version>_<name>.down.sql` (sqlx's naming), or a single `<version>_<name>.sql` without a
//! down part. Other files (a README, `.gitkeep`) are ignored.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::async_database_functions::error::DatabaseError;
use crate::async_database_functions::session::Session;

/// What a Rust migration step returns: a boxed future borrowing the session.
pub type MigrationFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DatabaseError>> + Send + 'a>>;

/// A Rust migration step: runs on the migration's [`Session`] (its transaction on SQLite and
/// PostgreSQL, one of its own on MySQL/MariaDB).
pub type RustStep = Arc<dyn for<'a> Fn(&'a mut Session) -> MigrationFuture<'a> + Send + Sync>;

/// Versions below this are counters (`0001_…`, `0002_…`), which must follow each other without
/// gaps; from here on they are dates or timestamps (`20260101120000_…`), where gaps are normal.
pub const COUNTER_LIMIT: i64 = 10_000;

/// What a migration does.
#[derive(Clone)]
pub(crate) enum Body {
    /// SQL text, split into statements when it runs.
    Sql { up: String, down: Option<String> },
    /// Rust code, for data changes.
    Rust {
        up: RustStep,
        down: Option<RustStep>,
    },
}

/// One versioned migration.
#[derive(Clone)]
pub struct Migration {
    pub(crate) version: i64,
    pub(crate) name: String,
    /// The file it came from (its up part), or `<code>` for one built in code.
    pub(crate) origin: String,
    pub(crate) body: Body,
    pub(crate) checksum: String,
}

impl fmt::Debug for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migration")
            .field("version", &self.version)
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("rust", &matches!(self.body, Body::Rust { .. }))
            .field("has_down", &self.has_down())
            .field("checksum", &self.checksum)
            .finish()
    }
}

impl Migration {
    /// A SQL migration built in code: `up`, and the `down` that undoes it if any.
    pub fn sql(
        version: i64,
        name: impl Into<String>,
        up: impl Into<String>,
        down: Option<String>,
    ) -> Migration {
        let up = up.into();
        Migration {
            version,
            name: name.into(),
            origin: "<code>".into(),
            checksum: checksum(&up),
            body: Body::Sql { up, down },
        }
    }

    /// A Rust migration, for data changes SQL cannot express: `up` runs on the migration's
    /// session. Its checksum covers its version and name (code cannot be hashed); change the
    /// name to mark it as changed.
    ///
    /// ```
    /// use dsg_lib::async_database_functions::migrations::{Migration, MigrationFuture};
    /// use dsg_lib::async_database_functions::{session::Session, statement::text};
    ///
    /// fn backfill(session: &mut Session) -> MigrationFuture<'_> {
    ///     Box::pin(async move {
    ///         session.execute(text("UPDATE users SET color = 'blue' WHERE color IS NULL")).await?;
    ///         Ok(())
    ///     })
    /// }
    /// let migration = Migration::rust(3, "backfill_colors", backfill);
    /// assert_eq!(migration.version(), 3);
    /// ```
    pub fn rust<F>(version: i64, name: impl Into<String>, up: F) -> Migration
    where
        F: for<'a> Fn(&'a mut Session) -> MigrationFuture<'a> + Send + Sync + 'static,
    {
        let name = name.into();
        Migration {
            version,
            checksum: checksum(&format!("rust migration {version} {name}")),
            name,
            origin: "<code>".into(),
            body: Body::Rust {
                up: Arc::new(up),
                down: None,
            },
        }
    }

    /// This Rust migration with `down` to undo it (ignored on a SQL migration).
    pub fn with_down<F>(mut self, down: F) -> Migration
    where
        F: for<'a> Fn(&'a mut Session) -> MigrationFuture<'a> + Send + Sync + 'static,
    {
        if let Body::Rust { down: d, .. } = &mut self.body {
            *d = Some(Arc::new(down));
        }
        self
    }

    /// Its version: migrations run in ascending version order.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Its name (the file name's part after the version).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file of its up part, or `<code>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The SHA-256 (hex) of its up part, line endings normalised to `\n` and surrounding
    /// blanks trimmed; of `rust migration <version> <name>` for a Rust migration.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Whether it has a down part ([`rollback`](super::Migrator::rollback) needs one).
    pub fn has_down(&self) -> bool {
        match &self.body {
            Body::Sql { down, .. } => down.is_some(),
            Body::Rust { down, .. } => down.is_some(),
        }
    }

    /// The up part's SQL (`None` for a Rust migration).
    pub fn up_sql(&self) -> Option<&str> {
        match &self.body {
            Body::Sql { up, .. } => Some(up),
            Body::Rust { .. } => None,
        }
    }

    /// The down part's SQL, if any.
    pub fn down_sql(&self) -> Option<&str> {
        match &self.body {
            Body::Sql { down, .. } => down.as_deref(),
            Body::Rust { .. } => None,
        }
    }

    /// `<version>_<name>` as in file names.
    pub(crate) fn label(&self) -> String {
        format!("{} ({})", self.version, self.name)
    }
}

/// SHA-256 (hex) of `text` with `\r\n` as `\n`, trimmed.
pub(crate) fn checksum(text: &str) -> String {
    let normal = text.replace("\r\n", "\n");
    let digest = Sha256::digest(normal.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// An ordered, checked set of migrations: versions unique, counters without gaps.
#[derive(Debug, Clone, Default)]
pub struct Migrations {
    list: Vec<Migration>,
}

impl Migrations {
    /// The set of `migrations`, sorted by version.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput) for a
    /// version below 1, two migrations with one version, or a gap between counter versions
    /// (below [`COUNTER_LIMIT`]), naming the migrations' files.
    pub fn new(migrations: Vec<Migration>) -> Result<Migrations, DatabaseError> {
        let mut list = migrations;
        list.sort_by_key(|m| m.version);
        for m in &list {
            if m.version < 1 {
                return Err(DatabaseError::invalid_input(format!(
                    "migration {}: the version must be 1 or more, not {}",
                    m.origin, m.version
                )));
            }
        }
        for pair in list.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.version == b.version {
                return Err(DatabaseError::invalid_input(format!(
                    "two migrations have version {}: {} and {}",
                    a.version, a.origin, b.origin
                )));
            }
            if b.version < COUNTER_LIMIT && b.version != a.version + 1 {
                return Err(DatabaseError::invalid_input(format!(
                    "migration {} follows {} (version {}): versions below {COUNTER_LIMIT} are \
                     counters and must not leave gaps; number it {}",
                    b.origin,
                    a.origin,
                    a.version,
                    a.version + 1
                )));
            }
        }
        Ok(Migrations { list })
    }

    /// This set with `migration` added (a Rust migration beside a folder's SQL ones).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with(self, migration: Migration) -> Result<Migrations, DatabaseError> {
        let mut list = self.list;
        list.push(migration);
        Migrations::new(list)
    }

    /// Reads the migrations of folder `dir` (see the [module docs](crate::async_database_functions::migrations::source)).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::async_database_functions::error::ErrorKind::InvalidInput),
    /// naming the file: the folder or a file cannot be read (or is not UTF-8), a `.sql` file's
    /// name is not `<version>_<name>[.up|.down].sql`, a down part has no up part, two files
    /// have one version, a counter version leaves a gap.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Migrations, DatabaseError> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            DatabaseError::invalid_input(format!(
                "the migrations folder {} cannot be read: {e}",
                dir.display()
            ))
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                DatabaseError::invalid_input(format!(
                    "the migrations folder {} cannot be listed: {e}",
                    dir.display()
                ))
            })?;
            let path = entry.path();
            let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !file.ends_with(".sql") || file.starts_with('.') || path.is_dir() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| {
                DatabaseError::invalid_input(format!(
                    "the migration file {} cannot be read: {e}",
                    path.display()
                ))
            })?;
            files.push((file.to_string(), text));
        }
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Migrations::from_files(&dir.display().to_string(), &files)
    }

    /// The migrations of a folder's files, as `(file name, text)`: what
    /// `dsg_lib::embed_migrations!` embeds. `dir` only names the files in errors.
    ///
    /// # Errors
    ///
    /// As [`from_dir`](Self::from_dir).
    pub fn from_files(dir: &str, files: &[(&str, &str)]) -> Result<Migrations, DatabaseError> {
        let path = |file: &str| {
            if dir.is_empty() {
                file.to_string()
            } else {
                format!("{}/{file}", dir.trim_end_matches('/'))
            }
        };
        let mut ups: Vec<(i64, String, String, String)> = Vec::new();
        let mut downs: Vec<(i64, String, String, String)> = Vec::new();
        for (file, text) in files {
            if !file.ends_with(".sql") || file.starts_with('.') {
                continue;
            }
            let (version, name, part) = parse_name(file).ok_or_else(|| {
                DatabaseError::invalid_input(format!(
                    "the migration file {} is not named <version>_<name>.up.sql, \
                     <version>_<name>.down.sql or <version>_<name>.sql (the version in digits)",
                    path(file)
                ))
            })?;
            let entry = (version, name, path(file), text.to_string());
            let side = if part == Part::Down {
                &mut downs
            } else {
                &mut ups
            };
            if let Some(other) = side.iter().find(|e| e.0 == version) {
                return Err(DatabaseError::invalid_input(format!(
                    "two migrations have version {version}: {} and {}",
                    other.2, entry.2
                )));
            }
            side.push(entry);
        }
        let mut list = Vec::with_capacity(ups.len());
        for (version, name, origin, up) in ups {
            let down = match downs.iter().position(|d| d.0 == version) {
                Some(i) => {
                    let (_, down_name, down_origin, down) = downs.swap_remove(i);
                    if down_name != name {
                        return Err(DatabaseError::invalid_input(format!(
                            "the down part {down_origin} is named unlike its up part {origin}"
                        )));
                    }
                    Some(down)
                }
                None => None,
            };
            list.push(Migration {
                version,
                name,
                origin,
                checksum: checksum(&up),
                body: Body::Sql { up, down },
            });
        }
        if let Some((_, _, origin, _)) = downs.first() {
            return Err(DatabaseError::invalid_input(format!(
                "the down part {origin} has no up part (<version>_<name>.up.sql)"
            )));
        }
        Migrations::new(list)
    }

    /// The migrations, by ascending version.
    pub fn iter(&self) -> impl Iterator<Item = &Migration> {
        self.list.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The migration of `version`, if any.
    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.list.iter().find(|m| m.version == version)
    }

    /// The highest version, if any.
    pub fn latest(&self) -> Option<i64> {
        self.list.last().map(|m| m.version)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Up,
    Down,
}

/// `<version>_<name>.up.sql` → (version, name, part).
fn parse_name(file: &str) -> Option<(i64, String, Part)> {
    let stem = file.strip_suffix(".sql")?;
    let (stem, part) = if let Some(s) = stem.strip_suffix(".up") {
        (s, Part::Up)
    } else if let Some(s) = stem.strip_suffix(".down") {
        (s, Part::Down)
    } else {
        (stem, Part::Up)
    };
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || stem.as_bytes().get(digits) != Some(&b'_') {
        return None;
    }
    let version: i64 = stem[..digits].parse().ok()?;
    let name = &stem[digits + 1..];
    if name.is_empty() || name.contains('.') {
        return None;
    }
    Some((version, name.to_string(), part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_database_functions::error::ErrorKind;

    fn err(files: &[(&str, &str)]) -> String {
        let e = Migrations::from_files("migrations", files).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        e.details().to_string()
    }

    #[test]
    fn a_folder_pairs_up_and_down_parts_in_version_order() {
        let set = Migrations::from_files(
            "m",
            &[
                ("0002_posts.up.sql", "CREATE TABLE posts (id INT)"),
                ("0001_users.up.sql", "CREATE TABLE users (id INT)"),
                ("0002_posts.down.sql", "DROP TABLE posts"),
                ("0003_plain.sql", "SELECT 1"),
                ("README.md", "not a migration"),
            ],
        )
        .unwrap();
        let versions: Vec<i64> = set.iter().map(|m| m.version()).collect();
        assert_eq!(versions, [1, 2, 3]);
        assert_eq!(set.get(2).unwrap().down_sql(), Some("DROP TABLE posts"));
        assert!(!set.get(1).unwrap().has_down());
        assert_eq!(set.get(3).unwrap().origin(), "m/0003_plain.sql");
        assert_eq!(set.get(2).unwrap().name(), "posts");
    }

    #[test]
    fn checksums_ignore_line_endings_and_surrounding_blanks() {
        assert_eq!(
            checksum("SELECT 1;\r\nSELECT 2;\n"),
            checksum("SELECT 1;\nSELECT 2;")
        );
        assert_ne!(checksum("SELECT 1"), checksum("SELECT 2"));
        assert_eq!(checksum("").len(), 64);
    }

    #[test]
    fn bad_folders_name_the_file() {
        let bad_name = err(&[("users.up.sql", "x")]);
        assert!(bad_name.contains("migrations/users.up.sql"), "{bad_name}");
        let no_name = err(&[("0001.up.sql", "x")]);
        assert!(no_name.contains("0001.up.sql"), "{no_name}");
        let dup = err(&[("0001_a.up.sql", "x"), ("0001_b.up.sql", "y")]);
        assert!(
            dup.contains("0001_a.up.sql") && dup.contains("0001_b.up.sql"),
            "{dup}"
        );
        let dup_plain = err(&[("1_a.sql", "x"), ("1_a.up.sql", "y")]);
        assert!(dup_plain.contains("version 1"), "{dup_plain}");
        let gap = err(&[("0001_a.sql", "x"), ("0003_c.sql", "y")]);
        assert!(
            gap.contains("migrations/0003_c.sql") && gap.contains("gaps"),
            "{gap}"
        );
        let orphan = err(&[("0001_a.sql", "x"), ("0002_b.down.sql", "y")]);
        assert!(orphan.contains("0002_b.down.sql"), "{orphan}");
        let renamed = err(&[("0001_a.up.sql", "x"), ("0001_b.down.sql", "y")]);
        assert!(renamed.contains("0001_b.down.sql"), "{renamed}");
        let zero = err(&[("0000_a.sql", "x")]);
        assert!(zero.contains("0000_a.sql"), "{zero}");
        let huge = err(&[("99999999999999999999_a.sql", "x")]);
        assert!(huge.contains("99999999999999999999_a.sql"), "{huge}");
    }

    #[test]
    fn timestamps_may_leave_gaps() {
        let set = Migrations::from_files(
            "",
            &[("20260101120000_a.sql", "x"), ("20260305093000_b.sql", "y")],
        )
        .unwrap();
        assert_eq!(set.latest(), Some(20260305093000));
    }

    #[test]
    fn unreadable_folders_and_files_are_named() {
        let missing = Migrations::from_dir("/nonexistent/migrations").unwrap_err();
        assert!(
            missing.details().contains("/nonexistent/migrations"),
            "{missing}"
        );
        let dir = std::env::temp_dir().join(format!("dsg-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("0001_bin.sql"), [0xff, 0xfe, 0x00]).unwrap();
        let binary = Migrations::from_dir(&dir).unwrap_err();
        assert!(binary.details().contains("0001_bin.sql"), "{binary}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
