//! The [`AuditStore`] seam: what the writer and the CLI need from a durable audit store.
//! SQLite implements it now; PostgreSQL will for several gateways.

use std::future::Future;

use airlock_audit::{
    ChainHead, Checkpoint, Problem, PublicKey, Report, SealedEvent, StoredCheckpoint, StoredRow,
};

use crate::StoreError;

/// A durable, append-only home for sealed events and checkpoints.
///
/// Reads return rows *unchecked* (as stored, possibly tampered with); decode or verify them
/// with `airlock-audit`.
pub trait AuditStore: Send + Sync + 'static {
    /// The newest stored event ([`ChainHead::EMPTY`] when there is none).
    fn head(&self) -> impl Future<Output = Result<ChainHead, StoreError>> + Send;

    /// The `seq` of the newest checkpoint, if any.
    fn last_checkpoint(&self) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Stores `events` (consecutive, continuing the head) and `checkpoint` in one durable
    /// transaction: when this returns `Ok`, all of it survives a crash or power loss.
    fn append(
        &self,
        events: &[SealedEvent],
        checkpoint: Option<&Checkpoint>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` rows with `seq > after`, in ascending order (for paging).
    fn events_after(
        &self,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredRow>, StoreError>> + Send;

    /// The newest `count` rows, in ascending order.
    fn last_events(
        &self,
        count: u32,
    ) -> impl Future<Output = Result<Vec<StoredRow>, StoreError>> + Send;

    /// Checkpoints with `after < seq <= up_to`, in ascending order.
    fn checkpoints_between(
        &self,
        after: u64,
        up_to: u64,
    ) -> impl Future<Output = Result<Vec<StoredCheckpoint>, StoreError>> + Send;

    /// Verifies the whole chain from one consistent snapshot, in constant memory. The outer
    /// error means the store could not be read; the inner one is the first tampering found.
    fn verify(
        &self,
        trusted: Option<PublicKey>,
    ) -> impl Future<Output = Result<Result<Report, Problem>, StoreError>> + Send;
}
