//! `airlock audit`: verify the tamper-evident audit log (`verify`), read its newest events
//! (`tail`) and stream it as JSON lines (`export`). The database is `<data-dir>/audit.db`;
//! checkpoint signatures are checked against `--key` or the data directory's signing key.
//! Every failure (missing or corrupt database, bad key file) is a message on stderr and exit
//! code 1; a verification failure prints the first broken event and exits 1.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use airlock_audit::{PublicKey, Record, Report, StoredRow};
use airlock_store::{
    AuditStore, PUBLIC_KEY_FILE, SIGNING_KEY_FILE, SqliteStore, load_public_key, load_signing_key,
};
use anyhow::{Context, anyhow};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Rows fetched per page by `tail --follow` and `export` (memory stays constant).
const PAGE: u32 = 1000;
/// Longest command text shown by `tail`.
const TAIL_TEXT_MAX: usize = 200;

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole hash chain and its signed checkpoints; name the first broken event.
    Verify {
        /// Public key file (64 hex characters, e.g. `audit-signing.pub`) that every checkpoint
        /// must be signed with. Default: the key in the data directory.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Print the newest events, one readable line each.
    Tail {
        /// How many events to print.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        lines: u32,
        /// Keep printing events as they are recorded, until Ctrl-C.
        #[arg(short, long)]
        follow: bool,
    },
    /// Stream events in a machine-readable format.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Only events at or after this time (RFC 3339, e.g. `2026-01-01T00:00:00Z`).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        since: Option<OffsetDateTime>,
        /// Only events of this principal, or of agents acting for them.
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line: `{"seq","time","hash","prev_hash","event"}`.
    Jsonl,
}

/// Runs one `airlock audit` subcommand against `<data_dir>/audit.db`.
pub async fn run(data_dir: &Path, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let db = data_dir.join(SqliteStore::FILE_NAME);
    let mut out = std::io::stdout();
    let result = match cmd {
        AuditCommand::Verify { key } => verify(data_dir, &db, key.as_deref(), &mut out).await,
        AuditCommand::Tail { lines, follow } => tail(&db, lines, follow, &mut out).await,
        AuditCommand::Export {
            format: ExportFormat::Jsonl,
            since,
            principal,
            output,
        } => {
            let filter = Filter { since, principal };
            export(&db, &filter, output.as_deref(), &mut out).await
        }
    };
    Ok(match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "airlock: {error:#}");
            ExitCode::FAILURE
        }
    })
}

async fn verify(
    data_dir: &Path,
    db: &Path,
    key: Option<&Path>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let trusted = trusted_key(data_dir, key)?;
    let store = SqliteStore::open_existing(db).await?;
    let verdict = store.verify(trusted).await;
    store.close().await;
    match verdict? {
        Ok(report) => {
            writeln!(
                out,
                "ok: {} events, {} checkpoints, chain head {}",
                report.events, report.checkpoints, report.head.hash
            )?;
            warn_about_coverage(&report, data_dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            writeln!(out, "failed: {problem}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The key checkpoints must be signed with: `--key`, else the data directory's signing key
/// (or its public key file), else none (signatures are checked against the stored keys).
fn trusted_key(data_dir: &Path, key: Option<&Path>) -> anyhow::Result<Option<PublicKey>> {
    if let Some(path) = key {
        return Ok(Some(load_public_key(path)?));
    }
    let signing = data_dir.join(SIGNING_KEY_FILE);
    if signing.exists() {
        return Ok(Some(load_signing_key(&signing)?.public()));
    }
    let public = data_dir.join(PUBLIC_KEY_FILE);
    if public.exists() {
        return Ok(Some(load_public_key(&public)?));
    }
    Ok(None)
}

fn warn_about_coverage(report: &Report, data_dir: &Path) -> std::io::Result<()> {
    let mut err = std::io::stderr();
    if report.trusted.is_none() {
        writeln!(
            err,
            "warning: no trusted key (no --key, no `{}`): checkpoint signatures were checked \
             against the keys stored in the database",
            data_dir.join(SIGNING_KEY_FILE).display()
        )?;
    }
    match report.last_checkpoint {
        None if report.events > 0 => writeln!(
            err,
            "warning: no signed checkpoint: deleting the newest events would not be detected"
        ),
        Some(signed) if signed < report.head.seq => writeln!(
            err,
            "note: events after {signed} are not yet covered by a signed checkpoint"
        ),
        _ => Ok(()),
    }
}

async fn tail(
    db: &Path,
    lines: u32,
    follow: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let store = SqliteStore::open_existing(db).await?;
    let mut last = 0;
    for row in store.last_events(lines).await? {
        last = last.max(row.seq);
        writeln!(out, "{}", tail_line(&row))?;
    }
    out.flush()?;
    if follow {
        follow_after(&store, last, out).await?;
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Prints events after `last` as they are recorded, until Ctrl-C.
async fn follow_after(
    store: &SqliteStore,
    mut last: i64,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            signal = &mut ctrl_c => return signal.context("cannot wait for Ctrl-C"),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let after = u64::try_from(last).unwrap_or(0);
        for row in store.events_after(after, PAGE).await? {
            last = last.max(row.seq);
            writeln!(out, "{}", tail_line(&row))?;
        }
        out.flush()?;
    }
}

fn tail_line(row: &StoredRow) -> String {
    match row.decode() {
        Ok(record) => record.summary(TAIL_TEXT_MAX),
        Err(error) => format!("#{} <unreadable: {error}>", row.seq),
    }
}

/// Which events `export` writes.
#[derive(Debug, Default)]
struct Filter {
    since: Option<OffsetDateTime>,
    principal: Option<String>,
}

impl Filter {
    fn accepts(&self, record: &Record) -> bool {
        self.since.is_none_or(|since| record.event.time >= since)
            && self
                .principal
                .as_deref()
                .is_none_or(|p| record.event.involves(p))
    }
}

async fn export(
    db: &Path,
    filter: &Filter,
    output: Option<&Path>,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let store = SqliteStore::open_existing(db).await?;
    match output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create `{}`", path.display()))?;
            let mut file = BufWriter::new(file);
            write_jsonl(&store, filter, &mut file).await?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        None => write_jsonl(&store, filter, &mut BufWriter::new(stdout)).await?,
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Pages through the whole log by `seq`, writing the accepted events as JSON lines.
async fn write_jsonl(
    store: &SqliteStore,
    filter: &Filter,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut after = 0;
    loop {
        let rows = store.events_after(after, PAGE).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            after = after.max(u64::try_from(row.seq).unwrap_or(0));
            let record = row.decode().map_err(|error| {
                anyhow!(
                    "event {} cannot be decoded ({error}); run `airlock audit verify`",
                    row.seq
                )
            })?;
            if filter.accepts(&record) {
                writeln!(out, "{}", record.to_json_line()?)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as 2026-01-01T00:00:00Z"))
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
#[path = "audit_cmd_tests.rs"]
mod tests;
