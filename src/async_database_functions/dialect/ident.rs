//! Identifiers in SQL text: quoted with a dialect's quote character (each backend's
//! `IDENT_QUOTE`), quotes inside doubled.

/// Appends `name` between `quote`s, quotes inside doubled.
pub(crate) fn push_quoted(quote: char, sql: &mut String, name: &str) {
    sql.push(quote);
    // Names without the quote character (nearly all) are copied whole, not char by char.
    let mut rest = name;
    while let Some(at) = rest.find(quote) {
        let (head, tail) = rest.split_at(at + quote.len_utf8());
        sql.push_str(head);
        sql.push(quote);
        rest = tail;
    }
    sql.push_str(rest);
    sql.push(quote);
}

/// Appends `names` quoted, separated by `", "` (a column list).
pub(crate) fn push_quoted_list<'a>(
    quote: char,
    sql: &mut String,
    names: impl IntoIterator<Item = &'a str>,
) {
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_quoted(quote, sql, name);
    }
}

/// ` ON CONFLICT (keys) DO UPDATE SET col = excluded.col, …`: SQLite's and PostgreSQL's upsert.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn push_on_conflict(quote: char, sql: &mut String, keys: &[&str], updated: &[&str]) {
    sql.push_str(" ON CONFLICT (");
    push_quoted_list(quote, sql, keys.iter().copied());
    sql.push_str(") DO UPDATE SET ");
    for (i, column) in updated.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_quoted(quote, sql, column);
        sql.push_str(" = excluded.");
        push_quoted(quote, sql, column);
    }
}
