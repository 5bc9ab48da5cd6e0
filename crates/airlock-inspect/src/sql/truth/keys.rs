//! Structural keys of expressions, so `x = x`, `lower(e) = lower(e)` and complements such as
//! `x IS NULL OR x IS NOT NULL` are recognised whatever aliases and casts they go through.

use pg_query::NodeEnum;
use pg_query::protobuf::{AExprKind, BoolExprType, Node, NullTestType};
use serde_json::Value as Json;

use super::Scope;
use crate::sql::fold::{fold, op_name};
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
            NodeEnum::AExpr(a) if a.kind == AExprKind::AexprOp as i32 => {
                let l = boxed(&a.lexpr)
                    .and_then(|n| self.key_enum(n))
                    .unwrap_or_default();
                let r = boxed(&a.rexpr).and_then(|n| self.key_enum(n))?;
                Some(format!("({l} {} {r})", op_name(&a.name)))
            }
            NodeEnum::NullTest(t) => {
                let arg = boxed(&t.arg).and_then(|n| self.key_enum(n))?;
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
            NodeEnum::RowExpr(r) => {
                let args: Option<Vec<String>> = r.args.iter().map(|a| self.key(a)).collect();
                Some(format!("row({})", args?.join(",")))
            }
            NodeEnum::CoalesceExpr(c) => {
                let args: Option<Vec<String>> = c.args.iter().map(|a| self.key(a)).collect();
                Some(format!("coalesce({})", args?.join(",")))
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
            NodeEnum::BoolExpr(b) if b.boolop == BoolExprType::NotExpr as i32 => {
                b.args.first().and_then(|a| self.key(a))
            }
            NodeEnum::NullTest(t) => {
                let arg = boxed(&t.arg).and_then(|n| self.key_enum(n))?;
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
