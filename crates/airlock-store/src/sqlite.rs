//! [`SqliteStore`]: the embedded default store. One SQLite file in WAL mode with
//! `synchronous=FULL` (a commit survives power loss), marked with an application id so that
//! any other file is refused with a clear error. Triggers make the tables append-only for
//! every ordinary client; tampering with the file itself is what `verify` detects.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use airlock_audit::{
    ChainHead, Checkpoint, DecodeError, Problem, PublicKey, Report, SealedEvent, StoredCheckpoint,
    StoredRow, Verifier,
};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Connection, Executor, Row, Sqlite, SqlitePool};
use tokio::sync::Mutex;

use crate::{AuditStore, StoreError};

mod approvals;
mod revocations;
mod schema;

pub use revocations::{Revocation, Revoked};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

/// Rows per multi-row `INSERT` (4 parameters each, far below SQLite's limit).
const INSERT_CHUNK: usize = 512;
/// Rows per page when verifying.
const VERIFY_PAGE: i64 = 2048;

const SELECT_EVENTS: &str = "SELECT seq, CAST(prev_hash AS BLOB), CAST(hash AS BLOB), \
    CAST(body AS BLOB) FROM events WHERE seq > ? ORDER BY seq LIMIT ?";
const SELECT_LAST_EVENTS: &str = "SELECT seq, CAST(prev_hash AS BLOB), CAST(hash AS BLOB), \
    CAST(body AS BLOB) FROM events ORDER BY seq DESC LIMIT ?";
const SELECT_CHECKPOINTS: &str = "SELECT seq, CAST(head_hash AS BLOB), CAST(time AS TEXT), \
    CAST(public_key AS BLOB), CAST(signature AS BLOB) FROM checkpoints \
    WHERE seq > ? AND seq <= ? ORDER BY seq, id";

/// The embedded SQLite audit store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that appends events (opened on first use). Always the same
    /// connection, so its page cache stays valid between commits: a pool handing out
    /// connections in turn makes each re-read the pages the others wrote. Held here, not in a
    /// pool: a pool's check-out and return cost a task per commit.
    appender: Arc<Appender>,
    path: PathBuf,
    /// The schema version of the file: the current one, unless opened read-only.
    version: i64,
}

/// The appending connection and how to open it. The async mutex is the connection's check-out
/// (what the one-connection pool was): held for one append and nothing else, by the writer task.
#[derive(Debug)]
struct Appender {
    options: SqliteConnectOptions,
    connection: Mutex<Option<SqliteConnection>>,
}

impl Appender {
    /// The connection in `slot`, opened now if it is not yet (or no longer) open.
    async fn open<'s>(
        &self,
        slot: &'s mut Option<SqliteConnection>,
    ) -> Result<&'s mut SqliteConnection, sqlx::Error> {
        let connection = match slot.take() {
            Some(connection) => connection,
            None => SqliteConnection::connect_with(&self.options).await?,
        };
        Ok(slot.insert(connection))
    }
}

impl SqliteStore {
    /// The database file name inside the data directory.
    pub const FILE_NAME: &str = "audit.db";

    /// Opens the store at `path` for writing, creating the file (and its directory) and the
    /// schema if missing and upgrading an older schema (the gateway, `airlock keys revoke`).
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Self::open_with(path, schema::Mode::Write).await
    }

    /// Opens an existing store for reading, never creating or upgrading one (the CLI's
    /// reading commands); a store of an older schema version is read as it is.
    pub async fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        Self::open_with(path, schema::Mode::Read).await
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection (the WAL is checkpointed into the main file).
    pub async fn close(&self) {
        let appender = self.appender.connection.lock().await.take();
        if let Some(connection) = appender
            && let Err(error) = connection.close().await
        {
            tracing::warn!(%error, "audit store: closing the appending connection failed");
        }
        self.pool.close().await;
    }

    /// The schema version of the file (older than [`SCHEMA_VERSION`] only when opened with
    /// [`open_existing`](Self::open_existing)).
    pub fn schema_version(&self) -> i64 {
        self.version
    }

    async fn open_with(path: &Path, mode: schema::Mode) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(mode == schema::Mode::Write)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A local file, not a network peer: pinging it before every use only adds a
            // round trip to the connection's thread.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::from_sqlx(path, e))?;
        let mut store = Self {
            pool,
            appender: Arc::new(Appender {
                options,
                connection: Mutex::new(None),
            }),
            path: path.to_path_buf(),
            version: 0,
        };
        store.version = store.check_schema(mode).await?;
        Ok(store)
    }

    fn err(&self, error: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(&self.path, error)
    }

    async fn verify_snapshot(&self, trusted: Option<PublicKey>) -> Result<Verdict, StoreError> {
        // One read transaction: a consistent snapshot even while the gateway appends.
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let mut verifier = Verifier::new(trusted);
        let mut after = i64::MIN;
        loop {
            let rows = select_events(&mut *tx, after, VERIFY_PAGE)
                .await
                .map_err(|e| self.err(e))?;
            let Some(high) = rows.last().map(|row| row.seq) else {
                break;
            };
            let checkpoints = select_checkpoints(&mut *tx, after, high)
                .await
                .map_err(|e| self.err(e))?;
            for checkpoint in &checkpoints {
                if let Err(problem) = verifier.checkpoint(checkpoint) {
                    return Ok(Err(problem));
                }
            }
            for row in &rows {
                if let Err(problem) = verifier.event(row) {
                    return Ok(Err(problem));
                }
            }
            after = high;
        }
        let trailing = select_checkpoints(&mut *tx, after, i64::MAX)
            .await
            .map_err(|e| self.err(e))?;
        for checkpoint in &trailing {
            if let Err(problem) = verifier.checkpoint(checkpoint) {
                return Ok(Err(problem));
            }
        }
        Ok(verifier.finish())
    }
}

