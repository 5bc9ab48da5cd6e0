//! Configuration files as users write them: the shipped example, and broken ones whose every
//! problem must be reported at once, with its path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use airlock_config::{
    ApprovalMode, ClientAuth, Config, ConfigError, Credentials, Durability, ListenerProtocol,
    ScramVerifier, Secret, UpstreamTls,
};
use airlock_model::KeyId;

fn problems(text: &str) -> Vec<String> {
    match Config::parse(text, "test.toml", Path::new("/etc/airlock")) {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        Err(other) => panic!("expected validation problems, got {other}"),
        Ok(config) => panic!("expected problems, got {config:?}"),
    }
}

#[test]
fn the_shipped_example_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/airlock.toml");
    let config = Config::load(Path::new(path)).unwrap();
    assert_eq!(config.listeners.len(), 2);
    assert_eq!(config.listeners[0].address.port(), 6432);
    assert_eq!(config.listeners[1].protocol, ListenerProtocol::Http);
    assert_eq!(config.approvals.mode, ApprovalMode::Hold);
    assert_eq!(
        config.approvals.grant_ttl,
        std::time::Duration::from_secs(900)
    );
    assert_eq!(
        config.identities[1].approval_mode,
        Some(ApprovalMode::Retry)
    );
    let local = &config.connections[0];
    assert_eq!(
        (local.name.as_str(), local.port, local.database.as_str()),
        ("local", 5432, "test")
    );
    assert_eq!(local.credentials, Credentials::None);
    assert!(!local.estimate_rows);
    assert!(local.environments.iter().any(|e| e.as_str() == "prod"));
    assert_eq!(config.audit.durability, Durability::Group);
    assert_eq!(
        config.identities[1].acting_for.as_ref().unwrap().as_str(),
        "alice"
    );
    assert_eq!(config.identities[0].api_keys.len(), 1);
    assert!(
        !config.identities[0].api_keys[0]
            .verifier
            .verify_password("foo")
    );
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let found = problems(
        r#"
        data_dirr = "x"
        [audit]
        durability = "sometimes"
        read_window_ms = 5000
        [[listeners]]
        name = "pg"
        address = "localhost"
        [[connections]]
        name = "main"
        host = "db"
        port = 70000
        database = "app"
        user = "app"
        password = "hunter2"
        [[connections]]
        name = "main"
        kind = "mysql"
        host = "db"
        database = "app"
        user = "app"
        password_env = "A"
        password_file = "b"
        [[identities]]
        id = "bot"
        kind = "agent"
        acting_for = "nobody"
        api_keys = ["plaintext-key"]
        "#,
    );
    let expected = [
        "data_dirr: unknown field",
        "audit.durability: unknown durability `sometimes`; use `group` or `strict`",
        "audit.read_window_ms: must be between 0 and 1000, got 5000",
        "listeners[0].address: `localhost` is not an address like `127.0.0.1:6432`",
        "connections[0].port: must be between 1 and 65535, got 70000",
        "connections[0].password: passwords are never written in the configuration; use `password_env` or `password_file`",
        "connections[1].kind: `mysql` connections are not supported yet",
        "connections[1].password_env: give either `password_env` or `password_file`, not both",
        "identities[0].api_keys[0]: expected a SCRAM-SHA-256 verifier (`SCRAM-SHA-256$4096:…`, from `airlock keys create`); keys themselves are never stored",
        "identities[0].acting_for: `nobody` is not a human identity of this configuration",
    ];
    for line in expected {
        assert!(
            found.iter().any(|f| f == line),
            "missing `{line}` in:\n{}",
            found.join("\n")
        );
    }
    assert!(
        !found.iter().any(|f| f.contains("hunter2")),
        "secrets never appear in errors"
    );
}

