//! SELECT, INSERT, UPDATE, DELETE and MERGE: objects, row filters, limits, aggregates.

use airlock_model::{Access, Origin, Statement, StatementFlag, StatementKind, WhereClause};
use pg_query::NodeEnum;
use pg_query::protobuf::{
    CmdType, DeleteStmt, InsertStmt, MergeMatchKind, MergeStmt, Node, RangeVar, ReturningClause,
    SelectStmt, UpdateStmt, WithClause,
};

use super::names::{boxed, inner, is_system_relation, relation};
use super::set_operation::Rows;
use super::source::{limits, visible_relations, whole_row};
use super::statement::Inspector;
use super::truth::{Coverage, Scope, coverage};
use super::{functions, names};

impl Inspector {
    pub(crate) fn select_statement(&mut self, st: &mut Statement, s: &SelectStmt, depth: u8) {
        st.kind = StatementKind::Select;
        self.select_facts(st, s, depth);
        if let Some(into) = s.into_clause.as_ref().and_then(|i| i.rel.as_ref()) {
            // SELECT … INTO new_table: a CREATE TABLE AS.
            st.kind = StatementKind::Create;
            st.object_type = Some("table".into());
            st.touch(relation(into), Access::Create);
        }
        let reads_only_system = st.names_with(Access::Read).all(is_system_relation);
        if reads_only_system {
            st.flags.insert(StatementFlag::SystemOnly);
        }
    }

    /// The facts of a (possibly set-operation) SELECT. Both arms of a set operation are read
    /// into `st` (their tables, functions, nested statements); only their row facts are kept
    /// apart and then combined.
    fn select_facts(&mut self, st: &mut Statement, s: &SelectStmt, depth: u8) {
        let mut scope_len = None;
        if let (Some(l), Some(r)) = (s.larg.as_deref(), s.rarg.as_deref()) {
            // `WITH … SELECT … UNION SELECT …`: the WITH clause belongs to the set operation.
            scope_len = Some(self.enter_with(st, s.with_clause.as_ref(), depth));
            self.select_facts(st, l, depth);
            let left = Rows::take(st);
            self.select_facts(st, r, depth);
            let right = Rows::take(st);
            left.combine(right).put(st);
            // Its own ORDER BY, LIMIT and OFFSET (a leaf's are read with its body).
            self.scan_all(st, &s.sort_clause, depth);
            for node in [&s.limit_count, &s.limit_offset] {
                self.scan_opt(st, node, depth);
            }
        } else {
            let unfiltered = self.scan_select_body(st, s, depth);
            st.where_clause = if s.from_clause.is_empty() {
                WhereClause::NotApplicable
            } else {
                let scope =
                    Scope::from_from_clause(None, &s.from_clause).with_ctes(s.with_clause.as_ref());
                match filter(st, s.where_clause.as_deref(), &scope, self) {
                    // Rows come from filtered sub-queries or CTEs: not every row.
                    w if w.matches_all_rows() && !unfiltered => {
                        st.flags.remove(&StatementFlag::RowIndependentFilter);
                        WhereClause::Present
                    }
                    w => w,
                }
            };
            let relations = visible_relations(&s.from_clause);
            st.select_star = s.target_list.iter().any(|t| whole_row(t, &relations));
            // GROUP BY without an aggregate (`SELECT * … GROUP BY id`) still returns every row.
            st.aggregate = all_aggregates(&s.target_list)
                || (!s.group_clause.is_empty() && any_aggregate(&s.target_list) && !st.select_star);
        }
        if let Some(limit) = boxed(&s.limit_count) {
            // `LIMIT ALL` / `LIMIT NULL` do not limit; a literal limit makes the fact literal-bound.
            self.literal_sensitive |= super::fold::is_constant_shape(limit);
            st.limited |= limits(s.limit_count.as_deref());
        }
        if let Some(len) = scope_len {
            self.ctes.truncate(len);
        }
    }

