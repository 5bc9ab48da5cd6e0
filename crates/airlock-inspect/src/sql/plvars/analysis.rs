//! The reading of one PL/pgSQL body: which variables it writes and how, and the values its
//! foldable assignments give them, to a fixed point over loops.

use std::collections::{HashMap, HashSet};

use pg_query::NodeEnum;
use serde_json::Value;

use super::{
    Folded, MAX_COMBINATIONS, Vars, after_identifier, expr_query, mentions, parse_expression,
};

/// Passes over a loop's body before the variables still gaining values count as unknown.
const MAX_PASSES: usize = 4;

/// Expression evaluations for one body; past it, every variable assigned again is unknown.
const MAX_EVALUATIONS: usize = 4096;

/// Declared types whose value is the text assigned to them: not truncated (`name`), padded
/// (`char`) or converted (`int`, `bool`).
const TEXT_TYPES: &[&str] = &["text", "varchar"];

/// Integer fields of PL/pgSQL statements that are not datum numbers. Any other integer field
/// (`varno`, `curvar`, `target`, `t_varno`, `dno`, fields added later) is a datum the
/// statement may write.
const NOT_DATUMS: &[&str] = &[
    "lineno",
    "cursor_options",
    "direction",
    "how_many",
    "slice",
    "elog_level",
    "opt_type",
    "parseMode",
];

/// Statement kinds that run each of their nested statements at most once. Any other kind
/// (`LOOP`, `WHILE`, `FOR`, `FOREACH`, kinds added later) is read as a loop.
const STRAIGHT: &[&str] = &[
    "PLpgSQL_stmt_block",
    "PLpgSQL_stmt_if",
    "PLpgSQL_stmt_case",
    "PLpgSQL_stmt_exit",
    "PLpgSQL_stmt_return",
    "PLpgSQL_stmt_return_next",
    "PLpgSQL_stmt_return_query",
    "PLpgSQL_stmt_raise",
    "PLpgSQL_stmt_assert",
    "PLpgSQL_stmt_execsql",
    "PLpgSQL_stmt_dynexecute",
    "PLpgSQL_stmt_getdiag",
    "PLpgSQL_stmt_open",
    "PLpgSQL_stmt_fetch",
    "PLpgSQL_stmt_close",
    "PLpgSQL_stmt_perform",
    "PLpgSQL_stmt_call",
    "PLpgSQL_stmt_commit",
    "PLpgSQL_stmt_rollback",
];

/// The analysis of one body, while it reads it.
#[derive(Debug)]
pub(super) struct Analysis<'t> {
    datums: &'t [Value],
    vars: Vars,
    /// Defaults of followed variables: (variable, expression).
    defaults: Vec<(&'t str, &'t str)>,
    /// Variables a foldable `:=` assigns.
    assigned: HashSet<&'t str>,
    /// Variables that gained a value, or became unknown, in the current pass.
    changed: HashSet<String>,
    /// Each expression parsed once (`None`: not an expression airlock folds).
    parsed: HashMap<String, Option<NodeEnum>>,
    /// Evaluations left.
    budget: usize,
}

impl<'t> Analysis<'t> {
    /// Follows the variables declared in the body with a text type, from their initial value.
    pub(super) fn new(datums: &'t [Value]) -> Self {
        let mut analysis = Self {
            datums,
            vars: Vars::default(),
            defaults: Vec::new(),
            assigned: HashSet::new(),
            changed: HashSet::new(),
            parsed: HashMap::new(),
            budget: MAX_EVALUATIONS,
        };
        for datum in datums {
            analysis.declare(datum);
        }
        analysis
    }

    fn declare(&mut self, datum: &'t Value) {
        let Some(var) = datum.get("PLpgSQL_var") else {
            // Rows (`INTO` lists, cursor arguments) and records are written as a whole.
            self.mark_datum(datum);
            return;
        };
        let Some(name) = var.get("refname").and_then(Value::as_str) else {
            return;
        };
        let default = expr_query(var.get("default_val"));
        if !is_followed(var, default.is_some()) {
            self.unknown(name);
            return;
        }
        match default {
            Some(expr) => self.defaults.push((name, expr)),
            None => self.add(name, None),
        }
    }

