//! Constant propagation for PL/pgSQL variables, so that
//! `q := 'DROP ' || 'TABLE t'; EXECUTE q;` is judged by its effect.
//!
//! A sound over-approximation. A variable may hold its initial value (its default, or NULL) or
//! the value of any `:=` to it that can run before, evaluated with every combination of the
//! values the variables it reads may hold; `EXECUTE` is inspected with each value. Statements
//! are read in document order, the only order they run in outside loops; a loop's body is read
//! again until no variable gains a value. Only what is understood is followed: a `text` or
//! `varchar` variable declared in the body and written only by `:=` of an expression airlock
//! folds. A variable written any other way (`INTO`, `FOR`, `FOREACH`, `FETCH`,
//! `GET DIAGNOSTICS`, `CALL`, a statement kind airlock does not know) is unknown, and an
//! `EXECUTE` that reads it is opaque.

use std::collections::{HashMap, HashSet};

use pg_query::NodeEnum;
use pg_query::protobuf::{AConst, Node, SelectStmt};
use serde_json::Value;

use super::fold::{UNKNOWN_VARIABLE, Value as Folded, fold_with};
use super::names::{boxed, inner, string};
use analysis::Analysis;

mod analysis;
#[cfg(test)]
mod tests;

/// Combinations of variable values tried for one expression, and values kept for one
/// variable, before giving up (opaque, unknown).
const MAX_COMBINATIONS: usize = 64;

/// What each PL/pgSQL variable of a body may hold.
#[derive(Debug, Default)]
pub(crate) struct Vars {
    /// Every value each followed variable may hold (`None`: NULL).
    values: HashMap<String, Vec<Option<String>>>,
    /// Variables airlock cannot follow: written other than by a foldable `:=`, of a type that
    /// changes what is assigned, or set by the caller or the run time.
    unknown: HashSet<String>,
}

/// One combination of values for the variables an expression reads.
#[derive(Clone, Debug, Default)]
struct Environment<'v> {
    values: HashMap<String, String>,
    nulls: Vec<&'v str>,
}

