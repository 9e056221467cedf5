//! Code generation of `#[derive(Model)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::attrs::{FieldAttrs, check_identifier, parse_field_attrs, parse_struct_attrs};
use crate::names::{snake_case, unraw};

/// One field of the model, checked.
struct Field<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    attrs: FieldAttrs,
}

impl Field<'_> {
    fn is_flatten(&self) -> bool {
        self.attrs.flatten.is_some()
    }
}

/// Adds `error` to `errors`.
fn push_error(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(existing) => existing.combine(error),
        None => *errors = Some(error),
    }
}

/// `error` with `hint` appended to its message.
fn with_hint(error: syn::Error, hint: &str) -> syn::Error {
    syn::Error::new(error.span(), format!("{error}, {hint}"))
}

/// Expands the derive, or returns every error found in the input.
pub fn derive_model(input: &DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let mut errors = None;

    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Some(fields),
            Fields::Unnamed(_) => {
                push_error(
                    &mut errors,
                    syn::Error::new(
                        name.span(),
                        "#[derive(Model)] needs a struct with named fields, not a tuple struct",
                    ),
                );
                None
            }
            Fields::Unit => {
                push_error(
                    &mut errors,
                    syn::Error::new(
                        name.span(),
                        "#[derive(Model)] needs a struct with named fields, not a unit struct",
                    ),
                );
                None
            }
        },
        Data::Enum(data) => {
            return Err(syn::Error::new(
                data.enum_token.span(),
                "#[derive(Model)] only supports structs with named fields, not enums",
            ));
        }
        Data::Union(data) => {
            return Err(syn::Error::new(
                data.union_token.span(),
                "#[derive(Model)] only supports structs with named fields, not unions",
            ));
        }
    };

    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        let span = if input.generics.params.is_empty() {
            input.generics.where_clause.span()
        } else {
            input.generics.params.span()
        };
        push_error(
            &mut errors,
            syn::Error::new(span, "generic models are not supported by #[derive(Model)]"),
        );
    }

    let struct_attrs = match parse_struct_attrs(&input.attrs) {
        Ok(a) => Some(a),
        Err(e) => {
            push_error(&mut errors, e);
            None
        }
    };

    let mut fields = Vec::new();
    if let Some(named) = named {
        if named.named.is_empty() {
            push_error(
                &mut errors,
                syn::Error::new(
                    named.brace_token.span.join(),
                    "#[derive(Model)] needs at least one field",
                ),
            );
        }
        for field in &named.named {
            let Some(ident) = field.ident.as_ref() else {
                continue;
            };
            match parse_field_attrs(&field.attrs) {
                Ok(attrs) => {
                    if attrs.flatten.is_none()
                        && attrs.column.is_none()
                        && let Err(e) = check_identifier(
                            &unraw(ident),
                            "column name (from the field name)",
                            ident.span(),
                        )
                    {
                        push_error(
                            &mut errors,
                            with_hint(e, "or name the column with `#[model(column = \"...\")]`"),
                        );
                    }
                    fields.push(Field {
                        ident,
                        ty: &field.ty,
                        attrs,
                    });
                }
                Err(e) => push_error(&mut errors, e),
            }
        }
    }

    // The default table name comes from the struct's name: it must be a valid name too.
    let default_table = snake_case(&unraw(name));
    if let Some(attrs) = &struct_attrs
        && attrs.table.is_none()
        && attrs.no_table.is_none()
        && let Err(e) = check_identifier(
            &default_table,
            "table name (from the struct name)",
            name.span(),
        )
    {
        push_error(
            &mut errors,
            with_hint(e, "or name the table with `#[model(table = \"...\")]`"),
        );
    }

    if let Some(e) = errors {
        return Err(e);
    }
    let Some(struct_attrs) = struct_attrs else {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(Model)]: invalid attributes",
        ));
    };

    let column_set = expand_column_set(name, &fields);
    if struct_attrs.no_table.is_some() {
        return Ok(column_set);
    }
    let table = struct_attrs
        .table
        .map(|t| t.value())
        .unwrap_or(default_table);
    let model = expand_model(name, &table);
    let typed = expand_typed_columns(name, &input.vis, &fields)?;
    let relations = expand_relations(name, &fields);
    Ok(quote! {
        #column_set
        #model
        #typed
        #relations
    })
}

