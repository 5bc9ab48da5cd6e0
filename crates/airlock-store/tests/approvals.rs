//! Approval requests in the SQLite store: their events go through the real writer into the
//! chain and the approval index, and a reopened store rebuilds every request from them; a
//! request whose events do not rebuild is reported alone; version-2 stores are back-filled.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test helpers")]

mod common;

use std::path::Path;

use airlock_approval::{
    Ballot, Channel, Choice, Lifetimes, NewRequest, ReplayError, Request, RequestContext,
    RequestId, Transition,
};
use airlock_audit::{AuditEvent, Chain, Problem};
use airlock_model::{Approval, Identity, IdentityKind, Name};
use airlock_store::{
    ApprovalFault, AuditStore, AuditWriter, SCHEMA_VERSION, SqliteStore, StoreError, WriterConfig,
};
use common::{event, key, tamper, verify};
use sqlx::{Connection as _, SqliteConnection};
use time::OffsetDateTime;

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

fn name(id: &str) -> Name {
    Name::new(id).unwrap()
}

fn open(id: u8) -> Transition {
    let new = NewRequest {
        id: RequestId::from_bytes([id; 16]),
        requester: Identity {
            kind: IdentityKind::Agent,
            id: name("deploy-bot"),
            groups: Default::default(),
            acting_for: Some(name("alice")),
        },
        connection: name("prod-db"),
        text: format!("DELETE FROM orders WHERE id = {id}"),
        context: RequestContext {
            rule: name("pg-review"),
            message: "deletes need review".into(),
            statement_kinds: Vec::new(),
            objects: Vec::new(),
            estimated_rows: Some(1),
        },
        approval: Approval {
            users: Vec::new(),
            groups: Vec::new(),
            quorum: 1,
            allow_principal_of_agent: false,
            require_reason: false,
        },
    };
    Request::open(new, Lifetimes::default(), t0())
}

fn vote(request: &Request, choice: Choice) -> Transition {
    let ballot = Ballot {
        voter: Identity::human(name("carol")),
        choice,
        channel: Channel::Web,
        reason: Some("checked".into()),
    };
    request.vote(ballot, t0()).unwrap()
}

/// Two requests, one approved and one denied, and their events interleaved with decisions.
fn story() -> (Vec<Request>, Vec<AuditEvent>) {
    let (a, b) = (open(1), open(2));
    let (approved, denied) = (
        vote(&a.request, Choice::Approve),
        vote(&b.request, Choice::Deny),
    );
    let events = vec![
        event(1),
        AuditEvent::approval(a.event),
        AuditEvent::approval(b.event),
        event(2),
        AuditEvent::approval(approved.event),
        AuditEvent::approval(denied.event),
        event(3),
    ];
    (vec![approved.request, denied.request], events)
}

/// Appends `events` through the real writer to the store at `path`, then closes both.
async fn record(path: &Path, events: Vec<AuditEvent>) {
    let store = SqliteStore::open(path).await.unwrap();
    let (writer, task) = AuditWriter::start(store.clone(), key(), WriterConfig::default())
        .await
        .unwrap();
    for event in events {
        writer.append(event).await.unwrap();
    }
    writer.close().await.unwrap();
    task.join().await.unwrap();
    store.close().await;
}

async fn sql(path: &Path, sql: &'static str) -> Result<(), sqlx::Error> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let result = sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ());
    conn.close().await.unwrap();
    result
}

async fn loaded(store: &SqliteStore) -> Vec<Request> {
    let all = store.approval_requests().await.unwrap();
    all.into_iter().map(Result::unwrap).collect()
}

#[tokio::test]
async fn requests_are_rebuilt_from_their_events_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let (live, events) = story();
    record(&path, events).await;

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(loaded(&store).await, live);
    let a = live[0].id();
    assert_eq!(
        store.approval_request(a).await.unwrap().as_ref(),
        live.first()
    );
    let unknown = RequestId::from_bytes([9; 16]);
    assert_eq!(store.approval_request(unknown).await.unwrap(), None);
    store.close().await;

    let reader = SqliteStore::open_existing(&path).await.unwrap();
    assert_eq!(loaded(&reader).await, live);
    reader.close().await;
    let report = verify(&path).await.unwrap();
    assert_eq!(report.events, 7);
}