impl Vars {
    /// What each variable of a parsed PL/pgSQL function may hold.
    pub(crate) fn collect(tree: &Value) -> Self {
        let function = tree
            .as_array()
            .and_then(|a| a.first())
            .and_then(|f| f.get("PLpgSQL_function"));
        let datums = function
            .and_then(|f| f.get("datums"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let action = function
            .and_then(|f| f.get("action"))
            .unwrap_or(&Value::Null);
        let mut analysis = Analysis::new(datums);
        analysis.mark_writes(action);
        analysis.run(action);
        analysis.finish()
    }

    /// Every string value `expr` may have, or `None` when it depends on anything unknown (or
    /// is never a string: `EXECUTE NULL` fails).
    pub(crate) fn fold_all(&self, expr: &str) -> Option<Vec<String>> {
        let node = parse_expression(expr)?;
        let mut out: Vec<String> = Vec::new();
        for env in self.environments(expr)? {
            match env.fold(&node)? {
                Folded::Str(s) if !out.contains(&s) => out.push(s),
                Folded::Str(_) | Folded::Null => {}
                _ => return None,
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// `expr` with every value it cannot know replaced by a placeholder identifier: the shape
    /// of the statement when only the literals are certain (`'DROP TABLE ' || t`).
    pub(crate) fn fold_with_placeholder(&self, expr: &str) -> Option<String> {
        let mut env: HashMap<String, String> = HashMap::new();
        for (name, values) in &self.values {
            if let Some(first) = values.iter().flatten().next() {
                env.insert(name.clone(), first.clone());
            }
        }
        env.insert(
            UNKNOWN_VARIABLE.to_owned(),
            "value_known_at_run_time".to_owned(),
        );
        match fold_with(&parse_expression(expr)?, &env)? {
            Folded::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Every combination of the values of the followed variables `expr` mentions; `None` past
    /// [`MAX_COMBINATIONS`]. Variables not followed are left out: folding fails on them.
    fn environments(&self, expr: &str) -> Option<Vec<Environment<'_>>> {
        let mut environments = vec![Environment::default()];
        for (name, values) in self.values.iter().filter(|(name, _)| mentions(expr, name)) {
            let mut next = Vec::new();
            for env in &environments {
                for value in values {
                    next.push(env.with(name, value.as_deref()));
                }
            }
            if next.len() > MAX_COMBINATIONS {
                return None;
            }
            environments = next;
        }
        Some(environments)
    }
}

impl<'v> Environment<'v> {
    fn with(&self, name: &'v str, value: Option<&str>) -> Self {
        let mut env = self.clone();
        match value {
            Some(value) => {
                env.values.insert(name.to_owned(), value.to_owned());
            }
            None => env.nulls.push(name),
        }
        env
    }

    fn fold(&self, node: &NodeEnum) -> Option<Folded> {
        if self.nulls.is_empty() {
            return fold_with(node, &self.values);
        }
        let mut node = node.clone();
        nullify(&mut node, &self.nulls);
        fold_with(&node, &self.values)
    }
}

/// `text` after a leading identifier that names `name` (`q`, `Q`, `"q"`), or `None`.
fn after_identifier<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut ident = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                ident.push(c);
            } else if chars.next_if(|(_, c)| *c == '"').is_some() {
                ident.push('"');
            } else {
                return (ident == name).then(|| quoted.get(i + 1..)).flatten();
            }
        }
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let end = text.find(|c: char| !is_word(c)).unwrap_or(text.len());
    let (ident, rest) = text.split_at_checked(end)?;
    (ident.to_ascii_lowercase() == name).then_some(rest)
}

/// True when `expr` contains `name` as a whole word, ignoring ASCII case (a cheap
/// pre-filter; folding decides).
fn mentions(expr: &str, name: &str) -> bool {
    let (expr, name) = (expr.to_ascii_lowercase(), name.to_ascii_lowercase());
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    expr.match_indices(&name).any(|(i, _)| {
        let before = expr.get(..i).and_then(|b| b.chars().next_back());
        let after = expr.get(i + name.len()..).and_then(|a| a.chars().next());
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// `{"PLpgSQL_expr": {"query": "…"}}` → the query text.
pub(crate) fn expr_query(value: Option<&Value>) -> Option<&str> {
    value?.get("PLpgSQL_expr")?.get("query")?.as_str()
}

/// The expression of `SELECT <expr>` when that is the whole statement; `None` otherwise (a
/// `FROM` could make a variable's name mean a column, a `WHERE` make the value NULL).
fn parse_expression(expr: &str) -> Option<NodeEnum> {
    let parsed = pg_query::parse(&format!("SELECT {expr}"), 0).ok()?;
    let [raw] = parsed.protobuf.stmts.as_slice() else {
        return None;
    };
    let Some(NodeEnum::SelectStmt(select)) = boxed(&raw.stmt) else {
        return None;
    };
    let [target] = select.target_list.as_slice() else {
        return None;
    };
    let Some(NodeEnum::ResTarget(target)) = inner(target) else {
        return None;
    };
    is_bare(select)
        .then(|| boxed(&target.val).cloned())
        .flatten()
}

/// A `SELECT` with a target list and nothing else.
fn is_bare(s: &SelectStmt) -> bool {
    s.distinct_clause.is_empty()
        && s.into_clause.is_none()
        && s.from_clause.is_empty()
        && s.where_clause.is_none()
        && s.group_clause.is_empty()
        && s.having_clause.is_none()
        && s.window_clause.is_empty()
        && s.values_lists.is_empty()
        && s.sort_clause.is_empty()
        && s.limit_offset.is_none()
        && s.limit_count.is_none()
        && s.locking_clause.is_empty()
        && s.with_clause.is_none()
        && s.larg.is_none()
        && s.rarg.is_none()
}

/// Replaces each reference to a variable in `nulls` by NULL, wherever folding reads one. A
/// reference left in place fails to fold (the variable has no value in the environment).
fn nullify(node: &mut NodeEnum, nulls: &[&str]) {
    if let NodeEnum::ColumnRef(column) = node {
        let names: Option<Vec<&str>> = column.fields.iter().map(string).collect();
        if names.is_some_and(|n| nulls.contains(&n.join(".").as_str())) {
            let location = column.location;
            *node = NodeEnum::AConst(AConst {
                isnull: true,
                location,
                val: None,
            });
        }
        return;
    }
    for child in operands(node) {
        if let Some(child) = child.node.as_mut() {
            nullify(child, nulls);
        }
    }
}

/// The operands folding evaluates (see `fold::fold_with` and `strings::function`).
fn operands(node: &mut NodeEnum) -> Vec<&mut Node> {
    match node {
        NodeEnum::TypeCast(t) => t.arg.as_deref_mut().into_iter().collect(),
        NodeEnum::AExpr(a) => a
            .lexpr
            .as_deref_mut()
            .into_iter()
            .chain(a.rexpr.as_deref_mut())
            .collect(),
        NodeEnum::FuncCall(f) => f.args.iter_mut().collect(),
        NodeEnum::CoalesceExpr(c) => c.args.iter_mut().collect(),
        NodeEnum::List(l) => l.items.iter_mut().collect(),
        NodeEnum::AArrayExpr(a) => a.elements.iter_mut().collect(),
        NodeEnum::CaseExpr(c) => c
            .arg
            .as_deref_mut()
            .into_iter()
            .chain(c.args.iter_mut())
            .chain(c.defresult.as_deref_mut())
            .collect(),
        NodeEnum::CaseWhen(w) => w
            .expr
            .as_deref_mut()
            .into_iter()
            .chain(w.result.as_deref_mut())
            .collect(),
        NodeEnum::SubLink(s) => s.subselect.as_deref_mut().into_iter().collect(),
        NodeEnum::SelectStmt(s) => s.target_list.iter_mut().collect(),
        NodeEnum::ResTarget(r) => r.val.as_deref_mut().into_iter().collect(),
        _ => Vec::new(),
    }
}
