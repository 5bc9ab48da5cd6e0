//! The validated configuration: every value here has been checked.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use airlock_model::{ConnectionKind, IdentityKind, KeyId, Name};
use airlock_pg::ScramVerifier;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where the audit store and its signing key live.
    pub data_dir: PathBuf,
    pub audit: AuditConfig,
    pub policy: PolicyConfig,
    pub listeners: Vec<ListenerConfig>,
    pub connections: Vec<ConnectionConfig>,
    pub identities: Vec<IdentityConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    pub durability: Durability,
    /// With `group` durability: the longest a read's audit record may wait for its commit.
    pub read_window: Duration,
}

/// When a statement's audit record must be durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Writes wait for their record; reads are recorded within `read_window`.
    Group,
    /// Every statement, reads included, waits for its record before results are released.
    Strict,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Cedar files; empty means the built-in default pack.
    pub files: Vec<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    pub name: Name,
    pub protocol: ListenerProtocol,
    pub address: SocketAddr,
    pub tls: Option<TlsConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerProtocol {
    Postgres,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    pub name: Name,
    pub kind: ConnectionKind,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub environments: BTreeSet<Name>,
    pub credentials: Credentials,
}

/// Where a connection's upstream password comes from. Never inline in the configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No password (trust or peer authentication upstream).
    None,
    /// The value of an environment variable, read when the gateway starts.
    Env(String),
    /// The contents of a file, read when the gateway starts.
    File(PathBuf),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names where the secret lives, never the secret.
        match self {
            Self::None => f.write_str("None"),
            Self::Env(var) => write!(f, "Env({var})"),
            Self::File(path) => write!(f, "File({})", path.display()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityConfig {
    pub id: Name,
    pub kind: IdentityKind,
    pub groups: BTreeSet<Name>,
    /// For an agent: the human it acts for.
    pub acting_for: Option<Name>,
    /// The identity's API keys, as SCRAM-SHA-256 verifiers (PostgreSQL's format): clients
    /// authenticate with SCRAM, and the keys themselves are stored nowhere. All share one
    /// salt and iteration count.
    pub api_keys: Vec<ApiKey>,
}

/// One configured API key: its verifier and the id derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Unique in the configuration; what `airlock keys list` shows and `revoke` takes.
    pub id: KeyId,
    pub verifier: ScramVerifier,
}

impl ApiKey {
    pub fn new(verifier: ScramVerifier) -> Self {
        Self {
            id: KeyId::of_stored_key(&verifier.stored_key),
            verifier,
        }
    }
}
