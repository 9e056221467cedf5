//! Parsing of the `#[model(...)]` attributes on the struct and on its fields.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, LitInt, LitStr};

/// The keys accepted in a struct-level `#[model(...)]`.
pub const STRUCT_KEYS: &str = "`table = \"...\"`, `no_table` (alias `column_set`)";

/// The keys accepted in a field-level `#[model(...)]`.
pub const FIELD_KEYS: &str = "`primary_key`, `auto_increment`, `unique`, `index`, \
     `default = \"...\"`, `comment = \"...\"`, `renamed_from = \"old_name\"`, `foreign_key = \"table.column\"`, \
     `column = \"name\"`, `size = N`, `flatten`, `belongs_to = Model`, \
     `references = \"column\"`, `on_delete = \"cascade\" | \"set_null\" | \"restrict\"`";

/// Options of the struct itself.
#[derive(Debug, Default)]
pub struct StructAttrs {
    /// `table = "..."`.
    pub table: Option<LitStr>,
    /// `no_table` / `column_set`: only a `ColumnSet` is generated.
    pub no_table: Option<Span>,
}

/// Options of one field.
#[derive(Debug, Default)]
pub struct FieldAttrs {
    pub primary_key: bool,
    pub auto_increment: bool,
    pub unique: bool,
    pub index: bool,
    pub default: Option<String>,
    pub comment: Option<String>,
    /// `renamed_from = "old_name"`: the column's name before a rename (for generated
    /// migrations).
    pub renamed_from: Option<String>,
    /// `(table, column)`.
    pub foreign_key: Option<(String, String)>,
    pub column: Option<String>,
    pub size: Option<u32>,
    /// Where `flatten` was written, when it was.
    pub flatten: Option<Span>,
    /// `belongs_to = Parent`: the parent model this column refers to.
    pub belongs_to: Option<syn::Path>,
    /// `references = "column"`: the parent's column (default `pkid`).
    pub references: Option<LitStr>,
    /// `on_delete = "cascade" | "set_null" | "restrict"`.
    pub on_delete: Option<String>,
    /// Where the first column-only key was written (to reject it next to `flatten`).
    first_column_key: Option<(Span, String)>,
}

/// Pushes `error` into `errors`, combining it with those already there.
fn accumulate(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(existing) => existing.combine(error),
        None => *errors = Some(error),
    }
}

/// The name of the key `meta` is at, as written.
fn key_name(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(crate::names::unraw)
        .unwrap_or_else(|| {
            let segments: Vec<String> = meta
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            segments.join("::")
        })
}

/// Rejects a value (`= ...` or `(...)`) after a flag key such as `primary_key`.
fn expect_flag(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<()> {
    if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
        Ok(())
    } else {
        Err(meta.error(format!("`{key}` takes no value: write `#[model({key})]`")))
    }
}

/// Parses the `= "..."` of `key`, with an error naming the key when the value is not a string.
fn string_value(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<LitStr> {
    let value = meta
        .value()
        .map_err(|_| meta.error(format!("`{key}` needs a value: write `{key} = \"...\"`")))?;
    match value.parse::<syn::Expr>()? {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Ok(s),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{key}` expects a string literal: `{key} = \"...\"`"),
        )),
    }
}

/// Parses the `= N` of `size`.
fn size_value(meta: &ParseNestedMeta<'_>) -> syn::Result<u32> {
    let value = meta
        .value()
        .map_err(|_| meta.error("`size` needs a value: write `size = 100`"))?;
    match value.parse::<syn::Expr>()? {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => parse_size(&int),
        other => Err(syn::Error::new(
            other.span(),
            "`size` expects an integer literal: `size = 100`",
        )),
    }
}

