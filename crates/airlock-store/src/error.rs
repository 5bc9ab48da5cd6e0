//! Errors of the audit stores and of the group-commit writer.

use std::path::PathBuf;
use std::sync::Arc;

use airlock_audit::{DecodeError, KeyError};

/// A store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no audit database at `{path}`")]
    Missing { path: PathBuf },
    #[error("audit database `{path}` is not a valid airlock audit store: {reason}")]
    NotAStore { path: PathBuf, reason: String },
    #[error("cannot create the directory of audit database `{path}`: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("audit database `{path}` failed: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the last event in audit database `{path}` is unreadable ({error}); run `airlock audit verify`"
    )]
    BadHead { path: PathBuf, error: DecodeError },
    #[error(
        "audit database `{path}` has schema version {version}, which has no key revocations; \
         opening it for writing (`airlock serve`, `airlock keys revoke`) upgrades it"
    )]
    Outdated { path: PathBuf, version: i64 },
    #[error("the revocation of key `{key_id}` in audit database `{path}` is unreadable: {reason}")]
    BadRevocation {
        path: PathBuf,
        key_id: String,
        reason: String,
    },
    #[error("audit sequence number {0} is out of range")]
    SeqRange(u64),
    #[error("the audit writer task failed: {0}")]
    Task(String),
}

/// An audit signing key file could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read audit key `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create audit signing key `{path}`: {reason}")]
    Create { path: PathBuf, reason: String },
    #[error("audit key `{path}` is not valid: {source}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
}

/// Why an append did not become durable. Every waiter of a failed batch gets the error:
/// the event is *not* recorded and the caller must fail closed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the audit log is closed")]
    Closed,
    #[error("audit event cannot be recorded: {0}")]
    Rejected(String),
    #[error("audit log write failed: {0}")]
    Store(Arc<StoreError>),
}

impl StoreError {
    /// Classifies a database error: a corrupt file or a non-database file is not a store.
    pub(crate) fn from_sqlx(path: &std::path::Path, source: sqlx::Error) -> Self {
        let path = path.to_path_buf();
        if let sqlx::Error::Database(db) = &source {
            let code = db.code().and_then(|c| c.parse::<i32>().ok());
            // SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), including their extended codes.
            if let Some(11 | 26) = code.map(|c| c & 0xff) {
                return Self::NotAStore {
                    path,
                    reason: db.message().to_owned(),
                };
            }
        }
        Self::Database { path, source }
    }
}
