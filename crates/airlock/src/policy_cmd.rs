//! `airlock policy …`: print the default guardrail pack and the schema, validate policy files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use airlock_policy::{Policy, PolicyError, SCHEMA, Summary, default_pack_text};

#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Print the default guardrail pack as one policy file, to copy and edit:
    /// `airlock policy show-default > my.cedar`.
    ShowDefault,
    /// Print the Cedar schema every policy is validated against (principals, connections and
    /// the facts a rule can use).
    ShowSchema,
    /// Check policy files as the gateway loads them: syntax, strict types against the schema,
    /// annotations and unique rule ids. Prints every problem as `file:line:col: reason` and
    /// exits 1 when there is one.
    Validate {
        /// The policy files, loaded together as one policy.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        PolicyCommand::ShowDefault => {
            out.write_all(default_pack_text().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::ShowSchema => {
            out.write_all(SCHEMA.text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Validate { files } => validate(&files, &mut out),
    }
}

fn validate(files: &[PathBuf], out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match Policy::load(files) {
        Ok(policy) => {
            writeln!(out, "ok: {}", describe(policy.summary()))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(PolicyError::Invalid(problems)) => {
            let mut err = std::io::stderr().lock();
            for problem in &problems {
                writeln!(err, "{problem}")?;
            }
            let count = problems.len();
            writeln!(
                err,
                "{count} problem{}: the gateway would refuse to start",
                plural(count)
            )?;
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.into()),
    }
}

/// `N rules (D deny, R review, P permit) in K files`.
fn describe(summary: Summary) -> String {
    let rules = summary.deny + summary.review + summary.permit;
    format!(
        "{rules} rule{} ({} deny, {} review, {} permit) in {} file{}",
        plural(rules),
        summary.deny,
        summary.review,
        summary.permit,
        summary.files,
        plural(summary.files),
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use airlock_policy::DEFAULT_PACK;

    use super::*;

    #[test]
    fn validate_reports_counts_or_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.cedar");
        std::fs::write(&good, default_pack_text()).unwrap();
        let mut out = Vec::new();
        let code = validate(std::slice::from_ref(&good), &mut out).unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let text = String::from_utf8(out).unwrap();
        let expected = Policy::default_pack().unwrap().summary();
        assert_eq!(
            text,
            format!(
                "ok: {}\n",
                describe(Summary {
                    files: 1,
                    ..expected
                })
            )
        );
        assert_eq!(expected.files, DEFAULT_PACK.len());

        let bad = dir.path().join("bad.cedar");
        std::fs::write(&bad, "@id(\"x\")\nforbid (principal, action, resource);\n").unwrap();
        let mut out = Vec::new();
        assert_eq!(validate(&[bad], &mut out).unwrap(), ExitCode::FAILURE);
        assert!(out.is_empty());
    }

    #[test]
    fn describe_counts_rules_and_files() {
        let summary = Summary {
            files: 1,
            deny: 2,
            review: 0,
            permit: 1,
        };
        assert_eq!(
            describe(summary),
            "3 rules (2 deny, 0 review, 1 permit) in 1 file"
        );
    }
}
