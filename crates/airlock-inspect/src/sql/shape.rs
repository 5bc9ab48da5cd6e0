//! The shape key: the text's tokens with every number and string literal replaced by a
//! placeholder, found by a small scanner instead of a parse (the checkpoint computes it for
//! every statement that misses its text cache, so it must cost far less than a parse).
//!
//! Soundness rests on one property: two texts with the same key differ only in the values of
//! number and string literals, as PostgreSQL itself tokenizes them. Every other token is kept
//! verbatim, so the scanner only has to agree with PostgreSQL's lexer about where literals,
//! quoted identifiers and comments begin and end. Wherever the two could disagree — escape
//! strings (`E'…'`), `U&`, bit and national strings, dollar quoting, adjacent string
//! constants (which PostgreSQL concatenates), numbers glued to letters, dots or quotes,
//! unterminated quotes or comments, control bytes — the scanner gives up and the caller
//! falls back to a full inspection. Only for `standard_conforming_strings = on`.

/// Placeholders: an operator token never contains letters, so these cannot collide.
const NUMBER: &str = "?n";
const STRING: &str = "?s";

/// The shape key of `text`, or `None` when the scanner cannot be sure of its tokens.
pub fn shape_key(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut key = String::with_capacity(text.len());
    let mut pos = 0;
    let mut last_string = false;
    while let Some(&byte) = bytes.get(pos) {
        let start = pos;
        let token = match byte {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                pos += 1;
                continue;
            }
            b'-' if bytes.get(pos + 1) == Some(&b'-') => {
                pos = line_end(bytes, pos);
                continue;
            }
            b'/' if bytes.get(pos + 1) == Some(&b'*') => {
                pos = comment_end(bytes, pos)?;
                continue;
            }
            b'\'' => {
                if last_string
                    || !string_may_start_after(start.checked_sub(1).and_then(|p| bytes.get(p)))
                {
                    return None;
                }
                pos = quoted_end(bytes, pos, b'\'')?;
                push(&mut key, STRING);
                last_string = true;
                continue;
            }
            b'"' => {
                pos = quoted_end(bytes, pos, b'"')?;
                text.get(start..pos)?
            }
            b'0'..=b'9' => {
                pos = number_end(bytes, pos)?;
                NUMBER
            }
            b'.' if bytes.get(pos + 1).is_some_and(u8::is_ascii_digit) => {
                pos = number_end(bytes, pos)?;
                NUMBER
            }
            b'$' => {
                // `$1` parameters; anything else is dollar quoting.
                pos += 1;
                let digits = take_while(bytes, pos, |b| b.is_ascii_digit());
                if digits == pos || bytes.get(digits).copied().is_some_and(is_ident) {
                    return None;
                }
                pos = digits;
                text.get(start..pos)?
            }
            b':' if bytes.get(pos + 1) == Some(&b':') => {
                pos += 2;
                "::"
            }
            b'(' | b')' | b',' | b';' | b'[' | b']' | b':' | b'.' => {
                pos += 1;
                text.get(start..pos)?
            }
            b if is_operator(b) => {
                pos = operator_end(bytes, pos);
                text.get(start..pos)?
            }
            b if is_ident_start(b) => {
                pos = take_while(bytes, pos, is_ident);
                text.get(start..pos)?
            }
            _ => return None,
        };
        last_string = false;
        push(&mut key, token);
    }
    Some(key)
}

fn push(key: &mut String, token: &str) {
    if !key.is_empty() {
        key.push(' ');
    }
    key.push_str(token);
}

