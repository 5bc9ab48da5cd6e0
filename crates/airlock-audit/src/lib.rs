//! The tamper-evident audit log, without I/O: what an [`AuditEvent`] records, its canonical
//! encoding, the SHA-256 hash [`Chain`] that links every event to the previous one, Ed25519
//! signed [`Checkpoint`]s of the chain head, and [`verify`], which names the first event that
//! was edited, deleted, reordered or truncated away. Stores live in `airlock-store`.
#![forbid(unsafe_code)]

mod approval;
mod body;
mod chain;
mod checkpoint;
mod event;
mod hash;
mod summary;
mod verify;

pub use chain::{
    Chain, ChainHead, DecodeError, FORMAT_VERSION, Record, SealError, SealedEvent, StoredRow,
    encode_body,
};
pub use checkpoint::{
    AuditKey, CHECKPOINT_DOMAIN, Checkpoint, CheckpointFault, KeyError, KeyId, PublicKey,
    StoredCheckpoint,
};
pub use event::{
    AuditEvent, DecisionRecord, EventKind, Outcome, OutcomeRecord, SessionEnd, SessionRecord,
};
pub use hash::{ChainHash, EVENT_DOMAIN};
pub use summary::one_line;
pub use verify::{Edit, Problem, Report, Verifier, verify};

#[cfg(test)]
pub(crate) mod testing {
    use airlock_approval::{Lifetimes, NewRequest, Request, RequestContext, RequestId, Transition};
    use airlock_model::{
        Approval, Command, Connection, ConnectionKind, Decision, Identity, IdentityKind, Name,
        Protocol,
    };
    use time::OffsetDateTime;

    use crate::{AuditEvent, AuditKey};

    pub fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
    }

    pub fn key(n: u8) -> AuditKey {
        AuditKey::from_seed([n; 32])
    }

    pub fn human(id: &str) -> Identity {
        Identity::human(Name::new(id).unwrap())
    }

    /// A pending request by an agent on `prod-db` that any other human may approve.
    pub fn approval_request() -> Transition {
        let new = NewRequest {
            id: RequestId::from_bytes([7; 16]),
            requester: agent(),
            connection: Name::new("prod-db").unwrap(),
            text: "DELETE FROM orders".into(),
            context: RequestContext {
                rule: Name::new("pg-review").unwrap(),
                message: "deletes need review".into(),
                statement_kinds: Vec::new(),
                objects: Vec::new(),
                estimated_rows: None,
            },
            approval: Approval {
                users: Vec::new(),
                groups: Vec::new(),
                quorum: 1,
                allow_principal_of_agent: false,
                require_reason: false,
            },
        };
        Request::open(new, Lifetimes::default(), t0())
    }

    fn agent() -> Identity {
        Identity {
            kind: IdentityKind::Agent,
            id: Name::new("deploy-bot").unwrap(),
            groups: Default::default(),
            acting_for: Some(Name::new("alice@example.com").unwrap()),
        }
    }

    pub fn decision_event(text: &str) -> AuditEvent {
        let identity = agent();
        let connection = Connection {
            name: Name::new("prod-db").unwrap(),
            kind: ConnectionKind::Postgres,
            environments: Default::default(),
        };
        let command = Command {
            identity,
            connection,
            protocol: Protocol::PgSimple,
            text: text.into(),
        };
        AuditEvent::decision(
            t0(),
            &command,
            &Decision::internal_deny("test", "denied in tests"),
        )
    }
}
