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

use airlock_audit::{AuditEvent, AuditKey, Chain, ChainHash, ChainHead, Checkpoint, SealedEvent};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::lazy::{Entry, LazyQueue};
use crate::{AuditStore, StoreError, WriteError};

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

type Reply<T> = oneshot::Sender<Result<T, WriteError>>;

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "appends dominate; boxing them only adds an allocation"
)]
enum Request {
    /// An event someone may be waiting for: committed without lingering.
    Append(AuditEvent, Reply<Receipt>),
    Checkpoint(Reply<ChainHead>),
    Close(Reply<ChainHead>),
    /// Commit what is queued now, without lingering.
    Flush,
}

struct Task<S> {
    store: S,
    key: AuditKey,
    config: WriterConfig,
    chain: Chain,
    /// Events stored since the last checkpoint.
    unsigned: u64,
    last_signed: Instant,
    events: Vec<SealedEvent>,
    replies: Vec<Reply<Receipt>>,
    lazy: Arc<LazyQueue>,
    /// Scratch space for events taken from `lazy`.
    taken: Vec<Entry>,
    failing: Arc<AtomicBool>,
    /// When the oldest uncommitted lazy event must be committed.
    linger_until: Option<Instant>,
    /// An urgent request is among the uncommitted events.
    urgent: bool,
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
        let task = Task {
            failing: Arc::clone(&failing),
            lazy: Arc::clone(&lazy),
            taken: Vec::new(),
            store,
            key,
            chain: Chain::resume(head),
            unsigned: head.seq.saturating_sub(signed),
            last_signed: Instant::now(),
            events: Vec::with_capacity(config.max_batch),
            replies: Vec::with_capacity(config.max_batch),
            linger_until: None,
            urgent: false,
            config,
        };
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
        self.lazy.push((event, reply)).await?;
        Ok(PendingReceipt { answer })
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

impl<S: AuditStore> Task<S> {
    async fn run(mut self, mut inbox: mpsc::Receiver<Request>) -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(self.config.max_batch);
        loop {
            let deadline = self.last_signed + self.config.checkpoint_interval;
            let due = self.unsigned > 0;
            let linger = self.linger_until;
            let lazy = Arc::clone(&self.lazy);
            tokio::select! {
                received = inbox.recv_many(&mut batch, self.config.max_batch) => {
                    if received == 0 {
                        self.take_lazy();
                        self.commit().await;
                        break;
                    }
                }
                () = lazy.arrived.notified() => {
                    if self.config.linger.is_zero() {
                        self.take_lazy();
                        self.commit().await;
                    } else if self.linger_until.is_none() {
                        self.linger_until = Some(Instant::now() + self.config.linger);
                    }
                    continue;
                }
                () = sleep_until(linger.unwrap_or_else(Instant::now)), if linger.is_some() => {
                    self.take_lazy();
                    self.commit().await;
                    continue;
                }
                () = sleep_until(deadline), if due => {
                    if let Err(error) = self.sign().await {
                        tracing::error!(%error, "audit checkpoint failed");
                        self.last_signed = Instant::now(); // retry after another interval
                    }
                    continue;
                }
            }
            if self.process(&mut batch).await {
                break;
            }
        }
        inbox.close();
        while let Some(request) = inbox.recv().await {
            refuse(request);
        }
        for (_, reply) in self.lazy.close() {
            drop(reply.send(Err(WriteError::Closed)));
        }
        self.sign().await.map(|_| ()).map_err(unshare)
    }

    /// Handles one batch of requests in order; `true` once asked to close.
    async fn process(&mut self, batch: &mut Vec<Request>) -> bool {
        // Lazy events queued before these requests were sent go first: a caller's events
        // keep their order.
        self.take_lazy();
        let mut requests = batch.drain(..);
        while let Some(request) = requests.next() {
            match request {
                Request::Append(event, reply) => {
                    self.seal(&event, reply);
                    self.urgent = true;
                }
                Request::Flush => self.urgent = true,
                Request::Checkpoint(reply) => {
                    self.commit().await;
                    drop(reply.send(self.sign().await));
                }
                Request::Close(reply) => {
                    // Closed before the answer: an append after `close` returns is refused,
                    // one queued before it is stored.
                    for (event, reply) in self.lazy.close() {
                        self.seal(&event, reply);
                    }
                    self.commit().await;
                    drop(reply.send(self.sign().await));
                    requests.for_each(refuse);
                    return true;
                }
            }
        }
        drop(requests);
        let full = self.events.len() >= self.config.max_batch;
        if self.urgent || full || self.config.linger.is_zero() {
            self.commit().await;
        } else if self.linger_until.is_none() && !self.events.is_empty() {
            self.linger_until = Some(Instant::now() + self.config.linger);
        }
        false
    }

