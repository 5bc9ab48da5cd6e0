//! Constant folding of literal expressions: for always-true predicates and for dynamic SQL
//! built from literals (`'DROP ' || 'TABLE t'`, `format('DROP TABLE %I', 't')`, `chr(68)…`).

use std::collections::HashMap;

use pg_query::NodeEnum;
use pg_query::protobuf::a_const::Val;
use pg_query::protobuf::{AExprKind, Node, SubLinkType};

use super::names::{boxed, dotted, inner, last, string};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

impl Value {
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            Self::Int(i) => Some(*i != 0),
            Self::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "yes" | "y" | "on" | "1" => Some(true),
                "f" | "false" | "no" | "n" | "off" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            Self::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn as_text(&self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::Bool(b) => Some(if *b { "true".into() } else { "false".into() }),
            Self::Int(i) => Some(i.to_string()),
            Self::Float(f) => Some(f.to_string()),
            Self::Str(s) => Some(s.clone()),
        }
    }

    pub(crate) fn equals(&self, other: &Self) -> Option<bool> {
        compare(self, other).map(|o| o == std::cmp::Ordering::Equal)
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Bool(x), other) | (other, Value::Bool(x)) => other.as_bool().map(|y| x.cmp(&y)),
        (x, y) => x.as_f64()?.partial_cmp(&y.as_f64()?),
    }
}

/// The operator of an `A_Expr` (`=`, `<>`, `||`…).
pub(crate) fn op_name(name: &[Node]) -> String {
    last(name).unwrap_or_default().to_owned()
}

/// True when the expression's value is fixed by literals or bind parameters alone (no column,
/// no sub-query): another literal could change a verdict based on it. Structural: the answer
/// is the same for every input with the same literal-normalized text.
pub(crate) fn is_constant_shape(node: &NodeEnum) -> bool {
    constant_shape(node, true)
}

/// True when the expression provably does not depend on the row (no column, no sub-query):
/// as a row filter it matches every row or none. Unmodelled node types count as row-dependent.
pub(crate) fn is_row_independent(node: &NodeEnum) -> bool {
    constant_shape(node, false)
}

fn constant_shape(node: &NodeEnum, unknown: bool) -> bool {
    let one = |n: &NodeEnum| constant_shape(n, unknown);
    let all = |nodes: &[Node]| nodes.iter().all(|n| inner(n).is_none_or(one));
    let opt = |node: &Option<Box<Node>>| boxed(node).is_none_or(one);
    match node {
        NodeEnum::AConst(_) | NodeEnum::ParamRef(_) => true,
        NodeEnum::ColumnRef(_) => false,
        NodeEnum::TypeCast(t) => opt(&t.arg),
        NodeEnum::AExpr(a) => opt(&a.lexpr) && opt(&a.rexpr),
        NodeEnum::BoolExpr(b) => all(&b.args),
        NodeEnum::FuncCall(f) => all(&f.args),
        NodeEnum::CoalesceExpr(c) => all(&c.args),
        NodeEnum::MinMaxExpr(m) => all(&m.args),
        NodeEnum::CaseExpr(c) => opt(&c.arg) && all(&c.args) && opt(&c.defresult),
        NodeEnum::CaseWhen(w) => opt(&w.expr) && opt(&w.result),
        NodeEnum::NullTest(t) => opt(&t.arg),
        NodeEnum::BooleanTest(t) => opt(&t.arg),
        NodeEnum::List(l) => all(&l.items),
        NodeEnum::SqlvalueFunction(_) => true,
        NodeEnum::RowExpr(r) => all(&r.args),
        NodeEnum::AArrayExpr(a) => all(&a.elements),
        // `(SELECT 1)`: a scalar sub-query without FROM is as constant as its output.
        NodeEnum::SubLink(s) => match boxed(&s.subselect) {
            Some(NodeEnum::SelectStmt(sel))
                if s.sub_link_type == SubLinkType::ExprSublink as i32
                    && sel.from_clause.is_empty()
                    && sel.where_clause.is_none() =>
            {
                all(&sel.target_list)
            }
            _ => false,
        },
        NodeEnum::ResTarget(t) => opt(&t.val),
        // Anything else: for caching, assume it may be literal-bound; for row filters, assume
        // it depends on the row.
        _ => unknown,
    }
}

/// Folds a literal expression; `None` when it depends on anything but literals.
pub(crate) fn fold(node: &NodeEnum) -> Option<Value> {
    fold_with(node, &HashMap::new())
}

