//! Why a transition was refused ([`Refusal`]), why a request could not be rebuilt from its
//! events ([`ReplayError`]), and why lifetimes are invalid ([`LifetimeError`]).

use airlock_model::{IdentityKind, Name, RuleId, TextHash};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Choice, RequestId};

/// A transition that is not allowed, explained for the human who tried it. Every variant is
/// caused by the caller (the voter, the requester or the statement being run), never by
/// airlock itself; the request is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("request {request} expired at {}", rfc3339(.at))]
    Expired {
        request: RequestId,
        at: OffsetDateTime,
    },
    #[error("request {request} is already approved; its grant waits to be used")]
    AlreadyApproved { request: RequestId },
    #[error("request {request} was denied by `{by}`")]
    Denied { request: RequestId, by: Name },
    #[error("request {request} was withdrawn by its requester")]
    Withdrawn { request: RequestId },
    #[error("the grant of request {request} was already used at {}", rfc3339(.at))]
    AlreadyUsed {
        request: RequestId,
        at: OffsetDateTime,
    },
    #[error("the grant of request {request} expired at {}", rfc3339(.at))]
    GrantExpired {
        request: RequestId,
        at: OffsetDateTime,
    },
    #[error("`{voter}` cannot {choice} their own request {request}")]
    OwnRequest {
        request: RequestId,
        voter: Name,
        choice: Choice,
    },
    #[error(
        "`{voter}` is {} {}, and only humans can approve or deny request {request}",
        article(*.kind),
        .kind.as_str()
    )]
    NotHuman {
        request: RequestId,
        voter: Name,
        kind: IdentityKind,
    },
    #[error(
        "`{voter}` cannot {choice} request {request} made by their agent `{agent}`: rule `{rule}` \
         does not allow an agent's principal to approve (`@allow_principal_of_agent`)"
    )]
    PrincipalOfAgent {
        request: RequestId,
        voter: Name,
        choice: Choice,
        agent: Name,
        rule: RuleId,
    },
    #[error(
        "`{voter}` is not an approver of request {request}: rule `{rule}` asks for {approvers}"
    )]
    NotAnApprover {
        request: RequestId,
        voter: Name,
        rule: RuleId,
        /// The rule's approvers in words, e.g. ``users `carol` or groups `dba` ``.
        approvers: String,
    },
    #[error("`{voter}` already approved request {request}")]
    AlreadyVoted { request: RequestId, voter: Name },
    #[error("rule `{rule}` requires a reason with every vote on request {request}")]
    ReasonRequired { request: RequestId, rule: RuleId },
    #[error("only the requester `{requester}` can withdraw request {request}, not `{who}`")]
    NotRequester {
        request: RequestId,
        requester: Name,
        who: Name,
    },
    #[error("request {request} is not approved yet ({approvals} of {quorum} approvals)")]
    NotApproved {
        request: RequestId,
        approvals: u32,
        quorum: u32,
    },
    #[error("the grant of request {request} is bound to {expected}, not {found}")]
    WrongIdentity {
        request: RequestId,
        /// The bound identity in words, e.g. ``agent `claude` acting for `alice` ``.
        expected: String,
        found: String,
    },
    #[error("the grant of request {request} is bound to connection `{expected}`, not `{found}`")]
    WrongConnection {
        request: RequestId,
        expected: Name,
        found: Name,
    },
    #[error(
        "the grant of request {request} is bound to the command with SHA-256 {expected}, not \
         {found}; a changed command needs a new approval"
    )]
    WrongText {
        request: RequestId,
        expected: TextHash,
        found: TextHash,
    },
}

/// Why events could not be replayed into a request: the log is incomplete, out of order,
/// mixes requests, or records a transition the rules do not produce. Fail closed: a request
/// that cannot be rebuilt grants nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("no events to replay")]
    Empty,
    #[error("the first event of a request must be `requested`, got `{found}`")]
    NotOpenedFirst { found: &'static str },
    #[error("event {index} opens request {request} a second time")]
    OpenedAgain { index: usize, request: RequestId },
    #[error("event {index} belongs to request {found}, not {expected}")]
    OtherRequest {
        index: usize,
        expected: RequestId,
        found: RequestId,
    },
    #[error("the `requested` event has invalid lifetimes: {0}")]
    Lifetime(#[from] LifetimeError),
    #[error("event {index} (`{event}`) is not an allowed transition: {refusal}")]
    Refused {
        index: usize,
        event: &'static str,
        refusal: Refusal,
    },
    #[error("event {index} (`{event}`) differs from what its recorded inputs produce")]
    Diverged { index: usize, event: &'static str },
}

/// Why a request or grant lifetime is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    #[error("the {what} lifetime must be at least 1 second, got {seconds}s")]
    TooShort { what: &'static str, seconds: i64 },
    #[error("the {what} lifetime must be at most {max}s, got {seconds}s")]
    TooLong {
        what: &'static str,
        seconds: i64,
        max: i64,
    },
}

impl Refusal {
    /// A stable snake_case code for APIs and chat integrations.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired { .. } => "expired",
            Self::AlreadyApproved { .. } => "already_approved",
            Self::Denied { .. } => "denied",
            Self::Withdrawn { .. } => "withdrawn",
            Self::AlreadyUsed { .. } => "already_used",
            Self::GrantExpired { .. } => "grant_expired",
            Self::OwnRequest { .. } => "own_request",
            Self::NotHuman { .. } => "not_human",
            Self::PrincipalOfAgent { .. } => "principal_of_agent",
            Self::NotAnApprover { .. } => "not_an_approver",
            Self::AlreadyVoted { .. } => "already_voted",
            Self::ReasonRequired { .. } => "reason_required",
            Self::NotRequester { .. } => "not_requester",
            Self::NotApproved { .. } => "not_approved",
            Self::WrongIdentity { .. } => "wrong_identity",
            Self::WrongConnection { .. } => "wrong_connection",
            Self::WrongText { .. } => "wrong_text",
        }
    }
}

/// A time as RFC 3339 (`2026-05-01T12:00:00Z`), or the `time` crate's own form if it cannot
/// be (a year outside 0..=9999).
pub(crate) fn rfc3339(at: &OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn article(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::Human => "a",
        IdentityKind::Agent => "an",
        IdentityKind::Service => "a",
    }
}
