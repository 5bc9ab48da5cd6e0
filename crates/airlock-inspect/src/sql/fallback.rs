//! A generic walk over any parse-tree node (through its serde form), for node types the
//! typed scanner does not model: it finds every function call, relation and nested
//! statement, so rare syntax cannot hide a dangerous call.

use pg_query::NodeEnum;
use serde_json::Value;

#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) functions: Vec<String>,
    pub(crate) relations: Vec<String>,
    /// Nested data-modifying or utility statements.
    pub(crate) statements: usize,
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
                    "FuncCall" => found.functions.push(dotted(child.get("funcname"))),
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

fn relation(rv: &Value) -> String {
    let part = |k: &str| rv.get(k).and_then(Value::as_str).unwrap_or_default();
    match part("schemaname") {
        "" => part("relname").to_owned(),
        schema => format!("{schema}.{}", part("relname")),
    }
}
