//! `@message` and `@hint` placeholders, filled from the statement that matched.
//!
//! `{name}` with a known name is replaced; `{name}` with an unknown lower-case name is a load
//! error; any other brace is kept as written. Setting values never appear in messages.

use airlock_model::{Origin, SettingChange, Statement};

/// The facts a message can show.
pub(crate) struct Subject<'a> {
    pub statement: &'a Statement,
    pub setting: Option<&'a SettingChange>,
    pub parse_error: Option<&'a str>,
}

/// Every placeholder a message may use.
pub const PLACEHOLDERS: &[&str] = &[
    "kind",
    "object_type",
    "objects",
    "reads",
    "writes",
    "creates",
    "alters",
    "drops",
    "functions",
    "setting",
    "roles",
    "role_options",
    "granted",
    "origin",
    "parse_error",
    "estimated_rows",
    "row_filter",
];

/// Checks that every `{name}` in `template` is a known placeholder.
pub(crate) fn check(template: &str) -> Result<(), String> {
    for piece in pieces(template) {
        if let Piece::Placeholder(name) = piece
            && !PLACEHOLDERS.contains(&name)
        {
            return Err(format!(
                "unknown placeholder `{{{name}}}`; known placeholders: {}",
                PLACEHOLDERS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Fills the placeholders of `template` from `subject`.
pub(crate) fn render(template: &str, subject: &Subject<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(name) => out.push_str(&value(name, subject)),
        }
    }
    out
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, from_brace) = rest.split_at(open);
        let name_end = from_brace.find('}');
        let name = name_end.and_then(|end| from_brace.get(1..end));
        match (name, name_end) {
            (Some(name), Some(end)) if is_name(name) => {
                pieces.push(Piece::Text(before));
                pieces.push(Piece::Placeholder(name));
                rest = from_brace.get(end + 1..).unwrap_or_default();
            }
            _ => {
                let (text, after) = rest.split_at(open + 1);
                pieces.push(Piece::Text(text));
                rest = after;
            }
        }
    }
    pieces.push(Piece::Text(rest));
    pieces
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

fn value(name: &str, subject: &Subject<'_>) -> String {
    use airlock_model::Access;
    let stmt = subject.statement;
    let names = |access: Access| stmt.names_with(access).collect::<Vec<_>>();
    match name {
        "kind" => stmt.kind.as_str().to_uppercase(),
        "object_type" => stmt
            .object_type
            .as_deref()
            .unwrap_or("object")
            .replace('_', " "),
        "objects" => listed(stmt.objects.iter().map(|o| o.name.as_str()), "the object"),
        "reads" => listed(names(Access::Read), "the table"),
        "writes" => listed(names(Access::Write), "the table"),
        "creates" => listed(names(Access::Create), "the object"),
        "alters" => listed(names(Access::Alter), "the object"),
        "drops" => listed(names(Access::Drop), "the object"),
        "functions" => listed(stmt.functions.iter().map(String::as_str), "a function"),
        "setting" => setting(subject),
        "roles" => listed(stmt.roles_granted.iter().map(String::as_str), "a role"),
        "role_options" => listed(
            stmt.role_options.iter().map(String::as_str),
            "role attributes",
        ),
        "granted" => listed(
            stmt.roles_granted
                .iter()
                .chain(&stmt.role_options)
                .map(String::as_str),
            "superuser",
        ),
        "origin" => origin(stmt.origin).to_owned(),
        "estimated_rows" => stmt
            .estimated_rows
            .map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string()),
        "parse_error" => subject
            .parse_error
            .unwrap_or("unknown parse error")
            .to_owned(),
        "row_filter" => row_filter(stmt).to_owned(),
        _ => format!("{{{name}}}"),
    }
}

/// What the statement's row filter is, to follow "this DELETE on `t` …".
fn row_filter(stmt: &Statement) -> &'static str {
    use airlock_model::{StatementFlag, WhereClause};
    match stmt.where_clause {
        WhereClause::Absent => "has no WHERE clause",
        WhereClause::AlwaysTrue if stmt.has_flag(StatementFlag::RowIndependentFilter) => {
            "has a WHERE clause that does not depend on the row (true for every row or for none)"
        }
        WhereClause::AlwaysTrue => "has a WHERE clause that is true for every row",
        WhereClause::Present => "has a WHERE clause",
        WhereClause::NotApplicable => "has no row filter",
    }
}

fn setting(subject: &Subject<'_>) -> String {
    match subject.setting {
        Some(setting) => format!("`{}`", setting.name),
        None => listed(
            subject.statement.settings.iter().map(|s| s.name.as_str()),
            "a setting",
        ),
    }
}

fn listed<'a>(items: impl IntoIterator<Item = &'a str>, empty: &str) -> String {
    let quoted: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    if quoted.is_empty() {
        empty.to_owned()
    } else {
        quoted.join(", ")
    }
}

fn origin(origin: Origin) -> &'static str {
    match origin {
        Origin::TopLevel => "the statement",
        Origin::Cte => "a WITH clause",
        Origin::ExplainAnalyze => "EXPLAIN ANALYZE",
        Origin::CopyQuery => "the query of a COPY",
        Origin::CreateTableAs => "the query of a CREATE TABLE AS",
        Origin::Prepared => "a prepared statement",
        Origin::RuleAction => "a rule",
        Origin::FunctionBody => "a function body",
        Origin::DoBlock => "a DO block",
        Origin::DynamicSql => "dynamic SQL",
    }
}

#[cfg(test)]
mod tests {
    use airlock_model::{Access, SettingScope, StatementKind};

    use super::*;

    #[test]
    fn fills_known_placeholders_and_keeps_other_braces() {
        let mut stmt = Statement::new(StatementKind::Drop, Origin::FunctionBody);
        stmt.object_type = Some("user_mapping".into());
        stmt.touch("public.users", Access::Drop);
        let subject = Subject {
            statement: &stmt,
            setting: None,
            parse_error: None,
        };
        let text = render(
            "{origin}: {kind} {object_type} {drops} {x-y} { {reads}",
            &subject,
        );
        assert_eq!(
            text,
            "a function body: DROP user mapping `public.users` {x-y} { the table"
        );
    }

    #[test]
    fn setting_placeholder_names_the_judged_setting() {
        let stmt = Statement::new(StatementKind::Set, Origin::TopLevel);
        let setting = SettingChange {
            name: "log_statement".into(),
            value: Some("none".into()),
            scope: SettingScope::Session,
        };
        let subject = Subject {
            statement: &stmt,
            setting: Some(&setting),
            parse_error: None,
        };
        assert_eq!(
            render("changing {setting}", &subject),
            "changing `log_statement`"
        );
    }

    #[test]
    fn unknown_placeholders_are_rejected() {
        assert!(check("drops {objects} and {drops}").is_ok());
        let err = check("drops {tables}").unwrap_err();
        assert!(err.starts_with("unknown placeholder `{tables}`"), "{err}");
    }
}
