//! Tests of `airlock audit` against real stores in temporary directories.

use airlock_audit::{AuditEvent, AuditKey};
use airlock_model::{Command, Connection, ConnectionKind, Decision, Identity, Name, Protocol};
use airlock_store::{AuditWriter, WriterConfig};

use super::*;

fn event(i: i64, who: &str) -> AuditEvent {
    let connection = Connection {
        name: Name::new("prod-db").unwrap(),
        kind: ConnectionKind::Postgres,
        environments: Default::default(),
    };
    let identity = Identity::human(Name::new(who).unwrap());
    let text = format!("DELETE FROM t WHERE id = {i}\n-- done");
    let command = Command {
        identity,
        connection,
        protocol: Protocol::PgSimple,
        text,
    };
    let time = OffsetDateTime::from_unix_timestamp(1_767_225_600 + i).unwrap();
    AuditEvent::decision(time, &command, &Decision::internal_deny("pg-delete", "no"))
}

/// A data dir with a signing key and 6 events (alternately by alice and bob).
async fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key = airlock_store::load_or_create_signing_key(&dir.path().join(SIGNING_KEY_FILE));
    let store = SqliteStore::open(&dir.path().join("audit.db"))
        .await
        .unwrap();
    let config = WriterConfig::default();
    let (writer, task) = AuditWriter::start(store.clone(), key.unwrap(), config)
        .await
        .unwrap();
    for i in 1..=6 {
        writer
            .append(event(i, if i % 2 == 0 { "bob" } else { "alice" }))
            .await
            .unwrap();
    }
    writer.close().await.unwrap();
    task.join().await.unwrap();
    store.close().await;
    dir
}

async fn verify_output(dir: &Path, key: Option<&Path>) -> (ExitCode, String) {
    let mut out = Vec::new();
    let code = verify(dir, &dir.join("audit.db"), key, &mut out)
        .await
        .unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn verify_reports_ok_or_the_problem() {
    let dir = data_dir().await;
    let (code, out) = verify_output(dir.path(), None).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(
        out.starts_with("ok: 6 events, 1 checkpoints, chain head "),
        "{out}"
    );
    let other = dir.path().join("other.pub");
    std::fs::write(&other, AuditKey::from_seed([9; 32]).public().to_hex()).unwrap();
    let (code, out) = verify_output(dir.path(), Some(&other)).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        out.starts_with("failed: the checkpoint at event 6 is not valid"),
        "{out}"
    );
}

#[tokio::test]
async fn missing_and_corrupt_databases_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let error = verify(dir.path(), &db, None, &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("no audit database at `{}`", db.display())
    );
    std::fs::write(&db, "garbage ".repeat(512)).unwrap();
    let error = tail(&db, 5, false, &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("is not a valid airlock audit store: file is not a database"));
    let code = run(dir.path(), AuditCommand::Verify { key: None })
        .await
        .unwrap();
    assert_eq!(code, ExitCode::FAILURE);
}

#[tokio::test]
async fn tail_prints_the_newest_events_on_one_line_each() {
    let dir = data_dir().await;
    let mut out = Vec::new();
    tail(&dir.path().join("audit.db"), 2, false, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "#5 2026-01-01T00:00:05Z deny human alice on prod-db [pg-delete]: \
             DELETE FROM t WHERE id = 5\\n-- done",
            "#6 2026-01-01T00:00:06Z deny human bob on prod-db [pg-delete]: \
             DELETE FROM t WHERE id = 6\\n-- done",
        ]
    );
}

#[tokio::test]
async fn export_filters_by_time_and_principal() {
    let dir = data_dir().await;
    let since = parse_time("2026-01-01T00:00:03Z").unwrap();
    let filter = Filter {
        since: Some(since),
        principal: Some("bob".into()),
    };
    let file = dir.path().join("out.jsonl");
    export(
        &dir.path().join("audit.db"),
        &filter,
        Some(&file),
        &mut Vec::new(),
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [4, 6]);
    assert!(
        parse_time("yesterday")
            .unwrap_err()
            .contains("`yesterday` is not an RFC 3339")
    );
}
