//! `airlock approvals`: list, show, approve and deny approval requests through the gateway's
//! HTTP API, as the identity whose API key is given (in `AIRLOCK_API_KEY`, never a flag, so
//! it stays out of shell history and process lists).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use crate::http_client::{Answer, Api};

#[derive(clap::Args, Debug)]
pub struct ApprovalsArgs {
    /// The gateway's HTTP listener.
    #[arg(
        long,
        env = "AIRLOCK_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// Who you are: an identity of the gateway (its API key is read from AIRLOCK_API_KEY).
    #[arg(long, env = "AIRLOCK_IDENTITY", global = true)]
    identity: Option<String>,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ApprovalsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ApprovalsCommand {
    /// Approval requests, newest first (pending ones by default).
    List {
        /// `pending`, `approved`, `denied`, `expired`, `withdrawn`, `executed` or `all`.
        #[arg(long, default_value = "pending")]
        state: String,
    },
    /// One request with everything an approver needs.
    Show { id: String },
    /// Approve a request (a quorum of distinct humans approves it).
    Approve {
        id: String,
        /// Why; required when the rule asks for a reason.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Deny a request (one denial ends it; the requester sees the reason).
    Deny {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Exit code when the gateway refused the call (not found, not allowed, already decided).
const REFUSED: u8 = 1;

pub async fn run(args: ApprovalsArgs) -> anyhow::Result<ExitCode> {
    let identity = args
        .identity
        .context("say who you are with --identity (or AIRLOCK_IDENTITY)")?;
    let key = std::env::var("AIRLOCK_API_KEY")
        .context("put your API key in the environment variable AIRLOCK_API_KEY")?;
    let api = Api::new(&args.url, &identity, key.trim())?;
    let answer = match &args.command {
        ApprovalsCommand::List { state } => {
            let query = if state == "all" {
                String::new()
            } else {
                format!("?state={state}")
            };
            api.get(&format!("/v1/approvals{query}")).await?
        }
        ApprovalsCommand::Show { id } => api.get(&format!("/v1/approvals/{id}")).await?,
        ApprovalsCommand::Approve { id, reason } | ApprovalsCommand::Deny { id, reason } => {
            let action = if matches!(args.command, ApprovalsCommand::Approve { .. }) {
                "approve"
            } else {
                "deny"
            };
            let body = match reason {
                Some(reason) => serde_json::json!({ "reason": reason }),
                None => serde_json::json!({}),
            };
            api.post(&format!("/v1/approvals/{id}/{action}"), &body)
                .await?
        }
    };
    let mut out = std::io::stdout().lock();
    print(&args.command, args.json, answer, &mut out)
}

fn print(
    command: &ApprovalsCommand,
    json: bool,
    answer: Answer,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let value: Value = serde_json::from_slice(&answer.body).with_context(|| {
        format!(
            "the gateway answered {} with a body that is not JSON",
            answer.status
        )
    })?;
    if !(200..300).contains(&answer.status) {
        let message = at(&value, "/error/message")
            .as_str()
            .unwrap_or("no reason given");
        let code = at(&value, "/error/code").as_str().unwrap_or("error");
        eprintln!("airlock: refused ({code}): {message}");
        return Ok(ExitCode::from(REFUSED));
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    match command {
        ApprovalsCommand::List { .. } => list(&value, out)?,
        ApprovalsCommand::Show { .. } => show(&value, out)?,
        ApprovalsCommand::Approve { .. } | ApprovalsCommand::Deny { .. } => outcome(&value, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn list(value: &Value, out: &mut impl Write) -> anyhow::Result<()> {
    let empty = Vec::new();
    let requests = at(value, "/approvals").as_array().unwrap_or(&empty);
    if requests.is_empty() {
        writeln!(out, "no approval requests")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<36}  {:<9}  {:<12}  {:<12}  {:<20}  STATEMENT",
        "ID", "STATE", "REQUESTER", "CONNECTION", "RULE"
    )?;
    for r in requests {
        writeln!(
            out,
            "{:<36}  {:<9}  {:<12}  {:<12}  {:<20}  {}",
            text(at(r, "/id")),
            text(at(r, "/state")),
            text(at(r, "/requester/id")),
            text(at(r, "/connection")),
            text(at(r, "/context/rule")),
            one_line(&text(at(r, "/text")), 60)
        )?;
    }
    Ok(())
}

fn show(r: &Value, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "request:    {}", text(at(r, "/id")))?;
    writeln!(out, "state:      {}", text(at(r, "/state")))?;
    let requester = match at(r, "/requester/acting_for").as_str() {
        Some(human) => format!(
            "{} {} (acting for {human})",
            text(at(r, "/requester/kind")),
            text(at(r, "/requester/id"))
        ),
        None => format!(
            "{} {}",
            text(at(r, "/requester/kind")),
            text(at(r, "/requester/id"))
        ),
    };
    writeln!(out, "requester:  {requester}")?;
    writeln!(out, "connection: {}", text(at(r, "/connection")))?;
    writeln!(
        out,
        "rule:       {}: {}",
        text(at(r, "/context/rule")),
        text(at(r, "/context/message"))
    )?;
    if let Some(rows) = at(r, "/context/estimated_rows").as_u64() {
        writeln!(out, "est. rows:  {rows}")?;
    }
    writeln!(
        out,
        "approvals:  {} of {}",
        at(r, "/approvals").as_array().map_or(0, Vec::len),
        at(r, "/approval/quorum").as_u64().unwrap_or(1).max(1)
    )?;
    writeln!(out, "created:    {}", text(at(r, "/created_at")))?;
    writeln!(out, "expires:    {}", text(at(r, "/expires_at")))?;
    writeln!(out, "sha256:     {}", text(at(r, "/text_hash")))?;
    writeln!(out, "statement:\n{}", text(at(r, "/text")))?;
    Ok(())
}

fn outcome(r: &Value, out: &mut impl Write) -> anyhow::Result<()> {
    let id = text(at(r, "/id"));
    let approvals = at(r, "/approvals").as_array().map_or(0, Vec::len);
    let quorum = at(r, "/approval/quorum").as_u64().unwrap_or(1).max(1);
    match at(r, "/state").as_str() {
        Some("approved") => writeln!(
            out,
            "{id} approved: the statement may run once, until {}",
            text(at(r, "/grant/expires_at"))
        )?,
        Some("denied") => writeln!(out, "{id} denied")?,
        Some("pending") => writeln!(
            out,
            "{id}: {approvals} of {quorum} approvals; waiting for more"
        )?,
        _ => writeln!(out, "{id}: {}", text(at(r, "/state")))?,
    }
    Ok(())
}

/// The value at a JSON pointer (`/requester/id`), or null.
fn at<'v>(value: &'v Value, pointer: &str) -> &'v Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn one_line(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line
    }
}
