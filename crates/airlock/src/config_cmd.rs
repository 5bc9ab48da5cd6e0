//! `airlock config validate`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use airlock_config::{Config, ConfigError};

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a configuration file: every problem is printed with its path; exit 1 if any.
    Validate {
        /// The configuration file (TOML).
        file: PathBuf,
    },
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
