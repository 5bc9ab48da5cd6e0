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
        // Only a write's decision (its intent) must be durable by the next barrier; an
        // outcome event never has to be.
        let mut intent = false;
        let event = match finished.recording {
            Recording::Untracked => continue,
            Recording::Deferred { mut record, .. } => {
                intent = finished.writes;
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
        if intent {
            let receipt = audit.enqueue_lazy(event).await?;
            shared.lock().unconfirmed.push(receipt);
        } else {
            audit.enqueue_detached(event).await?;
        }
    }
    Ok(())
}

/// Submits decisions (without outcomes) whose read window passed; the receipts of writes are
/// kept for the next barrier.
pub async fn submit_due(
    audit: &AuditWriter,
    shared: &Shared,
    records: Vec<(DecisionRecord, bool)>,
) -> Result<(), WriteError> {
    for (record, writes) in records {
        if writes {
            let receipt = audit.enqueue_lazy(decision(record)).await?;
            shared.lock().unconfirmed.push(receipt);
        } else {
            audit.enqueue_detached(decision(record)).await?;
        }
    }
    Ok(())
}

/// Submits decisions (without outcomes) for a barrier, asks the writer to commit now, and
/// returns the receipts to await.
pub async fn submit_all(
    audit: &AuditWriter,
    records: Vec<(DecisionRecord, bool)>,
) -> Result<Vec<PendingReceipt>, WriteError> {
    let mut receipts = Vec::with_capacity(records.len());
    for (record, _) in records {
        receipts.push(audit.enqueue_lazy(decision(record)).await?);
    }
    audit.flush().await?;
    Ok(receipts)
}
