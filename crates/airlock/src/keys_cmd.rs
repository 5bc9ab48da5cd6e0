//! `airlock keys`: create API keys (`create`), list a configuration's keys with their status
//! (`list`) and revoke one (`revoke`). A key is printed once, by `create`, and stored
//! nowhere; everything else names it by its id (`key_` and 12 hex digits, derived from its
//! verifier). Revocations are recorded in the audit store of the configuration's `data_dir`,
//! where the gateway reads them at every authentication. Every failure is a message on
//! stderr and exit code 1; revoking a revoked key changes nothing and exits 0.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airlock_config::{ApiKey, Config, IdentityConfig, ScramVerifier};
use airlock_model::KeyId;
use airlock_store::{Revocation, Revoked, SqliteStore};
use anyhow::{Context, anyhow, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Longest revocation reason accepted.
const MAX_REASON: usize = 500;

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key and print it, its id and its verifier.
    ///
    /// Give the key to the client now: it is shown once and stored nowhere. Add the
    /// SCRAM-SHA-256 verifier to the identity's `api_keys` and restart the gateway. For an
    /// identity that already has keys, give --config and --identity: the new key then shares
    /// their salt and iteration count, which SCRAM needs to accept any of them.
    Create {
        /// The configuration (TOML) that holds the identity.
        #[arg(long, short, value_name = "FILE", requires = "identity")]
        config: Option<PathBuf>,
        /// The identity the key is for: the key is salted like its existing keys (a fresh
        /// random salt if it has none).
        #[arg(long, value_name = "ID", requires = "config")]
        identity: Option<String>,
    },
    /// List every API key of a configuration with its status.
    ///
    /// One line per key: identity, kind, key id, and status (active, or revoked with its time
    /// and reason, as recorded in the audit store of the configuration's `data_dir`; the
    /// global --data-dir is not used). Keys themselves are never shown.
    List {
        /// The gateway configuration (TOML).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key: the gateway refuses it from the next connection.
    ///
    /// The revocation is recorded in the audit store of the configuration's `data_dir` (the
    /// global --data-dir is not used), created if the gateway has not run yet. A running
    /// gateway reads it at every authentication, so no restart is needed; sessions already
    /// open continue. Revocations are permanent: to give access back, create a new key.
    /// Revoking a revoked key changes nothing and exits 0; an unknown key id exits 1.
    Revoke {
        /// The gateway configuration (TOML) that lists the key.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// The key's id (`key_…`, from `airlock keys create` or `airlock keys list`).
        key_id: String,
        /// Why the key is revoked (one line, shown by `airlock keys list`).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

/// Runs one `airlock keys` subcommand; failures are printed here and exit 1.
pub async fn run(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let result = match cmd {
        KeysCommand::Create { config, identity } => {
            create(config.as_deref(), identity.as_deref(), &mut out)
        }
        KeysCommand::List { config, json } => list(&config, json, &mut out).await,
        KeysCommand::Revoke {
            config,
            key_id,
            reason,
        } => revoke(&config, &key_id, reason, &mut out).await,
    };
    Ok(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "airlock: {error:#}");
            ExitCode::FAILURE
        }
    })
}

fn create(
    config: Option<&Path>,
    identity: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (salt, iterations) = match (config, identity) {
        (Some(path), Some(id)) => salt_of(&load(path)?, path, id)?,
        _ => (random::<16>()?.to_vec(), airlock_pg::DEFAULT_ITERATIONS),
    };
    let key = format!(
        "{}{}",
        airlock_model::API_KEY_PREFIX,
        hex::encode(random::<32>()?)
    );
    let verifier = ScramVerifier::new(&key, &salt, iterations);
    writeln!(out, "key:      {key}")?;
    writeln!(out, "id:       {}", ApiKey::new(verifier.clone()).id)?;
    writeln!(out, "verifier: {verifier}")?;
    let mut err = std::io::stderr();
    writeln!(
        err,
        "give the key to the client now: airlock stores only the verifier"
    )?;
    if let (Some(path), Some(id)) = (config, identity) {
        writeln!(
            err,
            "add the verifier to `api_keys` of identity `{id}` in `{}` and restart the gateway",
            path.display()
        )?;
    }
    Ok(())
}

/// The salt and iteration count of the identity's keys, or fresh ones if it has none.
fn salt_of(config: &Config, path: &Path, id: &str) -> anyhow::Result<(Vec<u8>, u32)> {
    let identity = config
        .identities
        .iter()
        .find(|i| i.id.as_str() == id)
        .ok_or_else(|| anyhow!("there is no identity `{id}` in `{}`", path.display()))?;
    Ok(match identity.api_keys.first() {
        Some(key) => (key.verifier.salt.clone(), key.verifier.iterations),
        None => (random::<16>()?.to_vec(), airlock_pg::DEFAULT_ITERATIONS),
    })
}

