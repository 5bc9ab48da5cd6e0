//! Sub-queries in row filters: `EXISTS (…)`, `x IN (SELECT x FROM same_table)` (also through a
//! CTE or a UNION), `NOT IN (<empty>)`, scalar sub-queries of constants.

use pg_query::NodeEnum;
use pg_query::protobuf::{SelectStmt, SetOperation, SubLink, SubLinkType};

use super::{Scope, Truth};
use crate::sql::fold::op_name;
use crate::sql::names::{boxed, inner};

/// What rows a sub-select returns, as far as static analysis can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rows {
    /// Every row of its FROM (no filter, no limit, no grouping), or one row without FROM.
    All,
    /// None at all (a filter that is provably false).
    Nothing,
    Unknown,
}

impl Scope {
    pub(super) fn sub_link(&self, s: &SubLink) -> Truth {
        let Some(NodeEnum::SelectStmt(sel)) = boxed(&s.subselect) else {
            return Truth::Unknown;
        };
        match SubLinkType::try_from(s.sub_link_type) {
            Ok(SubLinkType::ExistsSublink) => self.exists(sel),
            Ok(SubLinkType::AnySublink) => {
                let op = op_name(&s.oper_name);
                let test = boxed(&s.testexpr).and_then(|t| self.key_enum(t));
                match test {
                    Some(test) if op.is_empty() || op == "=" => self.any_of(&test, sel),
                    _ => Truth::Unknown,
                }
            }
            Ok(SubLinkType::ExprSublink) if sel.from_clause.is_empty() && sel.larg.is_none() => {
                let nested = self.nested(sel);
                let value = match sel.target_list.first().and_then(inner) {
                    Some(NodeEnum::ResTarget(rt)) => {
                        boxed(&rt.val).map_or(Truth::Unknown, |v| nested.eval_enum(v))
                    }
                    _ => Truth::Unknown,
                };
                self.absorb(&nested);
                value
            }
            _ => Truth::Unknown,
        }
    }

    fn exists(&self, sel: &SelectStmt) -> Truth {
        if let (Some(l), Some(r)) = (sel.larg.as_deref(), sel.rarg.as_deref()) {
            return set_operation(sel.op, self.exists(l), self.exists(r));
        }
        match self.rows(sel) {
            Rows::All => Truth::True,
            Rows::Nothing => Truth::False,
            Rows::Unknown => Truth::Unknown,
        }
    }

    /// `test IN (sel)`: true when `sel` returns every value of the same column of the target.
    pub(super) fn any_of(&self, test: &str, sel: &SelectStmt) -> Truth {
        if let (Some(l), Some(r)) = (sel.larg.as_deref(), sel.rarg.as_deref()) {
            return set_operation(sel.op, self.any_of(test, l), self.any_of(test, r));
        }
        match self.rows(sel) {
            Rows::Nothing => Truth::False,
            Rows::Unknown => Truth::Unknown,
            Rows::All => {
                let nested = self.nested(sel);
                let output = match sel.target_list.as_slice() {
                    [only] => match inner(only) {
                        Some(NodeEnum::ResTarget(rt)) => {
                            boxed(&rt.val).and_then(|v| nested.key_enum(v))
                        }
                        _ => None,
                    },
                    _ => None,
                };
                if output.as_deref() == Some(test) {
                    Truth::True
                } else {
                    Truth::Unknown
                }
            }
        }
    }

    fn rows(&self, sel: &SelectStmt) -> Rows {
        // `LIMIT ALL`/`LIMIT NULL` do not limit; `GROUP BY` keeps every distinct value.
        let having_true = sel
            .having_clause
            .as_deref()
            .is_none_or(|h| self.eval(h) == Truth::True);
        if crate::sql::source::limits(sel.limit_count.as_deref()) || !having_true {
            return Rows::Unknown;
        }
        let nested = self.nested(sel);
        let rows = match sel.where_clause.as_deref().map(|w| nested.eval(w)) {
            None | Some(Truth::True) => Rows::All,
            Some(Truth::False) => Rows::Nothing,
            Some(Truth::Unknown) => Rows::Unknown,
        };
        self.absorb(&nested);
        rows
    }