#[test]
fn duplicates_wrong_types_and_missing_fields() {
    let found = problems(
        r#"
        [[listeners]]
        name = "a"
        address = "127.0.0.1:1"
        [[listeners]]
        name = "a"
        address = "127.0.0.1:1"
        [[connections]]
        name = 5
        host = "db"
        [[identities]]
        id = "x"
        groups = "dba"
        "#,
    );
    for line in [
        "listeners[1].name: `a` is already used by an earlier entry",
        "listeners[1].address: `127.0.0.1:1` is already used by an earlier entry",
        "connections[0].name: expected a string, found integer",
        "connections[0].database: is required",
        "connections[0].user: is required",
        "identities[0].groups: expected an array of strings, found string",
    ] {
        assert!(
            found.iter().any(|f| f == line),
            "missing `{line}` in:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn syntax_errors_name_the_file() {
    let error = Config::parse("[[listeners]\nname = ", "broken.toml", Path::new(".")).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("`broken.toml` is not valid TOML"),
        "{text}"
    );
}

#[test]
fn api_keys_are_scram_verifiers() {
    let verifier = ScramVerifier::new("alk_secret", b"0123456789abcdef", 4096);
    let text = format!("[[identities]]\nid = \"a\"\napi_keys = [\"{verifier}\"]\n");
    let config = Config::parse(&text, "t.toml", Path::new(".")).unwrap();
    let key = &config.identities[0].api_keys[0];
    assert!(key.verifier.verify_password("alk_secret"));
    assert_eq!(key.id, KeyId::of_stored_key(&verifier.stored_key));
    assert!(!format!("{config:?}").contains("alk_secret"));
}

#[test]
fn a_key_demanding_more_iterations_than_airlock_computes_says_so() {
    let verifier = ScramVerifier::new("alk_secret", b"0123456789abcdef", 4096).to_string();
    let greedy = verifier.replacen("$4096:", "$2000000:", 1);
    let text = format!("[[identities]]\nid = \"a\"\napi_keys = [\"{greedy}\"]\n");
    assert_eq!(
        problems(&text),
        [
            "identities[0].api_keys[0]: 2000000 SCRAM iterations asked for; airlock computes at \
          most 1000000 (PostgreSQL's default is 4096)"
        ]
    );
}

#[test]
fn the_keys_of_one_identity_share_their_salt_and_no_key_is_configured_twice() {
    let salt = b"0123456789abcdef";
    let one = ScramVerifier::new("alk_one", salt, 4096);
    let two = ScramVerifier::new("alk_two", salt, 4096);
    let odd = ScramVerifier::new("alk_odd", b"another salt", 4096);
    let fewer = ScramVerifier::new("alk_few", salt, 1000);
    let text = format!(
        "[[identities]]\nid = \"a\"\napi_keys = [\"{one}\", \"{two}\", \"{odd}\", \"{fewer}\"]\n\
         [[identities]]\nid = \"b\"\napi_keys = [\"{two}\"]\n"
    );
    let found = problems(&text);
    let odd_id = KeyId::of_stored_key(&odd.stored_key);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].starts_with(&format!(
            "identities[1].api_keys: `{}` is already used",
            KeyId::of_stored_key(&two.stored_key)
        )),
        "{found:#?}"
    );
    assert_eq!(
        found[1],
        format!(
            "identities[0].api_keys[2]: key `{odd_id}` is salted differently from `api_keys[0]`; \
             the keys of one identity share one salt and iteration count (SCRAM announces them \
             before it knows which key the client holds), so this key could never log in: \
             remove it and create its replacement with \
             `airlock keys create --config test.toml --identity a`"
        )
    );
    assert!(
        found[2].starts_with("identities[0].api_keys[3]: key `key_"),
        "{found:#?}"
    );
    // Different identities may share a salt (the test gateway does).
    let text = format!(
        "[[identities]]\nid = \"a\"\napi_keys = [\"{one}\"]\n\
         [[identities]]\nid = \"b\"\napi_keys = [\"{two}\"]\n"
    );
    Config::parse(&text, "t.toml", Path::new(".")).unwrap();
}

