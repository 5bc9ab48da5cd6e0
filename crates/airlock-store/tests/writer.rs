//! The group-commit writer: ordering under concurrency, durability receipts, resuming,
//! checkpoints, and failing closed.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use airlock_audit::{
    ChainHead, Checkpoint, Problem, PublicKey, Report, SealedEvent, StoredCheckpoint, StoredRow,
};
use airlock_store::{AuditStore, AuditWriter, SqliteStore, StoreError, WriteError, WriterConfig};
use common::{event, key, verify, write_log};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_get_distinct_durable_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let config = WriterConfig {
        checkpoint_every: 500,
        ..WriterConfig::default()
    };
    let (writer, task) = AuditWriter::start(store.clone(), key(), config)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..250 {
                seqs.push(writer.append(event(t * 1000 + i)).await.unwrap().seq);
            }
            seqs
        }));
    }
    let mut seqs = BTreeSet::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    assert_eq!(seqs, (1..=2000).collect());
    drop(writer);
    task.join().await.unwrap();
    let report = store.verify(Some(key().public())).await.unwrap().unwrap();
    assert_eq!((report.events, report.last_checkpoint), (2000, Some(2000)));
    assert!(report.checkpoints >= 4, "{report:?}");
}

#[tokio::test]
async fn a_reopened_log_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write_log(&path, 10, WriterConfig::default()).await;
    let store = SqliteStore::open(&path).await.unwrap();
    let (writer, task) = AuditWriter::start(store.clone(), key(), WriterConfig::default())
        .await
        .unwrap();
    assert_eq!(writer.append(event(11)).await.unwrap().seq, 11);
    let head = writer.close().await.unwrap();
    assert_eq!(head.seq, 11);
    assert!(matches!(
        writer.append(event(12)).await,
        Err(WriteError::Closed)
    ));
    task.join().await.unwrap();
    store.close().await;
    let report = verify(&path).await.unwrap();
    assert_eq!((report.events, report.checkpoints), (11, 2));
}

#[tokio::test]
async fn checkpoints_are_signed_on_a_timer_and_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("audit.db"))
        .await
        .unwrap();
    let config = WriterConfig {
        checkpoint_interval: Duration::from_millis(50),
        ..WriterConfig::default()
    };
    let (writer, _task) = AuditWriter::start(store.clone(), key(), config)
        .await
        .unwrap();
    writer.append(event(1)).await.unwrap();
    writer.append(event(2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.last_checkpoint().await.unwrap(), Some(2));
    // The timer runs again for what came after.
    writer.append(event(3)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.last_checkpoint().await.unwrap(), Some(3));
    writer.append(event(4)).await.unwrap();
    assert_eq!(writer.checkpoint().await.unwrap().seq, 4);
    assert_eq!(store.last_checkpoint().await.unwrap(), Some(4));
}

/// A store whose writes fail while `failing` is set.
#[derive(Clone)]
struct Flaky {
    inner: SqliteStore,
    failing: Arc<AtomicBool>,
}

impl AuditStore for Flaky {
    async fn head(&self) -> Result<ChainHead, StoreError> {
        self.inner.head().await
    }
    async fn last_checkpoint(&self) -> Result<Option<u64>, StoreError> {
        self.inner.last_checkpoint().await
    }
    async fn append(
        &self,
        events: &[SealedEvent],
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Task("disk full".into()));
        }
        self.inner.append(events, checkpoint).await
    }
    async fn events_after(&self, after: u64, limit: u32) -> Result<Vec<StoredRow>, StoreError> {
        self.inner.events_after(after, limit).await
    }
    async fn last_events(&self, count: u32) -> Result<Vec<StoredRow>, StoreError> {
        self.inner.last_events(count).await
    }
    async fn checkpoints_between(
        &self,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.inner.checkpoints_between(after, up_to).await
    }
    async fn verify(
        &self,
        trusted: Option<PublicKey>,
    ) -> Result<Result<Report, Problem>, StoreError> {
        self.inner.verify(trusted).await
    }
}

#[tokio::test]
async fn a_failed_write_fails_every_waiter_and_the_chain_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let inner = SqliteStore::open(&dir.path().join("audit.db"))
        .await
        .unwrap();
    let failing = Arc::new(AtomicBool::new(false));
    let store = Flaky {
        inner: inner.clone(),
        failing: failing.clone(),
    };
    let (writer, task) = AuditWriter::start(store, key(), WriterConfig::default())
        .await
        .unwrap();
    assert_eq!(writer.append(event(1)).await.unwrap().seq, 1);
    failing.store(true, Ordering::SeqCst);
    let waiters: Vec<_> = (2..12)
        .map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.append(event(i)).await })
        })
        .collect();
    for waiter in waiters {
        let error = waiter.await.unwrap().unwrap_err();
        assert_eq!(
            error.to_string(),
            "audit log write failed: the audit writer task failed: disk full"
        );
    }
    failing.store(false, Ordering::SeqCst);
    assert_eq!(writer.append(event(12)).await.unwrap().seq, 2);
    writer.close().await.unwrap();
    task.join().await.unwrap();
    let report = inner.verify(Some(key().public())).await.unwrap().unwrap();
    assert_eq!(report.events, 2);
}

