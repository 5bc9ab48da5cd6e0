//! `decide`: one Cedar request per statement (and per setting it changes); the most severe
//! verdict wins. Total: any failure becomes a deny (fail closed).
//!
//! Two steps: [`evaluate`] asks Cedar which rules match (the expensive part, a pure function of
//! the caller, the connection, the protocol and the facts) and [`render`] turns the matches into
//! a [`Decision`] with messages filled from the facts. The checkpoint caches evaluations.

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

/// One rule that matched one request, by position: rule in load order, statement in the
/// facts (`None` for the unparseable input as a whole), setting in the statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    /// `None`: no permit matched.
    rule: Option<usize>,
    statement: Option<usize>,
    setting: Option<usize>,
}

/// Rule matches before rendering, or a fail-closed deny.
pub(crate) type Evaluation = Result<Vec<Hit>, Decision>;

/// Decides `command` from its `facts` under `policy`. Total.
pub fn decide(policy: &Policy, command: &Command, facts: &Facts) -> Decision {
    render(policy, facts, &evaluate(policy, command, facts))
}

/// Which rules match, per statement and setting.
pub(crate) fn evaluate(policy: &Policy, command: &Command, facts: &Facts) -> Evaluation {
    let Facts::Sql(sql) = facts;
    if sql.statements.is_empty() && sql.unparseable.is_none() {
        return Ok(Vec::new());
    }
    let parties = context::parties(&policy.types, &command.identity, &command.connection).map_err(
        |error| {
            failed(format!(
                "airlock could not describe the caller or the connection to the policy: {error}"
            ))
        },
    )?;
    let input = input_info(command, sql);
    let mut hits = Vec::new();
    if sql.unparseable.is_some() {
        let placeholder = Statement::new(StatementKind::Other, Origin::TopLevel);
        let judged = Judged {
            statement: &placeholder,
            index: None,
            setting: None,
        };
        judge(policy, &parties, &input, &judged, &mut hits)?;
    }
    for (i, statement) in sql.statements.iter().enumerate() {
        let settings: Vec<Option<usize>> = if statement.settings.is_empty() {
            vec![None]
        } else {
            (0..statement.settings.len()).map(Some).collect()
        };
        for setting in settings {
            let judged = Judged {
                statement,
                index: Some(i),
                setting,
            };
            judge(policy, &parties, &input, &judged, &mut hits)?;
        }
    }
    Ok(hits)
}

/// Turns matches into a decision, with messages and hints filled from `facts`.
pub(crate) fn render(policy: &Policy, facts: &Facts, evaluation: &Evaluation) -> Decision {
    let hits = match evaluation {
        Ok(hits) => hits,
        Err(decision) => return decision.clone(),
    };
    let Facts::Sql(sql) = facts;
    let placeholder = Statement::new(StatementKind::Other, Origin::TopLevel);
    let mut matches: Vec<RuleMatch> = Vec::new();
    for hit in hits {
        let statement = match hit.statement {
            Some(i) => sql.statements.get(i),
            None => Some(&placeholder),
        };
        let Some(statement) = statement else {
            return failed("a policy match refers to a statement that is not there".to_owned());
        };
        let Some(rule_index) = hit.rule else {
            push_unique(&mut matches, no_permit(policy, hit.statement));
            continue;
        };
        let Some(rule) = policy.rules.get(rule_index) else {
            return failed("a matching policy rule is unknown to airlock".to_owned());
        };
        let Some(verdict) = rule.effect.verdict() else {
            continue;
        };
        let subject = Subject {
            statement,
            setting: hit.setting.and_then(|s| statement.settings.get(s)),
            parse_error: if hit.statement.is_none() {
                sql.unparseable.as_deref()
            } else {
                None
            },
        };
        let matched = RuleMatch {
            rule: rule.id.clone(),
            verdict,
            message: render::render(&rule.message, &subject),
            hint: rule.hint.as_deref().map(|h| render::render(h, &subject)),
            statement: hit.statement,
            approval: rule.approval.clone(),
        };
        push_unique(&mut matches, matched);
    }
    Decision::from_matches(matches)
}

/// What one request judged.
struct Judged<'a> {
    statement: &'a Statement,
    index: Option<usize>,
    setting: Option<usize>,
}

fn input_info<'a>(command: &'a Command, sql: &'a SqlFacts) -> InputInfo<'a> {
    InputInfo {
        unparseable: sql.unparseable.is_some(),
        parse_error: sql.unparseable.as_deref().unwrap_or_default(),
        top_level_count: sql.top_level_count,
        statement_count: sql.statements.len(),
        principal_kind: command.identity.kind.as_str(),
        protocol: command.protocol.as_str(),
    }
}

fn judge(
    policy: &Policy,
    parties: &Parties,
    input: &InputInfo<'_>,
    judged: &Judged<'_>,
    hits: &mut Vec<Hit>,
) -> Result<(), Decision> {
    let index = judged
        .index
        .and_then(|i| i64::try_from(i).ok())
        .unwrap_or(-1);
    let setting: Option<&SettingChange> = judged
        .setting
        .and_then(|s| judged.statement.settings.get(s));
    let request = context::statement_record(judged.statement, index)
        .and_then(|stmt| context::context(stmt, setting, input))
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
        hits.push(Hit {
            rule: None,
            statement: judged.index,
            setting: judged.setting,
        });
    }
    for rule in found {
        hits.push(Hit {
            rule: Some(rule),
            statement: judged.index,
            setting: judged.setting,
        });
    }
    Ok(())
}

fn push_unique(matches: &mut Vec<RuleMatch>, matched: RuleMatch) {
    if !matches.contains(&matched) {
        matches.push(matched);
    }
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
