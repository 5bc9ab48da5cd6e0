//! Tampering with the SQLite file directly must make `verify` name the broken event and how.

mod common;

use airlock_audit::{ChainHash, CheckpointFault, Edit, Problem};
use airlock_store::{AuditStore, SqliteStore, StoreError, WriterConfig};
use common::{tamper, verify, write_log};

/// 20 events, checkpoints at 8, 16 and 20 (on close).
#[allow(clippy::unwrap_used, reason = "test helper")]
async fn log() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let config = WriterConfig {
        checkpoint_every: 8,
        max_batch: 1,
        ..WriterConfig::default()
    };
    write_log(&path, 20, config).await;
    (dir, path)
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let (_dir, path) = log().await;
    let report = verify(&path).await.unwrap();
    assert_eq!((report.events, report.head.seq), (20, 20));
    assert_eq!((report.checkpoints, report.last_checkpoint), (3, Some(20)));
}

#[tokio::test]
async fn an_edited_body_is_reported_as_edited() {
    let (_dir, path) = log().await;
    tamper(
        &path,
        "UPDATE events SET body = replace(body, 'SELECT', 'DELETE') WHERE seq = 5",
    )
    .await;
    let problem = verify(&path).await.unwrap_err();
    assert_eq!(
        problem,
        Problem::Edited {
            seq: 5,
            how: Edit::ContentChanged
        }
    );
    assert_eq!(
        problem.to_string(),
        "event 5 was edited: its contents no longer match its hash"
    );
}

#[tokio::test]
async fn an_edited_and_rehashed_event_is_reported_as_edited() {
    let (_dir, path) = log().await;
    let store = SqliteStore::open_existing(&path).await.unwrap();
    let row = store.events_after(4, 1).await.unwrap().remove(0);
    store.close().await;
    let body = String::from_utf8(row.body)
        .unwrap()
        .replace("SELECT", "DELETE");
    let prev = ChainHash::from_slice(&row.prev_hash).unwrap();
    let hash = ChainHash::link(&prev, body.as_bytes());
    let sql = format!("UPDATE events SET body = '{body}', hash = x'{hash}' WHERE seq = 5");
    tamper(&path, &sql).await;
    let problem = verify(&path).await.unwrap_err();
    assert_eq!(
        problem,
        Problem::Edited {
            seq: 5,
            how: Edit::Rehashed { next: 6 }
        }
    );
    assert_eq!(
        problem.to_string(),
        "event 5 was edited and its hash recomputed: event 6 no longer links to it"
    );
}

#[tokio::test]
async fn a_deleted_event_is_reported_as_deleted() {
    let (_dir, path) = log().await;
    tamper(&path, "DELETE FROM events WHERE seq = 5").await;
    let problem = verify(&path).await.unwrap_err();
    assert_eq!(
        problem,
        Problem::Deleted {
            after: 4,
            first: 5,
            last: 5
        }
    );
    assert_eq!(
        problem.to_string(),
        "event 5 was deleted: the log jumps from event 4 to 6"
    );
}

#[tokio::test]
async fn swapped_events_are_reported_as_reordered() {
    let (_dir, path) = log().await;
    tamper(
        &path,
        "UPDATE events SET seq = -3 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 4; \
         UPDATE events SET seq = 4 WHERE seq = -3;",
    )
    .await;
    let problem = verify(&path).await.unwrap_err();
    assert_eq!(
        problem,
        Problem::Reordered {
            position: 3,
            found: 4
        }
    );
    assert_eq!(
        problem.to_string(),
        "events were reordered: position 3 holds event 4"
    );
}

#[tokio::test]
async fn deleting_the_newest_events_is_reported_as_truncated() {
    let (_dir, path) = log().await;
    tamper(&path, "DELETE FROM events WHERE seq > 17").await;
    let problem = verify(&path).await.unwrap_err();
    assert_eq!(
        problem,
        Problem::Truncated {
            checkpoint: 20,
            last: 17
        }
    );
    assert_eq!(
        problem.to_string(),
        "the log was truncated: a signed checkpoint covers events up to 20 but the log ends at \
         event 17"
    );
}

#[tokio::test]
async fn forged_checkpoints_are_reported() {
    let (_dir, path) = log().await;
    tamper(
        &path,
        "UPDATE checkpoints SET signature = zeroblob(64) WHERE seq = 16",
    )
    .await;
    let problem = verify(&path).await.unwrap_err();
    assert_eq!(
        problem,
        Problem::BadCheckpoint {
            seq: 16,
            fault: CheckpointFault::BadSignature
        }
    );
    let store = SqliteStore::open_existing(&path).await.unwrap();
    let other = airlock_audit::AuditKey::from_seed([7; 32]).public();
    let problem = store.verify(Some(other)).await.unwrap().unwrap_err();
    assert!(
        matches!(problem, Problem::BadCheckpoint { seq: 8, .. }),
        "{problem}"
    );
    assert!(
        problem.to_string().contains("not by the trusted key"),
        "{problem}"
    );
}

#[tokio::test]
async fn malformed_rows_are_reported() {
    let (_dir, path) = log().await;
    tamper(&path, "UPDATE events SET hash = x'00' WHERE seq = 2").await;
    let problem = verify(&path).await.unwrap_err();
    assert_eq!(problem.kind(), "malformed");
    assert_eq!(
        problem.to_string(),
        "the row at position 2 is malformed: the hash column is not a 32-byte hash"
    );
}

#[tokio::test]
async fn missing_foreign_and_corrupt_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let error = SqliteStore::open_existing(&missing).await.unwrap_err();
    assert!(matches!(error, StoreError::Missing { .. }));
    assert!(
        error.to_string().starts_with("no audit database at `"),
        "{error}"
    );

    let text = dir.path().join("text.db");
    std::fs::write(
        &text,
        "this is not a database, just a text file that is long enough".repeat(40),
    )
    .unwrap();
    let error = SqliteStore::open_existing(&text).await.unwrap_err();
    assert!(matches!(error, StoreError::NotAStore { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("is not a valid airlock audit store"),
        "{error}"
    );

    let foreign = dir.path().join("foreign.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}?mode=rwc",
        foreign.display()
    ))
    .await
    .unwrap();
    sqlx::raw_sql("CREATE TABLE t (x)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    let error = SqliteStore::open(&foreign).await.unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("it is a SQLite database of another application")
    );
}

#[tokio::test]
async fn corrupted_pages_never_pass_verification() {
    let (_dir, path) = log().await;
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    for byte in &mut bytes[4096..8192] {
        *byte = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    match SqliteStore::open_existing(&path).await {
        Err(error) => assert!(error.to_string().contains("audit database `"), "{error}"),
        Ok(store) => match store.verify(None).await {
            Err(error) => assert!(error.to_string().contains("audit database `"), "{error}"),
            Ok(verdict) => assert!(verdict.is_err(), "{verdict:?}"),
        },
    }
}
