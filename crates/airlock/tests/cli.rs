//! The `airlock` binary as a user runs it: exit codes, output, replays and errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn airlock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .output()
        .unwrap()
}

fn airlock_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn exit_codes_follow_the_decision() {
    let allow = airlock(&["check", "SELECT * FROM users WHERE id = 1"]);
    assert_eq!(allow.status.code(), Some(0), "{}", stdout(&allow));
    assert!(stdout(&allow).starts_with("allow"));

    let deny = airlock(&["check", "DELETE FROM users WHERE 1=1"]);
    assert_eq!(deny.status.code(), Some(1));
    let text = stdout(&deny);
    assert!(text.starts_with("deny"), "{text}");
    assert!(text.contains("pg-delete-all-rows"), "{text}");
    assert!(text.contains("`users`"), "{text}");
    assert!(
        text.contains("instead:"),
        "the denial says what would be allowed: {text}"
    );

    let review = airlock(&["check", "GRANT SELECT ON users TO bob"]);
    assert_eq!(review.status.code(), Some(2), "{}", stdout(&review));
    assert!(stdout(&review).starts_with("review"));

    let usage = airlock(&["check", "--no-such-flag", "SELECT 1"]);
    assert_eq!(usage.status.code(), Some(3));
    let missing = airlock(&["check"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        stderr(&missing).contains("give a command to check"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn environment_and_identity_options_change_the_decision() {
    assert_eq!(
        airlock(&["check", "CREATE TABLE t (id int)"]).status.code(),
        Some(2)
    );
    assert_eq!(
        airlock(&["check", "--env", "dev", "CREATE TABLE t (id int)"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        airlock(&["check", "--env", "dev", "DROP TABLE t"])
            .status
            .code(),
        Some(1)
    );
    let bad_name = airlock(&["check", "--principal", "", "SELECT 1"]);
    assert_eq!(bad_name.status.code(), Some(3));
    assert!(
        stderr(&bad_name).contains("invalid principal"),
        "{}",
        stderr(&bad_name)
    );
}

#[test]
fn json_output_carries_decision_and_facts() {
    let out = airlock(&[
        "check",
        "--json",
        "DO $$ BEGIN EXECUTE 'DROP ' || 'TABLE t'; END $$",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["decision"]["verdict"], "deny");
    let statements = value["facts"]["statements"].as_array().unwrap();
    assert!(
        statements
            .iter()
            .any(|s| s["kind"] == "drop" && s["origin"] == "dynamic_sql"),
        "{statements:?}"
    );
}

#[test]
fn jsonl_replay_writes_one_line_per_input_in_order() {
    let input = concat!(
        "{\"id\": \"a\", \"command\": \"DROP TABLE t\", \"user\": \"ignored\"}\n",
        "{\"id\": 2, \"command\": \"SELECT 1\"}\n",
        "\n",
        "{\"id\": \"c\", \"command\": \"SELECT * FROM users\"}\n",
    );
    let out = airlock_stdin(&["check", "--jsonl"], input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["decision"], "deny");
    assert_eq!(lines[0]["rules"][0], "pg-drop");
    assert!(lines[0]["reason"].as_str().unwrap().contains("`t`"));
    assert_eq!(lines[1]["id"], 2);
    assert_eq!(lines[1]["decision"], "allow");
    assert_eq!(lines[2]["decision"], "review");
    assert!(
        stderr(&out).contains("3 statement(s): 1 allow, 1 review, 1 deny"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unreadable_replay_input_is_a_clear_error() {
    let out = airlock_stdin(
        &["check", "--jsonl"],
        "{\"id\": 1, \"command\": \"SELECT 1\"}\nnot json\n",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "one output line per input line, the bad one marked"
    );
    assert!(lines[1].contains("invalid-input"));

    let missing = airlock(&["check", "--jsonl", "--input", "/nonexistent/replay.jsonl"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        stderr(&missing).contains("/nonexistent/replay.jsonl"),
        "{}",
        stderr(&missing)
    );

    let binary = airlock_stdin(&["check", "--jsonl"], "\u{0}\u{1}garbage\n");
    assert_eq!(binary.status.code(), Some(3));
}

#[test]
fn a_broken_policy_file_is_refused_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.cedar");
    std::fs::write(
        &path,
        "@id(\"x\")\n@verdict(\"deny\")\n@message(\"m\")\nforbid (principal, action, resource)\nwhen { context.stmt.no_such_field };\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let check = airlock(&["check", "--policy", path, "SELECT 1"]);
    assert_eq!(check.status.code(), Some(3));
    let err = stderr(&check);
    assert!(err.contains("broken.cedar:5:"), "{err}");
    assert!(err.contains("no_such_field"), "{err}");

    let validate = airlock(&["policy", "validate", path]);
    assert_eq!(validate.status.code(), Some(1));
    assert!(
        stderr(&validate).contains("broken.cedar:5:"),
        "{}",
        stderr(&validate)
    );
}

#[test]
fn the_default_pack_prints_validates_and_decides_like_the_builtin() {
    let shown = airlock(&["policy", "show-default"]);
    assert_eq!(shown.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("default.cedar");
    std::fs::write(&path, &shown.stdout).unwrap();
    let path = path.to_str().unwrap();
    let validate = airlock(&["policy", "validate", path]);
    assert_eq!(validate.status.code(), Some(0), "{}", stderr(&validate));
    assert!(stdout(&validate).starts_with("ok:"));
    for (sql, code) in [
        ("DROP TABLE t", 1),
        ("SELECT * FROM users", 2),
        ("SELECT 1", 0),
    ] {
        assert_eq!(
            airlock(&["check", "--policy", path, sql]).status.code(),
            Some(code),
            "{sql}"
        );
    }
}

#[test]
fn the_example_team_policy_validates_with_the_default_pack() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("default.cedar");
    std::fs::write(&default, airlock(&["policy", "show-default"]).stdout).unwrap();
    let team = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policies/team.cedar"
    );
    let default = default.to_str().unwrap();
    let validate = airlock(&["policy", "validate", default, team]);
    assert_eq!(validate.status.code(), Some(0), "{}", stderr(&validate));
    let agent = [
        "check",
        "--policy",
        default,
        "--policy",
        team,
        "--principal-kind",
        "agent",
    ];
    let ddl = airlock(&[&agent[..], &["--env", "dev", "CREATE TABLE t (id int)"]].concat());
    assert_eq!(ddl.status.code(), Some(1), "{}", stdout(&ddl));
    assert!(stdout(&ddl).contains("team-agents-no-ddl"));
}

#[test]
fn audit_verify_reports_a_missing_or_corrupt_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let missing = airlock(&["--data-dir", data, "audit", "verify"]);
    assert_eq!(missing.status.code(), Some(1));
    std::fs::write(
        dir.path().join("audit.db"),
        b"this is not a database at all",
    )
    .unwrap();
    let corrupt = airlock(&["--data-dir", data, "audit", "verify"]);
    assert_eq!(corrupt.status.code(), Some(1));
    assert!(
        stderr(&corrupt).contains("audit.db"),
        "{}",
        stderr(&corrupt)
    );
    assert!(!stderr(&corrupt).contains("panicked"));
}

#[test]
fn config_validate_and_keys_create() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/airlock.toml");
    let ok = airlock(&["config", "validate", example]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("ok: 2 listener(s), 1 connection(s), 2 identit(ies)"));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[[connections]]\nname = \"db\"\nhost = \"h\"\nport = 0\npassword = \"s3cret\"\n",
    )
    .unwrap();
    let bad = airlock(&["config", "validate", broken.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    for needle in [
        "connections[0].port",
        "connections[0].database: is required",
        "connections[0].password",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in {err}");
    }
    assert!(!err.contains("s3cret"), "{err}");

    let created = airlock(&["keys", "create"]);
    assert_eq!(created.status.code(), Some(0));
    let text = stdout(&created);
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("key:      "))
        .unwrap();
    let verifier = text
        .lines()
        .find_map(|l| l.strip_prefix("verifier: "))
        .unwrap();
    let parsed = airlock_config::ScramVerifier::parse(verifier).unwrap();
    assert!(parsed.verify_password(key));
    assert!(key.starts_with("alk_") && key.len() == 68, "{key}");
}

#[test]
fn tls_files_are_checked_by_validate_and_before_serving() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/airlock-tls.toml"
    );
    let ok = airlock(&["config", "validate", example]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    // A certificate with somebody else's key: only loading it can tell.
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), other.serialize_pem()).unwrap();
    let config = dir.path().join("airlock.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\n[[listeners]]\nname = \"pg\"\naddress = \"127.0.0.1:0\"\n\
         tls = { cert = \"server.pem\", key = \"server.key\" }\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let bad = airlock(&["config", "validate", config]);
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    assert!(
        err.contains("listeners[0].tls: the private key in `")
            && err.contains("server.key` does not belong to the certificate in `"),
        "{err}"
    );
    let serve = airlock(&["serve", "--config", config]);
    assert_ne!(serve.status.code(), Some(0));
    let err = stderr(&serve);
    assert!(err.contains("listener `pg`: the private key in `"), "{err}");
    assert!(!err.contains("listening"), "nothing is bound: {err}");
    assert!(!err.contains("BEGIN"), "no key material in errors: {err}");
}