/// A plain string constant may not follow a letter, digit or quote directly (`E'…'`,
/// `B'…'`, `X'…'`, `N'…'`, `U&'…'` and friends are different tokens).
fn string_may_start_after(previous: Option<&u8>) -> bool {
    previous.is_none_or(|&b| !(is_ident(b) || matches!(b, b'&' | b'"' | b'\'')))
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

fn is_ident(byte: u8) -> bool {
    is_ident_start(byte) || byte.is_ascii_digit() || byte == b'$'
}

fn is_operator(byte: u8) -> bool {
    matches!(
        byte,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

fn take_while(bytes: &[u8], mut pos: usize, keep: impl Fn(u8) -> bool) -> usize {
    while bytes.get(pos).copied().is_some_and(&keep) {
        pos += 1;
    }
    pos
}

fn line_end(bytes: &[u8], pos: usize) -> usize {
    take_while(bytes, pos, |b| b != b'\n' && b != b'\r')
}

/// The end of a (nested) block comment starting at `pos`; `None` if it never ends.
fn comment_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match (bytes.get(pos)?, bytes.get(pos + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                pos += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                pos += 2;
                if depth == 0 {
                    return Some(pos);
                }
            }
            _ => pos += 1,
        }
    }
}

/// The end of a quoted token (doubled quotes escape); `None` if unterminated.
fn quoted_end(bytes: &[u8], mut pos: usize, quote: u8) -> Option<usize> {
    pos += 1;
    loop {
        let byte = *bytes.get(pos)?;
        pos += 1;
        if byte == quote {
            if bytes.get(pos) != Some(&quote) {
                return Some(pos);
            }
            pos += 1;
        }
    }
}

/// The end of a decimal number (`12`, `1.5`, `.5`, `1.`, `1e-3`); `None` when letters,
/// digits' separators, another dot or a quote follow it (PostgreSQL reads those differently
/// across versions: hex literals, `1_000`, trailing junk).
fn number_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let digit = |b: u8| b.is_ascii_digit();
    let mut end = take_while(bytes, pos, digit);
    if bytes.get(end) == Some(&b'.') {
        end = take_while(bytes, end + 1, digit);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exponent = end + 1;
        if matches!(bytes.get(exponent), Some(b'+' | b'-')) {
            exponent += 1;
        }
        let digits = take_while(bytes, exponent, digit);
        if digits == exponent {
            return None;
        }
        end = digits;
    }
    match bytes.get(end) {
        Some(&b) if is_ident(b) || matches!(b, b'.' | b'\'' | b'"') => None,
        _ => Some(end),
    }
}

/// The end of an operator run, stopping before a comment start inside it.
fn operator_end(bytes: &[u8], pos: usize) -> usize {
    let mut end = pos;
    while let Some(&b) = bytes.get(end) {
        let comment = matches!(
            (b, bytes.get(end + 1)),
            (b'-', Some(b'-')) | (b'/', Some(b'*'))
        );
        if !is_operator(b) || (comment && end > pos) {
            break;
        }
        end += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::shape_key;

    fn same(a: &str, b: &str) {
        assert_eq!(shape_key(a), shape_key(b), "{a:?} vs {b:?}");
        assert!(shape_key(a).is_some(), "{a:?}");
    }

    fn differ(a: &str, b: &str) {
        assert_ne!(shape_key(a), shape_key(b), "{a:?} vs {b:?}");
    }

    #[test]
    fn literals_and_layout_do_not_change_the_shape() {
        same(
            "SELECT abalance FROM pgbench_accounts WHERE aid = 42;",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 123456;",
        );
        same(
            "SELECT * FROM t WHERE a = 'x''y'",
            "SELECT *  FROM t\nWHERE a='z'",
        );
        same("SELECT 1.5e-3, .5, 7.", "SELECT 2, 3, 4 -- comment");
        same("SELECT /* a /* nested */ comment */ 1", "SELECT 2");
        same(
            "UPDATE t SET a = a + 1 WHERE id = $1",
            "UPDATE t SET a = a + 99 WHERE id = $1",
        );
        same("SELECT a::int FROM t", "SELECT a :: int FROM t");
        assert_eq!(
            shape_key("select x from t where y = 'a' and z = 3").as_deref(),
            Some("select x from t where y = ?s and z = ?n")
        );
    }

    #[test]
    fn everything_but_literals_is_kept() {
        differ("SELECT a FROM t", "SELECT b FROM t");
        differ("SELECT a FROM t", "select a from t");
        differ("SELECT 1", "SELECT '1'");
        differ("SELECT \"a b\" FROM t", "SELECT \"a c\" FROM t");
        differ("SELECT 1; DROP TABLE t", "SELECT 1");
        differ("SELECT a @- b", "SELECT a @ - b");
        differ("SELECT $1", "SELECT $2");
        differ("DELETE FROM t WHERE id = 1", "DELETE FROM t");
    }

    #[test]
    fn gives_up_where_postgresql_could_read_it_differently() {
        for text in [
            // Escape strings: the DROP is outside the literal for PostgreSQL.
            r"SELECT E'\''; DROP TABLE t; --'",
            "SELECT e'x'",
            "SELECT B'101', X'ff', N'x'",
            "SELECT U&'d\\0061t\\+000061'",
            "SELECT $$x$$",
            "SELECT $tag$x$tag$",
            "SELECT 'a'\n'b'",
            "SELECT 'unterminated",
            "SELECT \"unterminated",
            "SELECT /* unterminated",
            "SELECT 0x1F",
            "SELECT 1_000",
            "SELECT 1..2",
            "SELECT 1e",
            "SELECT 1abc",
            "SELECT $1a",
            "SELECT 1 \\ 2",
            "SELECT '\u{1}'\u{1}",
        ] {
            assert_eq!(shape_key(text), None, "{text:?}");
        }
    }

    #[test]
    fn comment_starts_end_operators() {
        same("SELECT 1 +-- comment\n 2", "SELECT 3 + 4");
        same("SELECT 1 +/* c */ 2", "SELECT 3 + 4");
    }
}