    /// A sub-select's scope: its own relations first (CTEs of its WITH that merely project a
    /// relation stand for that relation), then the outer ones, and the outer target.
    pub(super) fn nested(&self, sel: &SelectStmt) -> Self {
        let mut scope = Self::from_from_clause(None, &sel.from_clause);
        scope.projections = self.projections.clone();
        let mut scope = scope.with_ctes(sel.with_clause.as_ref());
        scope.aliases.extend(self.aliases.iter().cloned());
        scope.target = self.target.clone();
        scope
    }

    /// `x >= (SELECT min(x) FROM same_table)`, `x <= (SELECT max(x) FROM same_table)` (either
    /// side): every non-null row is within the table's own extremes.
    pub(super) fn bound_by_extreme(&self, op: &str, l: &NodeEnum, r: &NodeEnum) -> bool {
        let extreme = |side: &NodeEnum| -> Option<(String, String)> {
            let NodeEnum::SubLink(s) = side else {
                return None;
            };
            let Some(NodeEnum::SelectStmt(sel)) = boxed(&s.subselect) else {
                return None;
            };
            if s.sub_link_type != SubLinkType::ExprSublink as i32 || self.rows(sel) != Rows::All {
                return None;
            }
            let nested = self.nested(sel);
            let Some(NodeEnum::ResTarget(rt)) = sel.target_list.first().and_then(inner) else {
                return None;
            };
            let Some(NodeEnum::FuncCall(f)) = boxed(&rt.val) else {
                return None;
            };
            let name = crate::sql::names::last(&f.funcname)?.to_owned();
            let arg = f
                .args
                .first()
                .and_then(inner)
                .and_then(|a| nested.key_enum(a))?;
            Some((name, arg))
        };
        let (column, sub, op) = match (extreme(r), extreme(l)) {
            (Some(sub), None) => (self.key_enum(l), sub, op.to_owned()),
            (None, Some(sub)) => (self.key_enum(r), sub, flip(op).to_owned()),
            _ => return false,
        };
        let Some(column) = column else { return false };
        column == sub.1 && matches!((sub.0.as_str(), op.as_str()), ("min", ">=") | ("max", "<="))
    }

    /// The value of a CASE without operand when a branch provably decides it.
    pub(super) fn case_decided(&self, c: &pg_query::protobuf::CaseExpr) -> Option<Truth> {
        for when in &c.args {
            let Some(NodeEnum::CaseWhen(w)) = inner(when) else {
                return None;
            };
            match boxed(&w.expr).map(|e| self.eval_enum(e)) {
                Some(Truth::True) => return boxed(&w.result).map(|r| self.eval_enum(r)),
                Some(Truth::False) => continue,
                _ => return None,
            }
        }
        boxed(&c.defresult).map(|d| self.eval_enum(d))
    }

    /// Carries a nested scope's dependence on literals up to this one.
    fn absorb(&self, nested: &Scope) {
        if nested.literal.get() {
            self.literal.set(true);
        }
    }
}

/// Whether a set operation of two sub-selects covers every value (`True`), none (`False`),
/// given what each arm covers. `EXCEPT` removes rows the right arm names: never `True`.
fn set_operation(op: i32, left: Truth, right: Truth) -> Truth {
    use Truth::{False, True, Unknown};
    match SetOperation::try_from(op) {
        Ok(SetOperation::SetopUnion) => match (left, right) {
            (True, _) | (_, True) => True,
            (False, False) => False,
            _ => Unknown,
        },
        Ok(SetOperation::SetopIntersect) => match (left, right) {
            (True, True) => True,
            (False, _) | (_, False) => False,
            _ => Unknown,
        },
        Ok(SetOperation::SetopExcept) if left == False => False,
        _ => Unknown,
    }
}

fn flip(op: &str) -> &str {
    match op {
        "<" => ">",
        ">" => "<",
        "<=" => ">=",
        ">=" => "<=",
        other => other,
    }
}

/// The relation a sub-select in FROM merely projects: one relation, no filter, no limit, no
/// grouping, and output columns that are plain column references (or `*`).
pub(super) fn plain_projection(s: &SelectStmt) -> Option<String> {
    let simple = s.where_clause.is_none()
        && !crate::sql::source::limits(s.limit_count.as_deref())
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
