use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Name;

/// The outcome class of a decision, ordered by severity: `Allow < Review < Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Review,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Review => "review",
            Self::Deny => "deny",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable id of a policy rule (its `@id` annotation), e.g. `pg-drop`.
pub type RuleId = Name;

/// Who must approve a reviewed command, from the rule's annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub quorum: u32,
    /// Whether the human an agent acts for may approve the agent's request.
    pub allow_principal_of_agent: bool,
    pub require_reason: bool,
}

/// One rule that contributed to a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMatch {
    pub rule: RuleId,
    pub verdict: Verdict,
    /// Why the rule matched, in words for the caller (the rule's `@message`).
    pub message: String,
    /// What would be allowed instead, when the rule says so (`@hint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Which statement of the input triggered it (0-based, in flattened order), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

/// The result of deciding a command: data, never an error. An internal failure is a deny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The rules that produced the verdict, most severe first. Empty for a plain allow.
    pub rules: Vec<RuleMatch>,
}

impl Decision {
    pub fn allow() -> Self {
        Self {
            verdict: Verdict::Allow,
            rules: Vec::new(),
        }
    }

    /// A fail-closed deny produced by airlock itself (not a policy rule).
    pub fn internal_deny(rule: &str, message: impl Into<String>) -> Self {
        let rule = Name::new(rule).unwrap_or_else(|_| Name::trusted("internal"));
        let matched = RuleMatch {
            rule,
            verdict: Verdict::Deny,
            message: message.into(),
            hint: None,
            statement: None,
            approval: None,
        };
        Self {
            verdict: Verdict::Deny,
            rules: vec![matched],
        }
    }

    /// Combines matches: the verdict is the most severe one; rules are listed most severe first.
    pub fn from_matches(mut rules: Vec<RuleMatch>) -> Self {
        rules.sort_by_key(|r| std::cmp::Reverse(r.verdict));
        let verdict = rules.first().map_or(Verdict::Allow, |r| r.verdict);
        rules.retain(|r| r.verdict == verdict || verdict != Verdict::Allow);
        Self { verdict, rules }
    }

    /// The rules that set the verdict (same severity as the verdict).
    pub fn deciding_rules(&self) -> impl Iterator<Item = &RuleMatch> {
        self.rules.iter().filter(move |r| r.verdict == self.verdict)
    }

    /// One line for the caller: the deciding rules' messages, joined.
    pub fn reason(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for rule in self.deciding_rules() {
            if !seen.contains(&rule.message.as_str()) {
                seen.push(&rule.message);
            }
        }
        seen.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(rule: &str, verdict: Verdict, message: &str) -> RuleMatch {
        RuleMatch {
            rule: Name::new(rule).unwrap(),
            verdict,
            message: message.into(),
            hint: None,
            statement: None,
            approval: None,
        }
    }

    #[test]
    fn most_severe_wins_and_is_listed_first() {
        let d = Decision::from_matches(vec![
            matched("a", Verdict::Review, "needs review"),
            matched("b", Verdict::Deny, "drops a table"),
        ]);
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(d.rules[0].rule.as_str(), "b");
        assert_eq!(d.reason(), "drops a table");
        assert_eq!(Decision::from_matches(vec![]).verdict, Verdict::Allow);
    }

    #[test]
    fn internal_deny_is_a_deny_with_a_reason() {
        let d = Decision::internal_deny("policy-error", "policy failed");
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(d.reason(), "policy failed");
    }
}