    /// Seals the lazily queued events into the batch.
    fn take_lazy(&mut self) {
        let mut taken = std::mem::take(&mut self.taken);
        self.lazy.take(&mut taken);
        for (event, reply) in taken.drain(..) {
            self.seal(&event, reply);
        }
        self.taken = taken;
    }

    fn seal(&mut self, event: &AuditEvent, reply: Reply<Receipt>) {
        match self.chain.seal(event) {
            Ok(sealed) => {
                self.events.push(sealed);
                self.replies.push(reply);
            }
            Err(error) => drop(reply.send(Err(WriteError::Rejected(error.to_string())))),
        }
    }

    /// Stores the sealed events (with a checkpoint if one is due) and answers their callers.
    async fn commit(&mut self) {
        self.linger_until = None;
        self.urgent = false;
        let Some(first) = self.events.first() else {
            return;
        };
        let base = ChainHead {
            seq: first.seq.saturating_sub(1),
            hash: first.prev_hash,
        };
        let count = u64::try_from(self.events.len()).unwrap_or(u64::MAX);
        let due = self.unsigned.saturating_add(count) >= self.config.checkpoint_every;
        let checkpoint = due.then(|| Checkpoint::sign(self.chain.head(), now(), &self.key).ok());
        let checkpoint = checkpoint.flatten();
        let result = self.store.append(&self.events, checkpoint.as_ref()).await;
        let replies = self.replies.drain(..);
        match result {
            Ok(()) => {
                self.failing.store(false, Ordering::Relaxed);
                for (event, reply) in self.events.iter().zip(replies) {
                    drop(reply.send(Ok(Receipt {
                        seq: event.seq,
                        hash: event.hash,
                    })));
                }
                self.unsigned = self.unsigned.saturating_add(count);
                if checkpoint.is_some() {
                    self.signed();
                }
            }
            Err(error) => {
                tracing::error!(%error, events = count, "audit write failed");
                self.failing.store(true, Ordering::Relaxed);
                let error = WriteError::Store(Arc::new(error));
                replies.for_each(|reply| drop(reply.send(Err(error.clone()))));
                let head = self.store.head().await.unwrap_or(base);
                self.chain = Chain::resume(head);
            }
        }
        self.events.clear();
    }

    /// Signs and stores a checkpoint of the head if events were stored since the last one.
    async fn sign(&mut self) -> Result<ChainHead, WriteError> {
        let head = self.chain.head();
        if self.unsigned == 0 {
            return Ok(head);
        }
        let checkpoint = Checkpoint::sign(head, now(), &self.key)
            .map_err(|e| WriteError::Rejected(e.to_string()))?;
        self.store
            .append(&[], Some(&checkpoint))
            .await
            .map_err(|e| WriteError::Store(Arc::new(e)))?;
        self.signed();
        Ok(head)
    }

    fn signed(&mut self) {
        self.unsigned = 0;
        self.last_signed = Instant::now();
    }
}

fn refuse(request: Request) {
    match request {
        Request::Append(_, reply) => drop(reply.send(Err(WriteError::Closed))),
        Request::Checkpoint(reply) | Request::Close(reply) => {
            drop(reply.send(Err(WriteError::Closed)));
        }
        Request::Flush => {}
    }
}

fn unshare(error: WriteError) -> StoreError {
    match error {
        WriteError::Store(error) => {
            Arc::try_unwrap(error).unwrap_or_else(|shared| StoreError::Task(shared.to_string()))
        }
        WriteError::Closed | WriteError::Rejected(_) => StoreError::Task(error.to_string()),
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
