//! Column metadata: the portable SQL type of a column ([`SqlType`]), its server-side default
//! ([`ServerDefault`]), what a foreign key does on delete ([`OnDelete`]), and the [`Column`]
//! itself: what a model declares and each dialect renders.

/// The portable SQL type of a column; each dialect renders it (see `dialect/`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `VARCHAR(n)` when sized, else `TEXT`.
    String(Option<u32>),
    /// 16-bit integer (`SMALLINT`).
    SmallInteger,
    /// 32-bit integer.
    Integer,
    /// Unsigned 32-bit integer: `INT UNSIGNED` on MySQL/MariaDB, `BIGINT` on PostgreSQL,
    /// `INTEGER` on SQLite.
    UnsignedInteger,
    /// 64-bit integer.
    BigInteger,
    /// Single precision float (`REAL`; `FLOAT` on MySQL/MariaDB).
    Float,
    /// Double precision float.
    Double,
    /// An exact decimal number: `NUMERIC` on PostgreSQL, `DECIMAL(65, 30)` on MySQL/MariaDB,
    /// its text form on SQLite (which has no exact decimal type).
    Decimal,
    /// Boolean (`TINYINT(1)` on MySQL).
    Boolean,
    /// A UTC timestamp, stored without zone as UTC (as the Python seed does).
    TimestampUtc,
    /// A timestamp without time zone.
    Timestamp,
    /// A calendar date.
    Date,
    /// A time of day without zone (`TIME`, with microseconds on MySQL/MariaDB).
    Time,
    /// A UUID (native on PostgreSQL, `CHAR(36)` text elsewhere).
    Uuid,
    /// A JSON document.
    Json,
    /// Binary data.
    Bytes,
}

impl SqlType {
    /// The portable name of the type, as `get_columns_details` reports it.
    pub fn name(self) -> String {
        match self {
            SqlType::String(Some(n)) => format!("VARCHAR({n})"),
            SqlType::String(None) => "TEXT".into(),
            SqlType::SmallInteger => "SMALLINT".into(),
            SqlType::Integer => "INTEGER".into(),
            SqlType::UnsignedInteger => "INTEGER UNSIGNED".into(),
            SqlType::BigInteger => "BIGINT".into(),
            SqlType::Float => "REAL".into(),
            SqlType::Double => "DOUBLE".into(),
            SqlType::Decimal => "DECIMAL".into(),
            SqlType::Boolean => "BOOLEAN".into(),
            SqlType::TimestampUtc | SqlType::Timestamp => "DATETIME".into(),
            SqlType::Date => "DATE".into(),
            SqlType::Time => "TIME".into(),
            SqlType::Uuid => "UUID".into(),
            SqlType::Json => "JSON".into(),
            SqlType::Bytes => "BLOB".into(),
        }
    }
}

/// A default computed by the server, rendered per dialect.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerDefault {
    /// The current UTC time: `CURRENT_TIMESTAMP AT TIME ZONE 'UTC'` on PostgreSQL/CockroachDB,
    /// `UTC_TIMESTAMP(6)` on MySQL/MariaDB, `strftime('%Y-%m-%d %H:%M:%f', 'now')` on SQLite.
    CurrentUtcTimestamp,
}

/// Everything the crate knows of one column of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name in the database.
    pub name: &'static str,
    /// The portable SQL type.
    pub sql_type: SqlType,
    /// Whether NULL is allowed (the field is an `Option`).
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Filled by the database (`AUTOINCREMENT`, `SERIAL`, `AUTO_INCREMENT`).
    pub auto_increment: bool,
    /// A UNIQUE constraint.
    pub unique: bool,
    /// A plain index.
    pub index: bool,
    /// A literal SQL default, as written in `#[model(default = "...")]`.
    pub default: Option<&'static str>,
    /// A default computed by the server.
    pub server_default: Option<ServerDefault>,
    /// The column comment, where the dialect keeps comments.
    pub comment: Option<&'static str>,
    /// `(table, column)` this column references.
    pub foreign_key: Option<(&'static str, &'static str)>,
    /// What deleting the referenced row does to this one (`ON DELETE …`); the database's
    /// default (refuse the delete) when `None`.
    pub on_delete: Option<OnDelete>,
    /// The name this column had before, from `#[model(renamed_from = "old")]`: a generated
    /// migration renames the old column (keeping its data) instead of dropping it and adding
    /// this one.
    pub renamed_from: Option<&'static str>,
}

/// What deleting a referenced row does to the rows that refer to it: the `on_delete` of a
/// `#[model(belongs_to = Parent, on_delete = "…")]` field.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnDelete {
    /// `ON DELETE CASCADE`: they are deleted too.
    Cascade,
    /// `ON DELETE SET NULL`: their reference becomes NULL (the field is an `Option`).
    SetNull,
    /// `ON DELETE RESTRICT`: the delete is refused while they exist.
    Restrict,
}

impl Column {
    /// A plain non-null column of `sql_type`; the derive sets the rest.
    pub const fn new(name: &'static str, sql_type: SqlType) -> Self {
        Column {
            name,
            sql_type,
            nullable: false,
            primary_key: false,
            auto_increment: false,
            unique: false,
            index: false,
            default: None,
            server_default: None,
            comment: None,
            foreign_key: None,
            on_delete: None,
            renamed_from: None,
        }
    }
}
