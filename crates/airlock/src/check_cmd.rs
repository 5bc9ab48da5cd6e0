//! `airlock check`: decide commands without executing them, one from the command line or a
//! stream of JSON lines (a replay of past traffic against a draft policy).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use airlock_model::{
    Command, Connection, ConnectionKind, Decision, Identity, IdentityKind, Name, Protocol, Verdict,
};
use airlock_policy::{Checkpoint, Policy};
use anyhow::{Context, bail};
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The command to decide. Omit it with --jsonl.
    command: Option<String>,
    /// What kind of system the command is for.
    #[arg(long = "type", value_enum, default_value = "postgres")]
    kind: KindArg,
    /// Policy files (Cedar). Default: the built-in guardrail pack (`airlock policy show-default`).
    #[arg(long = "policy", value_name = "FILE")]
    policies: Vec<PathBuf>,
    /// Who is asking. Default: an ordinary human with no groups.
    #[arg(long, default_value = "anonymous")]
    principal: String,
    /// What kind of principal is asking.
    #[arg(long, value_enum, default_value = "human")]
    principal_kind: PrincipalKindArg,
    /// For an agent: the human it acts for.
    #[arg(long)]
    acting_for: Option<String>,
    /// Groups of the principal (repeatable).
    #[arg(long = "group", value_name = "G")]
    groups: Vec<String>,
    /// Environment tags of the target connection (repeatable). Default: `prod`.
    #[arg(long = "env", value_name = "ENV")]
    envs: Vec<String>,
    /// Name of the target connection.
    #[arg(long, default_value = "default")]
    connection: String,
    /// Read JSON lines `{"id": …, "command": "…"}` and write one decision per line.
    #[arg(long)]
    jsonl: bool,
    /// With --jsonl: read this file instead of standard input.
    #[arg(long, value_name = "FILE", requires = "jsonl")]
    input: Option<PathBuf>,
    /// Print the decision (and the facts it was based on) as JSON.
    #[arg(long, conflicts_with = "jsonl")]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum KindArg {
    Postgres,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum PrincipalKindArg {
    Human,
    Agent,
    Service,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let policy = if args.policies.is_empty() {
        Policy::default_pack()?
    } else {
        Policy::load(&args.policies)?
    };
    let template = template(&args)?;
    let mut checkpoint = Checkpoint::new(policy);
    if args.jsonl {
        return replay(&args, &mut checkpoint, &template);
    }
    let Some(text) = args.command.clone() else {
        bail!("give a command to check, e.g. `airlock check \"DELETE FROM t\"`, or use --jsonl");
    };
    let command = Command { text, ..template };
    let decision = checkpoint.decide(&command);
    if args.json {
        let facts = checkpoint.facts(&command);
        let out = serde_json::json!({ "decision": decision, "facts": facts });
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        write!(std::io::stdout(), "{}", explain(&decision))?;
    }
    Ok(ExitCode::from(match decision.verdict {
        Verdict::Allow => 0,
        Verdict::Deny => 1,
        Verdict::Review => 2,
    }))
}

/// The command every input is decided as (all but the text).
fn template(args: &CheckArgs) -> anyhow::Result<Command> {
    let name = |value: &str, what: &str| {
        Name::new(value).with_context(|| format!("invalid {what} `{}`", value.escape_debug()))
    };
    let groups: BTreeSet<Name> = args
        .groups
        .iter()
        .map(|g| name(g, "group"))
        .collect::<anyhow::Result<_>>()?;
    let envs: Vec<&str> = if args.envs.is_empty() {
        vec!["prod"]
    } else {
        args.envs.iter().map(String::as_str).collect()
    };
    let environments = envs
        .into_iter()
        .map(|e| name(e, "environment"))
        .collect::<anyhow::Result<_>>()?;
    let kind = match args.principal_kind {
        PrincipalKindArg::Human => IdentityKind::Human,
        PrincipalKindArg::Agent => IdentityKind::Agent,
        PrincipalKindArg::Service => IdentityKind::Service,
    };
    let acting_for = args
        .acting_for
        .as_deref()
        .map(|a| name(a, "--acting-for"))
        .transpose()?;
    let identity = Identity {
        kind,
        id: name(&args.principal, "principal")?,
        groups,
        acting_for,
    };
    let KindArg::Postgres = args.kind;
    let connection = Connection {
        name: name(&args.connection, "connection")?,
        kind: ConnectionKind::Postgres,
        environments,
    };
    Ok(Command {
        identity,
        connection,
        protocol: Protocol::DryRun,
        text: String::new(),
    })
}

