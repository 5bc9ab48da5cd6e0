//! `airlock keys create|list|revoke` as an operator runs them: salts shared per identity, key
//! ids, revocations in the data directory's store, and errors that never show a key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use airlock_config::{ApiKey, Config, ScramVerifier};

fn airlock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `(key, id, verifier)` printed by `airlock keys create`.
fn created(output: &Output) -> (String, String, String) {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    let text = stdout(output);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` in {text}"))
            .to_owned()
    };
    (
        field("key:      "),
        field("id:       "),
        field("verifier: "),
    )
}

/// A configuration with identities `alice` (human, `alice_keys`) and `ci` (service, none).
fn write_config(dir: &Path, alice_keys: &[String]) -> PathBuf {
    let keys: Vec<String> = alice_keys.iter().map(|v| format!("\"{v}\"")).collect();
    let text = format!(
        "data_dir = \"data\"\n\
         [[identities]]\nid = \"alice\"\napi_keys = [{}]\n\
         [[identities]]\nid = \"ci\"\nkind = \"service\"\n",
        keys.join(", ")
    );
    let path = dir.join("airlock.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn keys_created_for_an_identity_share_its_salt() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[]);
    let config = config.to_str().unwrap();
    let create = || airlock(&["keys", "create", "--config", config, "--identity", "alice"]);

    // No keys yet: a fresh salt, then every later key reuses it.
    let (key1, id1, verifier1) = created(&create());
    write_config(dir.path(), std::slice::from_ref(&verifier1));
    let (key2, id2, verifier2) = created(&create());
    let (one, two) = (
        ScramVerifier::parse(&verifier1).unwrap(),
        ScramVerifier::parse(&verifier2).unwrap(),
    );
    assert_eq!((&one.salt, one.iterations), (&two.salt, two.iterations));
    assert!(one.verify_password(&key1) && two.verify_password(&key2));
    assert!(key1.starts_with("alk_") && key1.len() == 68, "{key1}");
    assert_ne!(id1, id2);
    assert_eq!(ApiKey::new(one).id.to_string(), id1);
    assert!(id1.starts_with("key_") && id1.len() == 16, "{id1}");

    let path = write_config(dir.path(), &[verifier1, verifier2]);
    let config = Config::load(&path).unwrap();
    assert_eq!(config.identities[0].api_keys.len(), 2);

    // Plain `create` keeps working: a fresh salt each time.
    let (_, _, plain) = created(&airlock(&["keys", "create"]));
    assert_ne!(ScramVerifier::parse(&plain).unwrap().salt, two.salt);

    let path = path.to_str().unwrap();
    let unknown = airlock(&["keys", "create", "--config", path, "--identity", "bob"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("there is no identity `bob` in"),
        "{}",
        stderr(&unknown)
    );
    let half = airlock(&["keys", "create", "--identity", "alice"]);
    assert_eq!(half.status.code(), Some(3), "--identity needs --config");
}

#[test]
fn keys_salted_differently_are_a_configuration_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, a) = created(&airlock(&["keys", "create"]));
    let (_, id, b) = created(&airlock(&["keys", "create"]));
    let path = write_config(dir.path(), &[a, b]);
    let out = airlock(&["config", "validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "identities[0].api_keys[1]: key `{id}` is salted differently from `api_keys[0]`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "`airlock keys create --config {} --identity alice`",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn list_and_revoke_record_revocations_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[]);
    let config = config.to_str().unwrap();
    let create = || airlock(&["keys", "create", "--config", config, "--identity", "alice"]);
    let (key1, id1, v1) = created(&create());
    write_config(dir.path(), std::slice::from_ref(&v1));
    let (key2, id2, v2) = created(&create());
    write_config(dir.path(), &[v1, v2]);

    // Before the gateway ever ran: no store, every key active, nothing created.
    let list = airlock(&["keys", "list", "--config", config]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert_eq!(
        stdout(&list),
        format!(
            "IDENTITY  KIND     KEY               STATUS\n\
             alice     human    {id1}  active\n\
             alice     human    {id2}  active\n"
        )
    );
    assert!(!dir.path().join("data").exists());

    let revoke = |args: &[&str]| {
        let mut all = vec!["keys", "revoke", "--config", config];
        all.extend_from_slice(args);
        airlock(&all)
    };
    let first = revoke(&[&id2, "--reason", "left on a shared laptop"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stdout(&first).starts_with(&format!("revoked key `{id2}` of identity `alice`")),
        "{}",
        stdout(&first)
    );
    let again = revoke(&[&id2, "--reason", "another reason"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "revoking twice is not an error"
    );
    assert!(
        stdout(&again).contains("was already revoked at")
            && stdout(&again).contains("nothing changed"),
        "{}",
        stdout(&again)
    );

    let list = airlock(&["keys", "list", "--config", config]);
    let text = stdout(&list);
    assert!(text.contains(&format!("{id1}  active\n")), "{text}");
    let revoked_line = text.lines().find(|l| l.contains(&id2)).unwrap();
    assert!(revoked_line.contains("  revoked at 20"), "{revoked_line}");
    assert!(
        revoked_line.ends_with("Z: left on a shared laptop"),
        "{revoked_line}"
    );

    let json = airlock(&["keys", "list", "--config", config, "--json"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value[0]["status"], "active");
    assert_eq!(value[0]["revoked_at"], serde_json::Value::Null);
    assert_eq!(value[1]["key_id"], id2.as_str());
    assert_eq!(value[1]["kind"], "human");
    assert_eq!(value[1]["status"], "revoked");
    assert_eq!(value[1]["reason"], "left on a shared laptop");

    for output in [&list, &json, &first, &again] {
        let all = format!("{}{}", stdout(output), stderr(output));
        assert!(!all.contains(&key1) && !all.contains(&key2), "{all}");
    }
    // The store the CLI created is a normal audit store: it verifies (no events yet).
    let data = dir.path().join("data");
    let verify = airlock(&["--data-dir", data.to_str().unwrap(), "audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}

#[test]
fn revoke_errors_are_clear_and_show_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key, id, verifier) = created(&airlock(&["keys", "create"]));
    let config = write_config(dir.path(), &[verifier]);
    let config = config.to_str().unwrap();
    let revoke = |args: &[&str]| {
        let mut all = vec!["keys", "revoke", "--config", config];
        all.extend_from_slice(args);
        airlock(&all)
    };

    let unknown = revoke(&["key_0123456789ab"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        stderr(&unknown),
        format!(
            "airlock: no API key `key_0123456789ab` in `{config}`; \
             `airlock keys list --config {config}` shows its keys\n"
        )
    );
    let malformed = revoke(&["alice"]);
    assert_eq!(malformed.status.code(), Some(1));
    assert!(
        stderr(&malformed).contains("`alice` is not a key id"),
        "{}",
        stderr(&malformed)
    );
    // The key itself instead of its id: refused without repeating it.
    let pasted = revoke(&[&key]);
    assert_eq!(pasted.status.code(), Some(1));
    assert!(stderr(&pasted).contains("that is an API key, not a key id"));
    assert!(!stderr(&pasted).contains(&key), "{}", stderr(&pasted));

    let multi = revoke(&[&id, "--reason", "two\nlines"]);
    assert_eq!(multi.status.code(), Some(1));
    assert!(
        stderr(&multi).contains("one line of text"),
        "{}",
        stderr(&multi)
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing recorded on error"
    );

    let missing = airlock(&["keys", "list", "--config", "/nonexistent/airlock.toml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("cannot read `/nonexistent/airlock.toml`"));

    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/audit.db"), b"not a database at all").unwrap();
    for output in [
        airlock(&["keys", "list", "--config", config]),
        revoke(&[&id]),
    ] {
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains("audit.db"), "{}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"));
    }
}
