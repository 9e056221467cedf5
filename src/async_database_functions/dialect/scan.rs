//! The `:name` scanner of [`text`](super::text): splits SQL into literal runs and parameters,
//! skipping every quoting form and comment of the dialect, so that a `:x` inside a string,
//! a quoted identifier or a comment is never taken for a parameter.
//!
//! | dialect | skipped |
//! |---|---|
//! | all | `'…'` (`''` escapes), `"…"` (`""` escapes), `/* … */`, `--` comments, `::` casts |
//! | SQLite | `` `…` `` and `[…]` identifiers |
//! | PostgreSQL, CockroachDB | `E'…'` with `\` escapes, `$$ … $$` and `$tag$ … $tag$`, nested `/* /* */ */` |
//! | MySQL, MariaDB | `\` escapes in `'…'` and `"…"`, `` `…` ``, `#` comments, `--` only before a space; `/*! … */` and `/*M! … */` are SQL the server runs, so they are scanned |
//!
//! MySQL is assumed to run in its default SQL mode (`\` escapes strings, `"…"` is a string).
//! Unterminated strings and comments run to the end of the text; the server reports them.
//! The scanner never fails and never panics, whatever the input.

/// A piece of SQL text: a literal run, or a `:name` parameter (its name without the colon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Sql(&'a str),
    Param(&'a str),
}

/// The lexical rules of a dialect that decide where a `:name` cannot be a parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `\` escapes the next character in `'…'` and `"…"` (MySQL/MariaDB).
    backslash_strings: bool,
    /// `E'…'` strings, where `\` escapes (PostgreSQL).
    escape_strings: bool,
    /// `$tag$ … $tag$` strings (PostgreSQL).
    dollar_quotes: bool,
    /// `` `…` `` identifiers (MySQL/MariaDB, SQLite).
    backticks: bool,
    /// `[…]` identifiers (SQLite).
    brackets: bool,
    /// `/* */` comments nest (PostgreSQL).
    nested_comments: bool,
    /// `#` comments to the end of the line (MySQL/MariaDB).
    hash_comments: bool,
    /// `--` starts a comment only before whitespace or a control character (MySQL/MariaDB).
    dash_comment_needs_space: bool,
    /// `/*! … */` and `/*M! … */` are run by the server (MySQL/MariaDB).
    executable_comments: bool,
}

// Each set of rules belongs to one backend; a build without it never uses it.
#[cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
impl Syntax {
    pub(crate) const SQLITE: Syntax = Syntax {
        backslash_strings: false,
        escape_strings: false,
        dollar_quotes: false,
        backticks: true,
        brackets: true,
        nested_comments: false,
        hash_comments: false,
        dash_comment_needs_space: false,
        executable_comments: false,
    };

    pub(crate) const POSTGRES: Syntax = Syntax {
        escape_strings: true,
        dollar_quotes: true,
        backticks: false,
        brackets: false,
        nested_comments: true,
        ..Syntax::SQLITE
    };

    pub(crate) const MYSQL: Syntax = Syntax {
        backslash_strings: true,
        backticks: true,
        brackets: false,
        hash_comments: true,
        dash_comment_needs_space: true,
        executable_comments: true,
        ..Syntax::SQLITE
    };
}

/// Splits `sql` into literal runs and `:name` parameters, by a dialect's lexical rules
/// (`dialect::text_syntax`).
///
/// Writing the pieces back in order (a parameter as `:` and its name) gives `sql` again.
pub(crate) fn scan(sql: &str, syntax: Syntax) -> Vec<Piece<'_>> {
    scan_with(sql, syntax)
}

fn scan_with(sql: &str, syntax: Syntax) -> Vec<Piece<'_>> {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let next = bytes.get(i + 1).copied();
        i = match bytes[i] {
            b'\'' => {
                let backslash =
                    syntax.backslash_strings || (syntax.escape_strings && is_e_prefixed(bytes, i));
                skip_quoted(bytes, i, b'\'', backslash)
            }
            b'"' => skip_quoted(bytes, i, b'"', syntax.backslash_strings),
            b'`' if syntax.backticks => skip_quoted(bytes, i, b'`', false),
            b'[' if syntax.brackets => skip_past(bytes, i + 1, b']'),
            b'$' if syntax.dollar_quotes => skip_dollar_quoted(sql, i),
            b'#' if syntax.hash_comments => skip_line(bytes, i),
            b'-' if next == Some(b'-') && dash_comment_starts(bytes, i, syntax) => {
                skip_line(bytes, i)
            }
            b'/' if next == Some(b'*') => {
                if syntax.executable_comments && is_executable_comment(bytes, i) {
                    // Only the opening is skipped: what follows is SQL the server runs.
                    i + 2
                } else {
                    skip_block_comment(bytes, i, syntax.nested_comments)
                }
            }
            b':' if next == Some(b':') => i + 2,
            b':' if next.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') => {
                let end = name_end(bytes, i + 1);
                pieces.push(Piece::Sql(&sql[start..i]));
                pieces.push(Piece::Param(&sql[i + 1..end]));
                start = end;
                end
            }
            _ => i + 1,
        };
    }
    if start < sql.len() {
        pieces.push(Piece::Sql(&sql[start..]));
    }
    pieces
}

