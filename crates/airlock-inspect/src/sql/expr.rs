//! The expression scanner: functions called, relations read, sub-selects and nested
//! statements anywhere in a statement. Node types it does not model go to the generic
//! fallback, so nothing is skipped.

use airlock_model::{DynamicSql, Origin, SettingChange, SettingScope, Statement, StatementFlag};
use pg_query::NodeEnum;
use pg_query::protobuf::{FuncCall, Node, WindowDef};

use super::dml::range_var_read;
use super::fold::{Value, fold};
use super::names::{boxed, dotted, inner, last};
use super::statement::Inspector;
use super::{fallback, functions};

impl Inspector {
    pub(crate) fn scan_all(&mut self, st: &mut Statement, nodes: &[Node], depth: u8) {
        for node in nodes {
            self.scan(st, node, depth);
        }
    }

    pub(crate) fn scan(&mut self, st: &mut Statement, node: &Node, depth: u8) {
        if let Some(n) = inner(node) {
            self.scan_enum(st, n, depth);
        }
    }

    pub(crate) fn scan_opt(&mut self, st: &mut Statement, node: &Option<Box<Node>>, depth: u8) {
        if let Some(n) = boxed(node) {
            self.scan_enum(st, n, depth);
        }
    }

    pub(crate) fn scan_enum(&mut self, st: &mut Statement, node: &NodeEnum, depth: u8) {
        self.complex |= match node {
            NodeEnum::AExpr(a) => !simple_operator(a),
            NodeEnum::SubLink(_)
            | NodeEnum::CaseExpr(_)
            | NodeEnum::CoalesceExpr(_)
            | NodeEnum::MinMaxExpr(_)
            | NodeEnum::RowExpr(_)
            | NodeEnum::AArrayExpr(_)
            | NodeEnum::RangeSubselect(_)
            | NodeEnum::RangeFunction(_)
            | NodeEnum::BooleanTest(_) => true,
            // `INSERT … VALUES (…)` is a plain list of values; any other SELECT is a sub-query.
            NodeEnum::SelectStmt(s) => s.values_lists.is_empty(),
            _ => false,
        };
        match node {
            NodeEnum::FuncCall(f) => self.function_call(st, f, depth),
            NodeEnum::AExpr(a) => {
                self.scan_opt(st, &a.lexpr, depth);
                self.scan_opt(st, &a.rexpr, depth);
            }
            NodeEnum::BoolExpr(b) => self.scan_all(st, &b.args, depth),
            NodeEnum::SubLink(s) => {
                self.scan_opt(st, &s.testexpr, depth);
                self.scan_opt(st, &s.subselect, depth);
                // `ARRAY(SELECT u FROM users u)` packages the rows it selects.
                let array = s.sub_link_type == pg_query::protobuf::SubLinkType::ArraySublink as i32;
                if let (true, Some(NodeEnum::SelectStmt(sel))) = (array, boxed(&s.subselect))
                    && self.returns_whole_rows(sel)
                {
                    st.flags.insert(StatementFlag::PackagesRows);
                }
            }
            NodeEnum::TypeCast(t) => self.scan_opt(st, &t.arg, depth),
            NodeEnum::NullTest(t) => self.scan_opt(st, &t.arg, depth),
            NodeEnum::BooleanTest(t) => self.scan_opt(st, &t.arg, depth),
            NodeEnum::CaseExpr(c) => {
                self.scan_opt(st, &c.arg, depth);
                self.scan_all(st, &c.args, depth);
                self.scan_opt(st, &c.defresult, depth);
            }
            NodeEnum::CaseWhen(w) => {
                self.scan_opt(st, &w.expr, depth);
                self.scan_opt(st, &w.result, depth);
            }
            NodeEnum::CoalesceExpr(c) => self.scan_all(st, &c.args, depth),
            NodeEnum::MinMaxExpr(m) => self.scan_all(st, &m.args, depth),
            NodeEnum::AArrayExpr(a) => self.scan_all(st, &a.elements, depth),
            NodeEnum::RowExpr(r) => self.scan_all(st, &r.args, depth),
            NodeEnum::List(l) => self.scan_all(st, &l.items, depth),
            NodeEnum::ResTarget(t) => {
                self.scan_all(st, &t.indirection, depth);
                self.scan_opt(st, &t.val, depth);
            }
            NodeEnum::MultiAssignRef(m) => self.scan_opt(st, &m.source, depth),
            NodeEnum::AIndirection(a) => {
                self.scan_opt(st, &a.arg, depth);
                self.scan_all(st, &a.indirection, depth);
            }
            NodeEnum::AIndices(a) => {
                self.scan_opt(st, &a.lidx, depth);
                self.scan_opt(st, &a.uidx, depth);
            }
            NodeEnum::CollateClause(c) => self.scan_opt(st, &c.arg, depth),
            NodeEnum::NamedArgExpr(n) => self.scan_opt(st, &n.arg, depth),
            NodeEnum::SortBy(s) => self.scan_opt(st, &s.node, depth),
            NodeEnum::RangeVar(rv) => range_var_read(self, st, rv),
            NodeEnum::RangeSubselect(r) => self.scan_opt(st, &r.subquery, depth),
            NodeEnum::RangeFunction(r) => self.scan_all(st, &r.functions, depth),
            NodeEnum::JoinExpr(j) => {
                self.scan_opt(st, &j.larg, depth);
                self.scan_opt(st, &j.rarg, depth);
                self.scan_opt(st, &j.quals, depth);
            }
            NodeEnum::SelectStmt(s) => {
                self.scan_select_body(st, s, depth);
            }
            NodeEnum::MergeWhenClause(m) => {
                self.scan_opt(st, &m.condition, depth);
                self.scan_all(st, &m.target_list, depth);
                self.scan_all(st, &m.values, depth);
            }
            NodeEnum::InsertStmt(_)
            | NodeEnum::UpdateStmt(_)
            | NodeEnum::DeleteStmt(_)
            | NodeEnum::MergeStmt(_) => self.statement(node, Origin::Cte, "", depth + 1),
            NodeEnum::ColumnRef(_)
            | NodeEnum::AConst(_)
            | NodeEnum::ParamRef(_)
            | NodeEnum::AStar(_)
            | NodeEnum::String(_)
            | NodeEnum::Integer(_)
            | NodeEnum::Float(_)
            | NodeEnum::Boolean(_)
            | NodeEnum::BitString(_)
            | NodeEnum::SqlvalueFunction(_)
            | NodeEnum::SetToDefault(_)
            | NodeEnum::CurrentOfExpr(_)
            | NodeEnum::TypeName(_)
            | NodeEnum::Alias(_)
            | NodeEnum::WindowDef(_) => self.scan_window(st, node, depth),
            other => self.scan_fallback(st, other, depth),
        }
    }