/// Folds with known variable values (PL/pgSQL constants).
pub(crate) fn fold_with(node: &NodeEnum, vars: &HashMap<String, String>) -> Option<Value> {
    match node {
        NodeEnum::AConst(c) => {
            if c.isnull {
                return Some(Value::Null);
            }
            Some(match c.val.as_ref()? {
                Val::Ival(i) => Value::Int(i128::from(i.ival)),
                Val::Fval(f) => match f.fval.parse::<i128>() {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::Float(f.fval.parse().ok()?),
                },
                Val::Boolval(b) => Value::Bool(b.boolval),
                Val::Sval(s) => Value::Str(s.sval.clone()),
                Val::Bsval(b) => Value::Str(b.bsval.clone()),
            })
        }
        NodeEnum::TypeCast(t) => {
            let value = fold_with(boxed(&t.arg)?, vars)?;
            let ty = t
                .type_name
                .as_ref()
                .map(|n| dotted(&n.names))
                .unwrap_or_default();
            cast(value, ty.rsplit('.').next().unwrap_or_default())
        }
        NodeEnum::ColumnRef(c) if c.fields.len() == 1 => {
            let name = c.fields.first().and_then(string)?;
            vars.get(name).map(|v| Value::Str(v.clone()))
        }
        NodeEnum::AExpr(a) if a.kind == AExprKind::AexprOp as i32 => operator(a, vars),
        NodeEnum::FuncCall(f) => function(f, vars),
        NodeEnum::CoalesceExpr(c) => {
            let values: Option<Vec<Value>> = c
                .args
                .iter()
                .map(|a| inner(a).and_then(|a| fold_with(a, vars)))
                .collect();
            values?
                .into_iter()
                .find(|v| *v != Value::Null)
                .or(Some(Value::Null))
        }
        NodeEnum::SubLink(s) if s.sub_link_type == SubLinkType::ExprSublink as i32 => {
            let Some(NodeEnum::SelectStmt(sel)) = boxed(&s.subselect) else {
                return None;
            };
            if !sel.from_clause.is_empty()
                || sel.where_clause.is_some()
                || sel.target_list.len() != 1
            {
                return None;
            }
            match sel.target_list.first().and_then(inner)? {
                NodeEnum::ResTarget(rt) => fold_with(boxed(&rt.val)?, vars),
                _ => None,
            }
        }
        NodeEnum::CaseExpr(c) if c.arg.is_none() => {
            for when in &c.args {
                let Some(NodeEnum::CaseWhen(w)) = inner(when) else {
                    return None;
                };
                if fold_with(boxed(&w.expr)?, vars)?.as_bool()? {
                    return fold_with(boxed(&w.result)?, vars);
                }
            }
            match boxed(&c.defresult) {
                Some(d) => fold_with(d, vars),
                None => Some(Value::Null),
            }
        }
        _ => None,
    }
}

fn cast(value: Value, ty: &str) -> Option<Value> {
    match ty {
        "bool" | "boolean" => value.as_bool().map(Value::Bool),
        "int2" | "int4" | "int8" | "integer" | "smallint" | "bigint" | "int" => match value {
            Value::Str(s) => s.trim().parse().ok().map(Value::Int),
            Value::Float(f) => Some(Value::Int(f.round() as i128)),
            other => Some(other),
        },
        "text" | "varchar" | "bpchar" | "name" | "char" => value.as_text().map(Value::Str),
        _ => Some(value),
    }
}

fn operator(a: &pg_query::protobuf::AExpr, vars: &HashMap<String, String>) -> Option<Value> {
    let op = op_name(&a.name);
    let right = fold_with(boxed(&a.rexpr)?, vars)?;
    let Some(left_node) = boxed(&a.lexpr) else {
        return match (op.as_str(), right) {
            ("-", Value::Int(i)) => Some(Value::Int(-i)),
            ("-", Value::Float(f)) => Some(Value::Float(-f)),
            ("+", v) => Some(v),
            _ => None,
        };
    };
    let left = fold_with(left_node, vars)?;
    let ordering = compare(&left, &right);
    let result = match op.as_str() {
        "=" => Value::Bool(ordering? == std::cmp::Ordering::Equal),
        "<>" | "!=" => Value::Bool(ordering? != std::cmp::Ordering::Equal),
        "<" => Value::Bool(ordering? == std::cmp::Ordering::Less),
        ">" => Value::Bool(ordering? == std::cmp::Ordering::Greater),
        "<=" => Value::Bool(ordering? != std::cmp::Ordering::Greater),
        ">=" => Value::Bool(ordering? != std::cmp::Ordering::Less),
        "||" => Value::Str(format!("{}{}", left.as_text()?, right.as_text()?)),
        "+" | "-" | "*" | "/" | "%" => arithmetic(&op, &left, &right)?,
        _ => return None,
    };
    Some(result)
}

fn arithmetic(op: &str, left: &Value, right: &Value) -> Option<Value> {
    if let (Value::Int(x), Value::Int(y)) = (left, right) {
        return match op {
            "+" => x.checked_add(*y),
            "-" => x.checked_sub(*y),
            "*" => x.checked_mul(*y),
            "/" => x.checked_div(*y),
            _ => x.checked_rem(*y),
        }
        .map(Value::Int);
    }
    let (x, y) = (left.as_f64()?, right.as_f64()?);
    Some(Value::Float(match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" if y != 0.0 => x / y,
        _ => return None,
    }))
}

fn function(f: &pg_query::protobuf::FuncCall, vars: &HashMap<String, String>) -> Option<Value> {
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