/// Whether `b` can be part of an identifier (`$` and any non-ASCII byte included, as
/// PostgreSQL and MySQL allow them).
fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The end of the parameter name starting at `from`: ASCII letters, digits and `_`.
fn name_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .map_or(bytes.len(), |n| from + n)
}

/// Whether the quote at `quote` opens an `E'…'` string: an `E` or `e` right before it that is
/// not the end of a longer word.
fn is_e_prefixed(bytes: &[u8], quote: usize) -> bool {
    quote >= 1
        && matches!(bytes[quote - 1], b'E' | b'e')
        && (quote == 1 || !is_ident_byte(bytes[quote - 2]))
}

/// The index just past the quoted text opening at `open` (its end when unterminated). A
/// doubled quote stands for itself; with `backslash`, `\` escapes the next byte.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash: bool) -> usize {
    let mut j = open + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if backslash => j += 2,
            b if b == quote => {
                if bytes.get(j + 1) == Some(&quote) {
                    j += 2;
                } else {
                    return j + 1;
                }
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// The index just past the first `close` at or after `from` (the end when there is none).
fn skip_past(bytes: &[u8], from: usize, close: u8) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|b| *b == close))
        .map_or(bytes.len(), |n| from + n + 1)
}

/// The index of the end of the line that starts a comment at `from`.
fn skip_line(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |n| from + n)
}

/// Whether the `--` at `at` starts a comment: always, except on MySQL where it must be
/// followed by whitespace, a control character or the end of the text (`1--1` is `1 - -1`).
fn dash_comment_starts(bytes: &[u8], at: usize, syntax: Syntax) -> bool {
    !syntax.dash_comment_needs_space
        || bytes
            .get(at + 2)
            .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control())
}

/// Whether the `/*` at `at` opens a MySQL `/*! … */` or MariaDB `/*M! … */` comment.
fn is_executable_comment(bytes: &[u8], at: usize) -> bool {
    match bytes.get(at + 2) {
        Some(b'!') => true,
        Some(b'M') => bytes.get(at + 3) == Some(&b'!'),
        _ => false,
    }
}