    fn scan_window(&mut self, st: &mut Statement, node: &NodeEnum, depth: u8) {
        if let NodeEnum::WindowDef(w) = node {
            self.window(st, w, depth);
        }
    }

    /// `OVER (PARTITION BY … ORDER BY … ROWS BETWEEN <offset> PRECEDING AND <offset> FOLLOWING)`
    fn window(&mut self, st: &mut Statement, w: &WindowDef, depth: u8) {
        self.scan_all(st, &w.partition_clause, depth);
        self.scan_all(st, &w.order_clause, depth);
        self.scan_opt(st, &w.start_offset, depth);
        self.scan_opt(st, &w.end_offset, depth);
    }

    /// Anything else: walk it generically and record every function, setting, SQL argument
    /// and relation in it.
    fn scan_fallback(&mut self, st: &mut Statement, node: &NodeEnum, depth: u8) {
        let found = fallback::scan(node);
        for relation in &found.relations {
            st.touch(relation.clone(), airlock_model::Access::Read);
        }
        if found.statements > 0 {
            // Statements nested where we do not model them: the effect is unknown.
            st.dynamic_sql = DynamicSql::Opaque;
        }
        self.record_calls(st, found, Some(depth));
    }

    /// Functions called anywhere inside a DDL statement (index expressions, policies, trigger
    /// conditions, defaults, constraints, partition keys): they run now or later.
    pub(crate) fn scan_ddl_expressions(&mut self, st: &mut Statement, node: &NodeEnum) {
        self.record_calls(st, fallback::scan(node), None);
    }

    /// What a generic walk found that runs: functions, `set_config` settings, and SQL passed
    /// as text (inspected at `depth + 1` when known, else opaque).
    fn record_calls(&mut self, st: &mut Statement, found: fallback::Found, depth: Option<u8>) {
        for name in found.functions {
            self.record_function(st, &name, None);
        }
        for (name, value) in found.settings {
            self.literal_sensitive = true;
            let change = SettingChange {
                name,
                value,
                scope: SettingScope::Session,
            };
            if !st.settings.contains(&change) {
                st.settings.push(change);
            }
        }
        // Over a whole table, packaging its rows is an export (as for `json_agg`).
        if found.row_aggregates > 0 && self.blocks.last() == Some(&true) {
            st.flags.insert(StatementFlag::PackagesRows);
        }
        for sql in found.sql_arguments {
            match depth {
                Some(depth) => self.sql_text(st, sql, depth),
                None => st.dynamic_sql = DynamicSql::Opaque,
            }
        }
    }

