//! decide() for `SELECT abalance FROM pgbench_accounts WHERE aid = 42` with the full default pack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use airlock_model::{
    Access, Command, Connection, ConnectionKind, Facts, Identity, Name, Origin, Protocol, SqlFacts,
    Statement, StatementKind, WhereClause,
};
use airlock_policy::{Policy, PolicySource};
use criterion::{Criterion, criterion_group, criterion_main};

fn pgbench_select() -> (Command, Facts) {
    let command = Command {
        identity: Identity::human(Name::new("alice").unwrap())
            .with_groups([Name::new("engineering").unwrap()]),
        connection: Connection {
            name: Name::new("bench").unwrap(),
            kind: ConnectionKind::Postgres,
            environments: [Name::new("prod").unwrap()].into(),
        },
        protocol: Protocol::PgSimple,
        text: "SELECT abalance FROM pgbench_accounts WHERE aid = 42".into(),
    };
    let mut statement = Statement::new(StatementKind::Select, Origin::TopLevel);
    statement.touch("pgbench_accounts", Access::Read);
    statement.where_clause = WhereClause::Present;
    let facts = Facts::Sql(SqlFacts {
        statements: vec![statement],
        unparseable: None,
        top_level_count: 1,
        literal_sensitive: false,
    });
    (command, facts)
}

fn bench(c: &mut Criterion) {
    let (command, facts) = pgbench_select();
    let default_pack = Policy::default_pack().unwrap();
    c.bench_function("decide/pgbench_select/default_pack", |b| {
        b.iter(|| default_pack.decide(black_box(&command), black_box(&facts)))
    });
    // The same request against a single permit: the fixed cost of building entities, the
    // context and the request, to read the default pack's figure as a ratio.
    let permit = "@id(\"allow\") permit (principal, action, resource);";
    let permit_only = Policy::from_sources(&[PolicySource::new("allow.cedar", permit)]).unwrap();
    c.bench_function("decide/pgbench_select/permit_only", |b| {
        b.iter(|| permit_only.decide(black_box(&command), black_box(&facts)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