    /// Reads, functions and nested statements of a SELECT body (no row facts). Returns whether
    /// the block returns whole tables ([`Inspector::unfiltered_source`]).
    pub(crate) fn scan_select_body(
        &mut self,
        st: &mut Statement,
        s: &SelectStmt,
        depth: u8,
    ) -> bool {
        let scope_len = self.enter_with(st, s.with_clause.as_ref(), depth);
        let unfiltered = self.unfiltered_source(s);
        // Whether a block's LIMIT limits depends on its literal (`LIMIT ALL` is a NULL).
        if let Some(limit) = boxed(&s.limit_count) {
            self.literal_sensitive |= super::fold::is_constant_shape(limit);
        }
        self.blocks.push(unfiltered);
        for list in [
            &s.target_list,
            &s.from_clause,
            &s.group_clause,
            &s.distinct_clause,
        ] {
            self.scan_all(st, list, depth);
        }
        for list in [&s.window_clause, &s.values_lists, &s.sort_clause] {
            self.scan_all(st, list, depth);
        }
        for node in [
            &s.where_clause,
            &s.having_clause,
            &s.limit_count,
            &s.limit_offset,
        ] {
            if let Some(node) = node.as_deref() {
                self.scan(st, node, depth);
            }
        }
        for side in [s.larg.as_deref(), s.rarg.as_deref()].into_iter().flatten() {
            self.scan_select_body(st, side, depth);
        }
        self.blocks.pop();
        self.ctes.truncate(scope_len);
        unfiltered
    }

    /// Registers CTE names, inspects data-modifying CTEs as statements of their own and scans
    /// read-only ones into `st`. Returns the CTE stack length to restore when the scope ends.
    pub(crate) fn enter_with(
        &mut self,
        st: &mut Statement,
        with: Option<&WithClause>,
        depth: u8,
    ) -> usize {
        let before = self.ctes.len();
        let Some(with) = with else { return before };
        self.complex = true;
        for cte in &with.ctes {
            if let Some(NodeEnum::CommonTableExpr(cte)) = inner(cte) {
                self.ctes.push((cte.ctename.clone(), false));
            }
        }
        // In order, so a CTE over an earlier unfiltered CTE is unfiltered too.
        for (offset, cte) in with.ctes.iter().enumerate() {
            let Some(NodeEnum::CommonTableExpr(cte)) = inner(cte) else {
                continue;
            };
            let unfiltered = match boxed(&cte.ctequery) {
                Some(NodeEnum::SelectStmt(s)) => self.returns_whole_rows(s),
                _ => false,
            };
            if let Some(entry) = self.ctes.get_mut(before + offset) {
                entry.1 = unfiltered;
            }
        }
        for cte in &with.ctes {
            let Some(NodeEnum::CommonTableExpr(cte)) = inner(cte) else {
                continue;
            };
            match boxed(&cte.ctequery) {
                Some(q @ (NodeEnum::InsertStmt(_) | NodeEnum::UpdateStmt(_)))
                | Some(q @ (NodeEnum::DeleteStmt(_) | NodeEnum::MergeStmt(_))) => {
                    self.statement(q, Origin::Cte, "", depth + 1);
                }
                Some(NodeEnum::SelectStmt(s)) => {
                    self.scan_select_body(st, s, depth);
                }
                None => {}
                Some(other) => self.statement(other, Origin::Cte, "", depth + 1),
            }
        }
        before
    }

    pub(crate) fn insert(&mut self, st: &mut Statement, s: &InsertStmt, depth: u8) {
        st.kind = StatementKind::Insert;
        let scope_len = self.enter_with(st, s.with_clause.as_ref(), depth);
        if let Some(rv) = &s.relation {
            self.write_target(st, rv);
        }
        if let Some(node) = s.select_stmt.as_deref() {
            self.scan(st, node, depth);
        }
        if let Some(conflict) = &s.on_conflict_clause {
            self.scan_all(st, &conflict.target_list, depth);
            if let Some(node) = conflict.where_clause.as_deref() {
                self.scan(st, node, depth);
            }
        }
        if let Some(returning) = &s.returning_clause {
            self.scan_all(st, &returning.exprs, depth);
        }
        self.ctes.truncate(scope_len);
    }