/// The index just past the block comment opening at `open` (the end when unterminated).
fn skip_block_comment(bytes: &[u8], open: usize, nested: bool) -> usize {
    let mut depth = 1_usize;
    let mut j = open + 2;
    while j < bytes.len() {
        let next = bytes.get(j + 1).copied();
        if bytes[j] == b'*' && next == Some(b'/') {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else if nested && bytes[j] == b'/' && next == Some(b'*') {
            depth += 1;
            j += 2;
        } else {
            j += 1;
        }
    }
    bytes.len()
}

/// The index just past the dollar-quoted string opening at `dollar` (PostgreSQL's
/// `$tag$ … $tag$`, the tag possibly empty), or `dollar + 1` when the `$` opens none: a
/// positional parameter (`$1`), or a `$` inside an identifier (`a$b`).
fn skip_dollar_quoted(sql: &str, dollar: usize) -> usize {
    let bytes = sql.as_bytes();
    let not_a_quote = dollar + 1;
    if dollar > 0 && is_ident_byte(bytes[dollar - 1]) {
        return not_a_quote;
    }
    let tag_start = dollar + 1;
    let tag_end = bytes[tag_start..]
        .iter()
        .position(|b| !is_ident_byte(*b) || *b == b'$')
        .map_or(bytes.len(), |n| tag_start + n);
    let opens = bytes.get(tag_end) == Some(&b'$')
        && bytes.get(tag_start).is_none_or(|b| !b.is_ascii_digit());
    if !opens {
        return not_a_quote;
    }
    // Both ends of the delimiter are `$`, so these are character boundaries.
    let delimiter = &sql[dollar..=tag_end];
    let body = tag_end + 1;
    sql[body..]
        .find(delimiter)
        .map_or(sql.len(), |n| body + n + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_database_functions::core::sql_dialect::Dialect;

    fn scan(sql: &str, dialect: Dialect) -> Vec<Piece<'_>> {
        super::scan(
            sql,
            crate::async_database_functions::dialect::text_syntax(dialect),
        )
    }
    use proptest::prelude::*;

    /// The parameter names `sql` has on `dialect`.
    fn params(sql: &str, dialect: Dialect) -> Vec<&str> {
        scan(sql, dialect)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Param(name) => Some(name),
                Piece::Sql(_) => None,
            })
            .collect()
    }

    /// The pieces written back: a parameter as `:name`.
    fn rejoin(pieces: &[Piece<'_>]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Sql(s) => (*s).to_string(),
                Piece::Param(name) => format!(":{name}"),
            })
            .collect()
    }

    const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgresql, Dialect::Mysql];

    #[test]
    fn common_quotes_comments_and_casts_on_every_dialect() {
        for d in ALL {
            assert_eq!(params("SELECT ':x', :a", d), ["a"], "{d:?}");
            assert_eq!(params("SELECT 'it''s :x', :a", d), ["a"], "{d:?}");
            assert_eq!(
                params("SELECT \"a:b\" FROM t WHERE v = :v", d),
                ["v"],
                "{d:?}"
            );
            assert_eq!(params("SELECT 1 -- :c\n, :v", d), ["v"], "{d:?}");
            assert_eq!(params("SELECT /* :d */ :v", d), ["v"], "{d:?}");
            assert_eq!(params("SELECT 1::text, :v", d), ["v"], "{d:?}");
            assert_eq!(params(":a:b :_c1 :1 : x", d), ["a", "b", "_c1"], "{d:?}");
        }
    }

    #[test]
    fn mysql_backslash_escapes_hash_comments_and_dashes() {
        let my = Dialect::Mysql;
        assert_eq!(params(r"SELECT 'it\'s :x', :v", my), ["v"]);
        assert_eq!(params(r#"SELECT "say \":x\"", :v"#, my), ["v"]);
        assert_eq!(params(r"SELECT '\\', :v", my), ["v"]);
        assert_eq!(params("SELECT 1 # :x\n, :v", my), ["v"]);
        assert_eq!(params("SELECT `a:b`, `c``:d`, :v", my), ["v"]);
        // `--` needs a space after it to be a comment on MySQL.
        assert_eq!(params("SELECT 1--:v", my), ["v"]);
        assert_eq!(params("SELECT 1-- :x\n, :v", my), ["v"]);
        // Executable comments are SQL.
        assert_eq!(params("SELECT /*!50000 :v */ 1", my), ["v"]);
        assert_eq!(params("SELECT /*M!100000 :v */ 1", my), ["v"]);
        assert_eq!(params("SELECT /*+ :x */ :v", my), ["v"]);
        // MariaDB is the same dialect family.
        assert_eq!(params(r"SELECT 'it\'s :x', :v", Dialect::Mariadb), ["v"]);
    }

    #[test]
    fn backslashes_are_plain_characters_elsewhere() {
        // Standard strings: `\` is a character, the string ends at the next quote.
        for d in [Dialect::Sqlite, Dialect::Postgresql] {
            assert_eq!(params(r"SELECT 'a\', :v", d), ["v"], "{d:?}");
        }
        // So on MySQL the same text is one unterminated string.
        assert!(params(r"SELECT 'a\', :v", Dialect::Mysql).is_empty());
    }

    #[test]
    fn postgres_dollar_quotes_escape_strings_and_nested_comments() {
        let pg = Dialect::Postgresql;
        assert_eq!(params("SELECT $$ :x $$, :v", pg), ["v"]);
        assert_eq!(params("SELECT $tag$ :x $$ :y $tag$, :v", pg), ["v"]);
        assert_eq!(params("SELECT $a_1$:x$a_1$||:v", pg), ["v"]);
        assert_eq!(params("SELECT $1, :v", pg), ["v"]);
        assert_eq!(params("SELECT a$b, :v", pg), ["v"]);
        assert_eq!(params(r"SELECT E'it\'s :x', e'\\', :v", pg), ["v"]);
        assert_eq!(params(r"SELECT name'x', :v", pg), ["v"]);
        assert_eq!(params("SELECT /* a /* :x */ :y */ :v", pg), ["v"]);
        assert_eq!(params("SELECT ':x'::text, :v::int", pg), ["v"]);
        assert_eq!(
            params("SELECT $\u{e9}t\u{e9}$ :x $\u{e9}t\u{e9}$, :v", pg),
            ["v"]
        );
        // Cockroach speaks PostgreSQL.
        assert_eq!(params("SELECT $$ :x $$, :v", Dialect::Cockroachdb), ["v"]);
    }

    #[test]
    fn dollar_quotes_and_nesting_are_postgres_only() {
        for d in [Dialect::Sqlite, Dialect::Mysql] {
            assert_eq!(params("SELECT $$ :x $$", d), ["x"], "{d:?}");
            assert_eq!(params("SELECT /* /* */ :v */", d), ["v"], "{d:?}");
        }
    }

    #[test]
    fn sqlite_backticks_and_brackets() {
        let lite = Dialect::Sqlite;
        assert_eq!(params("SELECT `a:b`, [c:d], :v", lite), ["v"]);
        assert_eq!(params("SELECT 1 # :x", lite), ["x"]);
        assert_eq!(params("SELECT 1--:x", lite), Vec::<&str>::new());
    }

    #[test]
    fn unterminated_text_runs_to_the_end() {
        for d in ALL {
            for sql in [
                "SELECT ':x",
                "SELECT \":x",
                "SELECT /* :x",
                "SELECT -- :x",
                "SELECT 'a''",
                ":",
                "'",
                "/*",
                "$",
                "E'",
            ] {
                assert!(params(sql, d).is_empty(), "{d:?} {sql}");
                assert_eq!(rejoin(&scan(sql, d)), sql, "{d:?}");
            }
        }
        assert!(params("SELECT $t$ :x", Dialect::Postgresql).is_empty());
        assert!(params(r"SELECT 'a\", Dialect::Mysql).is_empty());
        assert!(params("SELECT [a :x", Dialect::Sqlite).is_empty());
    }

    #[test]
    fn multibyte_text_is_kept_whole() {
        for d in ALL {
            let sql = "SELECT 'h\u{e9}:x', \u{1f600} :v \u{e9}:w";
            assert_eq!(params(sql, d), ["v", "w"], "{d:?}");
            assert_eq!(rejoin(&scan(sql, d)), sql, "{d:?}");
        }
    }

    fn dialect() -> impl Strategy<Value = Dialect> {
        prop::sample::select(vec![
            Dialect::Sqlite,
            Dialect::Postgresql,
            Dialect::Cockroachdb,
            Dialect::Mysql,
            Dialect::Mariadb,
        ])
    }

    /// SQL-ish text: the characters that matter to the scanner, mixed with any others.
    fn sqlish() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            prop::sample::select(vec![
                "'", "\"", "`", "[", "]", "$", "$$", "$t$", "E'", "\\", "--", "-- ", "#", "/*",
                "*/", "/*!", ":", "::", ":a", ":_b1", "\n", " ", "1", "x",
            ])
            .prop_map(str::to_string),
            any::<char>().prop_map(String::from),
            ".{0,8}",
        ];
        prop::collection::vec(token, 0..40).prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any text at all: no panic, the pieces give the text back, and every parameter is a
        /// plain name.
        #[test]
        fn scanning_never_panics_and_loses_nothing(sql in sqlish(), d in dialect()) {
            let pieces = scan(&sql, d);
            prop_assert_eq!(rejoin(&pieces), sql.as_str());
            for piece in pieces {
                if let Piece::Param(name) = piece {
                    prop_assert!(!name.is_empty());
                    prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                    prop_assert!(!name.as_bytes()[0].is_ascii_digit());
                }
            }
        }

        /// Arbitrary strings, including invalid-looking UTF-8 boundaries around quotes.
        #[test]
        fn arbitrary_strings_never_panic(sql in any::<String>(), d in dialect()) {
            prop_assert_eq!(rejoin(&scan(&sql, d)), sql);
        }

        /// A value quoted the dialect's way hides every `:name` inside it.
        #[test]
        fn quoted_literals_hide_parameters(body in "[ -~]{0,40}", d in dialect()) {
            let mut quoted = body.replace('\'', "''");
            if d.is_mysql_family() {
                quoted = quoted.replace('\\', "\\\\");
            }
            let sql = format!("SELECT '{quoted}', :v");
            prop_assert_eq!(params(&sql, d), vec!["v"]);
        }
    }
}
