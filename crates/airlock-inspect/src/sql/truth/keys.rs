//! Structural keys of expressions, so `x = x`, `lower(e) = lower(e)` and complements such as
//! `x IS NULL OR x IS NOT NULL` are recognised whatever aliases and casts they go through.

use pg_query::NodeEnum;
use pg_query::protobuf::{AExprKind, BoolExprType, BoolTestType, Node, NullTestType};
use serde_json::Value as Json;

use super::Scope;
use crate::sql::fold::{Value, fold, op_name};
use crate::sql::names::{boxed, inner};

impl Scope {
    /// A canonical key for structural comparison; `None` for what we do not model.
    pub(super) fn key(&self, node: &Node) -> Option<String> {
        inner(node).and_then(|n| self.key_enum(n))
    }

    pub(super) fn key_enum(&self, node: &NodeEnum) -> Option<String> {
        match node {
            NodeEnum::ColumnRef(c) => self.column(&c.fields),
            NodeEnum::TypeCast(t) => boxed(&t.arg).and_then(|a| self.key_enum(a)),
            NodeEnum::AExpr(a) if a.kind == AExprKind::AexprOp as i32 && identity(a).is_some() => {
                identity(a).and_then(|side| self.key_enum(side))
            }
            // `x - x` is 0 and `x / x` is 1 (for the non-null, non-zero rows).
            NodeEnum::AExpr(a)
                if a.kind == AExprKind::AexprOp as i32
                    && matches!(op_name(&a.name).as_str(), "-" | "/")
                    && boxed(&a.lexpr).and_then(|l| self.key_enum(l)).is_some()
                    && boxed(&a.lexpr).and_then(|l| self.key_enum(l))
                        == boxed(&a.rexpr).and_then(|r| self.key_enum(r)) =>
            {
                let value = if op_name(&a.name) == "-" { 0 } else { 1 };
                Some(format!("c:{:?}", Value::Int(value)))
            }
            // `x IS UNKNOWN` is `x IS NULL`; `(col op constant) IS NULL` is `col IS NULL`.
            NodeEnum::BooleanTest(t)
                if t.booltesttype == BoolTestType::IsUnknown as i32
                    || t.booltesttype == BoolTestType::IsNotUnknown as i32 =>
            {
                let arg = boxed(&t.arg).and_then(|n| self.null_subject(n))?;
                let is_null = t.booltesttype == BoolTestType::IsUnknown as i32;
                Some(format!(
                    "({arg} is {}null)",
                    if is_null { "" } else { "not " }
                ))
            }
            NodeEnum::AExpr(a) if a.kind == AExprKind::AexprOp as i32 => {
                let l = boxed(&a.lexpr)
                    .and_then(|n| self.key_enum(n))
                    .unwrap_or_default();
                let r = boxed(&a.rexpr).and_then(|n| self.key_enum(n))?;
                Some(format!("({l} {} {r})", op_name(&a.name)))
            }
            NodeEnum::NullTest(t) => {
                let arg = boxed(&t.arg).and_then(|n| self.null_subject(n))?;
                let is_null = t.nulltesttype == NullTestType::IsNull as i32;
                Some(format!(
                    "({arg} is {}null)",
                    if is_null { "" } else { "not " }
                ))
            }
            NodeEnum::FuncCall(f) => {
                let name = crate::sql::names::dotted(&f.funcname);
                let args: Option<Vec<String>> = f.args.iter().map(|a| self.key(a)).collect();
                Some(format!("{name}({})", args?.join(",")))
            }
            // `(SELECT o.id)`: a sub-query without FROM is its output, seen from here.
            NodeEnum::SubLink(sub)
                if sub.sub_link_type == pg_query::protobuf::SubLinkType::ExprSublink as i32 =>
            {
                let Some(NodeEnum::SelectStmt(sel)) = boxed(&sub.subselect) else {
                    return structural_key(node);
                };
                match (
                    sel.from_clause.is_empty() && sel.where_clause.is_none(),
                    sel.target_list.as_slice(),
                ) {
                    (true, [only]) => match inner(only) {
                        Some(NodeEnum::ResTarget(rt)) => {
                            boxed(&rt.val).and_then(|v| self.key_enum(v))
                        }
                        _ => structural_key(node),
                    },
                    _ => structural_key(node),
                }
            }
            // `p AND true`: the parts that are not always true.
            NodeEnum::BoolExpr(b) if b.boolop == BoolExprType::AndExpr as i32 => {
                let open: Vec<&Node> = b
                    .args
                    .iter()
                    .filter(|a| self.eval(a) != super::Truth::True)
                    .collect();
                match open.as_slice() {
                    [only] => self.key(only),
                    _ => structural_key(node),
                }
            }
            NodeEnum::RowExpr(r) => {
                let args: Option<Vec<String>> = r.args.iter().map(|a| self.key(a)).collect();
                Some(format!("row({})", args?.join(",")))
            }
            // On the rows where `x` is not null (the only ones `x = …` can match),
            // `coalesce(x, …)` is `x`.
            NodeEnum::CoalesceExpr(c)
                if c.args
                    .first()
                    .and_then(inner)
                    .is_some_and(|f| matches!(f, NodeEnum::ColumnRef(_))) =>
            {
                c.args.first().and_then(|f| self.key(f))
            }
            NodeEnum::CoalesceExpr(c) => {
                // NULL arguments add nothing: `coalesce(NULL, x)` is `x`.
                let args: Option<Vec<String>> = c
                    .args
                    .iter()
                    .filter(|a| !matches!(inner(a).and_then(fold), Some(Value::Null)))
                    .map(|a| self.key(a))
                    .collect();
                let args = args?;
                match args.as_slice() {
                    [only] => Some(only.clone()),
                    _ => Some(format!("coalesce({})", args.join(","))),
                }
            }
            // `greatest(x, x)` is `x`.
            NodeEnum::MinMaxExpr(m) => {
                let args: Option<Vec<String>> = m.args.iter().map(|a| self.key(a)).collect();
                let args = args?;
                match args.split_first() {
                    Some((first, rest)) if rest.iter().all(|a| a == first) => Some(first.clone()),
                    _ => structural_key(node),
                }
            }
            NodeEnum::CollateClause(c) => boxed(&c.arg).and_then(|a| self.key_enum(a)),
            // `x IS DISTINCT FROM NULL` is `x IS NOT NULL`.
            NodeEnum::AExpr(a)
                if (a.kind == AExprKind::AexprDistinct as i32
                    || a.kind == AExprKind::AexprNotDistinct as i32)
                    && matches!(boxed(&a.rexpr).and_then(fold), Some(Value::Null)) =>
            {
                let arg = boxed(&a.lexpr).and_then(|n| self.key_enum(n))?;
                let is_null = a.kind == AExprKind::AexprNotDistinct as i32;
                Some(format!(
                    "({arg} is {}null)",
                    if is_null { "" } else { "not " }
                ))
            }
            other => match fold(other) {
                Some(value) => Some(format!("c:{value:?}")),
                None => structural_key(other),
            },
        }
    }

