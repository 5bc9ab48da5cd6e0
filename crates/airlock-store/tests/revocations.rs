//! Key revocations in the SQLite store: recorded once, append-only, read per key id; and
//! stores of schema version 1 (before revocations) open, read and upgrade cleanly.

mod common;

use std::collections::HashSet;
use std::path::Path;

use airlock_model::{KeyId, Name};
use airlock_store::{Revocation, Revoked, SCHEMA_VERSION, SqliteStore, StoreError, WriterConfig};
use common::{verify, write_log};
use sqlx::{Connection as _, SqliteConnection};
use time::OffsetDateTime;

#[allow(clippy::unwrap_used, reason = "test helper")]
fn revocation(seed: u8, reason: Option<&str>) -> Revocation {
    Revocation {
        key_id: KeyId::of_stored_key(&[seed; 32]),
        identity: Name::new("alice").unwrap(),
        time: OffsetDateTime::from_unix_timestamp(1_767_225_600 + i64::from(seed)).unwrap(),
        reason: reason.map(str::to_owned),
    }
}

#[allow(clippy::unwrap_used, reason = "test helper")]
async fn sql(path: &Path, sql: &'static str) -> Result<(), sqlx::Error> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let result = sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ());
    conn.close().await.unwrap();
    result
}

/// What a store written by a version-1 airlock looks like: the current schema without the
/// version-2 objects (the version-1 objects are created by the same statements).
#[allow(clippy::unwrap_used, reason = "test helper")]
async fn downgrade_to_v1(path: &Path) {
    sql(
        path,
        "DROP TABLE approval_events; DROP TABLE revoked_keys; PRAGMA user_version = 1;",
    )
    .await
    .unwrap();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master ORDER BY name")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(
        names,
        [
            "checkpoints",
            "checkpoints_by_seq",
            "checkpoints_no_delete",
            "checkpoints_no_update",
            "events",
            "events_no_delete",
            "events_no_update"
        ]
    );
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn a_revocation_is_recorded_once_and_read_by_key_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    let first = revocation(1, Some("laptop lost"));
    assert_eq!(
        store.revoke(first.clone()).await.unwrap(),
        Revoked::Now(first.clone())
    );
    let again = Revocation {
        time: OffsetDateTime::now_utc(),
        reason: Some("again".to_owned()),
        ..first.clone()
    };
    assert_eq!(
        store.revoke(again).await.unwrap(),
        Revoked::Already(first.clone()),
        "the first revocation stands"
    );
    let second = revocation(2, None);
    store.revoke(second.clone()).await.unwrap();

    let ids = [
        first.key_id.clone(),
        revocation(3, None).key_id,
        second.key_id.clone(),
    ];
    assert_eq!(
        store.revoked_among(&ids).await.unwrap(),
        HashSet::from([first.key_id.clone(), second.key_id.clone()])
    );
    assert!(store.revoked_among(&ids[1..2]).await.unwrap().is_empty());
    let many: Vec<KeyId> = (0..=255).map(|i| KeyId::of_stored_key(&[i; 32])).collect();
    assert_eq!(store.revoked_among(&many).await.unwrap().len(), 2);
    assert_eq!(store.revocations().await.unwrap(), [first, second]);
    store.close().await;
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn revocations_are_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.revoke(revocation(1, Some("x"))).await.unwrap();
    store.close().await;
    for statement in [
        "UPDATE revoked_keys SET reason = 'y'",
        "DELETE FROM revoked_keys",
    ] {
        let error = sql(&path, statement).await.unwrap_err().to_string();
        assert!(
            error.contains("key revocations are append-only"),
            "{statement}: {error}"
        );
    }
    // REPLACE deletes without firing delete triggers; the insert trigger ignores it instead.
    let replace =
        "INSERT OR REPLACE INTO revoked_keys SELECT key_id, 'bob', time, NULL FROM revoked_keys";
    sql(&path, replace).await.unwrap();
    let store = SqliteStore::open_existing(&path).await.unwrap();
    assert_eq!(
        store.revocations().await.unwrap(),
        [revocation(1, Some("x"))]
    );
    store.close().await;
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn a_version_1_store_is_read_as_it_is_and_upgraded_when_opened_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write_log(&path, 12, WriterConfig::default()).await;
    downgrade_to_v1(&path).await;

    // Reading commands never write: the file stays at version 1 and reads normally.
    let reader = SqliteStore::open_existing(&path).await.unwrap();
    assert_eq!(reader.schema_version(), 1);
    assert!(reader.revocations().await.unwrap().is_empty());
    let ids = [revocation(1, None).key_id];
    assert!(reader.revoked_among(&ids).await.unwrap().is_empty());
    let error = reader.revoke(revocation(1, None)).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Outdated { version: 1, .. }),
        "{error}"
    );
    reader.close().await;
    assert_eq!(verify(&path).await.unwrap().events, 12);

    // The gateway (or `airlock keys revoke`) upgrades it in place, keeping every event.
    let writer = SqliteStore::open(&path).await.unwrap();
    assert_eq!(writer.schema_version(), SCHEMA_VERSION);
    writer.revoke(revocation(1, None)).await.unwrap();
    writer.close().await;
    let report = verify(&path).await.unwrap();
    assert_eq!((report.events, report.head.seq), (12, 12));
    let reopened = SqliteStore::open_existing(&path).await.unwrap();
    assert_eq!(reopened.schema_version(), SCHEMA_VERSION);
    assert_eq!(reopened.revoked_among(&ids).await.unwrap().len(), 1);
    reopened.close().await;
    let error = sql(&path, "DELETE FROM revoked_keys").await.unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn a_store_from_a_newer_airlock_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    sql(&path, "PRAGMA user_version = 4").await.unwrap();
    for error in [
        SqliteStore::open(&path).await.unwrap_err(),
        SqliteStore::open_existing(&path).await.unwrap_err(),
    ] {
        assert!(
            error.to_string().ends_with(
                "its schema version 4 is not supported (this build reads versions 1 to 3)"
            ),
            "{error}"
        );
    }
}
