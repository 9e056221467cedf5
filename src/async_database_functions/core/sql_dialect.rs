//! [`Dialect`]: which SQL dialect a database speaks.

use std::fmt;

/// The SQL dialect a [`DBConfig`](crate::async_database_functions::database_config::DBConfig) talks to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (embedded, the default).
    Sqlite,
    /// PostgreSQL.
    Postgresql,
    /// CockroachDB, over the PostgreSQL driver.
    Cockroachdb,
    /// MySQL.
    Mysql,
    /// MariaDB, over the MySQL driver.
    Mariadb,
}

impl Dialect {
    /// The dialect's name as SQLAlchemy spells it (`sqlite`, `postgresql`, …).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgresql => "postgresql",
            Dialect::Cockroachdb => "cockroachdb",
            Dialect::Mysql => "mysql",
            Dialect::Mariadb => "mariadb",
        }
    }

    /// True for PostgreSQL and PostgreSQL-wire engines (CockroachDB).
    pub fn is_postgres_wire(self) -> bool {
        matches!(self, Dialect::Postgresql | Dialect::Cockroachdb)
    }

    /// True for MySQL and MariaDB.
    pub fn is_mysql_family(self) -> bool {
        matches!(self, Dialect::Mysql | Dialect::Mariadb)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