type Verdict = Result<Report, Problem>;

impl AuditStore for SqliteStore {
    async fn head(&self) -> Result<ChainHead, StoreError> {
        let rows = select_last_events(&self.pool, 1)
            .await
            .map_err(|e| self.err(e))?;
        let Some(row) = rows.first() else {
            return Ok(ChainHead::EMPTY);
        };
        let bad = |error| StoreError::BadHead {
            path: self.path.clone(),
            error,
        };
        let seq = u64::try_from(row.seq).map_err(|_| bad(DecodeError::Position))?;
        let (_, hash) = row.hashes().map_err(bad)?;
        Ok(ChainHead { seq, hash })
    }

    async fn last_checkpoint(&self) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM checkpoints")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(seq.and_then(|seq| u64::try_from(seq).ok()))
    }

    async fn append(
        &self,
        events: &[SealedEvent],
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), StoreError> {
        // Approval events are indexed in the same transaction; other batches have no index.
        let index = approvals::insert_index(events)?;
        let one_statement = !events.is_empty() && events.len() <= INSERT_CHUNK;
        let mut slot = self.appender.connection.lock().await;
        let conn = self
            .appender
            .open(&mut slot)
            .await
            .map_err(|e| self.err(e))?;
        if checkpoint.is_none() && index.is_empty() && one_statement {
            // One statement is its own transaction: one round trip to SQLite's thread
            // instead of three (BEGIN, INSERT, COMMIT), with the same durability.
            let (sql, arguments) = insert_events(events)?;
            sqlx::query_with(AssertSqlSafe(sql), arguments)
                .execute(&mut *conn)
                .await
                .map_err(|e| self.err(e))?;
            return Ok(());
        }
        let mut tx = conn.begin().await.map_err(|e| self.err(e))?;
        for chunk in events.chunks(INSERT_CHUNK) {
            let (sql, arguments) = insert_events(chunk)?;
            sqlx::query_with(AssertSqlSafe(sql), arguments)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        for mut insert in index {
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        if let Some(checkpoint) = checkpoint {
            insert_checkpoint(&mut tx, checkpoint)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn events_after(&self, after: u64, limit: u32) -> Result<Vec<StoredRow>, StoreError> {
        let after = i64::try_from(after).map_err(|_| StoreError::SeqRange(after))?;
        select_events(&self.pool, after, i64::from(limit))
            .await
            .map_err(|e| self.err(e))
    }

    async fn last_events(&self, count: u32) -> Result<Vec<StoredRow>, StoreError> {
        let mut rows = select_last_events(&self.pool, i64::from(count)).await;
        rows = rows.map(|mut rows| {
            rows.reverse();
            rows
        });
        rows.map_err(|e| self.err(e))
    }

    async fn checkpoints_between(
        &self,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let after = i64::try_from(after).map_err(|_| StoreError::SeqRange(after))?;
        let up_to = i64::try_from(up_to).unwrap_or(i64::MAX);
        select_checkpoints(&self.pool, after, up_to)
            .await
            .map_err(|e| self.err(e))
    }

    async fn verify(&self, trusted: Option<PublicKey>) -> Result<Verdict, StoreError> {
        self.verify_snapshot(trusted).await
    }
}

/// One multi-row `INSERT` of `events` (at most [`INSERT_CHUNK`] of them).
/// One multi-row INSERT of `events`: the SQL text and its arguments built directly
/// (`QueryBuilder` formatted every placeholder, and `&str` and `&[u8]` arguments are each
/// copied twice; an `Arc<str>` body is handed to SQLite as it is).
fn insert_events(events: &[SealedEvent]) -> Result<(String, SqliteArguments), StoreError> {
    const HEAD: &str = "INSERT INTO events (seq, prev_hash, hash, body) VALUES ";
    const ROW: &str = "(?,?,?,?)";
    let mut sql = String::with_capacity(HEAD.len() + events.len() * (ROW.len() + 1));
    sql.push_str(HEAD);
    let mut arguments = SqliteArguments::default();
    arguments.reserve(events.len() * 4, 0);
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(ROW);
        let seq = i64::try_from(event.seq).map_err(|_| StoreError::SeqRange(event.seq))?;
        let body: Arc<str> = Arc::from(event.body.as_str());
        let bound = [
            arguments.add(seq),
            arguments.add(event.prev_hash.as_bytes().to_vec()),
            arguments.add(event.hash.as_bytes().to_vec()),
            arguments.add(body),
        ];
        if let Some(Err(error)) = bound.into_iter().find(Result::is_err) {
            return Err(StoreError::Encode(error.to_string()));
        }
    }
    Ok((sql, arguments))
}

async fn insert_checkpoint(
    tx: &mut sqlx::SqliteConnection,
    checkpoint: &Checkpoint,
) -> Result<(), sqlx::Error> {
    let seq = i64::try_from(checkpoint.seq).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO checkpoints (seq, head_hash, time, key_id, public_key, signature) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(seq)
    .bind(checkpoint.head_hash.as_bytes().as_slice())
    .bind(checkpoint.time.as_str())
    .bind(checkpoint.key_id().to_string())
    .bind(checkpoint.public_key.to_bytes().as_slice())
    .bind(checkpoint.signature.as_slice())
    .execute(tx)
    .await
    .map(|_| ())
}

async fn select_events<'e>(
    executor: impl Executor<'e, Database = Sqlite>,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    let rows = sqlx::query(SELECT_EVENTS)
        .bind(after)
        .bind(limit)
        .fetch_all(executor)
        .await?;
    rows.iter().map(stored_row).collect()
}

async fn select_last_events<'e>(
    executor: impl Executor<'e, Database = Sqlite>,
    limit: i64,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    let rows = sqlx::query(SELECT_LAST_EVENTS)
        .bind(limit)
        .fetch_all(executor)
        .await?;
    rows.iter().map(stored_row).collect()
}

