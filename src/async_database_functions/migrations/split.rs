//! Splitting a migration's SQL into statements: at `;` outside quotes, comments, dollar-quoted
//! bodies (PostgreSQL) and trigger and routine bodies (`CREATE TRIGGER … BEGIN …; END`).

use crate::async_database_functions::database_config::Dialect;

/// Why a file's SQL could not be split: an unterminated quote, comment or body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitError {
    /// The 1-based line where the unterminated construct starts.
    pub(crate) line: usize,
    /// What is unterminated.
    pub(crate) what: String,
}

/// The statements of `sql` for `dialect`, each trimmed, without the `;` that ends it; a part
/// with nothing but comments and blanks is left out.
///
/// Quotes: `'…'` (doubled `''` inside; a backslash escapes on MySQL/MariaDB and in
/// PostgreSQL's `E'…'`), `"…"` and `` `…` `` identifiers. Comments: `-- …`, `# …` (MySQL/MariaDB),
/// `/* … */` (nested on PostgreSQL). PostgreSQL's `$tag$ … $tag$` bodies. Trigger bodies:
/// inside a `CREATE TRIGGER`, `PROCEDURE`, `FUNCTION` or `EVENT` (PostgreSQL's `BEGIN ATOMIC`), a
/// `;` between `BEGIN` and its `END` (`CASE … END` counted) does not end the statement.
pub(crate) fn split_statements(sql: &str, dialect: Dialect) -> Result<Vec<String>, SplitError> {
    let bytes = sql.as_bytes();
    let mysql = dialect.is_mysql_family();
    let postgres = dialect.is_postgres_wire();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut line = 1;
    // Whether the current statement has any code (not only comments and blanks).
    let mut code = false;
    // `BEGIN`/`CASE` minus `END` seen in a statement that has a body (a trigger).
    let mut depth: i64 = 0;
    let mut words: Vec<String> = Vec::new();
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_line(bytes, i),
            b'#' if mysql => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let at = line;
                let mut level = 1;
                i += 2;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(SplitError {
                                line: at,
                                what: "a /* comment */ is not closed".into(),
                            });
                        }
                        Some(b'*') if bytes.get(i + 1) == Some(&b'/') => {
                            level -= 1;
                            i += 2;
                            if level == 0 {
                                break;
                            }
                        }
                        Some(b'/') if postgres && bytes.get(i + 1) == Some(&b'*') => {
                            level += 1;
                            i += 2;
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'\'' | b'"' | b'`' => {
                code = true;
                let escape_string = c == b'\''
                    && (mysql
                        || (postgres
                            && i > 0
                            && matches!(bytes[i - 1], b'E' | b'e')
                            && (i < 2 || !is_word(bytes[i - 2]))));
                let at = line;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            let what = match c {
                                b'\'' => "a 'string' is not closed",
                                b'"' => "a \"quoted identifier\" is not closed",
                                _ => "a `quoted identifier` is not closed",
                            };
                            return Err(SplitError {
                                line: at,
                                what: what.into(),
                            });
                        }
                        Some(b'\\') if escape_string => i += 2,
                        Some(&q) if q == c => {
                            if bytes.get(i + 1) == Some(&c) {
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'$' if postgres && (i == 0 || !is_word(bytes[i - 1])) => {
                code = true;
                match dollar_tag(bytes, i) {
                    Some(tag) => {
                        let at = line;
                        let body = i + tag.len();
                        let Some(end) = find(&bytes[body..], tag) else {
                            return Err(SplitError {
                                line: at,
                                what: format!(
                                    "a {} body is not closed",
                                    String::from_utf8_lossy(tag)
                                ),
                            });
                        };
                        line += bytes[i..body + end].iter().filter(|b| **b == b'\n').count();
                        i = body + end + tag.len();
                    }
                    None => i += 1,
                }
            }
            b';' if depth <= 0 => {
                if code {
                    statements.push(sql[start..i].trim().to_string());
                }
                code = false;
                depth = 0;
                words.clear();
                i += 1;
                start = i;
            }
            _ if is_word(c) && (i == 0 || !is_word(bytes[i - 1])) => {
                code = true;
                let end = i + bytes[i..].iter().take_while(|b| is_word(**b)).count();
                let word = sql[i..end].to_ascii_uppercase();
                if words.len() < 4 {
                    words.push(word.clone());
                }
                if has_body(&words) {
                    match word.as_str() {
                        "BEGIN" | "CASE" => depth += 1,
                        // `END IF`, `END LOOP`, … close what `BEGIN` did not open.
                        "END" if !followed_by_block_word(&sql[end..]) => depth -= 1,
                        _ => {}
                    }
                }
                i = end;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                code = true;
                i += 1;
            }
        }
    }
    if depth > 0 {
        return Err(SplitError {
            line,
            what: "a trigger body's BEGIN has no END".into(),
        });
    }
    if code {
        statements.push(sql[start..].trim().to_string());
    }
    Ok(statements)
}

/// Whether the statement whose first words are `words` has a body with `;` inside.
fn has_body(words: &[String]) -> bool {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let after_create = match w.as_slice() {
        ["CREATE", rest @ ..] => rest,
        _ => return false,
    };
    after_create
        .iter()
        .any(|word| matches!(*word, "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT"))
}

