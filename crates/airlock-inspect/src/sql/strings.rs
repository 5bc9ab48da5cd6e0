//! String functions folded over literals, as PostgreSQL computes them: `format()`,
//! `concat`, `replace`, `chr`, `substr`, `translate`, `decode(…, 'base64')`…, so dynamic SQL
//! built from literals is judged by its effect.

use std::collections::HashMap;

use pg_query::NodeEnum;

use super::fold::{Value, fold_with};
use super::names::{inner, last};

/// Folds a call of a string function over literals; `None` for anything else.
pub(crate) fn function(
    f: &pg_query::protobuf::FuncCall,
    vars: &HashMap<String, String>,
) -> Option<Value> {
    let name = last(&f.funcname)?;
    if name == "array_to_string" {
        let Some(NodeEnum::AArrayExpr(array)) = f.args.first().and_then(inner) else {
            return None;
        };
        let parts: Option<Vec<String>> = array
            .elements
            .iter()
            .map(|e| {
                inner(e)
                    .and_then(|e| fold_with(e, vars))
                    .and_then(|v| v.as_text())
            })
            .collect();
        let separator = f
            .args
            .get(1)
            .and_then(inner)
            .and_then(|s| fold_with(s, vars))?
            .as_text()?;
        return Some(Value::Str(parts?.join(&separator)));
    }
    let args: Option<Vec<Value>> = f
        .args
        .iter()
        .map(|a| inner(a).and_then(|a| fold_with(a, vars)))
        .collect();
    let args = args?;
    let text = |i: usize| args.get(i).and_then(Value::as_text);
    let value = match name {
        "concat" => Value::Str(args.iter().filter_map(Value::as_text).collect()),
        "concat_ws" => {
            let rest: Vec<String> = args.iter().skip(1).filter_map(Value::as_text).collect();
            Value::Str(rest.join(&text(0)?))
        }
        "lower" => Value::Str(text(0)?.to_lowercase()),
        "length" | "char_length" | "character_length" => {
            Value::Int(i128::try_from(text(0)?.chars().count()).ok()?)
        }
        "octet_length" => Value::Int(i128::try_from(text(0)?.len()).ok()?),
        "upper" => Value::Str(text(0)?.to_uppercase()),
        "btrim" | "trim" => Value::Str(text(0)?.trim().to_owned()),
        "replace" => Value::Str(text(0)?.replace(&text(1)?, &text(2)?)),
        "reverse" => Value::Str(text(0)?.chars().rev().collect()),
        "substr" | "substring" => {
            let chars: Vec<char> = text(0)?.chars().collect();
            let start = usize::try_from(int(args.get(1)?)?.max(1) - 1).ok()?;
            let len = match args.get(2) {
                Some(n) => usize::try_from(int(n)?).ok()?,
                None => chars.len(),
            };
            Value::Str(chars.iter().skip(start).take(len).collect())
        }
        "left" | "right" => {
            let chars: Vec<char> = text(0)?.chars().collect();
            let n = usize::try_from(int(args.get(1)?)?).ok()?.min(chars.len());
            let range = if name == "left" {
                0..n
            } else {
                chars.len() - n..chars.len()
            };
            Value::Str(chars.get(range)?.iter().collect())
        }
        "translate" => {
            let (from, to): (Vec<char>, Vec<char>) =
                (text(1)?.chars().collect(), text(2)?.chars().collect());
            let source = text(0)?;
            let mapped = source
                .chars()
                .filter_map(|c| match from.iter().position(|f| *f == c) {
                    Some(i) => to.get(i).copied(),
                    None => Some(c),
                });
            Value::Str(mapped.collect())
        }
        "overlay" => {
            let chars: Vec<char> = text(0)?.chars().collect();
            let start = usize::try_from(int(args.get(2)?)?.max(1) - 1)
                .ok()?
                .min(chars.len());
            let len = match args.get(3) {
                Some(n) => usize::try_from(int(n)?).ok()?,
                None => text(1)?.chars().count(),
            };
            let head: String = chars.iter().take(start).collect();
            let tail: String = chars.iter().skip(start + len).collect();
            Value::Str(format!("{head}{}{tail}", text(1)?))
        }
        "repeat" => {
            Value::Str(text(0)?.repeat(usize::try_from(int(args.get(1)?)?).ok()?.min(1 << 16)))
        }
        "chr" => Value::Str(char::from_u32(u32::try_from(int(args.first()?)?).ok()?)?.to_string()),
        "quote_ident" => Value::Str(quote_ident(&text(0)?)),
        "quote_literal" | "quote_nullable" => Value::Str(quote_literal(&text(0)?)),
        "format" => Value::Str(format_sql(&text(0)?, args.get(1..)?)?),
        "coalesce" => args.into_iter().find(|v| *v != Value::Null)?,
        "convert_from" => Value::Str(text(0)?),
        "decode" => Value::Str(decode(&text(0)?, &text(1)?)?),
        "encode" => return None,
        _ => return None,
    };
    Some(value)
}

fn int(value: &Value) -> Option<i128> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.is_empty();
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

pub(crate) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// PostgreSQL's `format()`: `%s`, `%I`, `%L`, `%%` and positional `%n$s`.
fn format_sql(template: &str, args: &[Value]) -> Option<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut position = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            position.push(*d);
            chars.next();
        }
        let index = if position.is_empty() {
            next
        } else {
            chars.next().filter(|c| *c == '$')?;
            position.parse::<usize>().ok()?.checked_sub(1)?
        };
        let spec = chars.next()?;
        if spec == '%' {
            out.push('%');
            continue;
        }
        let arg = args.get(index)?;
        next = index + 1;
        match spec {
            's' => out.push_str(&arg.as_text().unwrap_or_default()),
            'I' => out.push_str(&quote_ident(&arg.as_text()?)),
            'L' => out.push_str(&arg.as_text().map_or("NULL".into(), |t| quote_literal(&t))),
            _ => return None,
        }
    }
    Some(out)
}

/// `decode(text, 'base64' | 'hex' | 'escape')` as UTF-8 text.
fn decode(data: &str, format: &str) -> Option<String> {
    let bytes = match format.to_ascii_lowercase().as_str() {
        "base64" => base64(data)?,
        "hex" => hex_bytes(data)?,
        "escape" => data.as_bytes().to_vec(),
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

fn hex_bytes(data: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = data.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    clean
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
        })
        .collect()
}

fn base64(data: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for byte in data
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
    {
        let value = ALPHABET.iter().position(|a| *a == byte)?;
        buffer = (buffer << 6) | u32::try_from(value).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_postgres() {
        let args = [Value::Str("users".into()), Value::Str("it's".into())];
        assert_eq!(
            format_sql("DROP TABLE %I", &args).as_deref(),
            Some("DROP TABLE users")
        );
        assert_eq!(
            format_sql("%2$L %1$s %%", &args).as_deref(),
            Some("'it''s' users %")
        );
        assert_eq!(quote_ident("Users"), "\"Users\"");
    }

    #[test]
    fn decodes_payloads() {
        assert_eq!(
            decode("RFJPUCBUQUJMRSB0", "base64").as_deref(),
            Some("DROP TABLE t")
        );
        assert_eq!(decode("44524f50", "hex").as_deref(), Some("DROP"));
    }
}
