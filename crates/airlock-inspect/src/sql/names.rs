//! Small accessors over libpg_query's protobuf nodes.

use pg_query::NodeEnum;
use pg_query::protobuf::{Node, RangeVar, RoleSpec};

pub(crate) fn inner(node: &Node) -> Option<&NodeEnum> {
    node.node.as_ref()
}

pub(crate) fn boxed(node: &Option<Box<Node>>) -> Option<&NodeEnum> {
    node.as_deref().and_then(inner)
}

/// The `sval` of a `String` node.
pub(crate) fn string(node: &Node) -> Option<&str> {
    match inner(node)? {
        NodeEnum::String(s) => Some(s.sval.as_str()),
        _ => None,
    }
}

/// A dotted name from a list of `String` nodes (`pg_catalog.pg_read_file`), lower-cased by the
/// parser already unless quoted.
pub(crate) fn dotted(parts: &[Node]) -> String {
    let mut out = String::new();
    for part in parts {
        if let Some(s) = string(part) {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(s);
        }
    }
    out
}

/// The last component of a dotted name.
pub(crate) fn last(parts: &[Node]) -> Option<&str> {
    parts.iter().rev().find_map(string)
}

pub(crate) fn relation(rv: &RangeVar) -> String {
    let mut name = String::new();
    for part in [&rv.catalogname, &rv.schemaname] {
        if !part.is_empty() {
            name.push_str(part);
            name.push('.');
        }
    }
    name.push_str(&rv.relname);
    name
}

pub(crate) fn role(spec: &RoleSpec) -> String {
    use pg_query::protobuf::RoleSpecType;
    match RoleSpecType::try_from(spec.roletype) {
        Ok(RoleSpecType::RolespecCurrentRole) => "current_role".into(),
        Ok(RoleSpecType::RolespecCurrentUser) => "current_user".into(),
        Ok(RoleSpecType::RolespecSessionUser) => "session_user".into(),
        Ok(RoleSpecType::RolespecPublic) => "public".into(),
        _ => spec.rolename.clone(),
    }
}

pub(crate) fn role_node(node: &Node) -> Option<String> {
    match inner(node)? {
        NodeEnum::RoleSpec(spec) => Some(role(spec)),
        NodeEnum::String(s) => Some(s.sval.clone()),
        NodeEnum::AccessPriv(p) => Some(p.priv_name.clone()),
        _ => None,
    }
}

/// System schemas whose relations are catalogs, not business data.
pub(crate) fn is_system_relation(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("pg_catalog.")
        || lower.starts_with("information_schema.")
        || (!lower.contains('.') && lower.starts_with("pg_"))
}
