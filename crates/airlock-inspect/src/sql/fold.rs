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

/// The order of two values where it does not depend on a collation. Two strings are ordered
/// by the database's collation — `'b' < 'C'` is false under `C`, true under `en_US` — which
/// airlock does not know, so they are not ordered (nothing folds; a filter stays unproven).
fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Str(_), Value::Str(_)) => None,
        _ => compare(a, b),
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
            // `(SELECT 1)`, `(SELECT count(*) FROM t)`: no filter that could refer to the row.
            Some(NodeEnum::SelectStmt(sel))
                if s.sub_link_type == SubLinkType::ExprSublink as i32
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

/// With this key in the variables, every variable airlock does not know folds to its value
/// (see `plvars::Vars::fold_with_placeholder`).
pub(crate) const UNKNOWN_VARIABLE: &str = "\u{0}unknown";

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
        NodeEnum::ColumnRef(c) => {
            let names: Option<Vec<&str>> = c.fields.iter().map(string).collect();
            match vars.get(&names?.join(".")) {
                Some(value) => Some(Value::Str(value.clone())),
                None => vars.get(UNKNOWN_VARIABLE).map(|v| Value::Str(v.clone())),
            }
        }
        NodeEnum::AExpr(a) if a.kind == AExprKind::AexprOp as i32 => operator(a, vars),
        NodeEnum::AExpr(a) => between(a, vars),
        NodeEnum::FuncCall(f) => super::strings::function(f, vars),
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
        "numeric" | "decimal" | "float4" | "float8" | "real" => match value {
            Value::Str(s) => s.trim().parse().ok().map(Value::Float),
            other => Some(other),
        },
        // `'\x44524f50'::bytea`: the bytes, when they are UTF-8 text (for `convert_from`).
        "bytea" => match value {
            Value::Str(s) => match s.strip_prefix("\\x") {
                Some(hex_digits) => {
                    let bytes: Option<Vec<u8>> = hex_digits
                        .as_bytes()
                        .chunks(2)
                        .map(|p| {
                            std::str::from_utf8(p)
                                .ok()
                                .and_then(|p| u8::from_str_radix(p, 16).ok())
                        })
                        .collect();
                    String::from_utf8(bytes?).ok().map(Value::Str)
                }
                None => Some(Value::Str(s)),
            },
            _ => None,
        },
        // Intervals, dates, JSON…: their order is not the order of their text.
        _ => None,
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
    let ordering = || order(&left, &right);
    let result = match op.as_str() {
        "=" => Value::Bool(left.equals(&right)?),
        "<>" | "!=" => Value::Bool(!left.equals(&right)?),
        "<" => Value::Bool(ordering()? == std::cmp::Ordering::Less),
        ">" => Value::Bool(ordering()? == std::cmp::Ordering::Greater),
        "<=" => Value::Bool(ordering()? != std::cmp::Ordering::Greater),
        ">=" => Value::Bool(ordering()? != std::cmp::Ordering::Less),
        "||" => Value::Str(format!("{}{}", left.as_text()?, right.as_text()?)),
        "+" | "-" | "*" | "/" | "%" => arithmetic(&op, &left, &right)?,
        _ => return None,
    };
    Some(result)
}

/// `x [NOT] BETWEEN [SYMMETRIC] a AND b`, as PostgreSQL rewrites it: `x >= a AND x <= b`
/// (`NOT`: `x < a OR x > b`; `SYMMETRIC`: the bounds in order first). A null anywhere, or
/// strings compared with strings (see [`order`]), leave it unfolded, as does any other kind of
/// `A_Expr`.
fn between(a: &pg_query::protobuf::AExpr, vars: &HashMap<String, String>) -> Option<Value> {
    let kind = AExprKind::try_from(a.kind).ok()?;
    let (negated, symmetric) = match kind {
        AExprKind::AexprBetween => (false, false),
        AExprKind::AexprNotBetween => (true, false),
        AExprKind::AexprBetweenSym => (false, true),
        AExprKind::AexprNotBetweenSym => (true, true),
        _ => return None,
    };
    let NodeEnum::List(bounds) = boxed(&a.rexpr)? else {
        return None;
    };
    let [low, high] = bounds.items.as_slice() else {
        return None;
    };
    let value = fold_with(boxed(&a.lexpr)?, vars)?;
    let (mut low, mut high) = (
        fold_with(inner(low)?, vars)?,
        fold_with(inner(high)?, vars)?,
    );
    if symmetric && order(&low, &high)? == std::cmp::Ordering::Greater {
        std::mem::swap(&mut low, &mut high);
    }
    let inside = order(&value, &low)? != std::cmp::Ordering::Less
        && order(&value, &high)? != std::cmp::Ordering::Greater;
    Some(Value::Bool(inside != negated))
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
