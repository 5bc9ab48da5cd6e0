//! DO blocks, function bodies and rules: statements that run inside other statements.
//! PL/pgSQL is parsed with PostgreSQL's own PL/pgSQL parser (through libpg_query); `EXECUTE`
//! of SQL built from literals is folded and inspected like any other statement.

use airlock_model::{
    Access, DynamicSql, Origin, SettingScope, Statement, StatementFlag, StatementKind,
};
use pg_query::NodeEnum;
use pg_query::protobuf::{CmdType, CreateFunctionStmt, DoStmt, Node, RuleStmt};
use serde_json::Value;

use super::ddl::untrusted;
use super::functions::is_untrusted_language;
use super::names::{boxed, dotted, inner, relation, string};
use super::plvars::{Vars, expr_query};
use super::statement::Inspector;

/// Keys of PL/pgSQL statements whose expression is SQL text built at run time.
const DYNAMIC: &[(&str, &str)] = &[
    ("PLpgSQL_stmt_dynexecute", "query"),
    ("PLpgSQL_stmt_dynfors", "query"),
    ("PLpgSQL_stmt_return_query", "dynquery"),
    ("PLpgSQL_stmt_open", "dynquery"),
];

impl Inspector {
    pub(crate) fn do_block(&mut self, st: &mut Statement, s: &DoStmt, depth: u8) {
        st.kind = StatementKind::Do;
        self.literal_sensitive = true;
        let mut body = None;
        let mut language = "plpgsql".to_owned();
        for arg in &s.args {
            let Some(NodeEnum::DefElem(d)) = inner(arg) else {
                continue;
            };
            let value = boxed(&d.arg).and_then(|n| match n {
                NodeEnum::String(s) => Some(s.sval.clone()),
                _ => None,
            });
            match (d.defname.as_str(), value) {
                ("as", Some(v)) => body = Some(v),
                ("language", Some(v)) => language = v.to_lowercase(),
                _ => {}
            }
        }
        let Some(body) = body else { return };
        if language == "plpgsql" {
            self.plpgsql(st, None, &body, Origin::DoBlock, depth);
        } else {
            if is_untrusted_language(&language) {
                untrusted(st);
            }
            st.dynamic_sql = DynamicSql::Opaque;
        }
    }

    pub(crate) fn create_function(
        &mut self,
        st: &mut Statement,
        s: &CreateFunctionStmt,
        text: &str,
        depth: u8,
    ) {
        st.kind = StatementKind::Create;
        st.object_type = Some(
            if s.is_procedure {
                "procedure"
            } else {
                "function"
            }
            .into(),
        );
        st.touch(dotted(&s.funcname), Access::Create);
        if s.replace {
            st.flags.insert(StatementFlag::Replaces);
        }
        self.literal_sensitive = true;
        let mut language = String::from("sql");
        let mut body: Option<String> = None;
        for option in &s.options {
            let Some(NodeEnum::DefElem(d)) = inner(option) else {
                continue;
            };
            match (d.defname.as_str(), boxed(&d.arg)) {
                ("language", Some(NodeEnum::String(l))) => language = l.sval.to_lowercase(),
                ("as", Some(NodeEnum::List(l))) => {
                    body = l.items.first().and_then(string).map(str::to_owned)
                }
                ("set", Some(NodeEnum::VariableSetStmt(set))) => {
                    self.setting(st, set, SettingScope::Function);
                }
                ("security", _) => {
                    st.flags.insert(StatementFlag::ChangesPrivileges);
                }
                _ => {}
            }
        }
        // Parameter defaults run whenever the function is called without the argument.
        for parameter in &s.parameters {
            if let Some(node) = parameter.node.as_ref() {
                self.scan_ddl_expressions(st, node);
            }
        }
        if let Some(sql_body) = s.sql_body.as_deref() {
            self.sql_body(sql_body, depth);
        }
        match (language.as_str(), body) {
            ("plpgsql", Some(body)) => {
                self.plpgsql(st, Some(text), &body, Origin::FunctionBody, depth);
            }
            ("sql", Some(body)) => {
                self.inspect_text(&body, Origin::FunctionBody, depth + 1);
            }
            (lang, _) if is_untrusted_language(lang) => untrusted(st),
            (_, Some(_)) => st.dynamic_sql = DynamicSql::Opaque,
            _ => {}
        }
    }

    /// `BEGIN ATOMIC … END` / `RETURN …` bodies, already parsed.
    fn sql_body(&mut self, node: &Node, depth: u8) {
        match inner(node) {
            Some(NodeEnum::List(list)) => {
                for item in &list.items {
                    self.sql_body(item, depth);
                }
            }
            // `RETURN <expr>`: the expression runs whenever the function is called.
            Some(NodeEnum::ReturnStmt(r)) => {
                let mut returned = Statement::new(StatementKind::Select, Origin::FunctionBody);
                if let Some(value) = r.returnval.as_deref() {
                    self.scan(&mut returned, value, depth + 1);
                }
                self.statements.push(returned);
            }
            None => {}
            Some(other) => self.statement(other, Origin::FunctionBody, "", depth + 1),
        }
    }

