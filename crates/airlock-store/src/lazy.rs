//! [`LazyQueue`]: where events nobody is waiting for wait for the group commit without
//! waking the writer. Only the first event into an empty queue signals the writer (which then
//! lingers for company); the rest are a mutex push. Bounded: appenders wait for room when it
//! is full, as they do on the writer's channel.

use std::sync::{Mutex, MutexGuard};

use airlock_audit::AuditEvent;
use tokio::sync::{Notify, Semaphore, oneshot};

use crate::{Receipt, WriteError};

/// An event and where its receipt goes (nowhere for a detached event: nobody waits for it).
pub(crate) type Entry = (
    AuditEvent,
    Option<oneshot::Sender<Result<Receipt, WriteError>>>,
);

pub(crate) struct LazyQueue {
    state: Mutex<State>,
    /// One permit per free place.
    room: Semaphore,
    /// Signalled when the queue goes from empty to not empty.
    pub(crate) arrived: Notify,
}

struct State {
    entries: Vec<Entry>,
    closed: bool,
}

impl LazyQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                entries: Vec::new(),
                closed: false,
            }),
            room: Semaphore::new(capacity.clamp(1, Semaphore::MAX_PERMITS)),
            arrived: Notify::new(),
        }
    }

    /// Queues `entry`, waiting only while the queue is full; fails once the writer stopped.
    pub(crate) async fn push(&self, entry: Entry) -> Result<(), WriteError> {
        self.room
            .acquire()
            .await
            .map_err(|_| WriteError::Closed)?
            .forget();
        let first = {
            let mut state = self.lock();
            if state.closed {
                return Err(WriteError::Closed);
            }
            state.entries.push(entry);
            state.entries.len() == 1
        };
        if first {
            self.arrived.notify_one();
        }
        Ok(())
    }

    /// Moves everything queued to the end of `into`, making room for as many.
    pub(crate) fn take(&self, into: &mut Vec<Entry>) {
        let taken = {
            let mut state = self.lock();
            let taken = state.entries.len();
            into.append(&mut state.entries);
            taken
        };
        if taken > 0 {
            self.room.add_permits(taken);
        }
    }

    /// Refuses every later push; returns what is still queued.
    pub(crate) fn close(&self) -> Vec<Entry> {
        let mut state = self.lock();
        state.closed = true;
        self.room.close();
        std::mem::take(&mut state.entries)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for LazyQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("LazyQueue")
            .field("queued", &state.entries.len())
            .field("closed", &state.closed)
            .finish()
    }
}