#[test]
fn tls_settings_and_files_are_checked_with_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let cert = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
    let key = "-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n";
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let good = r#"
        [[listeners]]
        name = "tls"
        address = "127.0.0.1:1"
        tls = { cert = "cert.pem", key = "key.pem" }
        auth = "password"
        [[listeners]]
        name = "optional"
        address = "127.0.0.1:2"
        tls = { cert = "cert.pem", key = "key.pem", required = false }
        [[connections]]
        name = "db"
        host = "db"
        database = "app"
        user = "app"
        tls = "verify-full"
        tls_ca_file = "cert.pem"
        "#;
    let config = Config::parse(good, "t.toml", dir.path()).unwrap();
    let tls = config.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.cert, dir.path().join("cert.pem"));
    assert!(tls.required, "TLS listeners require TLS by default");
    assert_eq!(config.listeners[0].auth, ClientAuth::Password);
    assert!(!config.listeners[1].tls.as_ref().unwrap().required);
    assert_eq!(config.listeners[1].auth, ClientAuth::ScramSha256);
    assert_eq!(
        config.connections[0].tls,
        UpstreamTls::VerifyFull {
            ca_file: dir.path().join("cert.pem")
        }
    );

    let bad = r#"
        [[listeners]]
        name = "swapped"
        address = "127.0.0.1:1"
        tls = { cert = "key.pem", key = "cert.pem", required = "yes" }
        [[listeners]]
        name = "missing"
        address = "127.0.0.1:2"
        tls = { cert = "nope.pem" }
        [[listeners]]
        name = "plain"
        address = "127.0.0.1:3"
        auth = "password"
        [[listeners]]
        name = "odd"
        address = "127.0.0.1:4"
        auth = "md5"
        [[connections]]
        name = "db"
        host = "db"
        database = "app"
        user = "app"
        tls = "verify-full"
        "#;
    let found = match Config::parse(bad, "t.toml", dir.path()) {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect::<Vec<_>>()
        }
        other => panic!("expected problems, got {other:?}"),
    };
    for line in [
        "listeners[0].tls.required: expected true or false, found string",
        "listeners[0].tls.cert: `",
        "key.pem` holds no certificate",
        "listeners[0].tls.key: `",
        "cert.pem` holds no private key",
        "listeners[1].tls.key: is required",
        "listeners[1].tls.cert: cannot read `",
        "listeners[2].auth: `password` sends the API key in cleartext, so it needs TLS",
        "listeners[3].auth: unknown method `md5`; use `scram-sha-256` or `password`",
        "connections[0].tls_ca_file: is required with `tls = \"verify-full\"`",
    ] {
        assert!(
            found.iter().any(|f| f.contains(line)),
            "missing `{line}` in:\n{}",
            found.join("\n")
        );
    }
    assert_eq!(found.len(), 8, "{}", found.join("\n"));
}

