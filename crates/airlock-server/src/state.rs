//! [`State`]: everything sessions share, built once from a validated [`Config`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use airlock_approval::Lifetimes;
use airlock_config::{
    ApprovalMode, ApprovalsConfig, Config, ConnectionConfig, Credentials, Durability,
    IdentityConfig, ListenerProtocol,
};
use airlock_model::{Connection, Identity, KeyId};
use airlock_policy::Policy;
use airlock_store::{
    AuditWriter, SIGNING_KEY_FILE, SqliteStore, StoreError, WriterConfig, WriterTask,
    load_or_create_signing_key,
};
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::approvals::Approvals;
use crate::cancel::CancelMap;
use crate::error::StartError;
use crate::estimate::Estimator;
use crate::key_checks::KeyChecks;
use crate::notify::{Notifier, NotifySettings, SlackSettings};
use crate::tls;

/// Shared, read-only (but for the cancel map) state of a running gateway.
pub struct State {
    pub policy: Arc<Policy>,
    pub audit: AuditWriter,
    pub durability: Durability,
    pub read_window: Duration,
    /// How long the audit writer holds a read's record for company: half the read window,
    /// so a record is durable within the window (the other half is for the read itself).
    pub linger: Duration,
    pub limits: Limits,
    pub cancels: CancelMap,
    /// Bounds the CPU spent on keys typed as passwords.
    pub key_checks: KeyChecks,
    /// Approval requests of reviewed statements, shared by sessions and deciding channels.
    pub approvals: Arc<Approvals>,
    pub approval: ApprovalSettings,
    /// Slack, when configured: the interaction endpoint checks clicks with its secret.
    pub slack: Option<Arc<SlackSettings>>,
    /// The audit store, read for key revocations (the writer appends through `audit`).
    store: SqliteStore,
    upstreams: HashMap<String, Arc<Upstream>>,
    identities: HashMap<String, IdentityConfig>,
    /// Random per process: derives the salts shown to user names that do not exist.
    decoy_secret: [u8; 32],
}

/// How sessions wait for approvals (from `[approvals]`).
#[derive(Clone, Debug)]
pub struct ApprovalSettings {
    /// For identities that do not choose (`approval_mode`).
    pub mode: ApprovalMode,
    pub hold_timeout: Duration,
    pub notice_interval: Duration,
    /// The web inbox's base URL, named in NOTICEs, errors and messages: `inbox_url`, else
    /// the first HTTP listener's URL (which serves the inbox), else none.
    pub inbox: Option<String>,
}

/// Bounds on what one client can make the gateway hold or wait for.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Open client connections per listener (PostgreSQL and HTTP); more wait in the kernel's
    /// accept queue.
    pub max_connections: usize,
    /// Largest client message the gateway buffers (queries, parses, binds).
    pub max_message: usize,
    /// Time allowed for a client's startup and authentication.
    pub auth_timeout: Duration,
    /// Time allowed for connecting and authenticating upstream.
    pub upstream_timeout: Duration,
    /// On shutdown: how long running statements may take before sessions are closed.
    pub drain_deadline: Duration,
    /// API keys typed as passwords checked at once (each is 4096 PBKDF2 rounds on a core).
    pub key_checks: usize,
}

/// A connection clients can reach, with the credentials the gateway uses for it.
pub struct Upstream {
    pub config: ConnectionConfig,
    pub connection: Connection,
    /// Read from the environment or a file when the gateway starts; never logged.
    pub password: Option<String>,
    /// TLS for the upstream leg (`tls = "require"` or `"verify-full"`).
    pub tls: Option<UpstreamTls>,
    /// With `estimate_rows = true`: asks the planner how many rows a statement touches.
    pub estimator: Option<Estimator>,
}

