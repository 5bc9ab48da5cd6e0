//! `decide`: one Cedar request per statement (and per setting it changes); the most severe
//! verdict wins. Total: any failure becomes a deny (fail closed).

use airlock_model::{
    Command, Decision, Facts, Origin, RuleMatch, SettingChange, SqlFacts, Statement, StatementKind,
    Verdict,
};
use cedar_policy::{Decision as CedarDecision, Request};

use crate::context::{self, InputInfo, Parties};
use crate::policy::Policy;
use crate::render::{self, Subject};

/// Rule id of the deny reported when no permit matches.
pub const NO_PERMIT: &str = "no-permit";
/// Rule id of the deny reported when a policy fails while judging (fail closed).
pub const POLICY_ERROR: &str = "policy-error";

/// What one request judged.
struct Judged<'a> {
    statement: &'a Statement,
    index: Option<usize>,
    setting: Option<&'a SettingChange>,
    parse_error: Option<&'a str>,
}

/// Decides `command` from its `facts` under `policy`. Total.
pub fn decide(policy: &Policy, command: &Command, facts: &Facts) -> Decision {
    match facts {
        Facts::Sql(sql) => decide_sql(policy, command, sql),
    }
}

fn decide_sql(policy: &Policy, command: &Command, sql: &SqlFacts) -> Decision {
    if sql.statements.is_empty() && sql.unparseable.is_none() {
        return Decision::allow();
    }
    let parties = match context::parties(&policy.types, &command.identity, &command.connection) {
        Ok(parties) => parties,
        Err(error) => {
            return failed(format!(
                "airlock could not describe the caller or the connection to the policy: {error}"
            ));
        }
    };
    let input = InputInfo {
        unparseable: sql.unparseable.is_some(),
        parse_error: sql.unparseable.as_deref().unwrap_or_default(),
        top_level_count: sql.top_level_count,
        statement_count: sql.statements.len(),
        principal_kind: command.identity.kind.as_str(),
        protocol: command.protocol.as_str(),
    };
    let mut matches = Vec::new();
    let placeholder = Statement::new(StatementKind::Other, Origin::TopLevel);
    if let Some(error) = &sql.unparseable {
        let judged = Judged {
            statement: &placeholder,
            index: None,
            setting: None,
            parse_error: Some(error),
        };
        if let Err(decision) = judge(policy, &parties, &input, &judged, &mut matches) {
            return decision;
        }
    }
    for (i, statement) in sql.statements.iter().enumerate() {
        let settings = statement.settings.iter().map(Some);
        let settings: Vec<Option<&SettingChange>> = if statement.settings.is_empty() {
            vec![None]
        } else {
            settings.collect()
        };
        for setting in settings {
            let judged = Judged {
                statement,
                index: Some(i),
                setting,
                parse_error: None,
            };
            if let Err(decision) = judge(policy, &parties, &input, &judged, &mut matches) {
                return decision;
            }
        }
    }
    Decision::from_matches(matches)
}

/// Judges one statement (or one of its settings), adding what matched to `matches`.
fn judge(
    policy: &Policy,
    parties: &Parties,
    input: &InputInfo<'_>,
    judged: &Judged<'_>,
    matches: &mut Vec<RuleMatch>,
) -> Result<(), Decision> {
    let index = judged
        .index
        .and_then(|i| i64::try_from(i).ok())
        .unwrap_or(-1);
    let request = context::statement_record(judged.statement, index)
        .and_then(|stmt| context::context(stmt, judged.setting, input))
        .and_then(|ctx| {
            let (p, a, r) = (
                parties.principal.clone(),
                policy.types.sql.clone(),
                parties.resource.clone(),
            );
            Request::new(p, a, r, ctx, None).map_err(|e| e.to_string())
        })
        .map_err(|e| {
            failed(format!(
                "airlock could not build the policy request for this statement: {e}"
            ))
        })?;
    let response = policy
        .authorizer
        .is_authorized(&request, &policy.set, &parties.entities);
    let diagnostics = response.diagnostics();
    if let Some(error) = diagnostics.errors().next() {
        return Err(failed(format!(
            "a policy rule failed while judging this statement ({error}); airlock refuses what it cannot judge"
        )));
    }
    if response.decision() == CedarDecision::Allow {
        return Ok(());
    }
    let mut found: Vec<usize> = diagnostics
        .reason()
        .filter_map(|id| policy.index.get(id).copied())
        .collect();
    if found.len() != diagnostics.reason().count() {
        return Err(failed(
            "a matching policy rule is unknown to airlock".to_owned(),
        ));
    }
    found.sort_unstable();
    if found.is_empty() {
        matches.push(no_permit(policy, judged.index));
    }
    let subject = Subject {
        statement: judged.statement,
        setting: judged.setting,
        parse_error: judged.parse_error,
    };
    for rule in found.into_iter().filter_map(|i| policy.rules.get(i)) {
        let Some(verdict) = rule.effect.verdict() else {
            continue;
        };
        let matched = RuleMatch {
            rule: rule.id.clone(),
            verdict,
            message: render::render(&rule.message, &subject),
            hint: rule.hint.as_deref().map(|h| render::render(h, &subject)),
            statement: judged.index,
            approval: rule.approval.clone(),
        };
        if !matches.contains(&matched) {
            matches.push(matched);
        }
    }
    Ok(())
}

fn no_permit(policy: &Policy, statement: Option<usize>) -> RuleMatch {
    RuleMatch {
        rule: policy.types.no_permit.clone(),
        verdict: Verdict::Deny,
        message: "no policy rule permits this statement".to_owned(),
        hint: Some("add a `permit` rule that covers it".to_owned()),
        statement,
        approval: None,
    }
}

fn failed(message: String) -> Decision {
    Decision::internal_deny(POLICY_ERROR, message)
}
