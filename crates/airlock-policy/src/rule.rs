//! A rule: one Cedar policy plus what its annotations say a match means.

use airlock_model::{Approval, RuleId, Verdict};
use cedar_policy::Effect;

use crate::render;

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleEffect {
    /// A `permit`: makes the command possible (a command no permit matches is denied).
    Permit,
    /// A `forbid` with `@verdict("deny")`.
    Deny,
    /// A `forbid` with `@verdict("review")`: held for approval.
    Review,
}

/// One loaded rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: RuleId,
    pub effect: RuleEffect,
    /// `@message`, with placeholders (empty for a permit without one).
    pub message: String,
    pub hint: Option<String>,
    /// Who approves, for review rules.
    pub approval: Option<Approval>,
    /// The file the rule came from.
    pub file: String,
    /// (file index, byte offset): the load order.
    pub(crate) order: (usize, usize),
}

/// A problem with one annotation (or the whole policy when `offset` is `None`).
pub(crate) struct AnnotationProblem {
    pub offset: Option<usize>,
    pub reason: String,
}

/// Annotation keys airlock understands.
pub const ANNOTATIONS: &[&str] = &[
    "id",
    "verdict",
    "message",
    "hint",
    "approvers_users",
    "approvers_groups",
    "quorum",
    "allow_principal_of_agent",
    "require_reason",
    "doc",
];

const REVIEW_ONLY: &[&str] = &[
    "approvers_users",
    "approvers_groups",
    "quorum",
    "allow_principal_of_agent",
    "require_reason",
];

/// Rule ids airlock uses for its own decisions.
pub const RESERVED_IDS: &[&str] = &["no-permit", "policy-error", "internal"];

/// The annotations of one policy: key, value and byte offset in its file.
pub(crate) struct Annotations<'a> {
    pub entries: Vec<(&'a str, &'a str, Option<usize>)>,
    /// Offset of the policy itself.
    pub policy_offset: Option<usize>,
}

impl RuleEffect {
    /// The verdict of a matching forbid rule; `None` for a permit.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Self::Permit => None,
            Self::Deny => Some(Verdict::Deny),
            Self::Review => Some(Verdict::Review),
        }
    }
}

impl Annotations<'_> {
    fn get(&self, key: &str) -> Option<(&str, Option<usize>)> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, o)| (*v, *o))
    }
}

impl Rule {
    /// Reads a policy's annotations; every problem is reported.
    pub(crate) fn from_annotations(
        effect: Effect,
        annotations: &Annotations<'_>,
        file: &str,
    ) -> Result<Rule, Vec<AnnotationProblem>> {
        let mut problems = Vec::new();
        let mut problem =
            |offset, reason: String| problems.push(AnnotationProblem { offset, reason });
        for (key, _, offset) in &annotations.entries {
            if !ANNOTATIONS.contains(key) {
                problem(
                    *offset,
                    format!(
                        "unknown annotation `@{key}`; airlock knows @{}",
                        ANNOTATIONS.join(", @")
                    ),
                );
            }
        }
        let id = rule_id(annotations, &mut problem);
        let effect = rule_effect(effect, annotations, &mut problem);
        let text = |key: &str, problem: &mut dyn FnMut(Option<usize>, String)| {
            let (value, offset) = annotations.get(key)?;
            if let Err(reason) = render::check(value) {
                problem(offset, format!("in `@{key}`: {reason}"));
            }
            Some(value.to_owned())
        };
        let message = text("message", &mut problem);
        let hint = text("hint", &mut problem);
        if effect == Some(RuleEffect::Deny) || effect == Some(RuleEffect::Review) {
            match &message {
                Some(m) if !m.trim().is_empty() => {}
                _ => problem(
                    annotations.policy_offset,
                    "a forbid rule needs a `@message(\"…\")` saying what it found".to_owned(),
                ),
            }
        }
        let approval = match effect {
            Some(RuleEffect::Review) => Some(approval(annotations, &mut problem)),
            _ => None,
        };
        match (id, effect) {
            (Some(id), Some(effect)) if problems.is_empty() => Ok(Rule {
                id,
                effect,
                message: message.unwrap_or_default(),
                hint,
                approval,
                file: file.to_owned(),
                order: (0, annotations.policy_offset.unwrap_or_default()),
            }),
            _ => Err(problems),
        }
    }
}