/// A connection's upstream TLS, set up at start (CA file read, host name checked).
pub struct UpstreamTls {
    pub connector: TlsConnector,
    /// The connection's host: sent as SNI and, with `verify-full`, checked against the
    /// certificate.
    pub server_name: ServerName<'static>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_message: 64 << 20,
            auth_timeout: Duration::from_secs(15),
            upstream_timeout: Duration::from_secs(10),
            drain_deadline: Duration::from_secs(30),
            key_checks: KeyChecks::default_limit(),
        }
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("connections", &self.upstreams.keys().collect::<Vec<_>>())
            .field("identities", &self.identities.keys().collect::<Vec<_>>())
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("connection", &self.config.name)
            .field("credentials", &self.config.credentials)
            .field("tls", &self.config.tls)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Loads the policy, reads upstream credentials, opens the audit store (creating the data
    /// directory and signing key on first use) and starts the audit writer.
    pub async fn start(config: &Config, limits: Limits) -> Result<(Self, WriterTask), StartError> {
        let policy = if config.policy.files.is_empty() {
            Policy::default_pack()
        } else {
            Policy::load(&config.policy.files)
        }
        .map_err(|e| StartError::Policy(e.to_string()))?;
        let mut upstreams = HashMap::new();
        for connection in &config.connections {
            let password = read_password(connection)?;
            let tls = upstream_tls(connection).map_err(|source| StartError::Tls {
                what: format!("connection `{}`", connection.name),
                source,
            })?;
            let upstream = Upstream {
                connection: Connection {
                    name: connection.name.clone(),
                    kind: connection.kind,
                    environments: connection.environments.clone(),
                },
                config: connection.clone(),
                password,
                tls,
                estimator: connection.estimate_rows.then(Estimator::default),
            };
            upstreams.insert(connection.name.as_str().to_owned(), Arc::new(upstream));
        }
        let identities = config
            .identities
            .iter()
            .map(|i| (i.id.as_str().to_owned(), i.clone()))
            .collect();
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let key = load_or_create_signing_key(&config.data_dir.join(SIGNING_KEY_FILE))?;
        let store = SqliteStore::open(&config.data_dir.join(SqliteStore::FILE_NAME)).await?;
        let linger = config.audit.read_window / 2;
        let writer = WriterConfig {
            linger,
            ..WriterConfig::default()
        };
        let (audit, task) = AuditWriter::start(store.clone(), key, writer).await?;
        let lifetimes = approval_lifetimes(&config.approvals)?;
        let approvals = Arc::new(Approvals::load(&store, audit.clone(), lifetimes).await?);
        let approval = ApprovalSettings::of(config);
        let unreachable = config.approvals.inbox_url.is_none()
            && config
                .listeners
                .iter()
                .find(|l| l.protocol == ListenerProtocol::Http)
                .is_some_and(|l| l.address.ip().is_unspecified() || l.address.ip().is_loopback());
        if unreachable && let Some(inbox) = &approval.inbox {
            tracing::warn!(
                %inbox,
                "[approvals] inbox_url is not set: NOTICEs and messages link to the http listener's \
                 own address, which other machines may not reach; set inbox_url to the address \
                 approvers open"
            );
        }
        let notify = NotifySettings::resolve(&config.approvals, approval.inbox.clone())
            .map_err(StartError::Config)?;
        let slack = notify.slack.clone();
        approvals.attach(Notifier::start(notify, &approvals));
        approvals.announce_pending();
        let state = Self {
            policy: Arc::new(policy),
            audit,
            durability: config.audit.durability,
            read_window: config.audit.read_window,
            linger,
            key_checks: KeyChecks::new(limits.key_checks),
            limits,
            cancels: CancelMap::default(),
            approvals,
            approval,
            slack,
            store,
            upstreams,
            identities,
            decoy_secret: random_secret()?,
        };
        Ok((state, task))
    }

    pub fn upstream(&self, name: &str) -> Option<&Arc<Upstream>> {
        self.upstreams.get(name)
    }

    pub fn identity(&self, id: &str) -> Option<&IdentityConfig> {
        self.identities.get(id)
    }

    /// The SCRAM salt shown to `user` when no such identity (or no active key) exists: the
    /// same for every attempt with that name while the gateway runs, different per name.
    pub fn decoy_salt(&self, user: &str) -> [u8; 16] {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(self.decoy_secret)
            .chain_update(user.as_bytes())
            .finalize();
        let mut salt = [0u8; 16];
        for (to, from) in salt.iter_mut().zip(digest) {
            *to = from;
        }
        salt
    }

    /// Which of `ids` are revoked, read from the store now (`airlock keys revoke` takes
    /// effect at the next authentication, without a restart).
    pub async fn revoked_among(&self, ids: &[KeyId]) -> Result<HashSet<KeyId>, StoreError> {
        self.store.revoked_among(ids).await
    }
}

impl ApprovalSettings {
    fn of(config: &Config) -> Self {
        let approvals = &config.approvals;
        let listener = config
            .listeners
            .iter()
            .find(|l| l.protocol == ListenerProtocol::Http)
            .map(|l| {
                let scheme = if l.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{}", l.address)
            });
        Self {
            mode: approvals.mode,
            hold_timeout: approvals.hold_timeout,
            notice_interval: approvals.notice_interval,
            inbox: approvals.inbox_url.clone().or(listener),
        }
    }

    /// The mode of `identity`'s sessions.
    pub fn mode_of(&self, identity: &IdentityConfig) -> ApprovalMode {
        identity.approval_mode.unwrap_or(self.mode)
    }
}

fn approval_lifetimes(config: &ApprovalsConfig) -> Result<Lifetimes, StartError> {
    let seconds =
        |d: Duration| time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Lifetimes::new(seconds(config.request_ttl), seconds(config.grant_ttl))
        .map_err(|e| StartError::Config(format!("[approvals]: {e}")))
}

/// The policy's view of a configured identity.
pub fn identity_of(config: &IdentityConfig) -> Identity {
    Identity {
        kind: config.kind,
        id: config.id.clone(),
        groups: config.groups.clone(),
        acting_for: config.acting_for.clone(),
    }
}

/// The connection's upstream TLS, or `None` for `tls = "disable"`.
pub(crate) fn upstream_tls(
    connection: &ConnectionConfig,
) -> Result<Option<UpstreamTls>, tls::TlsError> {
    let Some(config) = tls::client_config(&connection.tls)? else {
        return Ok(None);
    };
    Ok(Some(UpstreamTls {
        connector: TlsConnector::from(config),
        server_name: tls::server_name(&connection.host)?,
    }))
}

fn read_password(connection: &ConnectionConfig) -> Result<Option<String>, StartError> {
    let name = connection.name.as_str().to_owned();
    match &connection.credentials {
        Credentials::None => Ok(None),
        Credentials::Env(var) => {
            std::env::var(var)
                .map(Some)
                .map_err(|_| StartError::Credentials {
                    connection: name,
                    reason: format!("environment variable `{var}` is not set (or not UTF-8)"),
                })
        }
        Credentials::File(path) => std::fs::read_to_string(path)
            .map(|text| Some(text.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|e| StartError::Credentials {
                connection: name,
                reason: format!("cannot read password file `{}`: {e}", path.display()),
            }),
    }
}

/// A secret no one can guess; without one the decoy salts would be predictable, so the
/// gateway does not start.
fn random_secret() -> Result<[u8; 32], StartError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| StartError::Random(e.to_string()))?;
    Ok(secret)
}
