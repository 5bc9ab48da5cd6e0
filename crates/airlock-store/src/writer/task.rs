//! The writer task behind [`AuditWriter`](super::AuditWriter): takes requests and lazily
//! queued events, seals them into the chain, stores each batch in one durable commit,
//! answers the callers, and signs checkpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use airlock_audit::{AuditEvent, AuditKey, Chain, ChainHead, Checkpoint, SealedEvent};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::{Receipt, Reply, Request, WriterConfig};
use crate::lazy::{Entry, LazyQueue};
use crate::{AuditStore, StoreError, WriteError};

pub(super) struct Task<S> {
    store: S,
    key: AuditKey,
    config: WriterConfig,
    chain: Chain,
    /// Events stored since the last checkpoint.
    unsigned: u64,
    last_signed: Instant,
    events: Vec<SealedEvent>,
    /// One per sealed event, `None` for a detached one.
    replies: Vec<Option<Reply<Receipt>>>,
    lazy: Arc<LazyQueue>,
    /// Scratch space for events taken from `lazy`.
    taken: Vec<Entry>,
    failing: Arc<AtomicBool>,
    /// When the oldest uncommitted lazy event must be committed.
    linger_until: Option<Instant>,
    /// An urgent request is among the uncommitted events.
    urgent: bool,
}

impl<S: AuditStore> Task<S> {
    pub(super) fn new(
        store: S,
        key: AuditKey,
        config: WriterConfig,
        head: ChainHead,
        signed: u64,
        lazy: Arc<LazyQueue>,
        failing: Arc<AtomicBool>,
    ) -> Self {
        Self {
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
        }
    }
}

impl<S: AuditStore> Task<S> {
    pub(super) async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Request>,
    ) -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(self.config.max_batch);
        // The two timers live as long as the loop and move only when their deadlines move: a
        // new `sleep_until` per pass registered itself with the runtime's timer each time, and
        // with no other timer pending that woke the runtime's driver (an eventfd write and an
        // empty epoll round) on most passes.
        let checkpoint_timer = sleep_until(Instant::now());
        let linger_timer = sleep_until(Instant::now());
        tokio::pin!(checkpoint_timer, linger_timer);
        let (mut checkpoint_armed, mut linger_armed) = (None, None);
        loop {
            let deadline = self.last_signed + self.config.checkpoint_interval;
            let due = self.unsigned > 0;
            let linger = self.linger_until;
            if due && checkpoint_armed != Some(deadline) {
                checkpoint_timer.as_mut().reset(deadline);
                checkpoint_armed = Some(deadline);
            }
            if let Some(at) = linger
                && linger_armed != linger
            {
                linger_timer.as_mut().reset(at);
                linger_armed = linger;
            }
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
                () = &mut linger_timer, if linger.is_some() => {
                    linger_armed = None;
                    self.take_lazy();
                    self.commit().await;
                    continue;
                }
                () = &mut checkpoint_timer, if due => {
                    checkpoint_armed = None;
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
            if let Some(reply) = reply {
                drop(reply.send(Err(WriteError::Closed)));
            }
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
                    self.seal(&event, Some(reply));
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

    fn seal(&mut self, event: &AuditEvent, reply: Option<Reply<Receipt>>) {
        match self.chain.seal(event) {
            Ok(sealed) => {
                self.events.push(sealed);
                self.replies.push(reply);
            }
            Err(error) => {
                tracing::error!(%error, "audit event not sealed");
                if let Some(reply) = reply {
                    drop(reply.send(Err(WriteError::Rejected(error.to_string()))));
                }
            }
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
                    if let Some(reply) = reply {
                        drop(reply.send(Ok(Receipt {
                            seq: event.seq,
                            hash: event.hash,
                        })));
                    }
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
                replies
                    .flatten()
                    .for_each(|reply| drop(reply.send(Err(error.clone()))));
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
