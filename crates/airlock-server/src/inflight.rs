//! What the session has sent upstream and not yet seen answered, shared by the two halves of
//! a session: the client half pushes an item before forwarding a message that the server will
//! answer; the upstream half pops items as answers arrive, so every answer is matched to its
//! request — including the errors airlock substitutes for denied statements.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use airlock_audit::{DecisionRecord, Outcome};
use airlock_model::{Identity, Name, SessionId};
use airlock_store::PendingReceipt;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// State both halves of a session read and write.
#[derive(Debug)]
pub struct Shared {
    pub session: SessionId,
    pub identity: Identity,
    pub connection: Name,
    pub inflight: Mutex<Inflight>,
    /// Transaction status of the last ReadyForQuery (`I`, `T` or `E`).
    pub status: AtomicU8,
    /// ReadyForQuery messages seen from the upstream.
    pub ready_seen: AtomicU64,
    /// The server's `standard_conforming_strings` (it changes how the SQL must be parsed).
    pub standard_strings: AtomicBool,
    /// Wakes the client half when the upstream half has ended.
    pub upstream_gone: Notify,
    /// Wakes the upstream half when the client half has ended (with `fatal` to send, if any).
    pub client_gone: Notify,
    pub fatal: Mutex<Option<Vec<u8>>>,
    /// Messages for the client from the client half (an approval NOTICE), written by the
    /// upstream half between whole messages.
    notices: Mutex<Vec<u8>>,
    pub notice_ready: Notify,
    /// Counts the client's CancelRequests; a held statement watches it to withdraw.
    pub cancels: Arc<watch::Sender<u64>>,
}

/// The queue of unanswered requests and the write records not yet known to be durable.
#[derive(Debug, Default)]
pub struct Inflight {
    pub items: VecDeque<Item>,
    /// Receipts of write records submitted without waiting (inside a transaction block);
    /// awaited before the next COMMIT is forwarded.
    pub unconfirmed: Vec<PendingReceipt>,
}

#[derive(Debug)]
pub enum Item {
    /// A statement that runs: a simple Query (answered up to ReadyForQuery) or an Execute.
    Exec(Exec),
    /// A Parse (answered by ParseComplete or an error).
    Parse,
    /// A denied statement, replaced upstream by one that fails with a syntax error so that the
    /// server itself aborts the transaction; its error is swapped for `error`.
    Denied { error: Vec<u8>, simple: bool },
    /// A Sync (answered by ReadyForQuery).
    Sync,
}

#[derive(Debug)]
pub struct Exec {
    pub simple: bool,
    pub statement: u64,
    pub writes: bool,
    pub started: Instant,
    pub recording: Recording,
    pub rows: Option<u64>,
    pub bytes: u64,
    pub sqlstate: Option<String>,
}

/// Where a statement's audit record is.
#[derive(Debug)]
pub enum Recording {
    /// Not yet submitted: it goes in with its outcome when the statement ends, or alone at
    /// `deadline` (the read window) or at the next transaction barrier, whichever is first.
    Deferred {
        record: Box<DecisionRecord>,
        deadline: Instant,
    },
    /// The decision is in the log; the outcome gets its own event.
    Submitted,
    /// Nothing to record (an Execute of a portal airlock did not see created).
    Untracked,
}

/// A statement that ended, to be recorded.
#[derive(Debug)]
pub struct Finished {
    pub statement: u64,
    pub writes: bool,
    pub recording: Recording,
    pub outcome: Outcome,
}

impl Shared {
    pub fn new(session: SessionId, identity: Identity, connection: Name, strings: bool) -> Self {
        Self {
            session,
            identity,
            connection,
            inflight: Mutex::new(Inflight::default()),
            status: AtomicU8::new(b'I'),
            ready_seen: AtomicU64::new(0),
            standard_strings: AtomicBool::new(strings),
            upstream_gone: Notify::new(),
            client_gone: Notify::new(),
            fatal: Mutex::new(None),
            notices: Mutex::new(Vec::new()),
            notice_ready: Notify::new(),
            cancels: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Queues a message for the client, sent by the upstream half between whole messages.
    pub fn send_to_client(&self, message: &[u8]) {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(message);
        self.notice_ready.notify_one();
    }

    /// The queued messages for the client.
    pub fn take_notices(&self) -> Vec<u8> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inflight> {
        self.inflight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn status(&self) -> u8 {
        self.status.load(Ordering::Acquire)
    }

    pub fn ready_seen(&self) -> u64 {
        self.ready_seen.load(Ordering::Acquire)
    }

    /// Ends the session from the client half, with a FATAL error for the client if given.
    pub fn close_client(&self, fatal: Option<Vec<u8>>) {
        if let Some(bytes) = fatal {
            *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(bytes);
        }
        self.client_gone.notify_one();
    }

    pub fn take_fatal(&self) -> Option<Vec<u8>> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Inflight {
    /// The earliest read-window deadline of a deferred record.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Exec(Exec {
                    recording: Recording::Deferred { deadline, .. },
                    ..
                }) => Some(*deadline),
                _ => None,
            })
            .min()
    }

    /// Takes the deferred records due by `now` (all of them with `None`), marking them
    /// submitted: their outcomes will be recorded separately. Each comes with whether the
    /// statement writes.
    pub fn take_deferred(&mut self, now: Option<Instant>) -> Vec<(DecisionRecord, bool)> {
        let mut due = Vec::new();
        for item in &mut self.items {
            let Item::Exec(exec) = item else { continue };
            let ready = match &exec.recording {
                Recording::Deferred { deadline, .. } => now.is_none_or(|now| *deadline <= now),
                Recording::Submitted | Recording::Untracked => false,
            };
            if ready {
                let taken = std::mem::replace(&mut exec.recording, Recording::Submitted);
                if let Recording::Deferred { record, .. } = taken {
                    due.push((*record, exec.writes));
                }
            }
        }
        due
    }

    /// Ends every statement still waiting for an answer (the session is over).
    pub fn abandon(&mut self) -> Vec<Finished> {
        let mut done = Vec::new();
        for item in self.items.drain(..) {
            if let Item::Exec(exec) = item {
                let mut finished = exec.skipped();
                finished.outcome = Outcome::Failed {
                    sqlstate: None,
                    error: "the session ended before the statement's result was complete".into(),
                    duration_us: None,
                };
                done.push(finished);
            }
        }
        done
    }

    pub fn is_idle(&self) -> bool {
        self.items.is_empty()
    }
}

impl Exec {
    /// Ends the statement with what the server reported.
    pub fn finish(self, now: Instant) -> Finished {
        let duration_us = u64::try_from(now.duration_since(self.started).as_micros()).ok();
        let outcome = match self.sqlstate {
            Some(code) => Outcome::Failed {
                sqlstate: Some(code),
                error: "the server returned an error".into(),
                duration_us,
            },
            None => Outcome::Succeeded {
                rows: self.rows,
                duration_us,
                bytes: Some(self.bytes),
            },
        };
        Finished {
            statement: self.statement,
            writes: self.writes,
            recording: self.recording,
            outcome,
        }
    }

    /// Ends a statement the server skipped (an earlier message of its pipeline failed).
    pub fn skipped(self) -> Finished {
        Finished {
            statement: self.statement,
            writes: self.writes,
            recording: self.recording,
            outcome: Outcome::NotRun,
        }
    }
}
