//! `airlock.toml`: the gateway's configuration. Raw TOML is read into a [`Config`] whose
//! every value has been checked; every problem is reported at once with its path
//! (`connections[1].port: …`), unknown fields are errors, and credentials are never inline.
#![forbid(unsafe_code)]

mod approvals;
mod fields;
mod model;
mod notify;
mod pem;
mod tls;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use airlock_pg::ScramVerifier;
pub use model::{
    ApiKey, ApprovalMode, ApprovalsConfig, AuditConfig, ClientAuth, Config, ConnectionConfig,
    Credentials, Durability, IdentityConfig, ListenerConfig, ListenerProtocol, PolicyConfig,
    Secret, SlackConfig, TeamsConfig, TlsConfig, UpstreamTls, WebhookConfig,
};
pub use notify::SLACK_API_URL;
pub use pem::{PemError, read_certificates, read_private_key};

/// One problem in a configuration, at a path such as `connections[0].port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{file}` is not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("`{file}` has {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads and validates a configuration file. Relative paths in it (policy files, the data
    /// directory, TLS files, password files) are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// Validates configuration text; `file` names it in errors, `base` anchors relative paths.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        validate::config(table, file, base).map_err(|problems| ConfigError::Invalid {
            file: file.to_owned(),
            problems,
        })
    }
}
