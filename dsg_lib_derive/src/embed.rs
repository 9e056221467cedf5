//! `embed_migrations!("folder")`: the `.sql` files of a migrations folder, read at compile time.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

/// Expands to `Migrations::from_files(folder, &[(file name, include_str!(absolute path)), …])`,
/// the folder relative to the crate's `CARGO_MANIFEST_DIR`.
pub(crate) fn embed(folder: &LitStr) -> syn::Result<TokenStream> {
    let relative = folder.value();
    let base = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        syn::Error::new(
            folder.span(),
            "embed_migrations!: CARGO_MANIFEST_DIR is not set (build with cargo)",
        )
    })?;
    let dir = std::path::Path::new(&base).join(&relative);
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        syn::Error::new(
            folder.span(),
            format!(
                "embed_migrations!: the migrations folder {} cannot be read: {e}",
                dir.display()
            ),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            syn::Error::new(
                folder.span(),
                format!("embed_migrations!: {} cannot be listed: {e}", dir.display()),
            )
        })?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".sql") || name.starts_with('.') || path.is_dir() {
            continue;
        }
        let absolute = path.to_str().ok_or_else(|| {
            syn::Error::new(
                folder.span(),
                format!("embed_migrations!: {} is not a UTF-8 path", path.display()),
            )
        })?;
        files.push((name.to_string(), absolute.to_string()));
    }
    files.sort();
    let pairs = files.iter().map(|(name, absolute)| {
        let name = LitStr::new(name, Span::call_site());
        let absolute = LitStr::new(absolute, Span::call_site());
        quote! { (#name, ::core::include_str!(#absolute)) }
    });
    Ok(quote! {
        ::dsg_lib::async_database_functions::migrations::Migrations::from_files(
            #relative,
            &[#(#pairs),*],
        )
    })
}