async fn select_checkpoints<'e>(
    executor: impl Executor<'e, Database = Sqlite>,
    after: i64,
    up_to: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    let rows = sqlx::query(SELECT_CHECKPOINTS)
        .bind(after)
        .bind(up_to)
        .fetch_all(executor)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredCheckpoint {
                seq: row.try_get(0)?,
                head_hash: blob(row, 1)?,
                time: row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                public_key: blob(row, 3)?,
                signature: blob(row, 4)?,
            })
        })
        .collect()
}

fn stored_row(row: &SqliteRow) -> Result<StoredRow, sqlx::Error> {
    Ok(StoredRow {
        seq: row.try_get(0)?,
        prev_hash: blob(row, 1)?,
        hash: blob(row, 2)?,
        body: blob(row, 3)?,
    })
}

fn blob(row: &SqliteRow, index: usize) -> Result<Vec<u8>, sqlx::Error> {
    Ok(row
        .try_get::<Option<Vec<u8>>, _>(index)?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_database_is_durable_wal_and_marked_as_ours() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("data").join("audit.db"))
            .await
            .unwrap();
        let text = |sql: &'static str| sqlx::query_scalar::<_, String>(sql).fetch_one(&store.pool);
        let int = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&store.pool);
        assert_eq!(text("PRAGMA journal_mode").await.unwrap(), "wal");
        assert_eq!(int("PRAGMA synchronous").await.unwrap(), 2); // FULL
        assert_eq!(int("PRAGMA application_id").await.unwrap(), APPLICATION_ID);
        let row = "INSERT INTO events VALUES (1, x'00', x'00', '{}')";
        sqlx::query(row).execute(&store.pool).await.unwrap();
        let error = sqlx::query("DELETE FROM events")
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("audit events are append-only"),
            "{error}"
        );
        let error = store.head().await.unwrap_err().to_string();
        assert!(
            error.contains("is unreadable (the prev_hash column is not a 32-byte"),
            "{error}"
        );
    }
}