#[tokio::test]
async fn lazy_appends_linger_until_their_deadline_or_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let config = WriterConfig {
        linger: Duration::from_millis(300),
        ..WriterConfig::default()
    };
    let (writer, _task) = AuditWriter::start(store.clone(), key(), config)
        .await
        .unwrap();
    // A lazy event waits for company, but not longer than the linger.
    let started = std::time::Instant::now();
    let pending = writer.enqueue_lazy(event(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.head().await.unwrap().seq, 0, "still lingering");
    let receipt = pending.wait().await.unwrap();
    assert_eq!(receipt.seq, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    // A flush commits lingering events at once; so does an urgent append.
    let pending = writer.enqueue_lazy(event(2)).await.unwrap();
    writer.flush().await.unwrap();
    let flushed = tokio::time::timeout(Duration::from_millis(200), pending.wait()).await;
    assert_eq!(flushed.unwrap().unwrap().seq, 2);
    let lazy = writer.enqueue_lazy(event(3)).await.unwrap();
    let urgent = writer.enqueue(event(4)).await.unwrap();
    let both = tokio::time::timeout(Duration::from_millis(200), async {
        (
            lazy.wait().await.unwrap().seq,
            urgent.wait().await.unwrap().seq,
        )
    });
    assert_eq!(both.await.unwrap(), (3, 4));
    // After commits by timer, flush and urgency, a lazy event lingers again.
    let started = std::time::Instant::now();
    let receipt = writer.enqueue_lazy(event(5)).await.unwrap().wait().await;
    assert_eq!(receipt.unwrap().seq, 5);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert!(writer.is_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_appends_are_bounded_ordered_and_refused_after_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqliteStore::open(&path).await.unwrap();
    // Room for 4 queued events: the fifth appender waits until the writer takes them.
    let config = WriterConfig {
        queue: 4,
        linger: Duration::from_millis(5),
        ..WriterConfig::default()
    };
    let (writer, task) = AuditWriter::start(store.clone(), key(), config)
        .await
        .unwrap();
    let mut pending = Vec::new();
    for i in 0..50 {
        pending.push(writer.enqueue_lazy(event(i)).await.unwrap());
    }
    let mut seqs = Vec::new();
    for receipt in pending {
        seqs.push(receipt.wait().await.unwrap().seq);
    }
    assert_eq!(
        seqs,
        (1..=50).collect::<Vec<_>>(),
        "one caller's events keep their order"
    );
    writer.close().await.unwrap();
    assert!(matches!(
        writer.enqueue_lazy(event(51)).await,
        Err(WriteError::Closed)
    ));
    task.join().await.unwrap();
    assert_eq!(store.head().await.unwrap().seq, 50);
}

/// Events nobody awaits take no answer channel, and keep their place among the others.
#[tokio::test]
async fn detached_events_are_stored_in_order_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("audit.db"))
        .await
        .unwrap();
    let config = WriterConfig {
        linger: Duration::from_millis(5),
        ..WriterConfig::default()
    };
    let (writer, task) = AuditWriter::start(store.clone(), key(), config)
        .await
        .unwrap();
    writer.enqueue_detached(event(0)).await.unwrap();
    let lazy = writer.enqueue_lazy(event(1)).await.unwrap();
    writer.enqueue_detached(event(2)).await.unwrap();
    let urgent = writer.enqueue(event(3)).await.unwrap();
    assert_eq!(lazy.wait().await.unwrap().seq, 2);
    assert_eq!(urgent.wait().await.unwrap().seq, 4);
    writer.close().await.unwrap();
    assert!(matches!(
        writer.enqueue_detached(event(4)).await,
        Err(WriteError::Closed)
    ));
    task.join().await.unwrap();
    let texts: Vec<String> = store
        .events_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|row| match row.decode().unwrap().event.kind {
            airlock_audit::EventKind::Decision(record) => record.text,
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<String> = (0..4)
        .map(|i| format!("SELECT * FROM orders WHERE id = {i}"))
        .collect();
    assert_eq!(texts, expected);
}
