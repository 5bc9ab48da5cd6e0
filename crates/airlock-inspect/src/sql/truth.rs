//! Always-true detection for row filters: constant folding, self-comparisons, complements,
//! self-joins and self-subqueries that match every row. Conservative: `Unknown` unless the
//! predicate provably holds for every (non-null) row.

use std::cell::Cell;

use pg_query::NodeEnum;
use pg_query::protobuf::{AExprKind, BoolExprType, Node, NullTestType, RangeVar, SubLinkType};

use super::fold::{Value, fold, is_constant_shape, is_row_independent, op_name};
use super::names::{boxed, inner, string};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

/// Which names in a statement refer to the rows being filtered.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    /// Relation name of the DML target (or of a single-table read).
    target: Option<String>,
    /// Visible name (alias or relation) → relation name, for every relation in scope.
    aliases: Vec<(String, String)>,
    /// Set when a verdict depended on literal values.
    literal: Cell<bool>,
}

impl Scope {
    pub(crate) fn from_from_clause(target: Option<&RangeVar>, from: &[Node]) -> Self {
        let mut scope = Self::default();
        if let Some(rv) = target {
            scope.target = Some(rv.relname.clone());
            scope.add(rv);
        }
        for node in from {
            scope.collect(node);
        }
        if scope.target.is_none() && scope.aliases.len() == 1 {
            scope.target = scope.aliases.first().map(|(_, rel)| rel.clone());
        }
        scope
    }

    fn add(&mut self, rv: &RangeVar) {
        let visible = rv.alias.as_ref().map_or(&rv.relname, |a| &a.aliasname);
        self.aliases.push((visible.clone(), rv.relname.clone()));
    }

    fn collect(&mut self, node: &Node) {
        match inner(node) {
            Some(NodeEnum::RangeVar(rv)) => self.add(rv),
            Some(NodeEnum::JoinExpr(j)) => {
                for side in [&j.larg, &j.rarg].into_iter().flatten() {
                    self.collect(side);
                }
            }
            Some(NodeEnum::RangeSubselect(r)) => {
                // `(SELECT id FROM t) s`: an unfiltered projection of one relation that keeps
                // its column names stands for that relation.
                let alias = r.alias.as_ref().map(|a| a.aliasname.clone());
                if let (Some(alias), Some(relation)) = (alias, plain_projection(r)) {
                    self.aliases.push((alias, relation));
                }
            }
            _ => {}
        }
    }

    /// A sub-select's scope: its own relations first, then the outer ones (for correlated
    /// references), and the same target as the outer statement.
    fn nested(&self, from: &[Node]) -> Self {
        let mut scope = Self::from_from_clause(None, from);
        scope.aliases.extend(self.aliases.iter().cloned());
        scope.target = self.target.clone();
        scope
    }

    /// Canonical text of a column reference: columns of the target relation (under any
    /// alias, including a self-join's second alias) become `@target.column`.
    fn column(&self, fields: &[Node]) -> Option<String> {
        let names: Vec<&str> = fields.iter().filter_map(string).collect();
        let (qualifier, column) = match names.as_slice() {
            [column] => (None, *column),
            [.., qualifier, column] => (Some(*qualifier), *column),
            [] => return None,
        };
        let relation = match qualifier {
            Some(q) => self
                .aliases
                .iter()
                .find(|(v, _)| v == q)
                .map_or(q, |(_, r)| r.as_str()),
            // An unqualified column belongs to the innermost FROM's (first) relation.
            None => self
                .aliases
                .first()
                .map_or(self.target.as_deref().unwrap_or(""), |(_, r)| r.as_str()),
        };
        if self.target.as_deref() == Some(relation) {
            Some(format!("@target.{column}"))
        } else {
            Some(format!("{relation}.{column}"))
        }
    }

    /// True when a verdict reached in this scope looked at literal-shaped values, so another
    /// literal could have changed it.
    pub(crate) fn depended_on_literals(&self) -> bool {
        self.literal.get()
    }

    fn eval(&self, node: &Node) -> Truth {
        match inner(node) {
            Some(n) => self.eval_enum(n),
            None => Truth::Unknown,
        }
    }

    fn eval_enum(&self, node: &NodeEnum) -> Truth {
        match node {
            NodeEnum::BoolExpr(b) => match BoolExprType::try_from(b.boolop) {
                Ok(BoolExprType::AndExpr) => self.and(&b.args),
                Ok(BoolExprType::OrExpr) => self.or(&b.args),
                Ok(BoolExprType::NotExpr) => match b.args.first().map(|a| self.eval(a)) {
                    Some(Truth::True) => Truth::False,
                    Some(Truth::False) => Truth::True,
                    _ => Truth::Unknown,
                },
                _ => Truth::Unknown,
            },
            NodeEnum::AExpr(a) => self.a_expr(a),
            NodeEnum::NullTest(t) => self.null_test(t),
            NodeEnum::BooleanTest(t) => match boxed(&t.arg).map(|n| self.eval_enum(n)) {
                Some(Truth::True) if t.booltesttype == 1 || t.booltesttype == 4 => Truth::True,
                Some(Truth::False) if t.booltesttype == 3 || t.booltesttype == 2 => Truth::True,
                _ => Truth::Unknown,
            },
            NodeEnum::SubLink(s) => self.sub_link(s),
            other => self.constant(other),
        }
    }

