//! Always-true detection for row filters: constant folding, self-comparisons, complements,
//! self-joins and self-subqueries that match every row. Conservative: `Unknown` unless the
//! predicate provably holds for every (non-null) row.

use std::cell::Cell;

use pg_query::NodeEnum;
use pg_query::protobuf::{AExprKind, BoolExprType, Node, NullTestType, RangeVar, WithClause};

mod keys;
mod subquery;

use super::fold::{Value, fold, is_constant_shape, is_row_independent, op_name};
use super::names::{boxed, inner, string};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Truth {
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
    /// Bind parameters count as possibly true (see `dml::filter`).
    strict: Cell<bool>,
    /// The statement joins its target with other sources (USING, FROM, a MERGE source).
    sources: bool,
    /// CTE name → the relation it merely projects (`WITH s AS (SELECT id FROM t)`), the
    /// innermost WITH first: a CTE in scope stands for its relation.
    projections: Vec<(String, String)>,
}

impl Scope {
    pub(crate) fn from_from_clause(target: Option<&RangeVar>, from: &[Node]) -> Self {
        let mut scope = Self::default();
        if let Some(rv) = target {
            scope.target = Some(rv.relname.clone());
            scope.add(rv);
            scope.sources = !from.is_empty();
        }
        for node in from {
            scope.collect(node);
        }
        if scope.target.is_none() && scope.aliases.len() == 1 {
            scope.target = scope.aliases.first().map(|(_, rel)| rel.clone());
        }
        scope
    }

