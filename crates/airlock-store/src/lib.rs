//! Durable audit stores: the [`AuditStore`] seam, the embedded [`SqliteStore`] (the default),
//! the group-commit [`AuditWriter`] that makes appends fast and durable, the checkpoint
//! signing key files, the API key [`Revocation`]s kept beside the log, and the index that
//! rebuilds approval requests from their events after a restart
//! ([`SqliteStore::approval_requests`]). The chain, checkpoints and verification themselves
//! are in `airlock-audit` (pure).
#![forbid(unsafe_code)]

mod error;
mod keys;
mod lazy;
mod sqlite;
mod store;
mod writer;

pub use error::{ApprovalError, ApprovalFault, KeyFileError, StoreError, WriteError};
pub use keys::{
    PUBLIC_KEY_FILE, SIGNING_KEY_FILE, load_or_create_signing_key, load_public_key,
    load_signing_key, public_key_path,
};
pub use sqlite::{APPLICATION_ID, Revocation, Revoked, SCHEMA_VERSION, SqliteStore};
pub use store::AuditStore;
pub use writer::{AuditWriter, PendingReceipt, Receipt, WriterConfig, WriterTask};
