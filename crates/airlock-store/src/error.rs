//! Errors of the audit stores and of the group-commit writer.

use std::path::PathBuf;
use std::sync::Arc;

use airlock_approval::{ReplayError, RequestIdError};
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
        "audit database `{path}` has schema version {version}, which has no {what}; \
         opening it for writing (`airlock serve`, `airlock keys revoke`) upgrades it"
    )]
    Outdated {
        path: PathBuf,
        version: i64,
        /// What the older schema lacks, e.g. `key revocations`.
        what: &'static str,
    },
    #[error("the revocation of key `{key_id}` in audit database `{path}` is unreadable: {reason}")]
    BadRevocation {
        path: PathBuf,
        key_id: String,
        reason: String,
    },
    #[error(transparent)]
    Approval(Box<ApprovalError>),
    #[error("audit sequence number {0} is out of range")]
    SeqRange(u64),
    #[error("an audit event cannot be bound for storage: {0}")]
    Encode(String),
    #[error("the audit writer task failed: {0}")]
    Task(String),
}

/// An approval request whose recorded events do not rebuild it. Fail closed: the request
/// grants nothing; the gateway logs it and loads the others.
#[derive(Debug, thiserror::Error)]
#[error("approval request `{request}` in audit database `{path}` cannot be rebuilt: {fault}")]
pub struct ApprovalError {
    /// The request id as the index records it (cut to 64 characters).
    pub request: String,
    pub path: PathBuf,
    pub fault: ApprovalFault,
}

/// Why an approval request's events do not rebuild it.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalFault {
    #[error("the approval index names it, but {0}")]
    Id(RequestIdError),
    #[error("its event #{seq} is missing from the log; run `airlock audit verify`")]
    Missing { seq: i64 },
    #[error("its event #{seq} is unreadable ({error}); run `airlock audit verify`")]
    Unreadable { seq: i64, error: DecodeError },
    #[error(
        "the approval index lists event #{seq}, which is not one of its approval events; \
         run `airlock audit verify`"
    )]
    NotItsEvent { seq: i64 },
    #[error("its events do not replay: {0}")]
    Replay(Box<ReplayError>),
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

impl From<ApprovalError> for StoreError {
    fn from(error: ApprovalError) -> Self {
        Self::Approval(Box::new(error))
    }
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
