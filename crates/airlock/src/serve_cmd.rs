//! `airlock serve`: run the gateway from a configuration file until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use airlock_config::Config;
use airlock_server::{Gateway, Limits, Listening, Workers};
use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The gateway configuration (TOML; see `examples/airlock.toml`, and
    /// `examples/airlock-tls.toml` for TLS on both legs).
    #[arg(long, short)]
    config: PathBuf,
    /// Most client connections open at once on each listener (PostgreSQL and HTTP alike); more
    /// wait in the accept queue.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// On SIGTERM: seconds running statements get to finish before sessions are closed.
    #[arg(long, default_value_t = 30)]
    drain_timeout: u64,
    /// Threads that run sessions, each a single-threaded runtime holding its sessions whole
    /// (0: one per CPU core). Accepting and the audit writer run on one more thread.
    #[arg(long, default_value_t = 0, env = "AIRLOCK_WORKERS")]
    workers: usize,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let limits = Limits {
        max_connections: args.max_connections.max(1),
        drain_deadline: Duration::from_secs(args.drain_timeout),
        ..Limits::default()
    };
    let count = match args.workers {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    };
    let workers = Arc::new(Workers::start(count).context("cannot start the session threads")?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = runtime.block_on(serve(config, limits, Arc::clone(&workers)));
    drop(runtime);
    if let Ok(workers) = Arc::try_unwrap(workers) {
        workers.stop();
    }
    result
}

async fn serve(config: Config, limits: Limits, workers: Arc<Workers>) -> anyhow::Result<ExitCode> {
    let gateway = Gateway::bind(&config, limits, workers).await?;
    for Listening { name, address, tls } in gateway.listening() {
        eprintln!("airlock: listening on {address} ({name}, {tls})");
    }
    gateway
        .run(async {
            shutdown_signal().await;
            eprintln!("airlock: shutting down (draining sessions)");
        })
        .await?;
    eprintln!("airlock: stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