    fn function_call(&mut self, st: &mut Statement, f: &FuncCall, depth: u8) {
        let qualified = dotted(&f.funcname).to_lowercase();
        self.record_function(st, &qualified, Some(f));
        self.scan_all(st, &f.args, depth);
        self.scan_all(st, &f.agg_order, depth);
        self.scan_opt(st, &f.agg_filter, depth);
        if let Some(over) = &f.over {
            self.window(st, over, depth);
        }
        let base = last(&f.funcname).unwrap_or_default().to_lowercase();
        if base == "set_config" {
            self.set_config(st, f);
        }
        if let Some(index) = functions::executes_sql_argument(&base) {
            self.sql_argument(st, f.args.get(index), depth);
        }
    }

    /// Records a call by name (`schema.name` or `name`) with its risk class.
    pub(crate) fn record_function(
        &mut self,
        st: &mut Statement,
        qualified: &str,
        f: Option<&FuncCall>,
    ) {
        let (schema, base) = match qualified.rsplit_once('.') {
            Some((schema, base)) => (Some(schema), base),
            None => (None, qualified),
        };
        st.functions.insert(qualified.to_owned());
        let risk = match schema {
            Some(s) if s != "pg_catalog" => functions::qualified_risk(base),
            _ => functions::risk(base),
        };
        if let Some(risk) = risk {
            st.function_risks.insert(risk);
        }
        let whole_row = f.is_some_and(|f| {
            f.args.len() == 1
                && matches!(f.args.first().and_then(inner), Some(NodeEnum::ColumnRef(c)) if c.fields.len() == 1)
        });
        let row_to_json = matches!(
            base,
            "row_to_json" | "to_json" | "to_jsonb" | "json_build_array"
        );
        // Packaging rows is an export only over whole tables; the table exporters always are.
        let unfiltered_block = self.blocks.last() == Some(&true);
        // `array_agg(DISTINCT status)` collects distinct values, not rows.
        let distinct = f.is_some_and(|f| f.agg_distinct);
        let packages = (functions::packages_rows(base) && !distinct) || (row_to_json && whole_row);
        if functions::exports_tables(base) || (packages && unfiltered_block) {
            st.flags.insert(StatementFlag::PackagesRows);
        }
    }

    fn set_config(&mut self, st: &mut Statement, f: &FuncCall) {
        let arg = |i: usize| f.args.get(i).and_then(inner).and_then(fold);
        let name = arg(0).and_then(|v| v.as_text());
        let scope = match arg(2) {
            Some(v) if v.as_bool() == Some(true) => SettingScope::Transaction,
            _ => SettingScope::Session,
        };
        self.literal_sensitive = true;
        st.settings.push(SettingChange {
            name: name.map_or_else(|| "<dynamic>".to_owned(), |n| n.to_lowercase()),
            value: arg(1).and_then(|v| v.as_text()),
            scope,
        });
    }

    /// A function argument that is SQL the function runs (`query_to_xml('…')`).
    fn sql_argument(&mut self, st: &mut Statement, arg: Option<&Node>, depth: u8) {
        let sql = match arg.and_then(inner).and_then(fold) {
            Some(Value::Str(sql)) => Some(sql),
            _ => None,
        };
        self.sql_text(st, sql, depth);
    }

    /// SQL a function runs: inspected as a statement of its own when its text is known,
    /// opaque when it is not.
    fn sql_text(&mut self, st: &mut Statement, sql: Option<String>, depth: u8) {
        self.literal_sensitive = true;
        match sql {
            Some(sql) => {
                st.dynamic_sql = st.dynamic_sql.max(DynamicSql::Literal);
                self.inspect_text(&sql, Origin::DynamicSql, depth + 1);
            }
            None => st.dynamic_sql = DynamicSql::Opaque,
        }
    }
}

/// Operators whose literal dependence the row-filter evaluator tracks itself (it marks the
/// statement literal-sensitive when a verdict depends on a literal): plain operators, `IN`,
/// and `[NOT] BETWEEN [SYMMETRIC]` over a row-dependent operand (`aid BETWEEN 5 AND 5 + 9999`
/// shares a decision with every other range; `5 BETWEEN 5 AND 5` never does).
fn simple_operator(a: &pg_query::protobuf::AExpr) -> bool {
    use pg_query::protobuf::AExprKind as K;
    let kind = a.kind;
    let between = [
        K::AexprBetween,
        K::AexprNotBetween,
        K::AexprBetweenSym,
        K::AexprNotBetweenSym,
    ]
    .iter()
    .any(|k| *k as i32 == kind);
    kind == K::AexprOp as i32
        || kind == K::AexprIn as i32
        || (between && boxed(&a.lexpr).is_some_and(|l| !super::fold::is_constant_shape(l)))
}
