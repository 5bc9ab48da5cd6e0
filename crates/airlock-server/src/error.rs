//! Errors of the gateway: why it cannot start ([`StartError`]) and why a session ends
//! ([`SessionError`]), each knowing who caused it and what the client sees.

use std::path::PathBuf;

use airlock_pg::{HandshakeError, Severity, WireError, encode_error};
use airlock_store::{KeyFileError, StoreError};

use crate::tls::TlsError;

/// The gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("policy: {0}")]
    Policy(String),
    #[error("connection `{connection}`: {reason}")]
    Credentials { connection: String, reason: String },
    #[error("cannot create data directory `{path}`: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what}: {source}")]
    Tls {
        /// `listener `pg`` or `connection `main``.
        what: String,
        #[source]
        source: TlsError,
    },
    #[error("the system's random number generator failed: {0}")]
    Random(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot listen on `{address}`: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a session ended early. Each variant knows its SQLSTATE and message for the client.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The client broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(#[from] WireError),
    #[error("unexpected message `{0}` from the client")]
    Unexpected(char),
    #[error("message of {length} bytes exceeds the limit of {limit} bytes")]
    TooLarge { length: usize, limit: usize },
    #[error("{0}")]
    Refused(Refusal),
    #[error("password authentication failed for user `{0}`")]
    AuthFailed(String),
    /// Revocations could not be read: nobody authenticates (the details are logged).
    #[error("API keys cannot be checked right now: the gateway's audit store is unavailable")]
    KeyCheck,
    #[error("authentication timed out")]
    AuthTimeout,
    #[error("connection `{connection}` is unavailable: {reason}")]
    Upstream { connection: String, reason: String },
    #[error("upstream handshake for connection `{connection}` failed: {error}")]
    Handshake {
        connection: String,
        error: Box<HandshakeError>,
    },
    #[error("the audit log cannot record this session: {0}")]
    Audit(String),
    #[error("airlock is shutting down")]
    Shutdown,
    /// The client's TLS handshake failed; nothing can be told to it.
    #[error("TLS handshake with the client failed: {0}")]
    Tls(String),
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The client went away; nothing to tell it.
    #[error("client i/o: {0}")]
    ClientIo(std::io::Error),
}

/// A startup the gateway refuses on purpose, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl SessionError {
    /// The SQLSTATE the client sees.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Protocol(_) | Self::Unexpected(_) => "08P01",
            Self::TooLarge { .. } => "54000",
            Self::Refused(refusal) => refusal.code,
            Self::AuthFailed(_) => "28P01",
            Self::AuthTimeout => "08006",
            Self::Upstream { .. } | Self::Handshake { .. } => "08001",
            Self::Audit(_) | Self::KeyCheck => "58030",
            Self::Shutdown => "57P01",
            Self::ClientIo(_) | Self::Tls(_) => "08006",
            Self::Internal(_) => "XX000",
        }
    }

    /// A FATAL ErrorResponse for the client, or nothing if the client is gone.
    pub fn to_wire(&self) -> Option<Vec<u8>> {
        if matches!(self, Self::ClientIo(_) | Self::Tls(_)) {
            return None;
        }
        let mut out = Vec::new();
        let hint = match self {
            Self::Handshake { .. } | Self::Upstream { .. } => {
                Some("the gateway's operator can check the connection in airlock.toml")
            }
            _ => None,
        };
        encode_error(
            &mut out,
            Severity::Fatal,
            self.code(),
            &self.to_string(),
            None,
            hint,
        );
        Some(out)
    }
}

impl From<std::io::Error> for SessionError {
    fn from(error: std::io::Error) -> Self {
        Self::ClientIo(error)
    }
}
