//! Constant propagation for PL/pgSQL variables, so that
//! `q := 'DROP ' || 'TABLE t'; EXECUTE q;` is judged by its effect. Over-approximates: a
//! variable may hold any value ever assigned to it, and `EXECUTE` is inspected with each.

use std::collections::{HashMap, HashSet};

use pg_query::NodeEnum;
use serde_json::Value;

use super::fold::{UNKNOWN_VARIABLE, Value as Folded, fold_with};
use super::names::{boxed, inner};

/// Combinations of variable values tried for one expression before giving up (opaque).
const MAX_COMBINATIONS: usize = 64;

/// What each PL/pgSQL variable of a body may hold.
#[derive(Debug, Default)]
pub(crate) struct Vars {
    values: HashMap<String, Vec<String>>,
    /// Variables with an assignment airlock cannot fold.
    unknown: HashSet<String>,
}

impl Vars {
    /// Collects declarations' defaults and assignments in document order.
    pub(crate) fn collect(tree: &Value) -> Self {
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut assignments: Vec<(String, Option<String>)> = Vec::new();
        collect_datums(tree, &mut names, &mut assignments);
        collect_assignments(tree, &names, &mut assignments);
        let mut vars = Self::default();
        let mut last: HashMap<String, String> = HashMap::new();
        for (name, expr) in assignments {
            match expr.and_then(|e| fold_expression(&e, &last)) {
                Some(value) => {
                    last.insert(name.clone(), value.clone());
                    let values = vars.values.entry(name).or_default();
                    if !values.contains(&value) {
                        values.push(value);
                    }
                }
                None => {
                    vars.unknown.insert(name);
                }
            }
        }
        vars
    }

    /// Every string value `expr` may have, or `None` when it depends on anything unknown.
    pub(crate) fn fold_all(&self, expr: &str) -> Option<Vec<String>> {
        let referenced: Vec<(&String, &Vec<String>)> = self
            .values
            .iter()
            .filter(|(name, _)| mentions(expr, name))
            .collect();
        if self.unknown.iter().any(|name| mentions(expr, name)) {
            return None;
        }
        let mut environments: Vec<HashMap<String, String>> = vec![HashMap::new()];
        for (name, values) in referenced {
            let mut next = Vec::new();
            for env in &environments {
                for value in values {
                    let mut env = env.clone();
                    env.insert(name.clone(), value.clone());
                    next.push(env);
                }
            }
            if next.len() > MAX_COMBINATIONS {
                return None;
            }
            environments = next;
        }
        let mut out: Vec<String> = Vec::new();
        for env in &environments {
            let value = fold_expression(expr, env)?;
            if !out.contains(&value) {
                out.push(value);
            }
        }
        Some(out)
    }
}

impl Vars {
    /// `expr` with every value it cannot know replaced by a placeholder identifier: the shape
    /// of the statement when only the literals are certain (`'DROP TABLE ' || t`).
    pub(crate) fn fold_with_placeholder(&self, expr: &str) -> Option<String> {
        let mut env: HashMap<String, String> = HashMap::new();
        for (name, values) in &self.values {
            if let Some(first) = values.first() {
                env.insert(name.clone(), first.clone());
            }
        }
        env.insert(
            UNKNOWN_VARIABLE.to_owned(),
            "value_known_at_run_time".to_owned(),
        );
        fold_expression(expr, &env)
    }
}

/// True when `expr` contains `name` as a whole word (a cheap pre-filter; folding decides).
fn mentions(expr: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    expr.match_indices(name).any(|(i, _)| {
        let before = expr.get(..i).and_then(|b| b.chars().next_back());
        let after = expr.get(i + name.len()..).and_then(|a| a.chars().next());
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// `{"PLpgSQL_expr": {"query": "…"}}` → the query text.
pub(crate) fn expr_query(value: Option<&Value>) -> Option<&str> {
    value?.get("PLpgSQL_expr")?.get("query")?.as_str()
}

/// Folds a PL/pgSQL expression (`'DROP ' || 'TABLE t'`, `format(…)`) to its string value.
fn fold_expression(expr: &str, vars: &HashMap<String, String>) -> Option<String> {
    let parsed = pg_query::parse(&format!("SELECT {expr}"), 0).ok()?;
    let raw = parsed.protobuf.stmts.first()?;
    let Some(NodeEnum::SelectStmt(select)) = boxed(&raw.stmt) else {
        return None;
    };
    let target = select.target_list.first().and_then(inner)?;
    let NodeEnum::ResTarget(target) = target else {
        return None;
    };
    match fold_with(boxed(&target.val)?, vars)? {
        Folded::Str(s) => Some(s),
        _ => None,
    }
}

fn collect_datums(
    tree: &Value,
    names: &mut HashMap<i64, String>,
    assignments: &mut Vec<(String, Option<String>)>,
) {
    let datums = tree
        .as_array()
        .and_then(|a| a.first())
        .and_then(|f| f.get("PLpgSQL_function"))
        .and_then(|f| f.get("datums"))
        .and_then(Value::as_array);
    for (index, datum) in datums
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let Some(var) = datum.get("PLpgSQL_var") else {
            continue;
        };
        let Some(name) = var.get("refname").and_then(Value::as_str) else {
            continue;
        };
        names.insert(i64::try_from(index).unwrap_or(-1), name.to_owned());
        if let Some(default) = expr_query(var.get("default_val")) {
            assignments.push((name.to_owned(), Some(default.to_owned())));
        }
    }
}

fn collect_assignments(
    value: &Value,
    names: &HashMap<i64, String>,
    assignments: &mut Vec<(String, Option<String>)>,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "PLpgSQL_stmt_assign" {
                    let var = child
                        .get("varno")
                        .and_then(Value::as_i64)
                        .and_then(|n| names.get(&n));
                    let expr = expr_query(child.get("expr"))
                        .and_then(|q| q.split_once(":="))
                        .map(|(_, e)| e.trim().to_owned());
                    if let Some(var) = var {
                        assignments.push((var.clone(), expr));
                    }
                }
                collect_assignments(child, names, assignments);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|i| collect_assignments(i, names, assignments)),
        _ => {}
    }
}
