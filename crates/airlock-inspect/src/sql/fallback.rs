//! A generic walk over any parse-tree node (through its serde form), for node types the
//! typed scanner does not model: it finds every function call, relation and nested
//! statement, so rare syntax cannot hide a dangerous call.

use pg_query::NodeEnum;
use serde_json::Value;

use super::functions;

#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) functions: Vec<String>,
    pub(crate) relations: Vec<String>,
    /// Nested data-modifying or utility statements.
    pub(crate) statements: usize,
    /// `set_config(name, value, …)` calls with a literal name: (name, literal value).
    pub(crate) settings: Vec<(String, Option<String>)>,
    /// SQL handed to a function that runs it (`query_to_xml('…', …)`): the text when it is a
    /// literal, `None` when it is not.
    pub(crate) sql_arguments: Vec<Option<String>>,
    /// `JSON_ARRAYAGG(…)` / `JSON_OBJECTAGG(…)`: they package the rows they aggregate.
    pub(crate) row_aggregates: usize,
}

pub(crate) fn scan(node: &NodeEnum) -> Found {
    let mut found = Found::default();
    match serde_json::to_value(node) {
        Ok(value) => walk(&value, &mut found),
        // Serialization of the parser's own tree cannot fail in practice; if it does, report
        // a nested statement so the caller treats the node as opaque.
        Err(_) => found.statements += 1,
    }
    found
}

fn walk(value: &Value, found: &mut Found) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match key.as_str() {
                    "FuncCall" => {
                        let name = dotted(child.get("funcname"));
                        let base = name.rsplit('.').next().unwrap_or_default();
                        let args = child.get("args").and_then(Value::as_array);
                        let literal =
                            |i: usize| args.and_then(|a| a.get(i)).and_then(string_constant);
                        if base == "set_config"
                            && let Some(setting) = literal(0)
                        {
                            found.settings.push((setting.to_lowercase(), literal(1)));
                        }
                        if let Some(index) = functions::executes_sql_argument(base) {
                            found.sql_arguments.push(literal(index));
                        }
                        found.functions.push(name);
                    }
                    // SQL/JSON aggregates are nodes of their own, not function calls.
                    "JsonArrayAgg" | "JsonObjectAgg" => found.row_aggregates += 1,
                    "RangeVar" => found.relations.push(relation(child)),
                    "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" => {
                        found.statements += 1;
                    }
                    _ => {}
                }
                walk(child, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, found)),
        _ => {}
    }
}

/// `[{"node": {"String": {"sval": "a"}}}, …]` → `a.b`
fn dotted(parts: Option<&Value>) -> String {
    let mut names = Vec::new();
    for part in parts
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let Some(s) = find_sval(part) {
            names.push(s.to_lowercase());
        }
    }
    names.join(".")
}

fn find_sval(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => map
            .get("sval")
            .and_then(Value::as_str)
            .or_else(|| map.values().find_map(find_sval)),
        _ => None,
    }
}

/// `{"node": {"AConst": {"val": {"Sval": {"sval": "x"}}}}}` → `x`.
fn string_constant(value: &Value) -> Option<String> {
    let constant = value.get("node")?.get("AConst")?;
    constant
        .get("val")?
        .get("Sval")?
        .get("sval")?
        .as_str()
        .map(str::to_owned)
}

fn relation(rv: &Value) -> String {
    let part = |k: &str| rv.get(k).and_then(Value::as_str).unwrap_or_default();
    match part("schemaname") {
        "" => part("relname").to_owned(),
        schema => format!("{schema}.{}", part("relname")),
    }
}