    pub(crate) fn update(&mut self, st: &mut Statement, s: &UpdateStmt, depth: u8) {
        st.kind = StatementKind::Update;
        let write = FilteredWrite {
            relation: s.relation.as_ref(),
            with: s.with_clause.as_ref(),
            sources: &s.from_clause,
            filter: s.where_clause.as_deref(),
            returning: s.returning_clause.as_ref(),
        };
        self.filtered_write(st, &write, &s.target_list, depth);
    }

    pub(crate) fn delete(&mut self, st: &mut Statement, s: &DeleteStmt, depth: u8) {
        st.kind = StatementKind::Delete;
        let write = FilteredWrite {
            relation: s.relation.as_ref(),
            with: s.with_clause.as_ref(),
            sources: &s.using_clause,
            filter: s.where_clause.as_deref(),
            returning: s.returning_clause.as_ref(),
        };
        self.filtered_write(st, &write, &[], depth);
    }

    /// UPDATE and DELETE: target written, sources read, the row filter judged in the scope of
    /// the target and its sources (so self-joins are seen).
    fn filtered_write(
        &mut self,
        st: &mut Statement,
        w: &FilteredWrite<'_>,
        set: &[Node],
        depth: u8,
    ) {
        let scope_len = self.enter_with(st, w.with, depth);
        if let Some(rv) = w.relation {
            self.write_target(st, rv);
        }
        self.scan_all(st, set, depth);
        self.scan_all(st, w.sources, depth);
        if let Some(node) = w.filter {
            self.scan(st, node, depth);
        }
        if let Some(returning) = w.returning {
            self.scan_all(st, &returning.exprs, depth);
        }
        let scope = Scope::from_from_clause(w.relation, w.sources).with_ctes(w.with);
        st.where_clause = filter(st, w.filter, &scope, self);
        self.ctes.truncate(scope_len);
    }

    pub(crate) fn merge(&mut self, st: &mut Statement, s: &MergeStmt, depth: u8) {
        st.kind = StatementKind::Merge;
        let scope_len = self.enter_with(st, s.with_clause.as_ref(), depth);
        if let Some(rv) = &s.relation {
            self.write_target(st, rv);
        }
        if let Some(node) = s.source_relation.as_deref() {
            self.scan(st, node, depth);
        }
        if let Some(node) = s.join_condition.as_deref() {
            self.scan(st, node, depth);
        }
        for clause in &s.merge_when_clauses {
            self.scan(st, clause, depth);
        }
        if let Some(returning) = &s.returning_clause {
            self.scan_all(st, &returning.exprs, depth);
        }
        let sources: Vec<Node> = s.source_relation.as_deref().cloned().into_iter().collect();
        let scope = Scope::from_from_clause(s.relation.as_ref(), &sources)
            .with_ctes(s.with_clause.as_ref());
        st.where_clause = filter(st, s.join_condition.as_deref(), &scope, self);
        // `WHEN NOT MATCHED BY SOURCE THEN DELETE/UPDATE` touches every target row the source
        // lacks: with an empty or unrelated source, all of them.
        let unmatched_write = s.merge_when_clauses.iter().any(|c| {
            matches!(inner(c), Some(NodeEnum::MergeWhenClause(w))
                if w.match_kind == MergeMatchKind::MergeWhenNotMatchedBySource as i32
                    && w.command_type != CmdType::CmdNothing as i32)
        });
        if unmatched_write {
            st.where_clause = WhereClause::AlwaysTrue;
            st.flags.remove(&StatementFlag::RowIndependentFilter);
        }
        self.ctes.truncate(scope_len);
    }