#[tokio::test]
async fn a_batch_indexes_its_approval_events_in_the_same_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let (live, events) = story();
    let mut chain = Chain::new();
    let sealed: Vec<_> = events.iter().map(|e| chain.seal(e).unwrap()).collect();
    store.append(&sealed, None).await.unwrap();
    assert_eq!(loaded(&store).await, live);
    // A failed batch leaves neither events nor index rows behind.
    let mut next = Chain::resume(chain.head());
    let again = [next.seal(&AuditEvent::approval(open(3).event)).unwrap()];
    let duplicate = [sealed[0].clone(), again[0].clone()];
    assert!(store.append(&duplicate, None).await.is_err());
    assert_eq!(loaded(&store).await.len(), 2);
    store.append(&again, None).await.unwrap();
    assert_eq!(loaded(&store).await.len(), 3);
    store.close().await;
    assert_eq!(verify(&path).await.unwrap().events, 8);
}

#[tokio::test]
async fn a_request_that_does_not_rebuild_is_reported_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let (live, mut events) = story();
    // Request 5's approval, recorded without its `requested` event.
    events.push(AuditEvent::approval(
        vote(&open(5).request, Choice::Approve).event,
    ));
    record(&path, events).await;
    // Index rows that point at a decision, at no event, and name no request id.
    let bad_rows = "INSERT INTO approval_events (seq, request) VALUES \
        (100, 'apr_03030303030303030303030303030303'), \
        (101, 'apr_not-an-id');";
    sql(&path, bad_rows).await.unwrap();
    let b = live[1].id();
    let foreign = format!("INSERT INTO approval_events VALUES (1, '{b}')");
    sql(&path, Box::leak(foreign.into_boxed_str()))
        .await
        .unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let all = store.approval_requests().await.unwrap();
    assert_eq!(all.len(), 5, "{all:?}");
    assert_eq!(all[0].as_ref().unwrap(), &live[0]);
    let faults: Vec<_> = all[1..]
        .iter()
        .map(|r| &r.as_ref().unwrap_err().fault)
        .collect();
    assert!(
        matches!(faults[0], ApprovalFault::NotItsEvent { seq: 1 }),
        "{faults:?}"
    );
    assert!(
        matches!(faults[1], ApprovalFault::Missing { seq: 100 }),
        "{faults:?}"
    );
    assert!(
        matches!(
            faults[2],
            ApprovalFault::Replay(error)
                if matches!(**error, ReplayError::NotOpenedFirst { found: "approved" })
        ),
        "{faults:?}"
    );
    assert!(matches!(faults[3], ApprovalFault::Id(_)), "{faults:?}");
    let error = store.approval_request(b).await.unwrap_err();
    assert!(matches!(error, StoreError::Approval(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "approval request `{b}` in audit database `{}` cannot be rebuilt: the approval \
             index lists event #1, which is not one of its approval events; run `airlock \
             audit verify`",
            path.display()
        )
    );
    store.close().await;
}

#[tokio::test]
async fn the_approval_index_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let (live, events) = story();
    record(&path, events).await;
    for statement in [
        "UPDATE approval_events SET request = 'x'",
        "DELETE FROM approval_events WHERE seq = 5",
    ] {
        let error = sql(&path, statement).await.unwrap_err().to_string();
        assert!(
            error.contains("the approval index is append-only"),
            "{error}"
        );
    }
    let replace = "INSERT OR REPLACE INTO approval_events SELECT seq, 'x' FROM approval_events";
    sql(&path, replace).await.unwrap();
    let store = SqliteStore::open_existing(&path).await.unwrap();
    assert_eq!(loaded(&store).await, live);
    store.close().await;
}

#[tokio::test]
async fn a_version_2_store_is_back_filled_when_opened_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let (live, events) = story();
    record(&path, events).await;
    sql(
        &path,
        "DROP TABLE approval_events; PRAGMA user_version = 2;",
    )
    .await
    .unwrap();
    // A body that is not JSON (tampering) must not stop the upgrade; verify reports it.
    tamper(&path, "UPDATE events SET body = 'not json' WHERE seq = 4").await;

    let reader = SqliteStore::open_existing(&path).await.unwrap();
    assert_eq!(reader.schema_version(), 2);
    assert!(reader.approval_requests().await.unwrap().is_empty());
    assert_eq!(reader.approval_request(live[0].id()).await.unwrap(), None);
    reader.close().await;

    let writer = SqliteStore::open(&path).await.unwrap();
    assert_eq!(writer.schema_version(), SCHEMA_VERSION);
    assert_eq!(loaded(&writer).await, live);
    writer.close().await;
    // Upgrading twice (two processes at once) indexes nothing twice.
    sql(&path, "PRAGMA user_version = 2;").await.unwrap();
    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(loaded(&again).await, live);
    again.close().await;
    assert!(matches!(
        verify(&path).await,
        Err(Problem::Edited { seq: 4, .. })
    ));
}