    fn constant(&self, node: &NodeEnum) -> Truth {
        if is_constant_shape(node) {
            // The verdict depends on literal values: another literal could flip it.
            self.literal.set(true);
        }
        let Some(value) = fold(node) else {
            return Truth::Unknown;
        };
        match value.as_bool() {
            Some(true) => Truth::True,
            Some(false) => Truth::False,
            None => Truth::Unknown,
        }
    }

    fn and(&self, args: &[Node]) -> Truth {
        let truths: Vec<Truth> = args.iter().map(|a| self.eval(a)).collect();
        if truths.iter().all(|t| *t == Truth::True) {
            Truth::True
        } else if truths.contains(&Truth::False) {
            Truth::False
        } else {
            Truth::Unknown
        }
    }

    fn or(&self, args: &[Node]) -> Truth {
        let truths: Vec<Truth> = args.iter().map(|a| self.eval(a)).collect();
        // `… OR $2`, `… OR now() > x`: a disjunct that ignores the row matches every row
        // whenever it holds.
        let row_independent = args
            .iter()
            .zip(&truths)
            .any(|(a, t)| *t == Truth::Unknown && inner(a).is_some_and(is_row_independent));
        if truths.contains(&Truth::True) || row_independent || self.has_complement(args) {
            Truth::True
        } else if truths.iter().all(|t| *t == Truth::False) {
            Truth::False
        } else {
            Truth::Unknown
        }
    }

    /// `p OR NOT p`, `x IS NULL OR x IS NOT NULL`, `x > 5 OR x <= 5`, `x = 1 OR x <> 1`.
    fn has_complement(&self, args: &[Node]) -> bool {
        let keys: Vec<Option<String>> = args.iter().map(|a| self.key(a)).collect();
        let negated: Vec<Option<String>> = args.iter().map(|a| self.negated_key(a)).collect();
        keys.iter()
            .flatten()
            .any(|k| negated.iter().flatten().any(|n| n == k))
    }

    fn a_expr(&self, a: &pg_query::protobuf::AExpr) -> Truth {
        let op = op_name(&a.name);
        let kind = AExprKind::try_from(a.kind).unwrap_or(AExprKind::Undefined);
        let (Some(l), Some(r)) = (boxed(&a.lexpr), boxed(&a.rexpr)) else {
            return self.constant(&NodeEnum::AExpr(Box::new(a.clone())));
        };
        match kind {
            AExprKind::AexprOp => {
                if let (Some(x), Some(y)) = (self.key_enum(l), self.key_enum(r))
                    && x == y
                    && !x.starts_with("c:")
                {
                    return match op.as_str() {
                        "=" | "<=" | ">=" => Truth::True,
                        "<>" | "!=" | "<" | ">" => Truth::False,
                        _ => Truth::Unknown,
                    };
                }
                self.constant(&NodeEnum::AExpr(Box::new(a.clone())))
            }
            AExprKind::AexprNotDistinct | AExprKind::AexprDistinct => {
                let same = self.key_enum(l).is_some() && self.key_enum(l) == self.key_enum(r);
                match (same, kind) {
                    (true, AExprKind::AexprNotDistinct) => Truth::True,
                    (true, _) => Truth::False,
                    _ => self.constant(&NodeEnum::AExpr(Box::new(a.clone()))),
                }
            }
            AExprKind::AexprIn if op == "=" => self.in_list(l, r),
            AExprKind::AexprLike | AExprKind::AexprIlike if op == "~~" || op == "~~*" => {
                if is_constant_shape(r) {
                    self.literal.set(true);
                }
                match fold(r) {
                    Some(Value::Str(p)) if !p.is_empty() && p.chars().all(|c| c == '%') => {
                        Truth::True
                    }
                    _ => self.constant(&NodeEnum::AExpr(Box::new(a.clone()))),
                }
            }
            _ => self.constant(&NodeEnum::AExpr(Box::new(a.clone()))),
        }
    }

    fn in_list(&self, l: &NodeEnum, r: &NodeEnum) -> Truth {
        let NodeEnum::List(list) = r else {
            return Truth::Unknown;
        };
        if is_constant_shape(l) {
            self.literal.set(true);
        }
        let left_key = self.key_enum(l);
        let left_value = fold(l);
        let mut all_differ = left_value.is_some();
        for item in &list.items {
            let Some(item) = inner(item) else { continue };
            if left_key.is_some() && self.key_enum(item) == left_key && left_value.is_none() {
                return Truth::True;
            }
            let item_value = fold(item);
            match (&left_value, &item_value) {
                (Some(a), Some(b)) if a.equals(b) == Some(true) => return Truth::True,
                (Some(a), Some(b)) if a.equals(b) == Some(false) => {}
                _ => all_differ = false,
            }
        }
        if all_differ {
            Truth::False
        } else {
            Truth::Unknown
        }
    }

