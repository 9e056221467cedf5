//! Name helpers: identifiers as written, and the default table name.

/// The identifier as a string, without the `r#` of a raw identifier.
pub fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// `UserAccount` → `user_account`, `HTTPLog` → `http_log`, `Log2Entry` → `log2_entry`.
///
/// An underscore goes before an uppercase letter that follows a lowercase letter or digit, and
/// before the last uppercase letter of an acronym when a lowercase letter follows it.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_examples() {
        let cases = [
            ("User", "user"),
            ("UserAccount", "user_account"),
            ("HTTPLog", "http_log"),
            ("MyHTTPServerLog", "my_http_server_log"),
            ("ID", "id"),
            ("UserID", "user_id"),
            ("Log2Entry", "log2_entry"),
            ("V2", "v2"),
            ("already_snake", "already_snake"),
            ("My_Type", "my_type"),
            ("A", "a"),
            ("ABc", "a_bc"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(snake_case(input), expected, "{input}");
        }
    }

    #[test]
    fn unraw_strips_prefix() {
        let raw: syn::Ident = syn::parse_str("r#type").unwrap();
        assert_eq!(unraw(&raw), "type");
        let plain: syn::Ident = syn::parse_str("name").unwrap();
        assert_eq!(unraw(&plain), "name");
    }
}
