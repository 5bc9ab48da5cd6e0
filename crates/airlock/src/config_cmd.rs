//! `airlock config validate` and `airlock keys create`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use airlock_config::{Config, ConfigError, ScramVerifier};
use anyhow::Context;

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a configuration file: every problem is printed with its path; exit 1 if any.
    Validate {
        /// The configuration file (TOML).
        file: PathBuf,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key: prints the key (give it to the client, once) and its SCRAM-SHA-256
    /// verifier to put in an identity's `api_keys`. The key itself is stored nowhere.
    Create,
}

pub fn run_config(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Validate { file } = cmd;
    match Config::load(&file) {
        Ok(config) => {
            // What only loading can tell: keys that do not match their certificate, CA
            // files without a usable certificate…
            let problems = airlock_server::check_tls(&config);
            if !problems.is_empty() {
                let error = ConfigError::Invalid {
                    file: file.display().to_string(),
                    problems,
                };
                eprintln!("airlock: {error}");
                return Ok(ExitCode::from(1));
            }
            writeln!(
                std::io::stdout(),
                "ok: {} listener(s), {} connection(s), {} identit(ies), {}",
                config.listeners.len(),
                config.connections.len(),
                config.identities.len(),
                if config.policy.files.is_empty() {
                    "the built-in policy pack".to_owned()
                } else {
                    format!("{} policy file(s)", config.policy.files.len())
                }
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ (ConfigError::Invalid { .. } | ConfigError::Syntax { .. })) => {
            eprintln!("airlock: {error}");
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.into()),
    }
}

pub fn run_keys(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let KeysCommand::Create = cmd;
    let mut bytes = [0u8; 32];
    let mut salt = [0u8; 16];
    getrandom::fill(&mut bytes).context("the system's random number generator failed")?;
    getrandom::fill(&mut salt).context("the system's random number generator failed")?;
    let key = format!("alk_{}", hex::encode(bytes));
    let verifier = ScramVerifier::new(&key, &salt, airlock_pg::DEFAULT_ITERATIONS);
    let mut out = std::io::stdout().lock();
    writeln!(out, "key:      {key}")?;
    writeln!(out, "verifier: {verifier}")?;
    eprintln!("give the key to the client now: airlock stores only the verifier");
    Ok(ExitCode::SUCCESS)
}
