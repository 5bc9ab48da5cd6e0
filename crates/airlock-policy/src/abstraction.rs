//! Name abstraction for the evaluation cache: facts whose object and function names are
//! replaced by positional placeholders.
//!
//! Why it is exact: within one Cedar request a statement's names can only be compared with
//! each other or with strings that appear in the policy set or in the principal's and the
//! connection's attributes. When no name of a statement is such a string, replacing the names
//! by distinct placeholders is a bijection that no rule can observe, so two statements with
//! the same abstraction get the same rule matches. Messages are rendered afterwards from the
//! real facts, so callers still see the real names.

use std::collections::BTreeSet;

use airlock_model::{Command, Facts, SqlFacts};

use crate::Policy;

/// `facts` with names replaced, or `None` when some name could be told apart by a rule.
pub(crate) fn abstract_names(policy: &Policy, command: &Command, facts: &Facts) -> Option<Facts> {
    let Facts::Sql(sql) = facts;
    let visible = |name: &str| policy.mentions(name) || in_entities(command, name);
    let mut out = SqlFacts {
        statements: Vec::with_capacity(sql.statements.len()),
        unparseable: sql.unparseable.clone(),
        top_level_count: sql.top_level_count,
        literal_sensitive: sql.literal_sensitive,
    };
    for statement in &sql.statements {
        let mut names: Vec<String> = Vec::new();
        let mut place = |name: &str| -> Option<String> {
            if visible(name) {
                return None;
            }
            let k = names.iter().position(|n| n == name).unwrap_or_else(|| {
                names.push(name.to_owned());
                names.len() - 1
            });
            let placeholder = format!("\u{1}{k}");
            (!visible(&placeholder)).then_some(placeholder)
        };
        let mut abstracted = statement.clone();
        for object in &mut abstracted.objects {
            object.name = place(&object.name)?;
        }
        abstracted.functions = statement
            .functions
            .iter()
            .map(|f| place(f))
            .collect::<Option<BTreeSet<_>>>()?;
        out.statements.push(abstracted);
    }
    Some(Facts::Sql(out))
}

/// Strings a rule could read from the principal or the connection.
fn in_entities(command: &Command, name: &str) -> bool {
    let identity = &command.identity;
    let connection = &command.connection;
    identity.id.as_str() == name
        || identity
            .acting_for
            .as_ref()
            .is_some_and(|a| a.as_str() == name)
        || identity.groups.iter().any(|g| g.as_str() == name)
        || connection.name.as_str() == name
        || connection.kind.as_str() == name
        || connection.environments.iter().any(|e| e.as_str() == name)
}