#[test]
fn approvals_settings_are_checked_with_their_paths() {
    let found = problems(
        r#"
        [approvals]
        mode = "later"
        request_ttl_seconds = 0
        grant_ttl_seconds = 99999999
        inbox_url = "airlock.example.com"
        colour = "red"
        [[listeners]]
        name = "api"
        protocol = "http"
        address = "127.0.0.1:8080"
        auth = "password"
        [[identities]]
        id = "ci"
        kind = "service"
        approval_mode = "sometimes"
        "#,
    );
    let expected = [
        "approvals.mode: unknown approval mode `later`; use `hold` (the statement waits in the session) or `retry` (it fails with the request id and runs when sent again after approval)",
        "approvals.request_ttl_seconds: must be between 1 and 604800 (a week), got 0",
        "approvals.grant_ttl_seconds: must be between 1 and 604800 (a week), got 99999999",
        "approvals.inbox_url: `airlock.example.com` is not an http(s) URL such as `https://airlock.example.com`",
        "approvals.colour: unknown field",
        "listeners[0].auth: `auth` is for `postgres` listeners; HTTP clients always present an identity's API key (`Authorization: Basic` with the identity as user and the key as password)",
        "identities[0].approval_mode: unknown approval mode `sometimes`; use `hold` (the statement waits in the session) or `retry` (it fails with the request id and runs when sent again after approval)",
    ];
    for line in expected {
        assert!(
            found.iter().any(|f| f == line),
            "missing `{line}` in:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_notify_example_is_valid_and_names_where_its_secrets_live() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/airlock-notify.toml"
    );
    let config = Config::load(Path::new(path)).unwrap();
    let approvals = &config.approvals;
    let slack = approvals.slack.as_ref().unwrap();
    assert_eq!(slack.channel, "C0123456789");
    assert_eq!(slack.api_url, airlock_config::SLACK_API_URL);
    assert_eq!(
        slack.bot_token,
        Secret::Env("AIRLOCK_SLACK_BOT_TOKEN".into())
    );
    assert_eq!(slack.users["U012AB3CD"].as_str(), "alice");
    assert!(approvals.teams.is_some());
    assert_eq!(approvals.webhooks[0].name.as_str(), "tickets");
    // A secret's Debug names where it lives, never a value.
    assert_eq!(
        format!("{:?}", slack.signing_secret),
        "environment variable `AIRLOCK_SLACK_SIGNING_SECRET`"
    );
}

#[test]
fn notify_settings_are_checked_with_their_paths() {
    let found = problems(
        r#"
        [approvals.slack]
        channel = "C1"
        bot_token = "xoxb-inline"
        signing_secret_env = "S"
        signing_secret_file = "s.txt"
        api_url = "slack.com/api"
        [approvals.slack.users]
        U3 = 7
        [approvals.teams]
        [[approvals.webhooks]]
        name = "hook"
        url = "https://a.example.com"
        secret_env = "H"
        [[approvals.webhooks]]
        name = "hook"
        url = "https://b.example.com"
        secret_file = "hook.secret"
        [[approvals.webhooks]]
        name = "other"
        url = "ftp://hooks.example.com"
        secret_env = "H"
        [[identities]]
        id = "bot"
        kind = "agent"
        "#,
    );
    let expected = [
        "approvals.slack.bot_token: secrets are never written in the configuration; use `bot_token_env` or `bot_token_file`",
        "approvals.slack.signing_secret_env: give either `signing_secret_env` or `signing_secret_file`, not both",
        "approvals.slack.api_url: `slack.com/api` is not an http(s) URL",
        "approvals.slack.users.U3: must be an airlock identity's id (a string), got integer",
        "approvals.teams.webhook_url_env: is required (or `webhook_url_file`)",
        "approvals.webhooks[2].url: `ftp://hooks.example.com` is not an http(s) URL",
        "approvals.webhooks[1].name: `hook` is already used by an earlier entry",
    ];
    for line in expected {
        assert!(
            found.iter().any(|f| f == line),
            "missing `{line}` in:\n{}",
            found.join("\n")
        );
    }
    assert_eq!(found.len(), expected.len(), "{}", found.join("\n"));
}

#[test]
fn slack_users_must_be_human_identities_and_clicks_need_an_http_listener() {
    let found = problems(
        r#"
        [approvals.slack]
        channel = "C1"
        bot_token_env = "T"
        signing_secret_env = "S"
        [approvals.slack.users]
        U1 = "nobody"
        U2 = "bot"
        U3 = "alice"
        [[identities]]
        id = "alice"
        [[identities]]
        id = "bot"
        kind = "agent"
        "#,
    );
    assert_eq!(
        found,
        [
            "approvals.slack.users.U1: `nobody` is not a human identity of this configuration (only humans approve)",
            "approvals.slack.users.U2: `bot` is not a human identity of this configuration (only humans approve)",
            "approvals.slack: Slack sends button clicks to `/slack/interactions` on an `http` listener; add a `[[listeners]]` with `protocol = \"http\"`",
        ]
    );
}

#[test]
fn a_secret_is_read_without_its_trailing_newline_and_an_empty_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("airlock-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "xoxb-123\n").unwrap();
    assert_eq!(Secret::File(file.clone()).read().unwrap(), "xoxb-123");
    std::fs::write(&file, "\n").unwrap();
    let error = Secret::File(file.clone()).read().unwrap_err();
    assert!(
        error.contains("is empty") && !error.contains("xoxb"),
        "{error}"
    );
    let error = Secret::Env("AIRLOCK_TEST_UNSET_SECRET_VAR".into())
        .read()
        .unwrap_err();
    assert_eq!(
        error,
        "environment variable `AIRLOCK_TEST_UNSET_SECRET_VAR` is not set"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
