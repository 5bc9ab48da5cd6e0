//! Driver-side placeholders (`?`, `%s`, `%(name)s`, `:name`) rewritten as PostgreSQL's `$n`.
//! Application logs and ORMs show statements before the driver binds them; the server never
//! sees these placeholders. Only tried when the text does not parse as it is, and found with
//! PostgreSQL's own scanner, so nothing inside a string, comment or dollar quote is touched.

/// The text with placeholders replaced, or `None` when it has none (or cannot be scanned).
pub(crate) fn rewrite(text: &str) -> Option<String> {
    let tokens = pg_query::scan(text).ok()?.tokens;
    let spans: Vec<(usize, usize)> = tokens
        .iter()
        .filter_map(|t| Some((usize::try_from(t.start).ok()?, usize::try_from(t.end).ok()?)))
        .collect();
    let token = |i: usize| spans.get(i).and_then(|&(s, e)| text.get(s..e));
    let adjacent = |a: usize, b: usize| match (spans.get(a), spans.get(b)) {
        (Some(&(_, end)), Some(&(start, _))) => end == start,
        _ => false,
    };
    let mut out = String::with_capacity(text.len() + 8);
    let mut copied = 0usize;
    let mut count = 0usize;
    let mut i = 0usize;
    while let Some(&(start, _)) = spans.get(i) {
        // How many tokens the placeholder at `i` spans, if there is one.
        // `id=?` scans as one operator `=?`: keep the comparison, replace the `?`.
        let operator = token(i)
            .and_then(|t| t.strip_suffix('?'))
            .filter(|op| matches!(*op, "=" | "<>" | "!=" | "<" | ">" | "<=" | ">="));
        if let Some(op) = operator {
            count += 1;
            out.push_str(text.get(copied..start)?);
            out.push_str(&format!("{op}${count}"));
            copied = spans.get(i).map_or(start, |&(_, e)| e);
            i += 1;
            continue;
        }
        let width = match token(i) {
            Some("?") => 1,
            Some("%") if token(i + 1) == Some("s") && adjacent(i, i + 1) => 2,
            Some("%")
                if token(i + 1) == Some("(")
                    && token(i + 3) == Some(")")
                    && token(i + 4) == Some("s")
                    && (i..i + 4).all(|k| adjacent(k, k + 1)) =>
            {
                5
            }
            Some(":")
                if adjacent(i, i + 1)
                    && token(i + 1).is_some_and(is_identifier)
                    && !(i > 0 && token(i - 1) == Some(":") && adjacent(i - 1, i)) =>
            {
                2
            }
            _ => 0,
        };
        if width == 0 {
            i += 1;
            continue;
        }
        let end = spans.get(i + width - 1).map_or(start, |&(_, e)| e);
        count += 1;
        out.push_str(text.get(copied..start)?);
        out.push_str(&format!("${count}"));
        copied = end;
        i += width;
    }
    if count == 0 {
        return None;
    }
    out.push_str(text.get(copied..)?);
    Some(out)
}

fn is_identifier(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && token.chars().all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn rewrites_driver_placeholders_only() {
        assert_eq!(
            rewrite("select a from t where id=? and b = ?").as_deref(),
            Some("select a from t where id=$1 and b = $2")
        );
        assert_eq!(
            rewrite("SELECT id FROM users WHERE email = %s LIMIT %(n)s").as_deref(),
            Some("SELECT id FROM users WHERE email = $1 LIMIT $2")
        );
        assert_eq!(
            rewrite("SELECT id FROM users WHERE id = :id AND x::int = 1").as_deref(),
            Some("SELECT id FROM users WHERE id = $1 AND x::int = 1")
        );
        assert_eq!(rewrite("SELECT '?', $$ :x $$ -- ?"), None);
    }
}
