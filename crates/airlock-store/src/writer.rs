//! [`AuditWriter`]: group commit. Callers send events through a bounded channel (or, for
//! events nobody waits for, the [`LazyQueue`], which does not wake the writer for each); one
//! task seals whatever is queued (up to `max_batch`) into the chain, stores it in one durable
//! transaction, and only then answers each caller with its [`Receipt`]. A failed write answers
//! every caller of the batch with the error (fail closed) and resynchronises the chain from
//! the store. Checkpoints are signed every `checkpoint_every` events, every
//! `checkpoint_interval` if there are unsigned events, on request, and on close.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use airlock_audit::{AuditEvent, AuditKey, ChainHash, ChainHead};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::lazy::LazyQueue;
use crate::{AuditStore, StoreError, WriteError};

mod task;

use task::Task;

/// Tuning of the group-commit writer.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Most events stored in one transaction.
    pub max_batch: usize,
    /// Capacity of the queue; appenders wait when it is full (backpressure).
    pub queue: usize,
    /// Sign a checkpoint after this many events.
    pub checkpoint_every: u64,
    /// Sign a checkpoint this long after the last one if events were added since.
    pub checkpoint_interval: Duration,
    /// How long events appended with [`AuditWriter::enqueue_lazy`] may wait for company
    /// before they are committed (fewer, larger commits); any other append commits at once.
    pub linger: Duration,
}

/// Proof that an event is durable: its place in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub seq: u64,
    pub hash: ChainHash,
}

/// A cheap, cloneable handle for appending events. The writer task stops (after signing a
/// final checkpoint) when [`AuditWriter::close`] is called or every handle is dropped.
#[derive(Clone, Debug)]
pub struct AuditWriter {
    requests: mpsc::Sender<Request>,
    lazy: Arc<LazyQueue>,
    failing: Arc<AtomicBool>,
}

/// An event that is queued but not known to be durable yet; [`PendingReceipt::wait`] tells.
/// Dropping it is fine: the event is still stored (only the answer is lost).
#[derive(Debug)]
pub struct PendingReceipt {
    answer: oneshot::Receiver<Result<Receipt, WriteError>>,
}

/// The writer task; join it to learn how it ended.
#[derive(Debug)]
pub struct WriterTask {
    handle: JoinHandle<Result<(), StoreError>>,
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, WriteError>>;

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "appends dominate; boxing them only adds an allocation"
)]
pub(crate) enum Request {
    /// An event someone may be waiting for: committed without lingering.
    Append(AuditEvent, Reply<Receipt>),
    Checkpoint(Reply<ChainHead>),
    Close(Reply<ChainHead>),
    /// Commit what is queued now, without lingering.
    Flush,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            queue: 16_384,
            checkpoint_every: 10_000,
            checkpoint_interval: Duration::from_secs(10),
            linger: Duration::from_millis(2),
        }
    }
}

impl AuditWriter {
    /// Resumes the chain from the store's head and starts the writer task.
    pub async fn start<S: AuditStore>(
        store: S,
        key: AuditKey,
        config: WriterConfig,
    ) -> Result<(Self, WriterTask), StoreError> {
        let head = store.head().await?;
        let signed = store.last_checkpoint().await?.unwrap_or(0);
        let (requests, inbox) = mpsc::channel(config.queue.max(1));
        let failing = Arc::new(AtomicBool::new(false));
        let lazy = Arc::new(LazyQueue::new(config.queue));
        let task = Task::new(
            store,
            key,
            config,
            head,
            signed,
            Arc::clone(&lazy),
            Arc::clone(&failing),
        );
        let handle = tokio::spawn(task.run(inbox));
        let writer = Self {
            requests,
            lazy,
            failing,
        };
        Ok((writer, WriterTask { handle }))
    }

    /// Appends `event`; resolves once it is durably stored (or with the reason it is not).
    pub async fn append(&self, event: AuditEvent) -> Result<Receipt, WriteError> {
        self.call(|reply| Request::Append(event, reply)).await
    }

    /// Queues `event` (waiting only for room in the queue) and returns at once; the event
    /// becomes durable with the next group commit, which [`PendingReceipt::wait`] awaits.
    pub async fn enqueue(&self, event: AuditEvent) -> Result<PendingReceipt, WriteError> {
        self.submit(event).await
    }

    /// Like [`AuditWriter::enqueue`], for events nobody waits for: the writer may hold them
    /// up to [`WriterConfig::linger`] to commit them with others, and is not woken for each.
    /// Events of one caller keep their order, lazy or not.
    pub async fn enqueue_lazy(&self, event: AuditEvent) -> Result<PendingReceipt, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.lazy.push((event, Some(reply))).await?;
        Ok(PendingReceipt { answer })
    }

    /// Like [`AuditWriter::enqueue_lazy`] for an event whose receipt nobody will ask for (a
    /// read's record, a session's opening): no answer channel is made for it. Whether it was
    /// stored shows only in [`AuditWriter::is_healthy`] — which every statement checks first.
    pub async fn enqueue_detached(&self, event: AuditEvent) -> Result<(), WriteError> {
        self.lazy.push((event, None)).await
    }

    /// Asks the writer to commit whatever is queued now (lazy events included); await the
    /// receipts of the events that must be durable.
    pub async fn flush(&self) -> Result<(), WriteError> {
        self.requests
            .send(Request::Flush)
            .await
            .map_err(|_| WriteError::Closed)
    }

    async fn submit(&self, event: AuditEvent) -> Result<PendingReceipt, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Append(event, reply))
            .await
            .map_err(|_| WriteError::Closed)?;
        Ok(PendingReceipt { answer })
    }

    /// False while the store is refusing writes (the last group commit failed) or the writer
    /// has stopped: callers refuse commands instead of running them unrecorded.
    pub fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::Relaxed) && !self.requests.is_closed()
    }

    /// Signs and stores a checkpoint of the current head now (if there are unsigned events).
    pub async fn checkpoint(&self) -> Result<ChainHead, WriteError> {
        self.call(Request::Checkpoint).await
    }

    /// Stores what is queued, signs a final checkpoint and stops the writer; later appends
    /// fail with [`WriteError::Closed`].
    pub async fn close(&self) -> Result<ChainHead, WriteError> {
        self.call(Request::Close).await
    }

    async fn call<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .await
            .map_err(|_| WriteError::Closed)?;
        answer.await.unwrap_or(Err(WriteError::Closed))
    }
}

impl PendingReceipt {
    /// Resolves once the event is durable (or with the reason it is not).
    pub async fn wait(self) -> Result<Receipt, WriteError> {
        self.answer.await.unwrap_or(Err(WriteError::Closed))
    }
}

impl WriterTask {
    /// Waits for the writer task to end; the error of its final checkpoint, if any.
    pub async fn join(self) -> Result<(), StoreError> {
        self.handle
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}