    fn null_test(&self, t: &pg_query::protobuf::NullTest) -> Truth {
        let Some(arg) = boxed(&t.arg) else {
            return Truth::Unknown;
        };
        if let NodeEnum::ColumnRef(c) = arg {
            // System columns exist and are non-null in every row.
            let system = c.fields.last().and_then(string).is_some_and(|name| {
                matches!(
                    name,
                    "ctid" | "xmin" | "xmax" | "cmin" | "cmax" | "tableoid"
                )
            });
            if system {
                let not_null = t.nulltesttype == NullTestType::IsNotNull as i32;
                return if not_null { Truth::True } else { Truth::False };
            }
        }
        let Some(value) = fold(arg) else {
            return Truth::Unknown;
        };
        self.literal.set(true);
        let is_null = matches!(value, Value::Null);
        let wants_null = t.nulltesttype == NullTestType::IsNull as i32;
        if is_null == wants_null {
            Truth::True
        } else {
            Truth::False
        }
    }

    /// `EXISTS (SELECT … [no filter])`, `x IN (SELECT x FROM same_table)`, `(SELECT true)`.
    fn sub_link(&self, s: &pg_query::protobuf::SubLink) -> Truth {
        let Some(NodeEnum::SelectStmt(sel)) = boxed(&s.subselect) else {
            return Truth::Unknown;
        };
        if sel.larg.is_some() || sel.limit_count.is_some() || !sel.group_clause.is_empty() {
            return Truth::Unknown;
        }
        let nested = self.nested(&sel.from_clause);
        let unfiltered = match sel.where_clause.as_deref() {
            None => true,
            Some(w) => nested.eval(w) == Truth::True,
        };
        if nested.literal.get() {
            self.literal.set(true);
        }
        match SubLinkType::try_from(s.sub_link_type) {
            Ok(SubLinkType::ExistsSublink) if unfiltered => Truth::True,
            Ok(SubLinkType::AnySublink) if unfiltered => {
                let op = op_name(&s.oper_name);
                let test = boxed(&s.testexpr).and_then(|t| self.key_enum(t));
                let output = sel.target_list.first().and_then(|t| match inner(t) {
                    Some(NodeEnum::ResTarget(rt)) => {
                        boxed(&rt.val).and_then(|v| nested.key_enum(v))
                    }
                    _ => None,
                });
                let same = test.is_some() && test == output && sel.target_list.len() == 1;
                if same && (op.is_empty() || op == "=") {
                    Truth::True
                } else {
                    Truth::Unknown
                }
            }
            Ok(SubLinkType::ExprSublink) if sel.from_clause.is_empty() => {
                match sel.target_list.first().and_then(inner) {
                    Some(NodeEnum::ResTarget(rt)) => {
                        boxed(&rt.val).map_or(Truth::Unknown, |v| nested.eval_enum(v))
                    }
                    _ => Truth::Unknown,
                }
            }
            _ => Truth::Unknown,
        }
    }

    /// A canonical key for structural comparison; `None` for what we do not model.
    fn key(&self, node: &Node) -> Option<String> {
        inner(node).and_then(|n| self.key_enum(n))
    }

    fn key_enum(&self, node: &NodeEnum) -> Option<String> {
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
                let name = super::names::dotted(&f.funcname);
                let args: Option<Vec<String>> = f.args.iter().map(|a| self.key(a)).collect();
                Some(format!("{name}({})", args?.join(",")))
            }
            other => fold(other).map(|v| format!("c:{v:?}")),
        }
    }

    /// The key of the predicate's logical complement, where we can name it.
    fn negated_key(&self, node: &Node) -> Option<String> {
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

/// The relation a sub-select in FROM merely projects: one relation, no filter, no limit, no
/// grouping, and output columns that are plain column references (or `*`).
fn plain_projection(r: &pg_query::protobuf::RangeSubselect) -> Option<String> {
    let Some(NodeEnum::SelectStmt(s)) = boxed(&r.subquery) else {
        return None;
    };
    let simple = s.where_clause.is_none()
        && s.limit_count.is_none()
        && s.group_clause.is_empty()
        && s.larg.is_none()
        && s.from_clause.len() == 1
        && s.target_list.iter().all(|t| match inner(t) {
            Some(NodeEnum::ResTarget(rt)) => {
                rt.name.is_empty() && matches!(boxed(&rt.val), Some(NodeEnum::ColumnRef(_)))
            }
            _ => false,
        });
    match s.from_clause.first().and_then(inner) {
        Some(NodeEnum::RangeVar(rv)) if simple => Some(rv.relname.clone()),
        _ => None,
    }
}

/// True when `node` provably matches every row in `scope`: it is always true, or it does not
/// depend on the row at all (`WHERE $1`, `WHERE now() > '2020-01-01'`) and is not provably
/// false — such a filter matches every row or none.
pub(crate) fn always_true(node: &Node, scope: &Scope) -> bool {
    match scope.eval(node) {
        Truth::True => true,
        Truth::False => false,
        Truth::Unknown => inner(node).is_some_and(is_row_independent),
    }
}
