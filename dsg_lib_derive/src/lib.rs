//! `#[derive(Model)]` and `#[derive(SqlEnum)]` for `dsg_lib`. Use them through `dsg_lib::Model`
//! and `dsg_lib::SqlEnum`; the generated code refers only to `::dsg_lib::__private`.

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod attrs;
mod embed;
mod expand;
mod names;
mod sql_enum;

/// Derives `ColumnSet`, `Model`, `FromRow` and typed column consts for a struct with named fields: each field is a
/// column, in declaration order.
///
/// A field's type must implement `SqlField` (`String`, `i16`, `i32`, `u32`, `i64`, `f32`,
/// `f64`, `bool`, `chrono::DateTime<Utc>`, `chrono::NaiveDateTime`, `chrono::NaiveDate`,
/// `chrono::NaiveTime`, `uuid::Uuid`, `serde_json::Value`, `Vec<u8>`, `rust_decimal::Decimal`
/// with dsg_lib's `decimal` feature, an enum with `#[derive(SqlEnum)]`, and `Option<T>` of
/// these for nullable columns), or be a `ColumnSet` marked `#[model(flatten)]`. Generic
/// structs are not supported. `update_one` checks each new value through its field's type
/// (`SqlField::from_json`).
///
/// # Struct attributes
///
/// - `#[model(table = "name")]`: the table name. Default: the struct's name in snake_case
///   (`UserAccount` → `user_account`, `HTTPLog` → `http_log`).
/// - `#[model(no_table)]` (or `#[model(column_set)]`): implement only `ColumnSet`, for a
///   reusable group of columns meant to be flattened into models.
///
/// # Field attributes
///
/// - `primary_key`, `auto_increment`, `unique`, `index`: flags of the column.
/// - `default = "SQL"`: a literal SQL default.
/// - `comment = "text"`: the column comment.
/// - `foreign_key = "table.column"`: the column references `table(column)`.
/// - `column = "name"`: the column name (default: the field name, without `r#`).
/// - `size = N`: `VARCHAR(N)` instead of `TEXT`; only on `String` / `Option<String>` fields.
/// - `flatten`: the field is a `ColumnSet` whose columns are inserted here; it takes no other
///   attribute.
///
/// Several `#[model(...)]` attributes on one item add up. A field without any is a plain
/// column.
///
/// # Names
///
/// Table and column names (given with `table`, `column`, `foreign_key`, or taken from the
/// struct and field names) must be plain SQL identifiers: ASCII letters, digits and `_`, not
/// starting with a digit, at most 63 bytes (PostgreSQL's limit). Anything else — a quote, a
/// backtick, a space, a non-ASCII letter — is a compile error naming the attribute and this
/// rule. Such names read the same on every dialect and need no escaping in the index and
/// foreign-key names the library derives from them (`ix_<table>_<column>`,
/// `fk_<table>_<column>`; a derived name longer than 63 bytes is shortened, with a hash of
/// the full name kept at its end so that two such names stay distinct).
///
/// # Typed columns
///
/// A model (not a `no_table` set) also gets, for each of its own fields, an associated const
/// `Col<Self>` named after the field in upper case (`User::NAME` for `name`, with the
/// struct's visibility), usable wherever sea-query takes a column; each flattened set gets
/// `Flattens<Set>` implemented, which brings the set's typed columns (for `SchemaBase`:
/// `User::PKID`, `User::DATE_CREATED`, `User::DATE_UPDATED` through `SchemaBaseColumns`).
/// A field named `table` (its const would shadow `Model::TABLE`) and two fields with the same
/// upper-case name are compile errors.
///
/// # Example
///
/// ```ignore
/// use dsg_lib::Model;
/// use dsg_lib::async_database_functions::base_schema::SchemaBase;
///
/// #[derive(Model, Debug, Clone)]
/// #[model(table = "users")]
/// struct User {
///     #[model(flatten)]
///     base: SchemaBase,
///     #[model(unique, index, size = 100)]
///     name: String,
///     #[model(foreign_key = "teams.pkid", comment = "the user's team")]
///     team: Option<uuid::Uuid>,
///     #[model(column = "type", default = "'member'")]
///     kind: String,
/// }
///
/// #[derive(Model, Debug, Clone)]
/// #[model(no_table)]
/// struct Audited {
///     #[model(index)]
///     changed_by: Option<String>,
/// }
/// ```
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_model(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `SqlEnum`, `SqlField`, `FromRow` and `From<Self> for sea_query::Value` for an enum
/// of unit variants, stored as `VARCHAR` text: the variant's name.
///
/// # Enum attributes
///
/// - `#[sql_enum(size = N)]`: `VARCHAR(N)`; at least the longest stored name. Default: 64, or
///   the longest name if longer.
/// - `#[sql_enum(rename_all = "...")]`: how the names are spelt: `"snake_case"`,
///   `"SCREAMING_SNAKE_CASE"`, `"kebab-case"`, `"lowercase"` or `"UPPERCASE"`. Default: as
///   written.
///
/// # Variant attributes
///
/// - `#[sql_enum(rename = "name")]`: the stored name of this variant.
///
/// # Example
///
/// ```ignore
/// use dsg_lib::prelude::*;
///
/// #[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
/// #[sql_enum(rename_all = "lowercase", size = 16)]
/// enum Role {
///     Admin,
///     Member,
///     #[sql_enum(rename = "guest_user")]
///     Guest,
/// }
/// ```
#[proc_macro_derive(SqlEnum, attributes(sql_enum))]
pub fn derive_sql_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    sql_enum::derive_sql_enum(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `embed_migrations!("migrations")`: the `.sql` files of a migrations folder (relative to the
/// crate's `Cargo.toml`), embedded into the binary at compile time. It evaluates to
/// `Result<Migrations, DatabaseError>`, checked as `Migrations::from_files` checks a folder
/// (names, duplicate versions, gaps), so a bad folder is an error naming the file.
///
/// A file's change rebuilds the crate (it is read with `include_str!`); a file added to the
/// folder does not, until the crate is rebuilt for another reason (`touch src/main.rs`, or a
/// `build.rs` printing `cargo:rerun-if-changed=migrations`).
///
/// ```ignore
/// let migrations = dsg_lib::embed_migrations!("migrations")?;
/// db.migrate(&migrations).await?;
/// ```
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let folder = parse_macro_input!(input as syn::LitStr);
    embed::embed(&folder)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