    /// Marks unknown every variable that anything but a foldable `:=` may write.
    pub(super) fn mark_writes(&mut self, value: &'t Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    self.mark_writes_in(key, child);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.mark_writes(i)),
            _ => {}
        }
    }

    fn mark_writes_in(&mut self, key: &str, child: &'t Value) {
        match (key, child) {
            ("PLpgSQL_expr", _) => {}
            ("PLpgSQL_stmt_assign", _) => match self.assignment(child) {
                Some((name, _)) => {
                    self.assigned.insert(name);
                }
                // libpg_query leaves out fields that are 0.
                None => self.mark_number(child.get("varno").and_then(Value::as_i64).unwrap_or(0)),
            },
            (_, Value::Number(n)) if !NOT_DATUMS.contains(&key) => {
                self.mark_number(n.as_i64().unwrap_or(-1));
            }
            ("PLpgSQL_stmt_call", _) => {
                // OUT and INOUT arguments are written; the procedure decides which they are.
                let call = expr_query(child.get("expr")).unwrap_or_default();
                let datums = self.datums;
                let named = datums
                    .iter()
                    .filter_map(refname)
                    .filter(|n| mentions(call, n));
                named.for_each(|name| self.unknown(name));
                self.mark_writes(child);
            }
            ("PLpgSQL_var" | "PLpgSQL_row" | "PLpgSQL_rec", _) => {
                if let Some(name) = child.get("refname").and_then(Value::as_str) {
                    self.unknown(name);
                }
                self.mark_writes(child);
            }
            _ => self.mark_writes(child),
        }
    }

    fn mark_number(&mut self, number: i64) {
        if let Some(datum) = self.datum(number) {
            self.mark_datum(datum);
        }
    }

    /// Marks unknown what a written datum names: a variable, a row and its fields, a record.
    fn mark_datum(&mut self, datum: &'t Value) {
        if let Some(name) = refname(datum) {
            self.unknown(name);
        }
        let fields = datum
            .get("PLpgSQL_row")
            .and_then(|r| r.get("fields"))
            .and_then(Value::as_array);
        let members = fields.into_iter().flatten().map(|f| f.get("varno"));
        let parent = datum.get("PLpgSQL_recfield").map(|f| f.get("recparentno"));
        for number in members.chain(parent) {
            let number = number.and_then(Value::as_i64).unwrap_or(0);
            if let Some(name) = self.datum(number).and_then(refname) {
                self.unknown(name);
            }
        }
    }

    fn datum(&self, number: i64) -> Option<&'t Value> {
        let datums = self.datums;
        usize::try_from(number).ok().and_then(|i| datums.get(i))
    }

    /// `q := <expr>` or `q = <expr>` to a whole variable: (variable, expression). `None` for
    /// `a[1] := …`, `r.f := …`, an alias, a target that is not a variable.
    fn assignment(&self, fields: &'t Value) -> Option<(&'t str, &'t str)> {
        let varno = fields.get("varno").and_then(Value::as_i64).unwrap_or(0);
        let name = self
            .datum(varno)?
            .get("PLpgSQL_var")?
            .get("refname")?
            .as_str()?;
        let query = expr_query(fields.get("expr"))?;
        let rest = after_identifier(query.trim_start(), name)?.trim_start();
        let expr = rest.strip_prefix(":=").or_else(|| rest.strip_prefix('='))?;
        Some((name, expr.trim()))
    }

    /// Reads defaults and statements. A default runs when its block is entered: when one
    /// reads a variable that statements assign, that may follow any statement, and defaults
    /// and statements are read together until nothing changes.
    pub(super) fn run(&mut self, action: &'t Value) {
        let assigned = &self.assigned;
        let floating = self
            .defaults
            .iter()
            .any(|(_, expr)| assigned.iter().any(|name| mentions(expr, name)));
        if floating {
            self.fixpoint(|a| {
                a.read_defaults();
                a.read(action);
            });
        } else {
            self.fixpoint(Self::read_defaults);
            self.read(action);
        }
    }

    fn read_defaults(&mut self) {
        for (name, expr) in self.defaults.clone() {
            self.assign(name, expr);
        }
    }

    /// Reads statements in an order they can run in, each loop until nothing changes.
    fn read(&mut self, value: &'t Value) {
        match value {
            Value::Object(map) => {
                // A block's handlers run after (part of) its body.
                for (key, child) in map.iter().filter(|(key, _)| *key != "exceptions") {
                    self.read_field(key, child);
                }
                if let Some(handlers) = map.get("exceptions") {
                    self.read(handlers);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.read(i)),
            _ => {}
        }
    }

    fn read_field(&mut self, key: &str, child: &'t Value) {
        match key {
            "PLpgSQL_expr" => {}
            "PLpgSQL_stmt_assign" => {
                if let Some((name, expr)) = self.assignment(child) {
                    self.assign(name, expr);
                }
            }
            _ if key.starts_with("PLpgSQL_stmt_") && !STRAIGHT.contains(&key) => {
                self.fixpoint(|a| a.read(child));
            }
            _ => self.read(child),
        }
    }

    /// Runs `read` until no variable gains a value. After [`MAX_PASSES`] passes, the
    /// variables still gaining values are unknown: each further pass makes at least one more
    /// variable unknown, or changes nothing and ends.
    fn fixpoint(&mut self, mut read: impl FnMut(&mut Self)) {
        let outer = std::mem::take(&mut self.changed);
        let mut all = HashSet::new();
        let limit = MAX_PASSES + self.datums.len() + 1;
        for pass in 0..=limit {
            read(self);
            let changed = std::mem::take(&mut self.changed);
            if changed.is_empty() {
                break;
            }
            let stuck: Vec<String> = if pass >= limit {
                self.vars.values.keys().cloned().collect()
            } else if pass + 1 >= MAX_PASSES {
                changed.iter().cloned().collect()
            } else {
                Vec::new()
            };
            stuck.iter().for_each(|name| self.unknown(name));
            self.changed.clear();
            all.extend(changed);
        }
        self.changed = outer;
        self.changed.extend(all);
    }

    /// `name := expr`: every value `expr` may have is one `name` may hold.
    fn assign(&mut self, name: &str, expr: &str) {
        if self.vars.unknown.contains(name) {
            return;
        }
        match self.evaluate(expr) {
            Some(values) => values.into_iter().for_each(|v| self.add(name, v)),
            None => self.unknown(name),
        }
    }

    /// Every value `expr` may have now (`None`: NULL), or `None` when it cannot be folded.
    fn evaluate(&mut self, expr: &str) -> Option<Vec<Option<String>>> {
        if !self.parsed.contains_key(expr) {
            self.parsed.insert(expr.to_owned(), parse_expression(expr));
        }
        let node = self.parsed.get(expr)?.as_ref()?;
        let environments = self.vars.environments(expr)?;
        self.budget = self.budget.checked_sub(environments.len())?;
        let mut out = Vec::new();
        for env in environments {
            let value = match env.fold(node)? {
                Folded::Str(s) => Some(s),
                Folded::Null => None,
                _ => return None,
            };
            if !out.contains(&value) {
                out.push(value);
            }
        }
        Some(out)
    }

    fn add(&mut self, name: &str, value: Option<String>) {
        if self.vars.unknown.contains(name) {
            return;
        }
        let values = self.vars.values.entry(name.to_owned()).or_default();
        if values.contains(&value) {
            return;
        }
        if values.len() >= MAX_COMBINATIONS {
            self.unknown(name);
            return;
        }
        values.push(value);
        self.changed.insert(name.to_owned());
    }

    fn unknown(&mut self, name: &str) {
        if self.vars.unknown.insert(name.to_owned()) {
            self.vars.values.remove(name);
            self.changed.insert(name.to_owned());
        }
    }

    /// The result; a variable left with no value (its default reads itself) is unknown.
    pub(super) fn finish(mut self) -> Vars {
        let empty: Vec<String> = self
            .vars
            .values
            .iter()
            .filter(|(_, values)| values.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        empty.iter().for_each(|name| self.unknown(name));
        self.vars
    }
}

/// A variable whose value is what is assigned to it, from its default or NULL: declared in
/// the body (parameters and `found` have no line: the caller or the run time sets them), of a
/// text type, not a cursor (`OPEN` names it), not a constant without a default (`sqlstate`,
/// `sqlerrm`: the run time sets them).
fn is_followed(var: &Value, has_default: bool) -> bool {
    let typname = var
        .get("datatype")
        .and_then(|t| t.get("PLpgSQL_type"))
        .and_then(|t| t.get("typname"))
        .and_then(Value::as_str);
    let declared = var
        .get("lineno")
        .and_then(Value::as_i64)
        .is_some_and(|l| l > 0);
    let constant = var.get("isconst").and_then(Value::as_bool).unwrap_or(false);
    declared
        && typname.is_some_and(|t| TEXT_TYPES.contains(&t))
        && var.get("cursor_explicit_expr").is_none()
        && (has_default || !constant)
}

/// The name of a variable, row or record datum.
fn refname(datum: &Value) -> Option<&str> {
    let (_, fields) = datum.as_object()?.iter().next()?;
    fields.get("refname")?.as_str()
}