fn rule_id(
    annotations: &Annotations<'_>,
    problem: &mut impl FnMut(Option<usize>, String),
) -> Option<RuleId> {
    let Some((value, offset)) = annotations.get("id") else {
        problem(
            annotations.policy_offset,
            "a policy needs an `@id(\"…\")` annotation naming it".to_owned(),
        );
        return None;
    };
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        problem(
            offset,
            format!("rule id `{value}` must be 1 to 64 letters, digits, `-`, `_` or `.`"),
        );
        return None;
    }
    if RESERVED_IDS.contains(&value) {
        problem(
            offset,
            format!("rule id `{value}` is reserved for airlock's own decisions"),
        );
        return None;
    }
    RuleId::new(value).ok()
}

fn rule_effect(
    effect: Effect,
    annotations: &Annotations<'_>,
    problem: &mut impl FnMut(Option<usize>, String),
) -> Option<RuleEffect> {
    let verdict = annotations.get("verdict");
    match (effect, verdict) {
        (Effect::Permit, None) => {
            for key in REVIEW_ONLY {
                if let Some((_, offset)) = annotations.get(key) {
                    problem(
                        offset,
                        format!(
                            "`@{key}` only applies to forbid rules with `@verdict(\"review\")`"
                        ),
                    );
                }
            }
            Some(RuleEffect::Permit)
        }
        (Effect::Permit, Some((_, offset))) => {
            problem(
                offset,
                "a permit rule must not carry `@verdict`; only forbid rules deny or ask for review"
                    .to_owned(),
            );
            None
        }
        (Effect::Forbid, None) => {
            problem(
                annotations.policy_offset,
                "a forbid rule needs `@verdict(\"deny\")` or `@verdict(\"review\")`".to_owned(),
            );
            None
        }
        (Effect::Forbid, Some(("deny", _))) => {
            for key in REVIEW_ONLY {
                if let Some((_, offset)) = annotations.get(key) {
                    problem(
                        offset,
                        format!("`@{key}` only applies to rules with `@verdict(\"review\")`"),
                    );
                }
            }
            Some(RuleEffect::Deny)
        }
        (Effect::Forbid, Some(("review", _))) => Some(RuleEffect::Review),
        (Effect::Forbid, Some((other, offset))) => {
            problem(
                offset,
                format!("unknown verdict `{other}`; use `deny` or `review`"),
            );
            None
        }
    }
}

fn approval(
    annotations: &Annotations<'_>,
    problem: &mut impl FnMut(Option<usize>, String),
) -> Approval {
    let list = |key: &str| -> Vec<String> {
        annotations.get(key).map_or_else(Vec::new, |(v, _)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    };
    let mut flag = |key: &str| match annotations.get(key) {
        None | Some(("false", _)) => false,
        Some(("true", _)) => true,
        Some((other, offset)) => {
            problem(
                offset,
                format!("`@{key}` must be `true` or `false`, got `{other}`"),
            );
            false
        }
    };
    let allow_principal_of_agent = flag("allow_principal_of_agent");
    let require_reason = flag("require_reason");
    let quorum = match annotations.get("quorum") {
        None => 1,
        Some((value, offset)) => match value.parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => {
                problem(
                    offset,
                    format!("`@quorum` must be a positive integer, got `{value}`"),
                );
                1
            }
        },
    };
    Approval {
        users: list("approvers_users"),
        groups: list("approvers_groups"),
        quorum,
        allow_principal_of_agent,
        require_reason,
    }
}
