//! Approval requests from the log: the `approval_events` index (schema version 3) names the
//! events of each request, written in the same transaction as the events themselves; loading
//! replays them ([`Request::replay`]), so state survives a restart with no second source of
//! truth. A request that does not rebuild is reported on its own, never hiding the others.

use airlock_approval::{Request, RequestId};
use airlock_audit::{EventKind, SealedEvent, StoredRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{INSERT_CHUNK, SqliteStore, blob};
use crate::{ApprovalError, ApprovalFault, StoreError};

/// The first schema version with the `approval_events` index.
const SINCE_VERSION: i64 = 3;

const SELECT_ALL: &str = "SELECT a.request, a.seq, e.seq, CAST(e.prev_hash AS BLOB), \
    CAST(e.hash AS BLOB), CAST(e.body AS BLOB) \
    FROM approval_events a LEFT JOIN events e ON e.seq = a.seq ORDER BY a.request, a.seq";
const SELECT_ONE: &str = "SELECT a.request, a.seq, e.seq, CAST(e.prev_hash AS BLOB), \
    CAST(e.hash AS BLOB), CAST(e.body AS BLOB) \
    FROM approval_events a LEFT JOIN events e ON e.seq = a.seq WHERE a.request = ? \
    ORDER BY a.seq";

/// One index row and the event it points at (`None` when the event is gone).
#[derive(Debug)]
struct Indexed {
    request: String,
    seq: i64,
    row: Option<StoredRow>,
}

impl SqliteStore {
    /// Every approval request in the log, each rebuilt from its events in order, sorted by
    /// id. A request whose events do not rebuild is an [`ApprovalError`] in its place (fail
    /// closed for it: it grants nothing); the outer error means the store could not be read.
    /// A store read as an older schema has no approval requests.
    pub async fn approval_requests(
        &self,
    ) -> Result<Vec<Result<Request, ApprovalError>>, StoreError> {
        if self.version < SINCE_VERSION {
            return Ok(Vec::new());
        }
        let indexed = self.fetch_indexed(sqlx::query(SELECT_ALL)).await?;
        Ok(indexed
            .chunk_by(|a, b| a.request == b.request)
            .map(|events| self.rebuild(events))
            .collect())
    }

    /// The approval request `id`, rebuilt from its events (one indexed read); `None` when the
    /// log has no event of it. A request that does not rebuild is [`StoreError::Approval`].
    pub async fn approval_request(&self, id: RequestId) -> Result<Option<Request>, StoreError> {
        if self.version < SINCE_VERSION {
            return Ok(None);
        }
        let query = sqlx::query(SELECT_ONE).bind(id.to_string());
        let indexed = self.fetch_indexed(query).await?;
        if indexed.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.rebuild(&indexed)?))
    }

    /// Runs an index query and reads each row with its event (if the event row exists).
    async fn fetch_indexed(
        &self,
        query: sqlx::query::Query<'_, Sqlite, SqliteArguments>,
    ) -> Result<Vec<Indexed>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
        rows.iter()
            .map(indexed)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Replays one request's indexed events (all with the same `request`, in `seq` order).
    fn rebuild(&self, events: &[Indexed]) -> Result<Request, ApprovalError> {
        let raw = events
            .first()
            .map(|e| e.request.as_str())
            .unwrap_or_default();
        let fail = |fault| ApprovalError {
            request: raw.chars().take(64).collect(),
            path: self.path.clone(),
            fault,
        };
        let id = raw
            .parse::<RequestId>()
            .map_err(|e| fail(ApprovalFault::Id(e)))?;
        let mut replayed = Vec::with_capacity(events.len());
        for Indexed { seq, row, .. } in events {
            let seq = *seq;
            let row = row
                .as_ref()
                .ok_or_else(|| fail(ApprovalFault::Missing { seq }))?;
            let record = row
                .decode()
                .map_err(|error| fail(ApprovalFault::Unreadable { seq, error }))?;
            let recorded_at = i64::try_from(record.seq).ok();
            match record.event.kind {
                EventKind::Approval(event) if event.request() == id && recorded_at == Some(seq) => {
                    replayed.push(event);
                }
                EventKind::Approval(_)
                | EventKind::SessionOpened(_)
                | EventKind::SessionClosed(_)
                | EventKind::Decision(_)
                | EventKind::Outcome(_) => return Err(fail(ApprovalFault::NotItsEvent { seq })),
            }
        }
        Request::replay(&replayed).map_err(|e| fail(ApprovalFault::Replay(Box::new(e))))
    }
}

/// The index rows of the approval events among `events` (no statement when there are none), at
/// most [`INSERT_CHUNK`] of them per statement.
pub(super) fn insert_index(
    events: &[SealedEvent],
) -> Result<Vec<QueryBuilder<Sqlite>>, StoreError> {
    let mut rows = Vec::new();
    for event in events {
        if let Some(request) = event.approval {
            let seq = i64::try_from(event.seq).map_err(|_| StoreError::SeqRange(event.seq))?;
            rows.push((seq, request.to_string()));
        }
    }
    Ok(rows
        .chunks(INSERT_CHUNK)
        .map(|chunk| {
            let mut insert =
                QueryBuilder::<Sqlite>::new("INSERT INTO approval_events (seq, request) ");
            insert.push_values(chunk, |mut values, (seq, request)| {
                values.push_bind(*seq);
                values.push_bind(request.clone());
            });
            insert
        })
        .collect())
}

fn indexed(row: &SqliteRow) -> Result<Indexed, sqlx::Error> {
    let event_seq: Option<i64> = row.try_get(2)?;
    let stored = match event_seq {
        Some(seq) => Some(StoredRow {
            seq,
            prev_hash: blob(row, 3)?,
            hash: blob(row, 4)?,
            body: blob(row, 5)?,
        }),
        None => None,
    };
    Ok(Indexed {
        request: row.try_get::<Option<String>, _>(0)?.unwrap_or_default(),
        seq: row.try_get(1)?,
        row: stored,
    })
}