/// Human-readable explanation of a decision.
fn explain(decision: &Decision) -> String {
    let mut out = match decision.verdict {
        Verdict::Allow => String::from("allow: no guardrail matched\n"),
        Verdict::Deny => String::from("deny: this command would be refused\n"),
        Verdict::Review => String::from("review: this command needs approval before it runs\n"),
    };
    for rule in decision.deciding_rules() {
        out.push_str(&format!("  rule `{}`: {}\n", rule.rule, rule.message));
        if let Some(hint) = &rule.hint {
            out.push_str(&format!("    instead: {hint}\n"));
        }
        if let Some(approval) = &rule.approval {
            let who: Vec<String> = approval
                .users
                .iter()
                .cloned()
                .chain(approval.groups.iter().map(|g| format!("group {g}")))
                .collect();
            let who = if who.is_empty() {
                "any other human".to_owned()
            } else {
                who.join(", ")
            };
            out.push_str(&format!(
                "    approvers: {who} (quorum {})\n",
                approval.quorum.max(1)
            ));
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct ReplayLine {
    #[serde(default)]
    id: serde_json::Value,
    command: String,
}

#[derive(Serialize)]
struct ReplayResult<'a> {
    id: &'a serde_json::Value,
    decision: Verdict,
    rules: Vec<&'a str>,
    reason: String,
}

/// Streams JSON lines: constant memory, one output line per input line, in order.
fn replay(
    args: &CheckArgs,
    checkpoint: &mut Checkpoint,
    template: &Command,
) -> anyhow::Result<ExitCode> {
    let input: Box<dyn BufRead> = match &args.input {
        Some(path) => Box::new(BufReader::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?,
        )),
        None => Box::new(BufReader::new(std::io::stdin().lock())),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut command = template.clone();
    let mut bad_lines = 0usize;
    let mut tally = [0usize; 3];
    let started = std::time::Instant::now();
    for (index, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read input line {}", index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ReplayLine = match serde_json::from_str(&line) {
            Ok(parsed) => parsed,
            Err(error) => {
                bad_lines += 1;
                eprintln!(
                    "airlock: line {}: expected {{\"id\": …, \"command\": \"…\"}}: {error}",
                    index + 1
                );
                let result = ReplayResult {
                    id: &serde_json::Value::Null,
                    decision: Verdict::Deny,
                    rules: vec!["invalid-input"],
                    reason: format!(
                        "line {} is not a JSON object with a string `command`",
                        index + 1
                    ),
                };
                serde_json::to_writer(&mut out, &result)?;
                out.write_all(b"\n")?;
                continue;
            }
        };
        command.text = parsed.command;
        let decision = checkpoint.decide(&command);
        let slot = match decision.verdict {
            Verdict::Allow => 0,
            Verdict::Review => 1,
            Verdict::Deny => 2,
        };
        if let Some(count) = tally.get_mut(slot) {
            *count += 1;
        }
        let result = ReplayResult {
            id: &parsed.id,
            decision: decision.verdict,
            rules: decision.deciding_rules().map(|r| r.rule.as_str()).collect(),
            reason: decision.reason(),
        };
        serde_json::to_writer(&mut out, &result)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    // The summary goes to stderr: stdout stays one JSON line per input line.
    let [allow, review, deny] = tally;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "airlock: {} statement(s): {allow} allow, {review} review, {deny} deny ({seconds:.2} s)",
        allow + review + deny
    );
    if bad_lines > 0 {
        eprintln!(
            "airlock: {bad_lines} input line(s) could not be read; they are reported as `invalid-input`"
        );
        return Ok(ExitCode::from(crate::USAGE_ERROR));
    }
    Ok(ExitCode::SUCCESS)
}
