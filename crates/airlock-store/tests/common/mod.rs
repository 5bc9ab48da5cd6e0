//! Helpers shared by the store's integration tests and bench.
#![allow(dead_code, clippy::unwrap_used, reason = "test helpers")]

use std::path::Path;

use airlock_audit::{AuditEvent, AuditKey, Problem, Report};
use airlock_model::{
    Command, Connection, ConnectionKind, Decision, Identity, IdentityKind, Name, Protocol,
};
use airlock_store::{AuditStore, AuditWriter, SqliteStore, WriterConfig};
use sqlx::{AssertSqlSafe, Connection as _, SqliteConnection};
use time::OffsetDateTime;

pub fn key() -> AuditKey {
    AuditKey::from_seed([42; 32])
}

pub fn event(i: u64) -> AuditEvent {
    let identity = Identity {
        kind: IdentityKind::Agent,
        id: Name::new(format!("agent-{}", i % 3)).unwrap(),
        groups: Default::default(),
        acting_for: Some(Name::new("alice@example.com").unwrap()),
    };
    let connection = Connection {
        name: Name::new("prod-db").unwrap(),
        kind: ConnectionKind::Postgres,
        environments: Default::default(),
    };
    let text = format!("SELECT * FROM orders WHERE id = {i}");
    let command = Command {
        identity,
        connection,
        protocol: Protocol::PgSimple,
        text,
    };
    let time = OffsetDateTime::from_unix_timestamp(1_767_225_600 + i64::try_from(i).unwrap());
    AuditEvent::decision(time.unwrap(), &command, &Decision::allow())
}

/// Writes `count` events through the real writer into a fresh store at `path`, then closes
/// it (a final checkpoint is signed).
pub async fn write_log(path: &Path, count: u64, config: WriterConfig) {
    let store = SqliteStore::open(path).await.unwrap();
    let (writer, task) = AuditWriter::start(store.clone(), key(), config)
        .await
        .unwrap();
    for i in 1..=count {
        let receipt = writer.append(event(i)).await.unwrap();
        assert_eq!(receipt.seq, i);
    }
    writer.close().await.unwrap();
    task.join().await.unwrap();
    store.close().await;
}

/// Runs `sql` directly on the SQLite file, as an attacker with file access would (first
/// dropping the append-only triggers).
pub async fn tamper(path: &Path, sql: &str) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let drop_triggers = "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; \
        DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;";
    sqlx::raw_sql(drop_triggers)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

pub async fn verify(path: &Path) -> Result<Report, Problem> {
    let store = SqliteStore::open_existing(path).await.unwrap();
    let verdict = store.verify(Some(key().public())).await.unwrap();
    store.close().await;
    verdict
}
