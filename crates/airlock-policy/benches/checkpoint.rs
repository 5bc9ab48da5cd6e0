//! The whole decision path for a short OLTP statement, against its own baseline in the same
//! run: libpg_query's parse alone. Reports (criterion medians):
//! - `baseline/pg_query_parse`: the real parser, nothing else;
//! - `inspect`: parse + facts;
//! - `checkpoint/cold`: inspect + Cedar with the default pack (no cache);
//! - `checkpoint/same_text`: a repeated statement (exact-text cache);
//! - `checkpoint/same_shape`: the same statement shape with a new literal each time (shape cache);
//! - `checkpoint/same_facts`: a new shape each time (a column alias of its own) with the same
//!   facts (evaluation cache: inspection, no policy evaluation);
//! - `checkpoint/same_structure`: a new table each time (evaluation cache through name
//!   abstraction: inspection, no policy evaluation, messages rendered with the real name).
//!
//! Run: `cargo bench -p airlock-policy --bench checkpoint`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use airlock_inspect::SqlOptions;
use airlock_model::{Command, Connection, ConnectionKind, Identity, Name, Protocol};
use airlock_policy::{Checkpoint, Policy};
use criterion::{Criterion, criterion_group, criterion_main};

const SQL: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = 42";

fn command(text: String) -> Command {
    Command {
        identity: Identity::human(Name::new("alice").unwrap()),
        connection: Connection {
            name: Name::new("bench").unwrap(),
            kind: ConnectionKind::Postgres,
            environments: [Name::new("prod").unwrap()].into(),
        },
        protocol: Protocol::PgSimple,
        text,
    }
}

fn bench(c: &mut Criterion) {
    let policy = std::sync::Arc::new(Policy::default_pack().unwrap());
    c.bench_function("baseline/pg_query_parse", |b| {
        b.iter(|| pg_query::parse(black_box(SQL), 0).unwrap())
    });
    c.bench_function("inspect", |b| {
        b.iter(|| {
            airlock_inspect::inspect(
                ConnectionKind::Postgres,
                black_box(SQL),
                &SqlOptions::default(),
            )
        })
    });
    let one = command(SQL.to_owned());
    c.bench_function("checkpoint/cold", |b| {
        b.iter(|| Checkpoint::new(policy.clone()).decide(black_box(&one)))
    });
    let mut warm = Checkpoint::new(policy.clone());
    c.bench_function("checkpoint/same_text", |b| {
        b.iter(|| warm.decide(black_box(&one)))
    });
    let mut shaped = Checkpoint::new(policy.clone());
    let mut next = command(String::new());
    let mut i = 0u64;
    c.bench_function("checkpoint/same_shape", |b| {
        b.iter(|| {
            i += 1;
            next.text = format!("SELECT abalance FROM pgbench_accounts WHERE aid = {i}");
            shaped.decide(black_box(&next))
        })
    });
    let mut same_structure = Checkpoint::new(policy.clone());
    c.bench_function("checkpoint/same_structure", |b| {
        b.iter(|| {
            i += 1;
            next.text = format!("SELECT abalance FROM accounts_{i} WHERE aid = 1");
            same_structure.decide(black_box(&next))
        })
    });
    let mut same_facts = Checkpoint::new(policy.clone());
    c.bench_function("checkpoint/same_facts", |b| {
        b.iter(|| {
            i += 1;
            next.text = format!("SELECT abalance AS c{i} FROM pgbench_accounts WHERE aid = 1");
            same_facts.decide(black_box(&next))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