    fn write_target(&mut self, st: &mut Statement, rv: &RangeVar) {
        let name = relation(rv);
        if is_catalog(&name) {
            st.flags.insert(StatementFlag::WritesCatalog);
        }
        st.touch(name, Access::Write);
    }
}

/// The parts of an UPDATE or DELETE that decide which rows it touches.
struct FilteredWrite<'a> {
    relation: Option<&'a RangeVar>,
    with: Option<&'a WithClause>,
    sources: &'a [Node],
    filter: Option<&'a Node>,
    returning: Option<&'a ReturningClause>,
}

/// Catalog tables whose direct modification changes roles, code or security.
pub(crate) fn is_catalog(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let mut parts = lower.rsplit('.');
    let base = parts.next().unwrap_or_default();
    // `pg_authid`, `pg_catalog.pg_authid` and `db.pg_catalog.pg_authid` alike: the catalog
    // schema is always searched first unless it is named elsewhere in the path.
    let in_catalog = matches!(parts.next(), None | Some("pg_catalog"));
    in_catalog && base.starts_with("pg_") && !base.starts_with("pg_temp")
}

/// The row filter's class (and, for a filter that counts as always true only because it
/// ignores the row, [`StatementFlag::RowIndependentFilter`] on `st`). Bind parameters (`$1`)
/// of a top-level statement are decided with their values when it executes; inside DO blocks,
/// functions and PREPARE the values come from the same text, so a parameter that could make
/// the filter true counts as true.
fn filter(
    st: &mut Statement,
    node: Option<&Node>,
    scope: &Scope,
    inspector: &mut Inspector,
) -> WhereClause {
    scope.strict_parameters(st.origin != Origin::TopLevel);
    let Some(node) = node else {
        return WhereClause::Absent;
    };
    let coverage = coverage(node, scope);
    inspector.literal_sensitive |= scope.depended_on_literals();
    match coverage {
        Coverage::Every => WhereClause::AlwaysTrue,
        Coverage::EveryOrNone => {
            st.flags.insert(StatementFlag::RowIndependentFilter);
            WhereClause::AlwaysTrue
        }
        Coverage::Restricted => WhereClause::Present,
    }
}

fn any_aggregate(targets: &[Node]) -> bool {
    targets.iter().any(|t| match inner(t) {
        Some(NodeEnum::ResTarget(r)) => match boxed(&r.val) {
            Some(NodeEnum::FuncCall(f)) => {
                f.over.is_none()
                    && (f.agg_star || names::last(&f.funcname).is_some_and(functions::is_aggregate))
            }
            _ => false,
        },
        _ => false,
    })
}

pub(crate) fn all_aggregates(targets: &[Node]) -> bool {
    let is_call = |t: &Node| matches!(inner(t), Some(NodeEnum::ResTarget(r)) if matches!(boxed(&r.val), Some(NodeEnum::FuncCall(_))));
    targets.iter().any(is_call)
        && targets.iter().all(|t| {
            let Some(NodeEnum::ResTarget(t)) = inner(t) else {
                return false;
            };
            match boxed(&t.val) {
                Some(NodeEnum::FuncCall(f)) => {
                    f.over.is_none()
                        && (f.agg_star
                            || names::last(&f.funcname).is_some_and(functions::is_aggregate))
                }
                Some(NodeEnum::AConst(_)) => true,
                _ => false,
            }
        })
}

/// Used by the expression scanner for sub-selects in FROM and WHERE.
pub(crate) fn range_var_read(inspector: &Inspector, st: &mut Statement, rv: &RangeVar) {
    let is_cte = rv.schemaname.is_empty() && inspector.ctes.iter().any(|(c, _)| c == &rv.relname);
    if !is_cte {
        st.touch(relation(rv), Access::Read);
    }
}
