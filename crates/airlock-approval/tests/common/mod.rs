//! Shared fixtures: people, a reviewed `DROP TABLE` on `prod`, fixed times.
#![allow(dead_code, clippy::unwrap_used)]

use airlock_approval::{
    Ballot, Binding, Channel, Choice, Lifetimes, NewRequest, Refusal, Request, RequestContext,
    RequestId, Transition,
};
use airlock_model::{
    Access, Approval, Identity, IdentityKind, Name, ObjectRef, StatementKind, TextHash,
};
use time::{Duration, OffsetDateTime};

pub const TEXT: &str = "DROP TABLE orders";

pub fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

pub fn human(id: &str, groups: &[&str]) -> Identity {
    Identity::human(name(id)).with_groups(groups.iter().map(|g| name(g)))
}

pub fn agent(id: &str, acting_for: Option<&str>, groups: &[&str]) -> Identity {
    Identity {
        kind: IdentityKind::Agent,
        acting_for: acting_for.map(name),
        ..human(id, groups)
    }
}

pub fn service(id: &str, groups: &[&str]) -> Identity {
    Identity {
        kind: IdentityKind::Service,
        ..human(id, groups)
    }
}

/// 2026-05-28T20:26:40Z.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap()
}

pub fn at(minutes: i64) -> OffsetDateTime {
    t0() + Duration::minutes(minutes)
}

pub fn approval(users: &[&str], groups: &[&str], quorum: u32) -> Approval {
    Approval {
        users: users.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        quorum,
        allow_principal_of_agent: false,
        require_reason: false,
    }
}

pub fn id() -> RequestId {
    RequestId::from_bytes([0x5a; 16])
}

/// Request lifetime 60 minutes, grant lifetime 15 minutes.
pub fn lifetimes() -> Lifetimes {
    Lifetimes::new(Duration::HOUR, Duration::minutes(15)).unwrap()
}

pub fn new_request(requester: Identity, approval: Approval) -> NewRequest {
    NewRequest {
        id: id(),
        requester,
        connection: name("prod"),
        text: TEXT.to_owned(),
        context: RequestContext {
            rule: name("pg-drop"),
            message: "this statement drops the table orders".to_owned(),
            statement_kinds: vec![StatementKind::Drop],
            objects: vec![ObjectRef {
                name: "orders".to_owned(),
                access: Access::Drop,
            }],
            estimated_rows: Some(1200),
        },
        approval,
    }
}

/// A request by `requester` opened at `t0()`.
pub fn open_by(requester: Identity, approval: Approval) -> Transition {
    Request::open(new_request(requester, approval), lifetimes(), t0())
}

/// A request by alice (group `dev`) opened at `t0()`.
pub fn open(approval: Approval) -> Transition {
    open_by(human("alice", &["dev"]), approval)
}

pub fn ballot(voter: Identity, choice: Choice, reason: Option<&str>) -> Ballot {
    Ballot {
        voter,
        choice,
        channel: Channel::Web,
        reason: reason.map(str::to_owned),
    }
}

pub fn approve(request: &Request, voter: Identity, minute: i64) -> Result<Transition, Refusal> {
    request.vote(ballot(voter, Choice::Approve, None), at(minute))
}

/// What alice runs on `prod` with `TEXT`.
pub fn alice_runs(connection: &str, text: &str) -> Binding {
    Binding::new(
        &human("alice", &["dev"]),
        name(connection),
        TextHash::of(text),
    )
}

/// Records every step's event while walking a scenario.
#[derive(Debug, Default)]
pub struct Log(pub Vec<airlock_approval::Event>);

impl Log {
    pub fn keep(&mut self, step: Transition) -> Request {
        self.0.push(step.event);
        step.request
    }
}
