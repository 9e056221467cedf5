//! Keeping secrets and bound values out of what users see: `Debug`/`Display` output, logs and
//! error details.
//!
//! A URI's secrets are its userinfo password and the value of every query parameter whose name
//! names a secret (`password`, `sslpassword`, `token`, …). Bound values are hidden from error
//! details when `hide_parameters` is set.

use sea_query::Value;
use url::Url;

/// What replaces a secret.
pub(crate) const MASK: &str = "***";

/// What replaces a hidden bound value.
pub(crate) const HIDDEN: &str = "(value hidden)";

/// Whether a URI query parameter named `key` carries a secret.
pub(crate) fn is_secret_key(key: &str) -> bool {
    const SECRET: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
        "auth",
    ];
    let key = key.to_ascii_lowercase();
    SECRET.iter().any(|s| key.contains(s))
}

/// The secrets of `url`: its password and secret query parameters, decoded and as written.
pub(crate) fn url_secrets(url: &Url) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(p) = url.password() {
        secrets.push(p.to_string());
        secrets.push(percent_decode(p));
    }
    for (key, value) in url.query_pairs() {
        if is_secret_key(&key) {
            secrets.push(value.into_owned());
        }
    }
    if let Some(query) = url.query() {
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=')
                && is_secret_key(&percent_decode(key))
            {
                secrets.push(value.to_string());
            }
        }
    }
    secrets.retain(|s| !s.is_empty());
    // Longest first, so that a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// `url` with its password and secret query parameters replaced by `***`.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_key(&k) {
                    MASK.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.set_query(None);
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
    }
    url.to_string()
}

/// Replaces every secret in `text` by `***`.
pub(crate) fn scrub_secrets(mut text: String, secrets: &[String]) -> String {
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), MASK);
        }
    }
    text
}

/// Replaces every bound value that appears in `text` by `(value hidden)`: strings wherever
/// they occur, numbers where they stand as a whole token.
pub(crate) fn scrub_values<'v>(
    mut text: String,
    values: impl IntoIterator<Item = &'v Value>,
) -> String {
    let mut shown: Vec<String> = values.into_iter().filter_map(as_text).collect();
    shown.retain(|s| !s.is_empty());
    shown.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for value in &shown {
        let numeric = value.parse::<f64>().is_ok();
        text = if numeric {
            replace_tokens(&text, value)
        } else {
            text.replace(value.as_str(), HIDDEN)
        };
    }
    text
}

/// A bound value as it could appear in a message.
fn as_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::String(Some(s)) => s.clone(),
        Value::Char(Some(c)) => c.to_string(),
        Value::TinyInt(Some(n)) => n.to_string(),
        Value::SmallInt(Some(n)) => n.to_string(),
        Value::Int(Some(n)) => n.to_string(),
        Value::BigInt(Some(n)) => n.to_string(),
        Value::TinyUnsigned(Some(n)) => n.to_string(),
        Value::SmallUnsigned(Some(n)) => n.to_string(),
        Value::Unsigned(Some(n)) => n.to_string(),
        Value::BigUnsigned(Some(n)) => n.to_string(),
        Value::Float(Some(n)) => n.to_string(),
        Value::Double(Some(n)) => n.to_string(),
        Value::Bytes(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        Value::Json(Some(j)) => j.to_string(),
        Value::Uuid(Some(u)) => u.to_string(),
        _ => return None,
    })
}

/// Replaces `token` in `text` where it is not part of a longer word or number.
fn replace_tokens(text: &str, token: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(token) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + token.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            out.push_str(token);
        } else {
            out.push_str(HIDDEN);
        }
        rest = &rest[at + token.len()..];
    }
    out.push_str(rest);
    out
}

/// Decodes `%xx` escapes (and keeps `+` as is).
pub(crate) fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_secrets_are_redacted() {
        let url = Url::parse(
            "postgres://u:p%40ss@h/db?password=hunter2&sslpassword=x1&application_name=app",
        )
        .unwrap();
        let shown = redact_url(&url);
        assert!(!shown.contains("hunter2") && !shown.contains("x1") && !shown.contains("p%40ss"));
        assert!(shown.contains("application_name=app"), "{shown}");
        let secrets = url_secrets(&url);
        assert_eq!(
            scrub_secrets("a p@ss b hunter2 c x1".into(), &secrets),
            "a *** b *** c ***"
        );
    }

    #[test]
    fn numbers_are_hidden_only_as_whole_tokens() {
        let values = [
            Value::BigInt(Some(42)),
            Value::String(Some("secret".into())),
        ];
        assert_eq!(
            scrub_values("value 42 in t42 at 'secret'".into(), &values),
            "value (value hidden) in t42 at '(value hidden)'"
        );
    }
}
