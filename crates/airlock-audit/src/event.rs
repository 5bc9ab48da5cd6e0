//! What the audit log records: [`AuditEvent`] = a time plus an [`EventKind`] (a closed set:
//! sessions opening and closing, decisions, execution outcomes, and every step of an approval
//! request).

use airlock_model::{
    Command, Decision, Identity, Name, Protocol, RuleId, SessionId, TextHash, Verdict,
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

/// One thing that happened, before it is sealed into the chain. The time is passed in by the
/// caller (this crate never reads a clock) and is recorded in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub kind: EventKind,
}

/// The closed set of recorded events, tagged by `type` in the encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A client session was authenticated and connected upstream.
    SessionOpened(SessionRecord),
    /// A client session ended.
    SessionClosed(SessionEnd),
    /// A command was decided (intent, recorded before anything runs).
    Decision(DecisionRecord),
    /// What happened when a decided command ran (or did not), when it was not known in time to
    /// be part of the decision record.
    Outcome(OutcomeRecord),
    /// A step of an approval request (requested, notified, approved, denied, withdrawn,
    /// expired, executed), tagged by `event` beside `type`; a request's approval events, in
    /// order, rebuild it.
    Approval(airlock_approval::Event),
}

/// Who connected, from where, to what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session: SessionId,
    pub identity: Identity,
    pub connection: Name,
    /// The client's address (`ip:port`).
    pub client: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_name: Option<String>,
    /// Whether the client leg was encrypted.
    pub tls: bool,
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    pub session: SessionId,
    pub identity: Identity,
    pub connection: Name,
    /// Commands decided in the session.
    pub statements: u64,
    /// `client closed`, `upstream closed: …`, `shutdown`, a protocol error…
    pub reason: String,
}

/// Who asked for what, where, and what the policy said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Who; for an agent, `acting_for` names the human it acts for.
    pub identity: Identity,
    pub connection: Name,
    pub protocol: Protocol,
    /// The session and the command's number in it (absent for dry runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<u64>,
    /// The exact command text.
    pub text: String,
    /// SHA-256 of `text`, the value approvals bind to.
    pub text_sha256: TextHash,
    pub verdict: Verdict,
    /// The ids of the rules that produced the decision, most severe first.
    pub rules: Vec<RuleId>,
    /// The decision's reason in words (empty for a plain allow).
    pub reason: String,
    /// Known when the command never runs (a deny), or when it finished before its record was
    /// written (reads are recorded with their outcome when they end within the read window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// For a reviewed command: the approval request it ran under (its grant was used) or
    /// that it waited for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<airlock_approval::RequestId>,
}

/// The outcome of the command `statement` of `session`, whose decision was recorded before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub session: SessionId,
    pub statement: u64,
    pub identity: Identity,
    pub connection: Name,
    pub outcome: Outcome,
}

/// How a decided command ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Denied, withdrawn, expired or cancelled before running.
    NotRun,
    Succeeded {
        /// Rows returned or affected, as the server reported them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rows: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_us: Option<u64>,
        /// Bytes of results sent to the client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<u64>,
    },
    /// The upstream refused or failed. `error` says how in airlock's words (never the server's
    /// message, which can quote row data); `sqlstate` is the server's code when it sent one.
    Failed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sqlstate: Option<String>,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_us: Option<u64>,
    },
}

impl AuditEvent {
    /// An event at `time`, normalised to UTC.
    pub fn new(time: OffsetDateTime, kind: EventKind) -> Self {
        Self {
            time: time.to_offset(UtcOffset::UTC),
            kind,
        }
    }

    /// The decision on `command`. A deny is recorded with the outcome `not_run`.
    pub fn decision(time: OffsetDateTime, command: &Command, decision: &Decision) -> Self {
        Self::new(
            time,
            EventKind::Decision(DecisionRecord::new(command, decision)),
        )
    }

    /// The step of an approval request, at the time it happened.
    pub fn approval(event: airlock_approval::Event) -> Self {
        Self::new(event.at(), EventKind::Approval(event))
    }

    /// Who acted: the session's or command's identity, the requester, voter or withdrawer of
    /// an approval event. `None` for approval steps no identity took (an expiry, a notice, an
    /// execution, whose [`Binding`](airlock_approval::Binding) names the requester).
    pub fn identity(&self) -> Option<&Identity> {
        match &self.kind {
            EventKind::SessionOpened(record) => Some(&record.identity),
            EventKind::SessionClosed(record) => Some(&record.identity),
            EventKind::Decision(record) => Some(&record.identity),
            EventKind::Outcome(record) => Some(&record.identity),
            EventKind::Approval(event) => crate::approval::actor(event),
        }
    }

    /// Whether `principal` is named by the event: its identity or, for an agent, the human it
    /// acts for; for an approval event, any identity it records (requester, voter, withdrawer,
    /// the binding of a grant). An expiry or a notice names no one.
    pub fn involves(&self, principal: &str) -> bool {
        match &self.kind {
            EventKind::Approval(event) => crate::approval::involves(event, principal),
            EventKind::SessionOpened(_)
            | EventKind::SessionClosed(_)
            | EventKind::Decision(_)
            | EventKind::Outcome(_) => self
                .identity()
                .is_some_and(|identity| crate::approval::names(identity, principal)),
        }
    }

    /// The approval request the event belongs to, if it is an approval event.
    pub fn approval_request(&self) -> Option<airlock_approval::RequestId> {
        match &self.kind {
            EventKind::Approval(event) => Some(event.request()),
            EventKind::SessionOpened(_)
            | EventKind::SessionClosed(_)
            | EventKind::Decision(_)
            | EventKind::Outcome(_) => None,
        }
    }
}

impl EventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::SessionOpened(_) => "session_opened",
            Self::SessionClosed(_) => "session_closed",
            Self::Decision(_) => "decision",
            Self::Outcome(_) => "outcome",
            Self::Approval(_) => "approval",
        }
    }
}

impl DecisionRecord {
    pub fn new(command: &Command, decision: &Decision) -> Self {
        let outcome = match decision.verdict {
            Verdict::Deny => Some(Outcome::NotRun),
            Verdict::Allow | Verdict::Review => None,
        };
        Self {
            identity: command.identity.clone(),
            connection: command.connection.name.clone(),
            protocol: command.protocol,
            session: None,
            statement: None,
            text: command.text.clone(),
            text_sha256: command.text_hash(),
            verdict: decision.verdict,
            rules: decision.rules.iter().map(|m| m.rule.clone()).collect(),
            reason: decision.reason(),
            outcome,
            approval: None,
        }
    }
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotRun => "not_run",
            Self::Succeeded { .. } => "succeeded",
            Self::Failed { .. } => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::decision_event;

    #[test]
    fn a_decision_records_who_what_and_why() {
        let event = decision_event("DROP TABLE users");
        let EventKind::Decision(record) = &event.kind else {
            panic!("{event:?}")
        };
        assert_eq!(record.text_sha256, TextHash::of("DROP TABLE users"));
        assert_eq!(
            (record.verdict, record.reason.as_str()),
            (Verdict::Deny, "denied in tests")
        );
        assert_eq!(
            record.rules.iter().map(Name::as_str).collect::<Vec<_>>(),
            ["test"]
        );
        assert_eq!(record.outcome, Some(Outcome::NotRun));
        assert_eq!(record.protocol, Protocol::PgSimple);
    }

    #[test]
    fn involves_the_identity_and_the_human_an_agent_acts_for() {
        let event = decision_event("SELECT 1");
        assert!(event.involves("deploy-bot"));
        assert!(event.involves("alice@example.com"));
        assert!(!event.involves("bob"));
    }
}