    pub(crate) fn rule(&mut self, st: &mut Statement, s: &RuleStmt, text: &str, depth: u8) {
        st.kind = StatementKind::Create;
        st.object_type = Some("rule".into());
        if let Some(rv) = &s.relation {
            st.touch(relation(rv), Access::Alter);
        }
        if s.replace {
            st.flags.insert(StatementFlag::Replaces);
        }
        let on_write = [CmdType::CmdInsert, CmdType::CmdUpdate, CmdType::CmdDelete]
            .iter()
            .any(|c| *c as i32 == s.event);
        // `DO INSTEAD NOTHING` (or INSTEAD of only reads/notifications) on a write: the write
        // silently never happens.
        let writes = s.actions.iter().any(|a| {
            matches!(
                inner(a),
                Some(NodeEnum::InsertStmt(_) | NodeEnum::UpdateStmt(_) | NodeEnum::DeleteStmt(_))
            )
        });
        if s.instead && on_write && !writes {
            st.flags.insert(StatementFlag::SwallowsWrites);
        }
        // The rule's condition runs whenever the rule fires.
        if let Some(condition) = s.where_clause.as_deref() {
            self.scan(st, condition, depth);
        }
        for action in &s.actions {
            if let Some(node) = inner(action) {
                self.statement(node, Origin::RuleAction, text, depth + 1);
            }
        }
    }

    /// Parses a PL/pgSQL body with PostgreSQL's PL/pgSQL parser and inspects every SQL
    /// statement and dynamic EXECUTE in it. The original CREATE FUNCTION text is tried first,
    /// then the body in neutral wrappers (libpg_query cannot serialise some trigger functions).
    fn plpgsql(
        &mut self,
        st: &mut Statement,
        create_function: Option<&str>,
        body: &str,
        origin: Origin,
        depth: u8,
    ) {
        let attempts = create_function
            .map(str::to_owned)
            .into_iter()
            .chain(["void", "record"].map(|returns| wrap_as_function(body, returns)));
        let mut last_error = String::new();
        for attempt in attempts {
            match pg_query::parse_plpgsql(&attempt) {
                Ok(tree) => {
                    let vars = Vars::collect(&tree);
                    self.walk_plpgsql(st, &tree, &vars, origin, depth);
                    return;
                }
                Err(error) => last_error = error.to_string(),
            }
        }
        self.opaque(format!("PL/pgSQL body could not be parsed: {last_error}"));
    }

    fn walk_plpgsql(
        &mut self,
        st: &mut Statement,
        value: &Value,
        vars: &Vars,
        origin: Origin,
        depth: u8,
    ) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == "PLpgSQL_expr" {
                        self.embedded_sql(child, origin, depth);
                        continue;
                    }
                    let dynamic = DYNAMIC
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, field)| *field);
                    if let (Some(field), Value::Object(fields)) = (dynamic, child) {
                        if let Some(query) = expr_query(fields.get(field)) {
                            self.dynamic(st, query, vars, origin, depth);
                        }
                        for (_, value) in fields.iter().filter(|(name, _)| *name != field) {
                            self.walk_plpgsql(st, value, vars, origin, depth);
                        }
                        continue;
                    }
                    self.walk_plpgsql(st, child, vars, origin, depth);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk_plpgsql(st, item, vars, origin, depth);
                }
            }
            _ => {}
        }
    }

    /// A PL/pgSQL expression or SQL statement (by the parse mode PL/pgSQL recorded for it):
    /// statements are inspected as they are, expressions as `SELECT <expr>`.
    fn embedded_sql(&mut self, expr: &Value, origin: Origin, depth: u8) {
        let Some(query) = expr.get("query").and_then(Value::as_str) else {
            return;
        };
        let text = match expr.get("parseMode").and_then(Value::as_i64).unwrap_or(0) {
            0 => query.to_owned(),
            2 => format!("SELECT {query}"),
            _ => match query.split_once(":=") {
                Some((_, value)) => format!("SELECT {value}"),
                None => format!("SELECT {query}"),
            },
        };
        self.inspect_text(&text, origin, depth + 1);
    }

    /// `EXECUTE <expr>`: fold the expression to a literal and inspect it, or mark it opaque.
    fn dynamic(&mut self, st: &mut Statement, expr: &str, vars: &Vars, origin: Origin, depth: u8) {
        match vars.fold_all(expr) {
            Some(values) => {
                st.dynamic_sql = st.dynamic_sql.max(DynamicSql::Literal);
                let nested = if origin == Origin::FunctionBody {
                    origin
                } else {
                    Origin::DynamicSql
                };
                for sql in values {
                    self.inspect_text(&sql, nested, depth + 1);
                }
            }
            None => {
                st.dynamic_sql = DynamicSql::Opaque;
                // `EXECUTE 'DROP TABLE ' || t`: whatever `t` is, this drops or empties a table.
                if let Some(shape) = vars.fold_with_placeholder(expr) {
                    self.certain_destruction(&shape, depth);
                }
            }
        }
    }

    /// Inspects SQL whose unknown parts were replaced by a placeholder and keeps only the
    /// statements whose kind no unknown part can change (DROP, TRUNCATE).
    fn certain_destruction(&mut self, shape: &str, depth: u8) {
        let mut scratch = Inspector::new(self.parser());
        scratch.inspect_text(shape, Origin::DynamicSql, depth + 1);
        let certain = scratch.statements.into_iter().filter(|s| {
            s.origin == Origin::DynamicSql
                && matches!(s.kind, StatementKind::Drop | StatementKind::Truncate)
        });
        self.statements.extend(certain);
    }
}

/// A DO body as a function definition, so PostgreSQL's PL/pgSQL parser can read it.
fn wrap_as_function(body: &str, returns: &str) -> String {
    let mut tag = String::from("airlock");
    while body.contains(&format!("${tag}$")) {
        tag.push('_');
    }
    format!(
        "CREATE FUNCTION airlock_body() RETURNS {returns} LANGUAGE plpgsql AS ${tag}${body}${tag}$"
    )
}
