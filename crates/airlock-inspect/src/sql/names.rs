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

/// The boolean value of an option (`ANALYZE false`, `NOSUPERUSER`): no argument means true;
/// `None` when the argument is not a boolean at all.
pub(crate) fn option_bool(arg: Option<&NodeEnum>) -> Option<bool> {
    let word = |s: &str| match s.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" | "t" | "y" => Some(true),
        "false" | "off" | "no" | "0" | "f" | "n" => Some(false),
        _ => None,
    };
    match arg {
        None => Some(true),
        Some(NodeEnum::Boolean(b)) => Some(b.boolval),
        Some(NodeEnum::Integer(i)) => Some(i.ival != 0),
        Some(NodeEnum::String(s)) => word(&s.sval),
        Some(NodeEnum::AConst(c)) => match c.val.as_ref() {
            Some(pg_query::protobuf::a_const::Val::Boolval(b)) => Some(b.boolval),
            Some(pg_query::protobuf::a_const::Val::Ival(i)) => Some(i.ival != 0),
            Some(pg_query::protobuf::a_const::Val::Sval(s)) => word(&s.sval),
            _ => None,
        },
        Some(_) => None,
    }
}