fn parse_size(int: &LitInt) -> syn::Result<u32> {
    if !int.suffix().is_empty() {
        return Err(syn::Error::new(
            int.span(),
            "`size` expects an unsuffixed integer literal: `size = 100`",
        ));
    }
    let n: u32 = int
        .base10_parse()
        .map_err(|_| syn::Error::new(int.span(), "`size` must fit in a u32"))?;
    if n == 0 {
        return Err(syn::Error::new(int.span(), "`size` must be at least 1"));
    }
    Ok(n)
}

/// Splits `"table.column"`; `None` unless both parts are non-empty and there is exactly one dot.
pub fn split_foreign_key(s: &str) -> Option<(String, String)> {
    let (table, column) = s.split_once('.')?;
    let valid = |part: &str| !part.is_empty() && !part.contains(char::is_whitespace);
    if valid(table) && valid(column) && !column.contains('.') {
        Some((table.to_string(), column.to_string()))
    } else {
        None
    }
}

/// The longest table or column name accepted, in bytes: PostgreSQL's limit (63; MySQL/MariaDB
/// allow 64, SQLite any). A longer name would be silently truncated by PostgreSQL.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// The rule every table and column name follows, as error messages state it.
pub const IDENTIFIER_RULE: &str = "ASCII letters, digits and `_`, not starting with a digit, \
     at most 63 bytes";

