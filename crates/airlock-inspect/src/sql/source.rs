//! Whether a SELECT block returns whole tables: no filter, no limit, and every source a table
//! (or a sub-select or CTE that is itself unfiltered). Exports are judged on this, so a
//! `json_agg` over a filtered sub-query or a CTE with a WHERE is not an export.

use pg_query::NodeEnum;
use pg_query::protobuf::{JoinType, Node, SelectStmt};

use super::names::{boxed, inner, is_system_relation, relation, string};
use super::statement::Inspector;
use super::truth::{Scope, always_true};

impl Inspector {
    /// True when `s` returns every row of the tables it reads.
    pub(crate) fn unfiltered_source(&self, s: &SelectStmt) -> bool {
        if let (Some(l), Some(r)) = (s.larg.as_deref(), s.rarg.as_deref()) {
            return self.unfiltered_source(l) || self.unfiltered_source(r);
        }
        let filtered = match s.where_clause.as_deref() {
            None => false,
            Some(w) => !always_true(w, &Scope::from_from_clause(None, &s.from_clause)),
        };
        // A LIMIT on an aggregate limits its output rows, not the rows it reads.
        let limited =
            limits(s.limit_count.as_deref()) && !super::dml::all_aggregates(&s.target_list);
        // A comma-separated FROM is a cross join: one whole table in it is enough.
        !filtered && !limited && s.from_clause.iter().any(|f| self.unfiltered_item(f))
    }

    /// True when `s` hands on every row of the tables it reads: it reads them whole and does
    /// not summarise them (grouped, aggregated or DISTINCT output is a summary).
    pub(crate) fn returns_whole_rows(&self, s: &SelectStmt) -> bool {
        if let (Some(l), Some(r)) = (s.larg.as_deref(), s.rarg.as_deref()) {
            return self.returns_whole_rows(l) || self.returns_whole_rows(r);
        }
        let summarised = !s.group_clause.is_empty()
            || !s.distinct_clause.is_empty()
            || super::dml::all_aggregates(&s.target_list);
        !summarised && self.unfiltered_source(s)
    }

    fn unfiltered_item(&self, node: &Node) -> bool {
        match inner(node) {
            Some(NodeEnum::RangeVar(rv)) => {
                let cte = rv
                    .schemaname
                    .is_empty()
                    .then(|| self.ctes.iter().rev().find(|(name, _)| *name == rv.relname))
                    .flatten();
                match cte {
                    Some((_, unfiltered)) => *unfiltered,
                    None => !is_system_relation(&relation(rv)),
                }
            }
            Some(NodeEnum::RangeSubselect(r)) => match boxed(&r.subquery) {
                Some(NodeEnum::SelectStmt(s)) => self.returns_whole_rows(s),
                _ => false,
            },
            Some(NodeEnum::JoinExpr(j)) => {
                let side =
                    |n: &Option<Box<Node>>| n.as_deref().is_some_and(|n| self.unfiltered_item(n));
                match JoinType::try_from(j.jointype) {
                    Ok(JoinType::JoinLeft) => side(&j.larg),
                    Ok(JoinType::JoinRight) => side(&j.rarg),
                    Ok(JoinType::JoinFull) => side(&j.larg) || side(&j.rarg),
                    _ => side(&j.larg) && side(&j.rarg),
                }
            }
            // `TABLESAMPLE` may return every row (`BERNOULLI (100)`).
            Some(NodeEnum::RangeTableSample(t)) => t
                .relation
                .as_deref()
                .is_some_and(|r| self.unfiltered_item(r)),
            _ => false,
        }
    }
}

/// True when a LIMIT clause limits (`LIMIT ALL` and `LIMIT NULL` do not).
pub(crate) fn limits(limit: Option<&Node>) -> bool {
    match limit.and_then(inner) {
        None => false,
        Some(node) => !matches!(super::fold::fold(node), Some(super::fold::Value::Null)),
    }
}

/// True when a target-list entry returns whole rows: `*`, `t.*`, `row(t.*)`, `(t).*`, or a
/// bare reference to a relation of the FROM clause (`SELECT u FROM users u`, `u::text`).
pub(crate) fn whole_row(node: &Node, relations: &[String]) -> bool {
    inner(node).is_some_and(|n| whole_row_enum(n, relations))
}

fn whole_row_enum(node: &NodeEnum, relations: &[String]) -> bool {
    let any = |nodes: &[Node]| nodes.iter().any(|n| whole_row(n, relations));
    match node {
        NodeEnum::ResTarget(t) => boxed(&t.val).is_some_and(|v| whole_row_enum(v, relations)),
        NodeEnum::ColumnRef(c) => {
            c.fields
                .iter()
                .any(|f| matches!(inner(f), Some(NodeEnum::AStar(_))))
                || (c.fields.len() == 1
                    && c.fields
                        .first()
                        .and_then(string)
                        .is_some_and(|n| relations.iter().any(|r| r == n)))
        }
        NodeEnum::AIndirection(a) => {
            a.indirection
                .iter()
                .any(|i| matches!(inner(i), Some(NodeEnum::AStar(_))))
                || boxed(&a.arg).is_some_and(|v| whole_row_enum(v, relations))
        }
        NodeEnum::RowExpr(r) => any(&r.args),
        NodeEnum::TypeCast(t) => boxed(&t.arg).is_some_and(|v| whole_row_enum(v, relations)),
        NodeEnum::FuncCall(f) => any(&f.args),
        _ => false,
    }
}

/// The names rows of the FROM clause are visible under (aliases, or relation names).
pub(crate) fn visible_relations(from: &[Node]) -> Vec<String> {
    let mut out = Vec::new();
    for node in from {
        match inner(node) {
            Some(NodeEnum::RangeVar(rv)) => {
                out.push(
                    rv.alias
                        .as_ref()
                        .map_or_else(|| rv.relname.clone(), |a| a.aliasname.clone()),
                );
            }
            Some(NodeEnum::RangeSubselect(r)) => {
                if let Some(alias) = &r.alias {
                    out.push(alias.aliasname.clone());
                }
            }
            Some(NodeEnum::JoinExpr(j)) => {
                let sides: Vec<Node> = [&j.larg, &j.rarg]
                    .iter()
                    .filter_map(|s| s.as_deref().cloned())
                    .collect();
                out.extend(visible_relations(&sides));
            }
            _ => {}
        }
    }
    out
}
