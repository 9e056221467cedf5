//! Code generation of `#[derive(SqlEnum)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitInt, LitStr};

use crate::names::{snake_case, unraw};

/// The default `VARCHAR` size: room for names added later.
const DEFAULT_SIZE: u32 = 64;

/// How `rename_all` spells a variant name.
fn rename(rule: &str, name: &str) -> Option<String> {
    Some(match rule {
        "snake_case" => snake_case(name),
        "SCREAMING_SNAKE_CASE" => snake_case(name).to_uppercase(),
        "kebab-case" => snake_case(name).replace('_', "-"),
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        _ => return None,
    })
}

/// Expands the derive, or returns the first error found in the input.
pub fn derive_sql_enum(input: &DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(SqlEnum)] only supports enums of unit variants",
        ));
    };
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            input.generics.span(),
            "generic enums are not supported by #[derive(SqlEnum)]",
        ));
    }
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(SqlEnum)] needs at least one variant",
        ));
    }

    let mut size: Option<u32> = None;
    let mut rename_all: Option<LitStr> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("sql_enum")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("size") {
                let lit: LitInt = meta.value()?.parse()?;
                let n: u32 = lit.base10_parse()?;
                if n == 0 {
                    return Err(syn::Error::new(lit.span(), "`size` must be at least 1"));
                }
                size = Some(n);
                Ok(())
            } else if meta.path.is_ident("rename_all") {
                let lit: LitStr = meta.value()?.parse()?;
                if rename(&lit.value(), "X").is_none() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`rename_all` must be one of \"snake_case\", \"SCREAMING_SNAKE_CASE\", \
                         \"kebab-case\", \"lowercase\", \"UPPERCASE\"",
                    ));
                }
                rename_all = Some(lit);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[sql_enum] attribute on the enum; expected `size = N` or \
                     `rename_all = \"...\"`",
                ))
            }
        })?;
    }

    let mut idents = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new(
                variant.span(),
                "#[derive(SqlEnum)] only supports unit variants (no fields)",
            ));
        }
        let mut stored: Option<String> = None;
        for attr in variant
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("sql_enum"))
        {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().is_empty() {
                        return Err(syn::Error::new(lit.span(), "`rename` must not be empty"));
                    }
                    stored = Some(lit.value());
                    Ok(())
                } else {
                    Err(meta.error(
                        "unknown #[sql_enum] attribute on a variant; expected `rename = \"...\"`",
                    ))
                }
            })?;
        }
        let written = unraw(&variant.ident);
        let stored = match (stored, &rename_all) {
            (Some(s), _) => s,
            (None, Some(rule)) => rename(&rule.value(), &written).unwrap_or(written),
            (None, None) => written,
        };
        if names.contains(&stored) {
            return Err(syn::Error::new(
                variant.span(),
                format!("two variants are stored as {stored:?}; rename one of them"),
            ));
        }
        idents.push(&variant.ident);
        names.push(stored);
    }

    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let longest = u32::try_from(longest).unwrap_or(u32::MAX);
    let size = match size {
        Some(n) if n < longest => {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "`size = {n}` is shorter than the longest stored name ({longest} characters)"
                ),
            ));
        }
        Some(n) => n,
        None => Ord::max(DEFAULT_SIZE, longest),
    };

    let p = quote!(::dsg_lib::__private);
    let names_lit: Vec<LitStr> = names.iter().map(|n| LitStr::new(n, name.span())).collect();
    Ok(quote! {
        #[automatically_derived]
        impl #p::SqlEnum for #name {
            const VARIANTS: &'static [&'static str] = &[#(#names_lit),*];

            fn as_sql_str(&self) -> &'static str {
                match self {
                    #(Self::#idents => #names_lit,)*
                }
            }

            fn from_sql_str(__text: &str) -> ::core::option::Option<Self> {
                match __text {
                    #(#names_lit => ::core::option::Option::Some(Self::#idents),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        #[automatically_derived]
        impl #p::SqlField for #name {
            const SQL_TYPE: #p::SqlType = #p::SqlType::String(::core::option::Option::Some(#size));

            fn to_value(&self, _: #p::Dialect) -> #p::Value {
                #p::Value::String(::core::option::Option::Some(::std::string::String::from(
                    <Self as #p::SqlEnum>::as_sql_str(self),
                )))
            }

            fn null_value(_: #p::Dialect) -> #p::Value {
                #p::Value::String(::core::option::Option::None)
            }

            fn decode(
                __row: #p::RowRef<'_>,
                __index: usize,
            ) -> ::core::result::Result<Self, #p::DecodeError> {
                #p::decode_enum::<Self>(__row, __index)
            }

            fn from_json(
                __json: &#p::JsonValue,
                __column: &#p::Column,
                __dialect: #p::Dialect,
            ) -> ::core::result::Result<#p::Value, ::std::string::String> {
                #p::enum_from_json::<Self>(__json, __column, __dialect)
            }
        }

        #[automatically_derived]
        impl #p::FromRow for #name {
            fn from_row(__row: #p::RowRef<'_>) -> ::core::result::Result<Self, #p::DatabaseError> {
                #p::RowReader::new(__row).next()
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<#name> for #p::Value {
            fn from(__value: #name) -> Self {
                #p::Value::String(::core::option::Option::Some(::std::string::String::from(
                    <#name as #p::SqlEnum>::as_sql_str(&__value),
                )))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(input: &str) -> String {
        let input: DeriveInput = syn::parse_str(input).expect("valid Rust");
        match derive_sql_enum(&input) {
            Ok(_) => panic!("expected an error for {input:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn refuses_what_cannot_be_stored_as_text() {
        assert!(error_of("struct S { a: i32 }").contains("only supports enums"));
        assert!(error_of("enum E { A(i32) }").contains("only supports unit variants"));
        assert!(error_of("enum E {}").contains("at least one variant"));
        assert!(error_of("enum E<T> { A }").contains("generic enums"));
        assert!(error_of("#[sql_enum(size = 2)] enum E { Abc }").contains("shorter than"));
        assert!(error_of("#[sql_enum(size = 0)] enum E { A }").contains("at least 1"));
        assert!(
            error_of("#[sql_enum(rename_all = \"Title\")] enum E { A }").contains("rename_all")
        );
        assert!(error_of("#[sql_enum(colour)] enum E { A }").contains("unknown #[sql_enum]"));
        assert!(
            error_of("enum E { A, #[sql_enum(rename = \"A\")] B }").contains("stored as \"A\"")
        );
        assert!(error_of("enum E { #[sql_enum(rename = \"\")] A }").contains("must not be empty"));
    }

    #[test]
    fn names_follow_rename_all_and_size_defaults() {
        let input: DeriveInput = syn::parse_str(
            "#[sql_enum(rename_all = \"snake_case\")] enum E { TeamMember, #[sql_enum(rename = \"x\")] Guest }",
        )
        .expect("valid Rust");
        let out = derive_sql_enum(&input).expect("expands").to_string();
        assert!(out.contains("\"team_member\""), "{out}");
        assert!(out.contains("\"x\""), "{out}");
        assert!(out.contains("Some (64u32)"), "{out}");
        assert_eq!(
            rename("SCREAMING_SNAKE_CASE", "TeamMember").as_deref(),
            Some("TEAM_MEMBER")
        );
        assert_eq!(
            rename("kebab-case", "TeamMember").as_deref(),
            Some("team-member")
        );
    }
}