/// `impl ColumnSet`, plus the const assertions that give per-field type errors.
fn expand_column_set(name: &Ident, fields: &[Field<'_>]) -> TokenStream {
    let p = quote!(::dsg_lib::__private);

    let assertions = fields.iter().map(|f| field_assertion(f, &p));

    let columns = fields.iter().map(|f| {
        let ty = f.ty;
        if f.is_flatten() {
            return quote_spanned! {ty.span()=>
                __columns.extend(<#ty as #p::ColumnSet>::column_list());
            };
        }
        let a = &f.attrs;
        let column_name = LitStr::new(
            &a.column.clone().unwrap_or_else(|| unraw(f.ident)),
            f.ident.span(),
        );
        let sql_type = match a.size {
            Some(n) => quote!(#p::SqlType::String(::core::option::Option::Some(#n))),
            None => quote_spanned!(ty.span()=> <#ty as #p::SqlField>::SQL_TYPE),
        };
        let mut sets = Vec::new();
        for (flag, field) in [
            (a.primary_key, "primary_key"),
            (a.auto_increment, "auto_increment"),
            (a.unique, "unique"),
            (a.index, "index"),
        ] {
            if flag {
                let field = format_ident!("{field}");
                sets.push(quote!(__column.#field = true;));
            }
        }
        if let Some(default) = &a.default {
            sets.push(quote!(__column.default = ::core::option::Option::Some(#default);));
        }
        if let Some(comment) = &a.comment {
            sets.push(quote!(__column.comment = ::core::option::Option::Some(#comment);));
        }
        if let Some(old) = &a.renamed_from {
            sets.push(quote!(__column.renamed_from = ::core::option::Option::Some(#old);));
        }
        if let Some((table, column)) = &a.foreign_key {
            sets.push(quote!(
                __column.foreign_key = ::core::option::Option::Some((#table, #column));
            ));
        }
        if let Some(parent) = &a.belongs_to {
            let referenced = referenced_col(parent, a.references.as_ref());
            sets.push(quote_spanned!(parent.span()=>
                __column.foreign_key = ::core::option::Option::Some((
                    <#parent as #p::Model>::TABLE,
                    #referenced.name(),
                ));
            ));
        }
        if let Some(action) = &a.on_delete {
            let action = format_ident!(
                "{}",
                match action.as_str() {
                    "cascade" => "Cascade",
                    "set_null" => "SetNull",
                    _ => "Restrict",
                }
            );
            sets.push(quote!(
                __column.on_delete =
                    ::core::option::Option::Some(#p::OnDelete::#action);
            ));
        }
        let nullable = quote_spanned!(ty.span()=> <#ty as #p::SqlField>::NULLABLE);
        quote! {
            __columns.push({
                let mut __column = #p::Column::new(#column_name, #sql_type);
                __column.nullable = #nullable;
                #(#sets)*
                __column
            });
        }
    });

    let push_values = fields.iter().map(|f| {
        let (ident, ty) = (f.ident, f.ty);
        if f.is_flatten() {
            quote_spanned! {ty.span()=>
                <#ty as #p::ColumnSet>::push_values(&self.#ident, __dialect, __out);
            }
        } else {
            quote_spanned! {ty.span()=>
                __out.push(<#ty as #p::SqlField>::to_value(&self.#ident, __dialect));
            }
        }
    });

    let reads = fields.iter().map(|f| {
        let (ident, ty) = (f.ident, f.ty);
        if f.is_flatten() {
            quote_spanned! {ty.span()=>
                #ident: <#ty as #p::ColumnSet>::read_columns(__reader)?
            }
        } else {
            quote_spanned! {ty.span()=>
                #ident: #p::RowReader::next::<#ty>(__reader)?
            }
        }
    });

    let from_json = fields.iter().map(|f| {
        let ty = f.ty;
        if f.is_flatten() {
            return quote_spanned! {ty.span()=>
                if let ::core::option::Option::Some(__value) =
                    <#ty as #p::ColumnSet>::column_from_json(__column, __json, __dialect)
                {
                    return ::core::option::Option::Some(__value);
                }
            };
        }
        let column_name = LitStr::new(
            &f.attrs.column.clone().unwrap_or_else(|| unraw(f.ident)),
            f.ident.span(),
        );
        quote_spanned! {ty.span()=>
            if __column.name == #column_name {
                return ::core::option::Option::Some(
                    <#ty as #p::SqlField>::from_json(__json, __column, __dialect),
                );
            }
        }
    });

    let flattened: Vec<&Field<'_>> = fields.iter().filter(|f| f.is_flatten()).collect();
    let hooks = if flattened.is_empty() {
        // The trait's defaults do nothing, which is right for plain columns.
        TokenStream::new()
    } else {
        let inserts = flattened.iter().map(|f| {
            let (ident, ty) = (f.ident, f.ty);
            quote_spanned! {ty.span()=>
                <#ty as #p::ColumnSet>::before_insert(&mut self.#ident);
            }
        });
        let updates = flattened.iter().map(|f| {
            let ty = f.ty;
            quote_spanned! {ty.span()=>
                <#ty as #p::ColumnSet>::before_update(__values);
            }
        });
        let defaults = flattened.iter().map(|f| {
            let ty = f.ty;
            quote_spanned! {ty.span()=>
                <#ty as #p::ColumnSet>::insert_defaults(__out);
            }
        });
        quote! {
            fn before_insert(&mut self) {
                #(#inserts)*
            }

            fn before_update(
                __values: &mut ::std::vec::Vec<(&'static str, #p::Value)>,
            ) {
                #(#updates)*
            }

            fn insert_defaults(
                __out: &mut ::std::vec::Vec<(&'static str, #p::Value)>,
            ) {
                #(#defaults)*
            }
        }
    };
    let model_path = quote!(::dsg_lib::async_database_functions::model);
    let markers = flattened.iter().map(|f| {
        let ty = f.ty;
        quote_spanned! {ty.span()=>
            #[automatically_derived]
            impl #model_path::Flattens<#ty> for #name {}
        }
    });

    let column_values = fields.iter().map(|f| {
        let (ident, ty) = (f.ident, f.ty);
        if f.is_flatten() {
            return quote_spanned! {ty.span()=>
                if let ::core::option::Option::Some(__value) =
                    <#ty as #p::ColumnSet>::column_value(&self.#ident, __name, __dialect)
                {
                    return ::core::option::Option::Some(__value);
                }
            };
        }
        let column_name = LitStr::new(
            &f.attrs.column.clone().unwrap_or_else(|| unraw(f.ident)),
            f.ident.span(),
        );
        quote_spanned! {ty.span()=>
            if __name == #column_name {
                return ::core::option::Option::Some(
                    <#ty as #p::SqlField>::to_value(&self.#ident, __dialect),
                );
            }
        }
    });

    let capacity = fields.len();
    quote! {
        #(#assertions)*
        #(#markers)*

        #[automatically_derived]
        impl #p::ColumnSet for #name {
            fn column_list() -> ::std::vec::Vec<#p::Column> {
                let mut __columns: ::std::vec::Vec<#p::Column> =
                    ::std::vec::Vec::with_capacity(#capacity);
                #(#columns)*
                __columns
            }

            fn push_values(
                &self,
                __dialect: #p::Dialect,
                __out: &mut ::std::vec::Vec<#p::Value>,
            ) {
                #(#push_values)*
            }

            fn read_columns(
                __reader: &mut #p::RowReader<'_>,
            ) -> ::core::result::Result<Self, #p::DatabaseError> {
                ::core::result::Result::Ok(Self {
                    #(#reads,)*
                })
            }

            fn column_value(
                &self,
                __name: &str,
                __dialect: #p::Dialect,
            ) -> ::core::option::Option<#p::Value> {
                #(#column_values)*
                ::core::option::Option::None
            }

            fn column_from_json(
                __column: &#p::Column,
                __json: &#p::JsonValue,
                __dialect: #p::Dialect,
            ) -> ::core::option::Option<::core::result::Result<#p::Value, ::std::string::String>> {
                #(#from_json)*
                ::core::option::Option::None
            }

            #hooks
        }
    }
}

/// The const assertion that makes an unsupported field type an error at that field's type.
fn field_assertion(f: &Field<'_>, p: &TokenStream) -> TokenStream {
    let ty = f.ty;
    let field = unraw(f.ident);
    if f.is_flatten() {
        return quote_spanned! {ty.span()=>
            const _: fn() = || {
                let _ = <#ty as #p::ColumnSet>::column_list;
            };
        };
    }
    let type_check = quote_spanned! {ty.span()=>
        const _: fn() = || {
            let _ = <#ty as #p::SqlField>::to_value;
        };
    };
    // `size` sets VARCHAR(n): only meaningful on String / Option<String>.
    let size_check = f.attrs.size.map(|_| {
        let message = format!(
            "#[model(size = ...)] is only valid on String or Option<String> fields \
             (field `{field}`)"
        );
        quote_spanned! {ty.span()=>
            const _: () = ::core::assert!(
                ::core::matches!(
                    <#ty as #p::SqlField>::SQL_TYPE,
                    #p::SqlType::String(_)
                ),
                #message
            );
        }
    });
    quote! {
        #type_check
        #size_check
    }
}

/// The typed columns of a model's own fields: `pub const NAME: Col<Self>` for field `name`.
///
/// Flattened columns come from their set's trait (`SchemaBaseColumns`), through `Flattens`.
fn expand_typed_columns(
    name: &Ident,
    vis: &syn::Visibility,
    fields: &[Field<'_>],
) -> syn::Result<TokenStream> {
    let model_path = quote!(::dsg_lib::async_database_functions::model);
    let mut errors = None;
    let mut seen: Vec<(String, &Ident)> = Vec::new();
    let mut consts = Vec::new();
    for f in fields.iter().filter(|f| !f.is_flatten()) {
        let field = unraw(f.ident);
        let const_name = const_name(&field);
        if RESERVED_CONSTS.contains(&const_name.as_str()) {
            push_error(
                &mut errors,
                syn::Error::new(
                    f.ident.span(),
                    format!(
                        "field `{field}` would give the typed column `{name}::{const_name}`, which \
                         clashes with `Model::{const_name}`; rename the field and keep the \
                         column name with `#[model(column = \"{field}\")]`"
                    ),
                ),
            );
            continue;
        }
        if let Some((_, other)) = seen.iter().find(|(c, _)| *c == const_name) {
            push_error(
                &mut errors,
                syn::Error::new(
                    f.ident.span(),
                    format!(
                        "fields `{}` and `{field}` would both give the typed column \
                         `{name}::{const_name}`; rename one of them",
                        unraw(other)
                    ),
                ),
            );
            continue;
        }
        seen.push((const_name.clone(), f.ident));
        let column = f.attrs.column.clone().unwrap_or_else(|| field.clone());
        let ident = format_ident!("{}", const_name, span = f.ident.span());
        let doc = format!("The column `{column}` (field `{field}`).");
        consts.push(quote! {
            #[doc = #doc]
            #vis const #ident: #model_path::Col<Self> = #model_path::Col::new(
                <Self as ::dsg_lib::__private::Model>::TABLE,
                #column,
            );
        });
    }
    if let Some(e) = errors {
        return Err(e);
    }
    Ok(quote! {
        #[automatically_derived]
        #[allow(dead_code)]
        impl #name {
            #(#consts)*
        }
    })
}

/// The parent's typed column a `belongs_to` field refers to: `references = "id"` gives
/// `Parent::ID`, the default `Parent::PKID` (`SchemaBase`'s, through its trait, in scope only
/// in this block). A parent without that column is a compile error at the attribute.
fn referenced_col(parent: &syn::Path, references: Option<&LitStr>) -> TokenStream {
    let column = references.map_or_else(|| "pkid".to_string(), LitStr::value);
    let span = references.map_or_else(|| parent.span(), LitStr::span);
    let ident = format_ident!("{}", const_name(&column), span = span);
    quote_spanned! {span=>
        {
            #[allow(unused_imports)]
            use ::dsg_lib::async_database_functions::base_schema::SchemaBaseColumns as _;
            <#parent>::#ident
        }
    }
}

/// `impl BelongsTo<Parent>` for each `belongs_to` field.
fn expand_relations(name: &Ident, fields: &[Field<'_>]) -> TokenStream {
    let model_path = quote!(::dsg_lib::async_database_functions::model);
    let impls = fields.iter().filter_map(|f| {
        let parent = f.attrs.belongs_to.as_ref()?;
        let own = format_ident!("{}", const_name(&unraw(f.ident)), span = f.ident.span());
        let referenced = referenced_col(parent, f.attrs.references.as_ref());
        Some(quote_spanned! {parent.span()=>
            #[automatically_derived]
            impl ::dsg_lib::async_database_functions::relations::BelongsTo<#parent> for #name {
                const FOREIGN_KEY: #model_path::Col<Self> = Self::#own;
                const REFERENCES: #model_path::Col<#parent> = #referenced;
            }
        })
    });
    quote!(#(#impls)*)
}

/// Associated consts of `Model` a typed column must not shadow.
const RESERVED_CONSTS: &[&str] = &["TABLE"];

/// The name of a field's typed column: the field name in upper case.
fn const_name(field: &str) -> String {
    field.to_uppercase()
}

/// `impl Model` and `impl FromRow`.
fn expand_model(name: &Ident, table: &str) -> TokenStream {
    let p = quote!(::dsg_lib::__private);
    quote! {
        #[automatically_derived]
        impl #p::Model for #name {
            const TABLE: &'static str = #table;

            fn columns() -> &'static [#p::Column] {
                static COLUMNS: ::std::sync::OnceLock<::std::vec::Vec<#p::Column>> =
                    ::std::sync::OnceLock::new();
                COLUMNS.get_or_init(<Self as #p::ColumnSet>::column_list)
            }
        }

        #[automatically_derived]
        impl #p::FromRow for #name {
            fn from_row(
                __row: #p::RowRef<'_>,
            ) -> ::core::result::Result<Self, #p::DatabaseError> {
                <Self as #p::ColumnSet>::read_columns(&mut #p::RowReader::new(__row))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn expand(input: DeriveInput) -> syn::Result<String> {
        derive_model(&input).map(|t| t.to_string())
    }

    fn err(input: DeriveInput) -> String {
        derive_model(&input).unwrap_err().to_string()
    }

    #[test]
    fn default_table_is_snake_case() {
        let out = expand(parse_quote! {
            struct HTTPLog { id: i64 }
        })
        .unwrap();
        assert!(
            out.contains("const TABLE : & 'static str = \"http_log\""),
            "{out}"
        );
        assert!(out.contains("FromRow for HTTPLog"), "{out}");
    }

    #[test]
    fn explicit_table_and_column_names() {
        let out = expand(parse_quote! {
            #[model(table = "users")]
            struct User {
                #[model(column = "user_name", size = 10, foreign_key = "a.b")]
                name: String,
                r#type: i32,
            }
        })
        .unwrap();
        assert!(out.contains("\"users\""), "{out}");
        assert!(out.contains("Column :: new (\"user_name\""), "{out}");
        assert!(out.contains("Column :: new (\"type\""), "{out}");
        assert!(
            out.contains("SqlType :: String (:: core :: option :: Option :: Some (10u32))"),
            "{out}"
        );
        assert!(out.contains("Some ((\"a\" , \"b\"))"), "{out}");
    }

    #[test]
    fn no_table_generates_only_column_set() {
        for attr in [quote!(#[model(no_table)]), quote!(#[model(column_set)])] {
            let out = expand(parse_quote! {
                #attr
                struct Base { #[model(primary_key)] pkid: i64 }
            })
            .unwrap();
            assert!(out.contains("ColumnSet for Base"), "{out}");
            assert!(!out.contains("Model for"), "{out}");
            assert!(!out.contains("FromRow for"), "{out}");
        }
    }

    #[test]
    fn hooks_only_with_flatten() {
        let out = expand(parse_quote! { struct A { x: i64 } }).unwrap();
        assert!(!out.contains("before_insert"), "{out}");
        let out = expand(parse_quote! {
            struct A { #[model(flatten)] base: Base, x: i64 }
        })
        .unwrap();
        assert!(out.contains("before_insert (& mut self . base)"), "{out}");
        assert!(
            out.contains(
                "< Base as :: dsg_lib :: __private :: ColumnSet > :: before_update (__values)"
            ),
            "{out}"
        );
    }

    #[test]
    fn typed_columns() {
        let out = expand(parse_quote! {
            #[model(table = "users")]
            pub struct User {
                #[model(flatten)] base: Base,
                name: String,
                #[model(column = "type")] kind: String,
                r#select: i64,
            }
        })
        .unwrap();
        assert!(out.contains("pub const NAME :"), "{out}");
        assert!(out.contains("pub const KIND :"), "{out}");
        assert!(out.contains("\"type\""), "{out}");
        assert!(out.contains("pub const SELECT :"), "{out}");
        assert!(!out.contains("const BASE"), "{out}");
        assert!(out.contains("Flattens < Base > for User"), "{out}");
        // A column set has no table, so no typed columns of its own.
        let out = expand(parse_quote! { #[model(no_table)] struct B { x: i64 } }).unwrap();
        assert!(!out.contains("const X"), "{out}");
    }

    #[test]
    fn typed_column_clashes() {
        let e = err(parse_quote! { struct S { table: String } });
        assert!(e.contains("clashes with `Model::TABLE`"), "{e}");
        assert!(e.contains("#[model(column = \"table\")]"), "{e}");
        let e = err(parse_quote! { struct S { ab: i64, #[model(column = "x")] aB: i64 } });
        assert!(
            e.contains("would both give the typed column `S::AB`"),
            "{e}"
        );
    }

    #[test]
    fn shape_errors() {
        assert!(err(parse_quote! { enum E { A } }).contains("not enums"));
        assert!(err(parse_quote! { struct T(i64); }).contains("not a tuple struct"));
        assert!(err(parse_quote! { struct U; }).contains("not a unit struct"));
        assert!(err(parse_quote! { struct U {} }).contains("at least one field"));
        assert!(
            err(parse_quote! { struct G<T> { x: T } }).contains("generic models are not supported")
        );
        assert!(
            err(parse_quote! { struct G where i64: Copy { x: i64 } }).contains("generic models")
        );
    }

    #[test]
    fn field_and_struct_names_must_be_identifiers() {
        let e = err(parse_quote! {
            #[model(table = "ok")]
            struct S { größe: i64 }
        });
        assert!(e.contains("column name (from the field name)"), "{e}");
        assert!(e.contains("#[model(column"), "{e}");
        // Named through `column`, the field's own name does not matter.
        expand(parse_quote! {
            #[model(table = "ok")]
            struct S { #[model(column = "groesse")] größe: i64 }
        })
        .unwrap();
        let e = err(parse_quote! { struct Café { x: i64 } });
        assert!(e.contains("table name (from the struct name)"), "{e}");
        assert!(e.contains("#[model(table"), "{e}");
        // A column set has no table; a named table needs no valid struct name.
        expand(parse_quote! { #[model(no_table)] struct Café { x: i64 } }).unwrap();
        expand(parse_quote! { #[model(table = "cafe")] struct Café { x: i64 } }).unwrap();
        let long = format_ident!("{}", "A".repeat(64));
        let e = err(parse_quote! { struct #long { x: i64 } });
        assert!(e.contains("64 bytes long"), "{e}");
    }

    #[test]
    fn errors_from_several_fields_are_all_reported() {
        let input: DeriveInput = parse_quote! {
            #[model(bogus)]
            struct S {
                #[model(size = "x")] a: String,
                #[model(flatten, unique)] b: Base,
            }
        };
        let e = derive_model(&input).unwrap_err();
        assert_eq!(e.into_iter().count(), 4);
    }
}
