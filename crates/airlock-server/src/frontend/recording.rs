//! How a judged statement is recorded and admitted: what runs is recorded as its durability
//! requires (a write's intent durable before it can commit, a read within the read window);
//! what is denied or cannot be recorded is replaced by a stand-in that fails in its place.

use airlock_approval::RequestId;
use airlock_audit::DecisionRecord;
use airlock_config::Durability;
use airlock_pg::encode_frame;
use airlock_policy::Judgement;
use tokio::io::AsyncWrite;
use tokio::time::Instant;

use super::{Admit, Frontend, protocol};
use crate::denial;
use crate::error::SessionError;
use crate::inflight::{Exec, Item, Recording};
use crate::record;

impl Frontend<'_> {
    /// The decision record of the session's next statement (numbered from 1).
    pub(super) fn record_for(
        &mut self,
        text: &str,
        judgement: &Judgement,
        simple: bool,
    ) -> DecisionRecord {
        self.statements_decided += 1;
        sql_into(text, &mut self.command.text);
        self.command.protocol = protocol(simple);
        let mut record = DecisionRecord::new(&self.command, &judgement.decision);
        record.session = Some(self.shared.session);
        record.statement = Some(self.statements_decided);
        record
    }

    /// Records a statement that may run (allowed, or approved under request `approval`) as
    /// its durability requires, and queues its bookkeeping: `Forward` means the caller
    /// forwards the message; `Replaced` means it could not be recorded and fails instead.
    pub(super) async fn execute<W: AsyncWrite + Unpin>(
        &mut self,
        text: &str,
        judgement: &Judgement,
        simple: bool,
        approval: Option<RequestId>,
        upstream: &mut W,
    ) -> Result<Admit, SessionError> {
        if !self.state.audit.is_healthy() {
            self.refuse_unrecorded(simple, "the audit store is failing");
            return Ok(Admit::Replaced);
        }
        let effect = judgement.effect;
        let in_block = self.in_transaction_block();
        let barrier = effect.transaction_control || (effect.writes && !in_block);
        let record_now = (effect.writes && (!in_block || effect.transaction_control))
            || (!effect.writes && self.state.durability == Durability::Strict);
        let mut record = self.record_for(text, judgement, simple);
        record.approval = approval;
        let statement = self.statements_decided;
        if barrier || record_now {
            self.flush(upstream).await.map_err(SessionError::from)?;
        }
        let mut waited = Ok(());
        if barrier {
            waited = self.barrier().await;
        }
        let recording = if record_now && waited.is_ok() {
            match self.state.audit.enqueue(record::decision(record)).await {
                Ok(receipt) => waited = receipt.wait().await.map(|_| ()),
                Err(error) => waited = Err(error),
            }
            Recording::Submitted
        } else {
            Recording::Deferred {
                record: Box::new(record),
                deadline: Instant::now() + self.state.read_window.saturating_sub(self.state.linger),
            }
        };
        if let Err(error) = waited {
            tracing::error!(%error, session = %self.shared.session, "audit record not durable; statement refused");
            self.refuse_unrecorded(simple, "its audit record could not be stored");
            return Ok(Admit::Replaced);
        }
        if effect.transaction_control {
            self.barrier_ready = self.ready_expected + u64::from(!simple);
        }
        self.shared.lock().items.push_back(Item::Exec(Exec {
            simple,
            statement,
            writes: effect.writes,
            started: Instant::now(),
            recording,
            rows: None,
            bytes: 0,
            sqlstate: None,
        }));
        Ok(Admit::Forward)
    }

    /// Everything recorded so far in the session becomes durable (deferred records are
    /// submitted now, then every unconfirmed write receipt is awaited).
    pub(super) async fn barrier(&mut self) -> Result<(), airlock_store::WriteError> {
        let (records, mut receipts) = {
            let mut inflight = self.shared.lock();
            let records = inflight.take_deferred(None);
            (records, std::mem::take(&mut inflight.unconfirmed))
        };
        if records.is_empty() && receipts.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let count = records.len() + receipts.len();
        receipts.extend(record::submit_all(&self.state.audit, records).await?);
        for receipt in receipts {
            receipt.wait().await?;
        }
        tracing::trace!(
            records = count,
            waited_us = started.elapsed().as_micros(),
            "audit barrier"
        );
        Ok(())
    }

    /// Whether the server is inside a transaction block, as far as the gateway can be sure:
    /// when unsure, it answers `false` (the stricter recording).
    pub(super) fn in_transaction_block(&self) -> bool {
        matches!(self.shared.status(), b'T' | b'E')
            && self.shared.ready_seen() >= self.barrier_ready
    }

    /// Records a denial and puts the failing stand-in statement in the message's place.
    pub(super) async fn deny(
        &mut self,
        text: &str,
        judgement: &Judgement,
        error: Vec<u8>,
        simple: bool,
    ) -> Result<(), SessionError> {
        let record = self.record_for(text, judgement, simple);
        self.record_not_run(record).await;
        self.substitute(error, simple);
        Ok(())
    }

    /// Records a statement that does not run (nothing waits for the record).
    pub(super) async fn record_not_run(&self, mut record: DecisionRecord) {
        record.outcome = Some(airlock_audit::Outcome::NotRun);
        if let Err(write) = self
            .state
            .audit
            .enqueue_detached(record::decision(record))
            .await
        {
            tracing::error!(error = %write, "audit record of a statement that did not run not stored");
        }
    }

    /// Refuses a statement that cannot be recorded (fail closed): nothing runs.
    pub(super) fn refuse_unrecorded(&mut self, simple: bool, why: &str) {
        self.substitute(denial::audit_error(why), simple);
    }

    pub(super) fn substitute(&mut self, error: Vec<u8>, simple: bool) {
        if simple {
            encode_frame(&mut self.out, b'Q', denial::STAND_IN_QUERY);
        } else {
            encode_frame(&mut self.out, b'P', denial::STAND_IN_PARSE);
            self.skipping = true;
        }
        self.shared
            .lock()
            .items
            .push_back(Item::Denied { error, simple });
    }

    pub(super) fn push_untracked(&mut self) {
        self.shared.lock().items.push_back(Item::Exec(Exec {
            simple: false,
            statement: 0,
            writes: false,
            started: Instant::now(),
            recording: Recording::Untracked,
            rows: None,
            bytes: 0,
            sqlstate: None,
        }));
    }
}

fn sql_into(text: &str, target: &mut String) {
    if target != text {
        text.clone_into(target);
    }
}
