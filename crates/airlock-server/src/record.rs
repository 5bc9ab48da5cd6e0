//! Audit records of a session: its opening and closing, each statement's decision, and the
//! outcomes of statements whose decisions went in before they ended.

use airlock_audit::{
    AuditEvent, DecisionRecord, EventKind, OutcomeRecord, SessionEnd, SessionRecord,
};
use airlock_store::{AuditWriter, PendingReceipt, WriteError};
use time::OffsetDateTime;

use crate::inflight::{Finished, Recording, Shared};

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn decision(record: DecisionRecord) -> AuditEvent {
    AuditEvent::new(now(), EventKind::Decision(record))
}

pub fn opened(record: SessionRecord) -> AuditEvent {
    AuditEvent::new(now(), EventKind::SessionOpened(record))
}

pub fn closed(shared: &Shared, statements: u64, reason: String) -> AuditEvent {
    AuditEvent::new(
        now(),
        EventKind::SessionClosed(SessionEnd {
            session: shared.session,
            identity: shared.identity.clone(),
            connection: shared.connection.clone(),
            statements,
            reason,
        }),
    )
}

/// Records finished statements: a deferred decision goes in with its outcome (one event), a
/// submitted one gets an outcome event. Receipts of writes are kept for the next barrier.
pub async fn finished(
    audit: &AuditWriter,
    shared: &Shared,
    done: Vec<Finished>,
) -> Result<(), WriteError> {
    for finished in done {
        let event = match finished.recording {
            Recording::Untracked => continue,
            Recording::Deferred { mut record, .. } => {
                record.outcome = Some(finished.outcome);
                decision(*record)
            }
            Recording::Submitted => AuditEvent::new(
                now(),
                EventKind::Outcome(OutcomeRecord {
                    session: shared.session,
                    statement: finished.statement,
                    identity: shared.identity.clone(),
                    connection: shared.connection.clone(),
                    outcome: finished.outcome,
                }),
            ),
        };
        let receipt = audit.enqueue(event).await?;
        if finished.writes {
            shared.lock().unconfirmed.push(receipt);
        }
    }
    Ok(())
}

/// Submits decisions (without outcomes) and returns their receipts.
pub async fn submit_all(
    audit: &AuditWriter,
    records: Vec<DecisionRecord>,
) -> Result<Vec<PendingReceipt>, WriteError> {
    let mut receipts = Vec::with_capacity(records.len());
    for record in records {
        receipts.push(audit.enqueue(decision(record)).await?);
    }
    Ok(receipts)
}
