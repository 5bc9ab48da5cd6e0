//! Revoked API keys (`airlock keys revoke`): an append-only table beside the audit log that
//! the gateway reads at every authentication. Revocations are not hash-chained events: a
//! running gateway's writer owns the chain head, and a second writer would fork the chain.

use std::collections::HashSet;

use airlock_model::{KeyId, Name};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SqliteStore;
use crate::StoreError;

/// The first schema version with the `revoked_keys` table.
const SINCE_VERSION: i64 = 2;
/// Key ids per `IN (…)` list, far below SQLite's parameter limit.
const IDS_CHUNK: usize = 256;

/// One key's revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub key_id: KeyId,
    /// The identity the key belonged to when it was revoked (for people reading the list:
    /// the revocation holds for the key wherever it is configured).
    pub identity: Name,
    pub time: OffsetDateTime,
    pub reason: Option<String>,
}

/// What [`SqliteStore::revoke`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// The revocation is recorded now.
    Now(Revocation),
    /// The key was revoked before; the first revocation stands, unchanged.
    Already(Revocation),
}

impl SqliteStore {
    /// Records a key's revocation durably. Revoking a revoked key changes nothing and
    /// returns the existing revocation.
    pub async fn revoke(&self, revocation: Revocation) -> Result<Revoked, StoreError> {
        self.needs_revocations()?;
        let time = revocation
            .time
            .format(&Rfc3339)
            .map_err(|e| self.bad_revocation(&revocation.key_id, e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO revoked_keys (key_id, identity, time, reason) VALUES (?, ?, ?, ?) \
             ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(revocation.key_id.as_str())
        .bind(revocation.identity.as_str())
        .bind(time)
        .bind(revocation.reason.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        if inserted.rows_affected() == 1 {
            return Ok(Revoked::Now(revocation));
        }
        let row =
            sqlx::query("SELECT key_id, identity, time, reason FROM revoked_keys WHERE key_id = ?")
                .bind(revocation.key_id.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        self.decode(&row).map(Revoked::Already)
    }

    /// Which of `ids` are revoked: one indexed read per 256 ids, so the gateway can ask at
    /// every authentication. A store read as an older schema has no revocations.
    pub async fn revoked_among(&self, ids: &[KeyId]) -> Result<HashSet<KeyId>, StoreError> {
        let mut revoked = HashSet::new();
        if self.version < SINCE_VERSION {
            return Ok(revoked);
        }
        for chunk in ids.chunks(IDS_CHUNK) {
            let mut select =
                QueryBuilder::<Sqlite>::new("SELECT key_id FROM revoked_keys WHERE key_id IN (");
            let mut list = select.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            select.push(")");
            let found: Vec<String> = select
                .build_query_scalar()
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
            revoked.extend(
                chunk
                    .iter()
                    .filter(|id| found.iter().any(|f| f == id.as_str()))
                    .cloned(),
            );
        }
        Ok(revoked)
    }

    /// Every revocation, oldest first (none in a store read as an older schema).
    pub async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        if self.version < SINCE_VERSION {
            return Ok(Vec::new());
        }
        let rows =
            sqlx::query("SELECT key_id, identity, time, reason FROM revoked_keys ORDER BY rowid")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    fn needs_revocations(&self) -> Result<(), StoreError> {
        if self.version < SINCE_VERSION {
            return Err(StoreError::Outdated {
                path: self.path.clone(),
                version: self.version,
                what: "key revocations",
            });
        }
        Ok(())
    }

    fn decode(&self, row: &SqliteRow) -> Result<Revocation, StoreError> {
        let text = |i: usize| row.try_get::<Option<String>, _>(i).map_err(|e| self.err(e));
        let raw_id = text(0)?.unwrap_or_default();
        let bad = |reason: String| StoreError::BadRevocation {
            path: self.path.clone(),
            key_id: raw_id.chars().take(32).collect(),
            reason,
        };
        let key_id = raw_id.parse::<KeyId>().map_err(|e| bad(e.to_string()))?;
        let identity =
            Name::new(text(1)?.unwrap_or_default()).map_err(|e| bad(format!("identity: {e}")))?;
        let time = OffsetDateTime::parse(&text(2)?.unwrap_or_default(), &Rfc3339)
            .map_err(|e| bad(format!("time: {e}")))?;
        Ok(Revocation {
            key_id,
            identity,
            time,
            reason: text(3)?,
        })
    }

    fn bad_revocation(&self, key_id: &KeyId, reason: String) -> StoreError {
        StoreError::BadRevocation {
            path: self.path.clone(),
            key_id: key_id.to_string(),
            reason,
        }
    }
}
