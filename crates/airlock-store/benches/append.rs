//! Durable append throughput through the group-commit writer into SQLite (WAL,
//! `synchronous=FULL`): `cargo bench -p airlock-store --bench append`. Each sample appends
//! `EVENTS` events from `TASKS` concurrent tasks into a fresh database and stops the clock when
//! every append has its durable receipt; criterion reports the rate in elements/s.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench setup")]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use airlock_store::{AuditWriter, SqliteStore, WriterConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const EVENTS: u64 = 100_000;
const TASKS: u64 = 64;

async fn run_once() -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("audit.db"))
        .await
        .unwrap();
    let (writer, task) = AuditWriter::start(store.clone(), common::key(), WriterConfig::default())
        .await
        .unwrap();
    let events: Vec<_> = (0..EVENTS).map(common::event).collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for chunk in events.chunks(usize::try_from(EVENTS / TASKS).unwrap()) {
        let (writer, chunk) = (writer.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for event in chunk {
                writer.append(event).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = start.elapsed();
    writer.close().await.unwrap();
    task.join().await.unwrap();
    store.close().await;
    elapsed
}

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("audit_append");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(EVENTS));
    group.bench_function("sqlite_durable_100k_from_64_tasks", |b| {
        b.iter_custom(|iterations| (0..iterations).map(|_| runtime.block_on(run_once())).sum());
    });
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