    /// The key of the predicate's logical complement, where we can name it.
    pub(super) fn negated_key(&self, node: &Node) -> Option<String> {
        match inner(node)? {
            // `p IS NOT TRUE` holds exactly when `p` does not (NULL included).
            NodeEnum::BooleanTest(t) if t.booltesttype == BoolTestType::IsNotTrue as i32 => {
                boxed(&t.arg).and_then(|a| self.key_enum(a))
            }
            NodeEnum::BoolExpr(b) if b.boolop == BoolExprType::NotExpr as i32 => {
                b.args.first().and_then(|a| self.key(a))
            }
            NodeEnum::NullTest(t) => {
                let arg = boxed(&t.arg).and_then(|n| self.null_subject(n))?;
                let is_null = t.nulltesttype == NullTestType::IsNull as i32;
                Some(format!(
                    "({arg} is {}null)",
                    if is_null { "not " } else { "" }
                ))
            }
            NodeEnum::AExpr(a) if a.kind == AExprKind::AexprOp as i32 => {
                let complement = match op_name(&a.name).as_str() {
                    "=" => "<>",
                    "<>" | "!=" => "=",
                    "<" => ">=",
                    ">=" => "<",
                    ">" => "<=",
                    "<=" => ">",
                    _ => return None,
                };
                let l = boxed(&a.lexpr).and_then(|n| self.key_enum(n))?;
                let r = boxed(&a.rexpr).and_then(|n| self.key_enum(n))?;
                Some(format!("({l} {complement} {r})"))
            }
            _ => None,
        }
    }
}

impl Scope {
    /// What decides whether an expression is NULL: `col op constant` is null exactly when
    /// `col` is, so `(id > 1) IS NOT NULL` is keyed like `id IS NOT NULL`.
    fn null_subject(&self, node: &NodeEnum) -> Option<String> {
        if let NodeEnum::AExpr(a) = node
            && a.kind == AExprKind::AexprOp as i32
            && let (Some(l), Some(r)) = (boxed(&a.lexpr), boxed(&a.rexpr))
        {
            let constant = |n: &NodeEnum| matches!(fold(n), Some(v) if v != Value::Null);
            if constant(r) {
                return self.null_subject(l);
            }
            if constant(l) {
                return self.null_subject(r);
            }
        }
        self.key_enum(node)
    }
}

/// `x + 0`, `0 + x`, `x - 0`, `x * 1`, `1 * x`, `x / 1`: the side that is `x`.
fn identity(a: &pg_query::protobuf::AExpr) -> Option<&NodeEnum> {
    let (l, r) = (boxed(&a.lexpr)?, boxed(&a.rexpr)?);
    let value = |n: &NodeEnum| match fold(n) {
        Some(Value::Int(i)) => Some(i),
        _ => None,
    };
    match (op_name(&a.name).as_str(), value(l), value(r)) {
        ("+", _, Some(0)) | ("-", _, Some(0)) | ("*", _, Some(1)) | ("/", _, Some(1)) => Some(l),
        ("+", Some(0), _) | ("*", Some(1), _) => Some(r),
        _ => None,
    }
}

/// The parser's own form of a node without source locations: equal for equal expressions.
/// Column references inside are compared as written (no alias resolution).
fn structural_key(node: &NodeEnum) -> Option<String> {
    fn strip(value: &mut Json) {
        match value {
            Json::Object(map) => {
                map.remove("location");
                map.values_mut().for_each(strip);
            }
            Json::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(node).ok()?;
    strip(&mut json);
    Some(format!("s:{json}"))
}
