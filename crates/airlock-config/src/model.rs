//! The validated configuration: every value here has been checked.

use std::collections::{BTreeMap, BTreeSet};
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
    pub approvals: ApprovalsConfig,
}

/// How reviewed statements wait for approval (`[approvals]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalsConfig {
    /// The default for identities that do not set `approval_mode`.
    pub mode: ApprovalMode,
    /// A request not decided within this is expired (`request_ttl_seconds`, default 1 hour).
    pub request_ttl: Duration,
    /// A grant not used within this is expired (`grant_ttl_seconds`, default 15 minutes).
    pub grant_ttl: Duration,
    /// The longest a held statement waits in its session (`hold_timeout_seconds`, default 10
    /// minutes); the request stays open and can be used in retry mode.
    pub hold_timeout: Duration,
    /// How often a held session is reminded with a NOTICE (`notice_interval_seconds`, 30).
    pub notice_interval: Duration,
    /// Where humans open the web inbox, named in NOTICEs and messages; without it, they name
    /// the `airlock approvals` command and the first `http` listener's URL.
    pub inbox_url: Option<String>,
    /// `[approvals.slack]`: requests posted to a channel with Approve/Deny buttons.
    pub slack: Option<SlackConfig>,
    /// `[approvals.teams]`: requests posted to a Workflows webhook as Adaptive Cards.
    pub teams: Option<TeamsConfig>,
    /// `[[approvals.webhooks]]`: a signed JSON event for every request and decision.
    pub webhooks: Vec<WebhookConfig>,
}

/// Slack: where requests are posted and how clicks on their buttons are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackConfig {
    /// The channel id (`C…`) messages are posted to.
    pub channel: String,
    /// The bot token (`xoxb-…`) for `chat.postMessage` and `chat.update`.
    pub bot_token: Secret,
    /// The app's signing secret, which signs every interaction callback.
    pub signing_secret: Secret,
    /// Slack's Web API base URL (`https://slack.com/api`; tests point it at a local server).
    pub api_url: String,
    /// Slack user id → airlock identity: who a click is (an unmapped user cannot vote).
    pub users: BTreeMap<String, Name>,
}

/// Microsoft Teams: a Workflows ("When a Teams webhook request is received") URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamsConfig {
    /// The URL carries its own signature, so it is a secret.
    pub webhook_url: Secret,
}

/// A generic webhook: every request and decision as JSON, signed with HMAC-SHA256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    pub name: Name,
    pub url: String,
    /// The HMAC key the receiver checks `X-Airlock-Signature` with.
    pub secret: Secret,
}

/// Where a secret comes from. Never inline in the configuration; never logged.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The value of an environment variable, read when the gateway starts.
    Env(String),
    /// The contents of a file (without a trailing newline), read when the gateway starts.
    File(PathBuf),
}

impl Secret {
    /// The secret's value; the error names where it was looked for, never a value.
    pub fn read(&self) -> Result<String, String> {
        let value = match self {
            Self::Env(var) => std::env::var(var)
                .map_err(|_| format!("environment variable `{var}` is not set"))?,
            Self::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?,
        };
        let value = value.trim_end_matches(['\r', '\n']).to_owned();
        if value.is_empty() {
            return Err(format!("{self:?} is empty"));
        }
        Ok(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "environment variable `{var}`"),
            Self::File(path) => write!(f, "file `{}`", path.display()),
        }
    }
}

/// What a session does with a statement that needs approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalMode {
    /// The statement waits in the session until it is decided (interactive sessions).
    Hold,
    /// The statement fails at once with the request id; sent again after approval, it runs
    /// once (scripts and CI).
    Retry,
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
    /// TLS on the client leg (`tls = { cert, key }`); `None`: clients asking for TLS are told
    /// it is not available (`N`), as PostgreSQL does without `ssl = on`.
    pub tls: Option<TlsConfig>,
    /// How clients prove they hold an identity's API key.
    pub auth: ClientAuth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerProtocol {
    /// PostgreSQL clients (psql, drivers, pgbench).
    Postgres,
    /// The HTTP API (`/v1/approvals`) and the web inbox.
    Http,
}

/// A listener's TLS: its certificate and key (PEM files, checked when the configuration is
/// validated and loaded when the gateway starts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `true` (the default): a client that starts without TLS is refused with SQLSTATE
    /// `28000` ("connect with sslmode=require"); `false` also admits plaintext sessions.
    pub required: bool,
}

/// How a listener authenticates clients; the password is always one of the identity's API
/// keys, checked against its SCRAM-SHA-256 verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `scram-sha-256` (the default): the key never crosses the wire.
    ScramSha256,
    /// `password`: the client sends the key as a cleartext password, for drivers without
    /// SCRAM. Only on a TLS listener, and only to sessions that are encrypted; a plaintext
    /// session (on a listener with `required = false`) is asked for SCRAM instead.
    Password,
}

/// TLS on the upstream leg (`tls` of a connection), as libpq's `sslmode` spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamTls {
    /// `disable` (the default): plaintext.
    Disable,
    /// `require`: encrypted, the server's certificate not checked (like libpq's `require`).
    Require,
    /// `verify-full`: encrypted, the chain checked against `tls_ca_file` and the certificate
    /// against the connection's `host`.
    VerifyFull { ca_file: PathBuf },
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
    /// TLS on the upstream leg (`tls`, `tls_ca_file`).
    pub tls: UpstreamTls,
    /// `estimate_rows = true`: a single UPDATE, DELETE, INSERT or MERGE is `EXPLAIN`ed (never
    /// `ANALYZE`d) upstream before it is decided, so policies can read
    /// `context.stmt.estimated_rows` and approvers see the number.
    pub estimate_rows: bool,
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
    /// Overrides `[approvals] mode` for this identity's sessions (`approval_mode`).
    pub approval_mode: Option<ApprovalMode>,
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