async fn list(path: &Path, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let config = load(path)?;
    let db = config.data_dir.join(SqliteStore::FILE_NAME);
    // Before the gateway's first start there is no store, and no key is revoked.
    let revocations = if db.exists() {
        let store = SqliteStore::open_existing(&db).await?;
        let revocations = store.revocations().await;
        store.close().await;
        revocations?
    } else {
        Vec::new()
    };
    let rows: Vec<Row<'_>> = config
        .identities
        .iter()
        .flat_map(|identity| identity.api_keys.iter().map(move |key| (identity, key)))
        .map(|(identity, key)| Row {
            identity,
            key,
            revocation: revocations.iter().find(|r| r.key_id == key.id),
        })
        .collect();
    if json {
        let values: Vec<serde_json::Value> = rows.iter().map(Row::json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&values)?)?;
    } else {
        table(&rows, out)?;
    }
    Ok(())
}

/// One key in `airlock keys list`.
struct Row<'a> {
    identity: &'a IdentityConfig,
    key: &'a ApiKey,
    revocation: Option<&'a Revocation>,
}

impl Row<'_> {
    fn status(&self) -> String {
        match self.revocation {
            None => "active".to_owned(),
            Some(revocation) => match &revocation.reason {
                Some(reason) => format!("revoked at {}: {}", when(revocation), one_line(reason)),
                None => format!("revoked at {}", when(revocation)),
            },
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "identity": self.identity.id,
            "kind": self.identity.kind,
            "key_id": self.key.id,
            "status": if self.revocation.is_some() { "revoked" } else { "active" },
            "revoked_at": self.revocation.map(when),
            "reason": self.revocation.and_then(|r| r.reason.as_deref()),
        })
    }
}

fn table(rows: &[Row<'_>], out: &mut impl Write) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(
            std::io::stderr(),
            "no identity of this configuration has API keys"
        )?;
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|row| row.identity.id.as_str().chars().count())
        .max()
        .unwrap_or(0)
        .max("IDENTITY".len());
    writeln!(
        out,
        "{:width$}  {:7}  {:16}  STATUS",
        "IDENTITY", "KIND", "KEY"
    )?;
    for row in rows {
        writeln!(
            out,
            "{:width$}  {:7}  {:16}  {}",
            row.identity.id.as_str(),
            row.identity.kind.as_str(),
            row.key.id.as_str(),
            row.status()
        )?;
    }
    Ok(())
}

async fn revoke(
    path: &Path,
    key_id: &str,
    reason: Option<String>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let config = load(path)?;
    let key_id: KeyId = key_id.parse()?;
    let identity = config
        .identities
        .iter()
        .find(|i| i.api_keys.iter().any(|k| k.id == key_id))
        .ok_or_else(|| {
            anyhow!(
                "no API key `{key_id}` in `{0}`; `airlock keys list --config {0}` shows its keys",
                path.display()
            )
        })?;
    let reason = reason.map(checked_reason).transpose()?;
    let db = config.data_dir.join(SqliteStore::FILE_NAME);
    let store = SqliteStore::open(&db).await?;
    let revocation = Revocation {
        key_id,
        identity: identity.id.clone(),
        time: OffsetDateTime::now_utc().replace_nanosecond(0)?,
        reason,
    };
    let revoked = store.revoke(revocation).await;
    store.close().await;
    match revoked? {
        Revoked::Now(r) => writeln!(
            out,
            "revoked key `{}` of identity `{}`: the gateway refuses it from the next connection \
             (sessions already open continue)",
            r.key_id, r.identity
        )?,
        Revoked::Already(r) => writeln!(
            out,
            "key `{}` of identity `{}` was already revoked at {}{}; nothing changed",
            r.key_id,
            r.identity,
            when(&r),
            r.reason
                .as_deref()
                .map(|reason| format!(" ({})", one_line(reason)))
                .unwrap_or_default()
        )?,
    }
    Ok(())
}

fn checked_reason(reason: String) -> anyhow::Result<String> {
    if reason.chars().any(char::is_control) {
        bail!("the reason must be one line of text, without control characters");
    }
    if reason.chars().count() > MAX_REASON {
        bail!("the reason must be at most {MAX_REASON} characters");
    }
    Ok(reason)
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Ok(Config::load(path)?)
}

fn when(revocation: &Revocation) -> String {
    revocation
        .time
        .format(&Rfc3339)
        .unwrap_or_else(|_| revocation.time.to_string())
}

/// A stored reason as one printable line (the CLI checks them, but the file may be edited).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).context("the system's random number generator failed")?;
    Ok(bytes)
}
