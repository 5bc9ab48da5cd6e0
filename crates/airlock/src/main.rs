//! The `airlock` binary: parse the command line, start tracing, run one subcommand.
#![forbid(unsafe_code)]

mod approvals_cmd;
mod audit_cmd;
mod check_cmd;
mod config_cmd;
mod http_client;
mod keys_cmd;
mod policy_cmd;
mod serve_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// airlock: one checkpoint between the humans, AI agents and scripts that operate production
/// and the systems they operate. Every command is parsed by a real parser, judged by policy,
/// and recorded in a tamper-evident audit log.
#[derive(Parser, Debug)]
#[command(name = "airlock", version, propagate_version = true)]
struct Cli {
    /// Directory for airlock's state: the audit database and its signing key.
    #[arg(
        long,
        global = true,
        env = "AIRLOCK_DATA_DIR",
        default_value = "airlock-data"
    )]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway: clients connect to its listeners as to the database; every statement
    /// is judged and recorded before it runs. Stops (draining sessions) on SIGTERM or Ctrl-C.
    Serve(serve_cmd::ServeArgs),
    /// Decide commands without executing them (a dry run, or a replay of past traffic with
    /// --jsonl). Exit code: 0 allow, 1 deny, 2 review, 3 usage error.
    Check(check_cmd::CheckArgs),
    /// Print, validate and inspect policies.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Verify, read and export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Check gateway configuration files.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Create, list and revoke the API keys identities authenticate with.
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
    /// List, show, approve and deny approval requests through a running gateway's HTTP API.
    Approvals(approvals_cmd::ApprovalsArgs),
}

/// Exit code for a usage error (bad flags, unreadable input, broken policy file).
const USAGE_ERROR: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { USAGE_ERROR } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIRLOCK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::Check(args) => check_cmd::run(args),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Audit(cmd) => run_async(audit_cmd::run(&cli.data_dir, cmd)),
        Command::Config(cmd) => config_cmd::run_config(cmd),
        Command::Keys(cmd) => run_async(keys_cmd::run(cmd)),
        Command::Approvals(args) => run_async(approvals_cmd::run(args)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("airlock: {error:#}");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

fn run_async<F>(future: F) -> anyhow::Result<ExitCode>
where
    F: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(future)
}
