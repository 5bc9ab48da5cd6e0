//! The SQLite store's schema: creating it, checking a file's version, and upgrading older
//! stores in place. Every table is append-only for ordinary clients (triggers).

use sqlx::Executor;

use super::SqliteStore;
use crate::StoreError;

/// `PRAGMA application_id` of an airlock audit database ("ARLK").
pub const APPLICATION_ID: i64 = 0x4152_4C4B;
/// `PRAGMA user_version` of the current schema.
pub const SCHEMA_VERSION: i64 = 3;
/// The oldest schema this build reads (and upgrades when opened for writing).
const OLDEST_VERSION: i64 = 1;

/// Version 1: the hash-chained events and the signed checkpoints.
const V1: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    head_hash BLOB NOT NULL,
    time TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key BLOB NOT NULL,
    signature BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_by_seq ON checkpoints (seq);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
";

/// Version 2: revoked API keys (`airlock keys revoke`), read at every authentication. A second
/// insert of a key id is ignored, so `INSERT OR REPLACE` (which deletes without firing delete
/// triggers) cannot rewrite a revocation either.
const V2: &str = "
CREATE TABLE IF NOT EXISTS revoked_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    identity TEXT NOT NULL,
    time TEXT NOT NULL,
    reason TEXT
);
CREATE TRIGGER IF NOT EXISTS revoked_keys_no_update BEFORE UPDATE ON revoked_keys
    BEGIN SELECT RAISE(ABORT, 'key revocations are append-only'); END;
CREATE TRIGGER IF NOT EXISTS revoked_keys_no_delete BEFORE DELETE ON revoked_keys
    BEGIN SELECT RAISE(ABORT, 'key revocations are append-only'); END;
CREATE TRIGGER IF NOT EXISTS revoked_keys_no_replace BEFORE INSERT ON revoked_keys
    WHEN EXISTS (SELECT 1 FROM revoked_keys WHERE key_id = NEW.key_id)
    BEGIN SELECT RAISE(IGNORE); END;
";

/// Version 3: which events belong to which approval request, written in the same transaction
/// as the events, so the gateway rebuilds pending requests after a restart without reading
/// the whole log. The events stay the record (hash-chained); this is an index of them. Events
/// recorded before the table existed are indexed from their bodies (a body that is not valid
/// JSON is left to `airlock audit verify`). The insert trigger ignores a second row for a
/// `seq`, so the back-fill can run twice and `INSERT OR REPLACE` cannot rewrite a row.
const V3: &str = "
CREATE TABLE IF NOT EXISTS approval_events (
    seq INTEGER PRIMARY KEY NOT NULL,
    request TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_events_by_request ON approval_events (request, seq);
CREATE TRIGGER IF NOT EXISTS approval_events_no_update BEFORE UPDATE ON approval_events
    BEGIN SELECT RAISE(ABORT, 'the approval index is append-only'); END;
CREATE TRIGGER IF NOT EXISTS approval_events_no_delete BEFORE DELETE ON approval_events
    BEGIN SELECT RAISE(ABORT, 'the approval index is append-only'); END;
CREATE TRIGGER IF NOT EXISTS approval_events_no_replace BEFORE INSERT ON approval_events
    WHEN EXISTS (SELECT 1 FROM approval_events WHERE seq = NEW.seq)
    BEGIN SELECT RAISE(IGNORE); END;
INSERT INTO approval_events (seq, request)
    SELECT seq, request FROM (SELECT seq,
        CASE WHEN typeof(body) = 'text' THEN CASE WHEN json_valid(body) THEN
            CASE WHEN json_extract(body, '$.event.type') = 'approval'
                AND json_type(body, '$.event.request') = 'text'
            THEN json_extract(body, '$.event.request') END
        END END AS request
        FROM events)
    WHERE request IS NOT NULL;
";

/// `STEPS[v - 1]` brings a store from version `v - 1` to `v`. Each step is idempotent, so
/// two processes upgrading one file at once both succeed.
const STEPS: [&str; 3] = [V1, V2, V3];
const MARK_NEW: &str = "PRAGMA application_id = 1095912523;";
const SET_VERSION: &str = "PRAGMA user_version = 3;";

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// The gateway and writing commands: create a missing schema, upgrade an older one.
    Write,
    /// Reading commands: never write; older versions are read as they are.
    Read,
}

impl SqliteStore {
    /// Checks the file is an airlock store this build can use, creating or upgrading its
    /// schema in `Mode::Write`. Returns the schema version the store now has.
    pub(super) async fn check_schema(&self, mode: Mode) -> Result<i64, StoreError> {
        let scalar = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.pool);
        let app = scalar("PRAGMA application_id")
            .await
            .map_err(|e| self.err(e))?;
        let version = scalar("PRAGMA user_version")
            .await
            .map_err(|e| self.err(e))?;
        let objects = scalar("SELECT count(*) FROM sqlite_master")
            .await
            .map_err(|e| self.err(e))?;
        let known = (OLDEST_VERSION..=SCHEMA_VERSION).contains(&version);
        let reason = match (app, objects) {
            (APPLICATION_ID, _) if version == SCHEMA_VERSION => return Ok(version),
            (APPLICATION_ID, _) if known && mode == Mode::Read => return Ok(version),
            (APPLICATION_ID, _) if known => return self.upgrade(version).await,
            (APPLICATION_ID, _) => format!(
                "its schema version {version} is not supported (this build reads versions \
                 {OLDEST_VERSION} to {SCHEMA_VERSION})"
            ),
            (0, 0) if mode == Mode::Write => return self.upgrade(0).await,
            (0, 0) => "it is empty".to_owned(),
            _ => "it is a SQLite database of another application".to_owned(),
        };
        Err(StoreError::NotAStore {
            path: self.path.clone(),
            reason,
        })
    }

    /// Runs the steps from `version` (0: a new file) to the current one in one transaction.
    async fn upgrade(&self, version: i64) -> Result<i64, StoreError> {
        let from = usize::try_from(version).unwrap_or(usize::MAX);
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for sql in (version == 0)
            .then_some(MARK_NEW)
            .into_iter()
            .chain(STEPS.iter().skip(from).copied())
            .chain([SET_VERSION])
        {
            tx.execute(sqlx::raw_sql(sql))
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        if version > 0 {
            tracing::info!(path = %self.path.display(), from = version, to = SCHEMA_VERSION, "audit store upgraded");
        }
        Ok(SCHEMA_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_agree() {
        assert_eq!(i64::try_from(STEPS.len()).unwrap(), SCHEMA_VERSION);
        assert_eq!(
            SET_VERSION,
            format!("PRAGMA user_version = {SCHEMA_VERSION};")
        );
        assert_eq!(
            MARK_NEW,
            format!("PRAGMA application_id = {APPLICATION_ID};")
        );
    }
}