/// `END IF`, `END LOOP`, `END WHILE`, `END REPEAT`: an `END` that closes no `BEGIN`.
fn followed_by_block_word(rest: &str) -> bool {
    let next: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    matches!(
        next.to_ascii_uppercase().as_str(),
        "IF" | "LOOP" | "WHILE" | "REPEAT"
    )
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn skip_line(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| i + p)
}

/// The `$tag$` opening at `i`, if one does.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<&[u8]> {
    let rest = &bytes[i + 1..];
    let len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if rest.get(len) == Some(&b'$') && rest.first().is_none_or(|b| !b.is_ascii_digit()) {
        Some(&bytes[i..i + len + 2])
    } else {
        None
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(sql: &str, dialect: Dialect) -> Vec<String> {
        split_statements(sql, dialect).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn plain_statements_split_at_semicolons() {
        let sql = "CREATE TABLE a (x INT);\n\n  INSERT INTO a VALUES (1) ;\nSELECT 1";
        assert_eq!(
            split(sql, Dialect::Sqlite),
            [
                "CREATE TABLE a (x INT)",
                "INSERT INTO a VALUES (1)",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn semicolons_in_strings_identifiers_and_comments_stay() {
        let sql = "INSERT INTO a VALUES ('x;y', 'it''s;');\n-- a comment; still\n\
                   SELECT \"we;ird\" FROM b /* ; */;";
        let got = split(sql, Dialect::Postgresql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], "INSERT INTO a VALUES ('x;y', 'it''s;')");
        assert!(
            got[1].ends_with("SELECT \"we;ird\" FROM b /* ; */"),
            "{got:?}"
        );
    }

    #[test]
    fn comment_only_parts_are_left_out() {
        let sql = "-- nothing here;\n/* nor; here */ ;\nSELECT 1;\n-- trailing";
        assert_eq!(split(sql, Dialect::Sqlite).len(), 1);
        assert!(split("  -- only a comment\n", Dialect::Mysql).is_empty());
    }

    #[test]
    fn dollar_quoted_bodies_stay_whole_on_postgres() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n\
                   CREATE FUNCTION g() RETURNS text AS $body$ SELECT 'a;$$;b' $body$ LANGUAGE sql;\n\
                   SELECT $1";
        let got = split(sql, Dialect::Postgresql);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].ends_with("LANGUAGE plpgsql"));
        assert!(got[1].contains("'a;$$;b'"));
    }

    #[test]
    fn backslash_escapes_on_mysql_and_in_postgres_e_strings() {
        let mysql = split(
            "INSERT INTO a VALUES ('it\\'s; ok'); SELECT 2",
            Dialect::Mysql,
        );
        assert_eq!(mysql.len(), 2, "{mysql:?}");
        let pg = split(
            "SELECT E'it\\'s; ok'; SELECT 'a\\'; SELECT 3",
            Dialect::Postgresql,
        );
        assert_eq!(pg, ["SELECT E'it\\'s; ok'", "SELECT 'a\\'", "SELECT 3"]);
        let hash = split("SELECT 1; # a comment; here\nSELECT 2", Dialect::Mariadb);
        assert_eq!(hash.len(), 2, "{hash:?}");
    }

    #[test]
    fn nested_block_comments_on_postgres() {
        let got = split(
            "/* a /* b; */ c; */ SELECT 1; SELECT 2",
            Dialect::Postgresql,
        );
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn trigger_bodies_stay_whole() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = n + 1;\n  \
                   UPDATE c SET v = CASE WHEN 1 THEN 2 ELSE 3 END;\nEND;\nSELECT 1;";
        let got = split(sql, Dialect::Sqlite);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("END"), "{got:?}");
        let proc =
            "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; SELECT 2; END;\nSELECT 3";
        assert_eq!(split(proc, Dialect::Mysql).len(), 2);
        // A column named like a keyword does not open a body outside a trigger.
        assert_eq!(
            split("SELECT 1 AS case_x; SELECT 2", Dialect::Sqlite).len(),
            2
        );
    }

    #[test]
    fn unterminated_constructs_name_their_line() {
        let cases = [
            ("SELECT 1;\nSELECT 'oops;\n", Dialect::Sqlite, 2, "string"),
            ("SELECT 1;\n\n/* never closed", Dialect::Mysql, 3, "comment"),
            ("SELECT \"x", Dialect::Postgresql, 1, "identifier"),
            ("SELECT 1;\nDO $$ BEGIN", Dialect::Postgresql, 2, "$$"),
            (
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1;",
                Dialect::Sqlite,
                1,
                "END",
            ),
        ];
        for (sql, dialect, line, word) in cases {
            let err = split_statements(sql, dialect).unwrap_err();
            assert_eq!(err.line, line, "{sql}: {err:?}");
            assert!(err.what.contains(word), "{sql}: {err:?}");
        }
    }

    #[test]
    fn dollar_signs_that_open_nothing() {
        assert_eq!(
            split("SELECT $1, a$b FROM t; SELECT 2", Dialect::Postgresql).len(),
            2
        );
        assert_eq!(split("SELECT '$$'; SELECT 2", Dialect::Sqlite).len(), 2);
    }
}