    /// Brings the CTEs of `with` into scope: names that refer to a CTE which merely projects
    /// a relation stand for that relation.
    pub(crate) fn with_ctes(mut self, with: Option<&WithClause>) -> Self {
        let own = with.map(|w| w.ctes.as_slice()).unwrap_or_default();
        let mut projections: Vec<(String, String)> = own
            .iter()
            .filter_map(|cte| match inner(cte) {
                Some(NodeEnum::CommonTableExpr(cte)) => match boxed(&cte.ctequery) {
                    Some(NodeEnum::SelectStmt(query)) => subquery::plain_projection(query)
                        .map(|relation| (cte.ctename.clone(), relation)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        projections.append(&mut self.projections);
        let resolve = |name: &mut String| {
            if let Some((_, relation)) = projections.iter().find(|(cte, _)| cte == name) {
                *name = relation.clone();
            }
        };
        for (_, relation) in &mut self.aliases {
            resolve(relation);
        }
        if let Some(target) = &mut self.target {
            resolve(target);
        }
        self.projections = projections;
        self
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
                let projected = match boxed(&r.subquery) {
                    Some(NodeEnum::SelectStmt(sel)) => subquery::plain_projection(sel),
                    _ => None,
                };
                if let (Some(alias), Some(relation)) = (alias, projected) {
                    self.aliases.push((alias, relation));
                }
            }
            _ => {}
        }
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

    /// True for a DML target joined with other relations (USING, FROM, a MERGE source).
    fn has_sources(&self) -> bool {
        self.target.is_some() && self.sources
    }

    /// True when the expression may read a column of the target relation. Sub-queries and node
    /// types not modelled here count as reading it.
    fn mentions_target(&self, node: &NodeEnum) -> bool {
        let any = |nodes: &[Node]| {
            nodes
                .iter()
                .any(|n| inner(n).is_some_and(|n| self.mentions_target(n)))
        };
        let opt = |n: &Option<Box<Node>>| boxed(n).is_some_and(|n| self.mentions_target(n));
        match node {
            NodeEnum::ColumnRef(c) => self
                .column(&c.fields)
                .is_none_or(|k| k.starts_with("@target.")),
            NodeEnum::AConst(_) | NodeEnum::ParamRef(_) | NodeEnum::SqlvalueFunction(_) => false,
            NodeEnum::AExpr(a) => opt(&a.lexpr) || opt(&a.rexpr),
            NodeEnum::BoolExpr(b) => any(&b.args),
            NodeEnum::NullTest(t) => opt(&t.arg),
            NodeEnum::BooleanTest(t) => opt(&t.arg),
            NodeEnum::TypeCast(t) => opt(&t.arg),
            NodeEnum::CollateClause(c) => opt(&c.arg),
            NodeEnum::FuncCall(f) => any(&f.args) || opt(&f.agg_filter),
            NodeEnum::CoalesceExpr(c) => any(&c.args),
            NodeEnum::MinMaxExpr(m) => any(&m.args),
            NodeEnum::CaseExpr(c) => opt(&c.arg) || any(&c.args) || opt(&c.defresult),
            NodeEnum::CaseWhen(w) => opt(&w.expr) || opt(&w.result),
            NodeEnum::List(l) => any(&l.items),
            NodeEnum::RowExpr(r) => any(&r.args),
            NodeEnum::AArrayExpr(a) => any(&a.elements),
            _ => true,
        }
    }

    pub(crate) fn strict_parameters(&self, strict: bool) {
        self.strict.set(strict);
    }

    /// True when a verdict reached in this scope looked at literal-shaped values, so another
    /// literal could have changed it.
    pub(crate) fn depended_on_literals(&self) -> bool {
        self.literal.get()
    }

    pub(super) fn eval(&self, node: &Node) -> Truth {
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
            // `CASE WHEN … THEN true ELSE true END`: true when every branch is.
            // `CASE WHEN x = x THEN true END`: the first branch whose condition holds decides.
            NodeEnum::CaseExpr(c)
                if c.arg.is_none() && self.case_decided(c) == Some(Truth::True) =>
            {
                Truth::True
            }
            // `COALESCE(x = x, true)`: every argument true (or null) means true.
            NodeEnum::CoalesceExpr(c)
                if !c.args.is_empty() && c.args.iter().all(|a| self.eval(a) == Truth::True) =>
            {
                Truth::True
            }
            NodeEnum::CaseExpr(c) if c.arg.is_none() && c.defresult.is_some() => {
                let results = c.args.iter().filter_map(|w| match inner(w) {
                    Some(NodeEnum::CaseWhen(w)) => Some(boxed(&w.result)),
                    _ => None,
                });
                let all_true = results
                    .chain(std::iter::once(boxed(&c.defresult)))
                    .all(|r| r.is_some_and(|r| self.eval_enum(r) == Truth::True));
                if all_true {
                    Truth::True
                } else {
                    self.constant(node)
                }
            }
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
        } else if truths.contains(&Truth::False) || self.has_complement(args) {
            // `p AND NOT p`: never true, so `NOT (p AND NOT p)` holds for every row.
            Truth::False
        } else {
            Truth::Unknown
        }
    }

    fn or(&self, args: &[Node]) -> Truth {
        let truths: Vec<Truth> = args.iter().map(|a| self.eval(a)).collect();
        // `… OR $2`, `… OR now() > x`: a disjunct that ignores the row matches every row
        // whenever it holds.
        // Bind parameters are left out: `col = $1 OR $1 IS NULL` is the optional-filter idiom
        // of ORMs, decided with the bound values when the statement executes.
        let row_independent = args.iter().zip(&truths).any(|(a, t)| {
            *t == Truth::Unknown
                && inner(a).is_some_and(|a| {
                    is_row_independent(a) && (self.strict.get() || !has_parameter(a))
                })
        });
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
            // `(p) = true`: the predicate itself.
            AExprKind::AexprOp
                if op == "=" && (is_true(l) || is_true(r)) && !(is_true(l) && is_true(r)) =>
            {
                let other = if is_true(l) { r } else { l };
                match self.eval_enum(other) {
                    Truth::True => Truth::True,
                    _ => self.constant(&NodeEnum::AExpr(Box::new(a.clone()))),
                }
            }
            AExprKind::AexprOp if self.bound_by_extreme(&op, l, r) => Truth::True,
            AExprKind::AexprOp => {
                let folded = self.constant(&NodeEnum::AExpr(Box::new(a.clone())));
                // Both sides the same expression (`x = x`, `x + 0 = x`, `x - x = 0`).
                if folded == Truth::Unknown
                    && let (Some(x), Some(y)) = (self.key_enum(l), self.key_enum(r))
                    && x == y
                {
                    return match op.as_str() {
                        "=" | "<=" | ">=" => Truth::True,
                        "<>" | "!=" | "<" | ">" => Truth::False,
                        _ => Truth::Unknown,
                    };
                }
                folded
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
            AExprKind::AexprOpAny | AExprKind::AexprOpAll if empty_array(r) => {
                // Over no elements, ANY is false and ALL is (vacuously) true.
                if kind == AExprKind::AexprOpAll {
                    Truth::True
                } else {
                    Truth::False
                }
            }
            AExprKind::AexprOpAny if op == "=" && matches!(r, NodeEnum::SubLink(_)) => {
                // `x = ANY(ARRAY(SELECT x FROM same_table))`.
                match (r, self.key_enum(l)) {
                    (NodeEnum::SubLink(s), Some(test)) => match boxed(&s.subselect) {
                        Some(NodeEnum::SelectStmt(sel)) => self.any_of(&test, sel),
                        _ => Truth::Unknown,
                    },
                    _ => Truth::Unknown,
                }
            }
            AExprKind::AexprOpAny | AExprKind::AexprOpAll if op == "=" => {
                // `x = ANY(ARRAY[x, …])`, `x = ALL(ARRAY[x])`.
                let Some(NodeEnum::AArrayExpr(array)) = strip_casts(r) else {
                    return self.constant(&NodeEnum::AExpr(Box::new(a.clone())));
                };
                let left = self.key_enum(l);
                let same = |e: &Node| left.is_some() && self.key(e) == left;
                let holds = if kind == AExprKind::AexprOpAny {
                    array.elements.iter().any(same)
                } else {
                    !array.elements.is_empty() && array.elements.iter().all(same)
                };
                if holds {
                    Truth::True
                } else {
                    self.constant(&NodeEnum::AExpr(Box::new(a.clone())))
                }
            }
            AExprKind::AexprBetween | AExprKind::AexprBetweenSym => {
                // `x BETWEEN x AND x`.
                let left = self.key_enum(l);
                // `x BETWEEN (SELECT min(x) …) AND (SELECT max(x) …)` over the same table.
                if let NodeEnum::List(list) = r
                    && let [Some(lo), Some(hi)] = [
                        list.items.first().and_then(inner),
                        list.items.get(1).and_then(inner),
                    ]
                    && self.bound_by_extreme(">=", l, lo)
                    && self.bound_by_extreme("<=", l, hi)
                {
                    return Truth::True;
                }
                let bounds_same = match r {
                    NodeEnum::List(list) => {
                        list.items.len() == 2
                            && list
                                .items
                                .iter()
                                .all(|b| left.is_some() && self.key(b) == left)
                    }
                    _ => false,
                };
                if bounds_same {
                    Truth::True
                } else {
                    self.constant(&NodeEnum::AExpr(Box::new(a.clone())))
                }
            }
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
        // `(x IS NULL) IS NOT NULL`: a null test or boolean test is never null.
        if matches!(arg, NodeEnum::NullTest(_) | NodeEnum::BooleanTest(_)) {
            let not_null = t.nulltesttype == NullTestType::IsNotNull as i32;
            return if not_null { Truth::True } else { Truth::False };
        }
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
}

fn is_true(node: &NodeEnum) -> bool {
    matches!(fold(node), Some(Value::Bool(true)))
}

/// `'{}'`, `'{}'::int[]`, `ARRAY[]::int[]`.
fn empty_array(node: &NodeEnum) -> bool {
    match strip_casts(node) {
        Some(NodeEnum::AArrayExpr(a)) => a.elements.is_empty(),
        Some(other) => matches!(fold(other), Some(Value::Str(s)) if s.trim() == "{}"),
        None => false,
    }
}

fn strip_casts(node: &NodeEnum) -> Option<&NodeEnum> {
    match node {
        NodeEnum::TypeCast(t) => boxed(&t.arg).and_then(strip_casts),
        other => Some(other),
    }
}

/// True when the expression contains a bind parameter (`$1`).
fn has_parameter(node: &NodeEnum) -> bool {
    let any = |nodes: &[Node]| nodes.iter().any(|n| inner(n).is_some_and(has_parameter));
    let opt = |n: &Option<Box<Node>>| boxed(n).is_some_and(has_parameter);
    match node {
        NodeEnum::ParamRef(_) => true,
        NodeEnum::TypeCast(t) => opt(&t.arg),
        NodeEnum::AExpr(a) => opt(&a.lexpr) || opt(&a.rexpr),
        NodeEnum::BoolExpr(b) => any(&b.args),
        NodeEnum::FuncCall(f) => any(&f.args),
        NodeEnum::NullTest(t) => opt(&t.arg),
        NodeEnum::BooleanTest(t) => opt(&t.arg),
        NodeEnum::CoalesceExpr(c) => any(&c.args),
        NodeEnum::List(l) => any(&l.items),
        _ => false,
    }
}

/// Which rows of `scope` a row filter keeps, as far as can be proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// Provably true for every row (`1 = 1`, `x = x`, `x IS NULL OR x IS NOT NULL`).
    Every,
    /// Does not depend on the row at all (`WHERE $1`, `WHERE now() > '2020-01-01'`) and is not
    /// provably false: every row or none, decided by something other than the row.
    EveryOrNone,
    /// May keep some rows and not others (or provably none).
    Restricted,
}

/// True when `node` may match every row in `scope`: it is always true, or it does not depend
/// on the row at all and is not provably false (see [`coverage`]).
pub(crate) fn always_true(node: &Node, scope: &Scope) -> bool {
    coverage(node, scope) != Coverage::Restricted
}

/// Which rows of `scope` the filter `node` keeps.
pub(crate) fn coverage(node: &Node, scope: &Scope) -> Coverage {
    match scope.eval(node) {
        Truth::True => Coverage::Every,
        Truth::False => Coverage::Restricted,
        Truth::Unknown => {
            // A filter that never looks at the target's columns (`USING (VALUES (1)) v WHERE
            // v.x = 1`) keeps every target row or none.
            let independent = inner(node).is_some_and(|n| {
                is_row_independent(n) || (scope.has_sources() && !scope.mentions_target(n))
            });
            if independent {
                Coverage::EveryOrNone
            } else {
                Coverage::Restricted
            }
        }
    }
}