/// Why `name` is not a plain SQL identifier, or `None` when it is one.
///
/// Plain identifiers read the same on every dialect, quoted or not, and need no escaping in
/// the names the library derives from them (`ix_<table>_<column>`, `fk_<table>_<column>`).
pub fn identifier_problem(name: &str) -> Option<String> {
    let first = name.chars().next()?;
    if first.is_ascii_digit() {
        return Some("it starts with a digit".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Some(format!("it contains {bad:?}"));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Some(format!("it is {} bytes long", name.len()));
    }
    None
}

/// Checks that `name` is a plain SQL identifier; `what` says where it was given (for example
/// "`table`" or "the table of `foreign_key`"), and the error points at `span`.
pub fn check_identifier(name: &str, what: &str, span: Span) -> syn::Result<()> {
    if name.is_empty() {
        return Err(syn::Error::new(span, format!("{what} must not be empty")));
    }
    match identifier_problem(name) {
        None => Ok(()),
        Some(problem) => Err(syn::Error::new(
            span,
            format!("{what} {name:?} is not a valid SQL name ({problem}): use {IDENTIFIER_RULE}"),
        )),
    }
}

/// Rejects a key written twice.
fn once<T>(slot: &Option<T>, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<()> {
    if slot.is_some() {
        Err(meta.error(format!("duplicate `{key}` attribute")))
    } else {
        Ok(())
    }
}

fn once_flag(set: bool, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<()> {
    if set {
        Err(meta.error(format!("duplicate `{key}` attribute")))
    } else {
        Ok(())
    }
}

/// A table or column name: a non-empty plain SQL identifier (see [`check_identifier`]).
fn identifier_name(lit: &LitStr, key: &str) -> syn::Result<String> {
    let value = lit.value();
    if value.trim().is_empty() {
        Err(syn::Error::new(
            lit.span(),
            format!("`{key}` must not be empty"),
        ))
    } else if value.trim() != value {
        Err(syn::Error::new(
            lit.span(),
            format!("`{key}` must not have leading or trailing whitespace"),
        ))
    } else {
        check_identifier(&value, &format!("`{key}`"), lit.span())?;
        Ok(value)
    }
}

/// Runs `parse_one` on each key of each `#[model(...)]` in `attrs`, collecting every error.
///
/// A key that fails does not stop the others from being checked, so the user sees every mistake
/// of an item at once.
fn for_each_key(
    attrs: &[Attribute],
    mut parse_one: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    let mut errors = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("model")) {
        if let syn::Meta::Path(path) = &attr.meta {
            accumulate(
                &mut errors,
                syn::Error::new_spanned(path, "expected `#[model(...)]`"),
            );
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if let Err(e) = parse_one(&meta) {
                accumulate(&mut errors, e);
                // Skip this key's value, if any, so the remaining keys are still parsed.
                if meta.input.peek(syn::Token![=]) {
                    let value = meta.value()?;
                    let _: syn::Expr = value.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _content;
                    syn::parenthesized!(_content in meta.input);
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            accumulate(&mut errors, e);
        }
    }
    errors.map_or(Ok(()), Err)
}

/// Parses the struct-level `#[model(...)]` attributes.
pub fn parse_struct_attrs(attrs: &[Attribute]) -> syn::Result<StructAttrs> {
    let mut out = StructAttrs::default();
    for_each_key(attrs, |meta| {
        let key = key_name(meta);
        match key.as_str() {
            "table" => {
                once(&out.table, meta, "table")?;
                let lit = string_value(meta, "table")?;
                identifier_name(&lit, "table")?;
                out.table = Some(lit);
            }
            "no_table" | "column_set" => {
                expect_flag(meta, &key)?;
                if out.no_table.is_some() {
                    return Err(meta.error(format!("duplicate `{key}` attribute")));
                }
                out.no_table = Some(meta.path.span());
            }
            _ => {
                let hint = if FIELD_ONLY_KEYS.contains(&key.as_str()) {
                    format!(" (`{key}` goes on a field, not on the struct)")
                } else {
                    String::new()
                };
                return Err(meta.error(format!(
                    "unknown model attribute `{key}`{hint}; expected one of: {STRUCT_KEYS}"
                )));
            }
        }
        Ok(())
    })?;
    if let (Some(table), Some(span)) = (&out.table, out.no_table) {
        let mut e = syn::Error::new(span, "`no_table` cannot be combined with `table`");
        e.combine(syn::Error::new(table.span(), "`table` given here"));
        return Err(e);
    }
    Ok(out)
}

const FIELD_ONLY_KEYS: &[&str] = &[
    "primary_key",
    "auto_increment",
    "unique",
    "index",
    "default",
    "comment",
    "renamed_from",
    "foreign_key",
    "column",
    "size",
    "flatten",
    "belongs_to",
    "references",
    "on_delete",
];

/// Parses the `#[model(...)]` attributes of one field.
pub fn parse_field_attrs(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for_each_key(attrs, |meta| {
        let key = key_name(meta);
        let span = meta.path.span();
        match key.as_str() {
            "flatten" => {
                expect_flag(meta, "flatten")?;
                if out.flatten.is_some() {
                    return Err(meta.error("duplicate `flatten` attribute"));
                }
                out.flatten = Some(span);
                return Ok(());
            }
            "primary_key" => {
                expect_flag(meta, &key)?;
                once_flag(out.primary_key, meta, &key)?;
                out.primary_key = true;
            }
            "auto_increment" => {
                expect_flag(meta, &key)?;
                once_flag(out.auto_increment, meta, &key)?;
                out.auto_increment = true;
            }
            "unique" => {
                expect_flag(meta, &key)?;
                once_flag(out.unique, meta, &key)?;
                out.unique = true;
            }
            "index" => {
                expect_flag(meta, &key)?;
                once_flag(out.index, meta, &key)?;
                out.index = true;
            }
            "default" => {
                once(&out.default, meta, &key)?;
                out.default = Some(string_value(meta, &key)?.value());
            }
            "comment" => {
                once(&out.comment, meta, &key)?;
                out.comment = Some(string_value(meta, &key)?.value());
            }
            "renamed_from" => {
                once(&out.renamed_from, meta, &key)?;
                let lit = string_value(meta, &key)?;
                out.renamed_from = Some(identifier_name(&lit, &key)?);
            }
            "column" => {
                once(&out.column, meta, &key)?;
                let lit = string_value(meta, &key)?;
                out.column = Some(identifier_name(&lit, &key)?);
            }
            "foreign_key" => {
                once(&out.foreign_key, meta, &key)?;
                let lit = string_value(meta, &key)?;
                let parts = split_foreign_key(&lit.value()).ok_or_else(|| {
                    syn::Error::new(
                        lit.span(),
                        "`foreign_key` must be of the form \"table.column\"",
                    )
                })?;
                check_identifier(&parts.0, "the table of `foreign_key`", lit.span())?;
                check_identifier(&parts.1, "the column of `foreign_key`", lit.span())?;
                out.foreign_key = Some(parts);
            }
            "size" => {
                once(&out.size, meta, &key)?;
                out.size = Some(size_value(meta)?);
            }
            "belongs_to" => {
                once(&out.belongs_to, meta, &key)?;
                out.belongs_to = Some(meta.value()?.parse::<syn::Path>()?);
            }
            "references" => {
                once(&out.references, meta, &key)?;
                let lit = string_value(meta, &key)?;
                check_identifier(&lit.value(), "`references`", lit.span())?;
                out.references = Some(lit);
            }
            "on_delete" => {
                once(&out.on_delete, meta, &key)?;
                let lit = string_value(meta, &key)?;
                let value = lit.value();
                if !matches!(value.as_str(), "cascade" | "set_null" | "restrict") {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`on_delete` must be \"cascade\", \"set_null\" or \"restrict\"",
                    ));
                }
                out.on_delete = Some(value);
            }
            _ => {
                let hint = if matches!(key.as_str(), "table" | "no_table" | "column_set") {
                    format!(" (`{key}` goes on the struct, not on a field)")
                } else {
                    String::new()
                };
                return Err(meta.error(format!(
                    "unknown model attribute `{key}`{hint}; expected one of: {FIELD_KEYS}"
                )));
            }
        }
        if out.first_column_key.is_none() {
            out.first_column_key = Some((span, key));
        }
        Ok(())
    })?;
    if let (Some(flatten), Some((span, key))) = (out.flatten, &out.first_column_key) {
        let mut e = syn::Error::new(
            *span,
            format!(
                "`{key}` cannot be combined with `flatten`: a flattened field is a set of \
                 columns; put column attributes on the fields of the flattened type"
            ),
        );
        e.combine(syn::Error::new(flatten, "`flatten` given here"));
        return Err(e);
    }
    if out.belongs_to.is_none() {
        let needs =
            |what: &str| format!("`{what}` needs `belongs_to = ParentModel` on the same field");
        if let Some(lit) = &out.references {
            return Err(syn::Error::new(lit.span(), needs("references")));
        }
        if out.on_delete.is_some() {
            return Err(syn::Error::new(Span::call_site(), needs("on_delete")));
        }
    } else if out.foreign_key.is_some() {
        return Err(syn::Error::new(
            Span::call_site(),
            "`belongs_to` already makes the column a foreign key to the parent's column: \
             drop `foreign_key`",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn field(attrs: Vec<Attribute>) -> syn::Result<FieldAttrs> {
        parse_field_attrs(&attrs)
    }

    fn err(result: syn::Result<impl std::fmt::Debug>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn no_attributes_is_a_plain_column() {
        let a = field(vec![parse_quote!(#[doc = "x"])]).unwrap();
        assert!(!a.primary_key && !a.unique && a.flatten.is_none() && a.size.is_none());
    }

    #[test]
    fn every_field_key() {
        let a = field(vec![
            parse_quote!(#[model(primary_key, auto_increment, unique, index)]),
            parse_quote!(#[model(default = "0", comment = "c", foreign_key = "users.pkid")]),
            parse_quote!(#[model(column = "the_name", size = 100)]),
        ])
        .unwrap();
        assert!(a.primary_key && a.auto_increment && a.unique && a.index);
        assert_eq!(a.default.as_deref(), Some("0"));
        assert_eq!(a.comment.as_deref(), Some("c"));
        assert_eq!(a.foreign_key, Some(("users".into(), "pkid".into())));
        assert_eq!(a.column.as_deref(), Some("the_name"));
        assert_eq!(a.size, Some(100));
        assert!(a.flatten.is_none());
    }

    #[test]
    fn flatten_alone() {
        let a = field(vec![parse_quote!(#[model(flatten)])]).unwrap();
        assert!(a.flatten.is_some());
    }

    #[test]
    fn flatten_with_column_keys_is_rejected() {
        let e = err(field(vec![parse_quote!(#[model(flatten, unique)])]));
        assert!(
            e.contains("`unique` cannot be combined with `flatten`"),
            "{e}"
        );
        let e = err(field(vec![
            parse_quote!(#[model(size = 3)]),
            parse_quote!(#[model(flatten)]),
        ]));
        assert!(
            e.contains("`size` cannot be combined with `flatten`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_lists_valid_ones() {
        let e = err(field(vec![parse_quote!(#[model(primary)])]));
        assert!(e.contains("unknown model attribute `primary`"), "{e}");
        assert!(
            e.contains("`primary_key`") && e.contains("`flatten`"),
            "{e}"
        );
        let e = err(field(vec![parse_quote!(#[model(table = "x")])]));
        assert!(e.contains("goes on the struct"), "{e}");
    }

    #[test]
    fn wrong_value_types() {
        let e = err(field(vec![parse_quote!(#[model(size = "x")])]));
        assert!(e.contains("`size` expects an integer literal"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(size = 0)])]));
        assert!(e.contains("at least 1"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(size = 5000000000)])]));
        assert!(e.contains("u32"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(default = 3)])]));
        assert!(e.contains("`default` expects a string literal"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(size)])]));
        assert!(e.contains("`size` needs a value"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(unique = true)])]));
        assert!(e.contains("`unique` takes no value"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(column = "")])]));
        assert!(e.contains("must not be empty"), "{e}");
    }

    #[test]
    fn foreign_key_form() {
        assert_eq!(
            split_foreign_key("a.b"),
            Some(("a".to_string(), "b".to_string()))
        );
        for bad in ["ab", ".b", "a.", "a.b.c", "a .b", ""] {
            assert_eq!(split_foreign_key(bad), None, "{bad}");
        }
        let e = err(field(vec![parse_quote!(#[model(foreign_key = "users")])]));
        assert!(e.contains("\"table.column\""), "{e}");
    }

    #[test]
    fn plain_identifiers_are_accepted() {
        let longest = "a".repeat(MAX_IDENTIFIER_BYTES);
        for good in ["users", "_x", "A1_b2", "type", longest.as_str()] {
            assert_eq!(identifier_problem(good), None, "{good}");
        }
        let a = field(vec![
            parse_quote!(#[model(column = "Name_2", foreign_key = "t_1.pkid")]),
        ])
        .unwrap();
        assert_eq!(a.column.as_deref(), Some("Name_2"));
    }

    #[test]
    fn hostile_identifiers_are_rejected_with_the_rule() {
        let too_long = "a".repeat(MAX_IDENTIFIER_BYTES + 1);
        for (bad, problem) in [
            ("we\"ird", "contains '\"'"),
            ("it's", "contains '\\''"),
            ("back`tick", "contains '`'"),
            ("semi;colon", "contains ';'"),
            ("a b", "contains ' '"),
            ("dollar$", "contains '$'"),
            ("caf\u{e9}", "contains '\u{e9}'"),
            ("1st", "starts with a digit"),
            (too_long.as_str(), "64 bytes long"),
        ] {
            let lit = LitStr::new(bad, Span::call_site());
            let e = err(parse_struct_attrs(&[parse_quote!(#[model(table = #lit)])]));
            assert!(e.contains("`table`") && e.contains(problem), "{bad}: {e}");
            assert!(e.contains(IDENTIFIER_RULE), "{bad}: {e}");
            let e = err(field(vec![parse_quote!(#[model(column = #lit)])]));
            assert!(e.contains("`column`") && e.contains(problem), "{bad}: {e}");
        }
    }

    #[test]
    fn foreign_key_parts_must_be_identifiers() {
        let e = err(field(vec![
            parse_quote!(#[model(foreign_key = "us`ers.pkid")]),
        ]));
        assert!(e.contains("the table of `foreign_key`"), "{e}");
        assert!(e.contains(IDENTIFIER_RULE), "{e}");
        let e = err(field(vec![
            parse_quote!(#[model(foreign_key = "users.pk'id")]),
        ]));
        assert!(e.contains("the column of `foreign_key`"), "{e}");
    }

    #[test]
    fn duplicates_are_rejected() {
        let e = err(field(vec![
            parse_quote!(#[model(unique)]),
            parse_quote!(#[model(unique)]),
        ]));
        assert!(e.contains("duplicate `unique`"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(size = 1, size = 2)])]));
        assert!(e.contains("duplicate `size`"), "{e}");
    }

    #[test]
    fn all_errors_are_reported() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[model(bogus, size = "x", unique)])];
        let e = parse_field_attrs(&attrs).unwrap_err();
        let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
    }

    #[test]
    fn bare_model_attribute_is_rejected() {
        let e = err(field(vec![parse_quote!(#[model])]));
        assert!(e.contains("expected `#[model(...)]`"), "{e}");
    }

    #[test]
    fn struct_keys() {
        let a = parse_struct_attrs(&[parse_quote!(#[model(table = "users")])]).unwrap();
        assert_eq!(a.table.unwrap().value(), "users");
        assert!(a.no_table.is_none());
        let a = parse_struct_attrs(&[parse_quote!(#[model(no_table)])]).unwrap();
        assert!(a.no_table.is_some());
        let a = parse_struct_attrs(&[parse_quote!(#[model(column_set)])]).unwrap();
        assert!(a.no_table.is_some());
        let a = parse_struct_attrs(&[parse_quote!(#[derive(Debug)])]).unwrap();
        assert!(a.table.is_none() && a.no_table.is_none());
    }

    #[test]
    fn struct_key_errors() {
        let e = err(parse_struct_attrs(&[parse_quote!(#[model(tabel = "x")])]));
        assert!(e.contains("unknown model attribute `tabel`"), "{e}");
        assert!(e.contains("`table = \"...\"`"), "{e}");
        let e = err(parse_struct_attrs(&[parse_quote!(#[model(unique)])]));
        assert!(e.contains("goes on a field"), "{e}");
        let e = err(parse_struct_attrs(&[parse_quote!(#[model(table = 1)])]));
        assert!(e.contains("`table` expects a string literal"), "{e}");
        let e = err(parse_struct_attrs(&[
            parse_quote!(#[model(table = "x")]),
            parse_quote!(#[model(no_table)]),
        ]));
        assert!(e.contains("cannot be combined"), "{e}");
    }

    #[test]
    fn belongs_to_with_references_and_on_delete() {
        let a = field(vec![parse_quote!(
            #[model(belongs_to = crate::User, references = "id", on_delete = "set_null")]
        )])
        .unwrap();
        assert!(a.belongs_to.is_some());
        assert_eq!(a.references.map(|r| r.value()).as_deref(), Some("id"));
        assert_eq!(a.on_delete.as_deref(), Some("set_null"));
    }

    #[test]
    fn relation_keys_are_checked() {
        let e = err(field(vec![
            parse_quote!(#[model(on_delete = "explode", belongs_to = U)]),
        ]));
        assert!(e.contains("`on_delete` must be"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(references = "id")])]));
        assert!(e.contains("needs `belongs_to"), "{e}");
        let e = err(field(vec![parse_quote!(#[model(on_delete = "cascade")])]));
        assert!(e.contains("needs `belongs_to"), "{e}");
        let e = err(field(vec![parse_quote!(
            #[model(belongs_to = U, foreign_key = "users.pkid")]
        )]));
        assert!(e.contains("drop `foreign_key`"), "{e}");
        let e = err(field(vec![
            parse_quote!(#[model(belongs_to = U, references = "a b")]),
        ]));
        assert!(e.contains("references"), "{e}");
    }
}
