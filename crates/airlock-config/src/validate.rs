//! Raw TOML → [`Config`]: every field checked, every problem kept.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_model::{ConnectionKind, IdentityKind, Name};
use toml::Table;

use crate::Problem;
use crate::approvals::{approvals_config, mode};
use crate::fields::Fields;
use crate::model::{
    ApiKey, AuditConfig, ClientAuth, Config, ConnectionConfig, Credentials, Durability,
    IdentityConfig, ListenerConfig, ListenerProtocol, PolicyConfig,
};
use crate::tls;
use airlock_pg::{ScramError, ScramVerifier};

const DEFAULT_READ_WINDOW_MS: i64 = 10;
const MAX_READ_WINDOW_MS: i64 = 1_000;

pub(crate) fn config(table: Table, file: &str, base: &Path) -> Result<Config, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut top = Fields::new("", table, &mut problems);
    let data_dir = base.join(
        top.string("data_dir")
            .unwrap_or_else(|| "airlock-data".into()),
    );
    let audit = top.table("audit");
    let policy = top.table("policy");
    let listeners = top.tables("listeners");
    let connections = top.tables("connections");
    let identities = top.tables("identities");
    let approvals = top.table("approvals");
    top.finish();
    let approvals = approvals_config(approvals.unwrap_or_default(), base, &mut problems);
    let audit = audit_config(audit.unwrap_or_default(), &mut problems);
    let policy = policy_config(policy.unwrap_or_default(), base, &mut problems);
    let listeners: Vec<ListenerConfig> = listeners
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| listener(format!("listeners[{i}]"), t, base, &mut problems))
        .collect();
    let connections: Vec<ConnectionConfig> = connections
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| connection(format!("connections[{i}]"), t, base, &mut problems))
        .collect();
    let identities: Vec<IdentityConfig> = identities
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| identity(format!("identities[{i}]"), t, &mut problems))
        .collect();
    let config = Config {
        data_dir,
        audit,
        policy,
        listeners,
        connections,
        identities,
        approvals,
    };
    cross_checks(&config, &mut problems);
    shared_salts(&config, file, &mut problems);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

fn audit_config(table: Table, problems: &mut Vec<Problem>) -> AuditConfig {
    let mut f = Fields::new("audit", table, problems);
    let durability = match f.string("durability").as_deref() {
        None | Some("group") => Durability::Group,
        Some("strict") => Durability::Strict,
        Some(other) => {
            f.problem(
                "durability",
                format!("unknown durability `{other}`; use `group` or `strict`"),
            );
            Durability::Group
        }
    };
    let window = f
        .integer("read_window_ms")
        .unwrap_or(DEFAULT_READ_WINDOW_MS);
    if !(0..=MAX_READ_WINDOW_MS).contains(&window) {
        f.problem(
            "read_window_ms",
            format!("must be between 0 and {MAX_READ_WINDOW_MS}, got {window}"),
        );
    }
    f.finish();
    let read_window =
        Duration::from_millis(u64::try_from(window.clamp(0, MAX_READ_WINDOW_MS)).unwrap_or(0));
    AuditConfig {
        durability,
        read_window,
    }
}

fn policy_config(table: Table, base: &Path, problems: &mut Vec<Problem>) -> PolicyConfig {
    let mut f = Fields::new("policy", table, problems);
    let files = f
        .strings("files")
        .into_iter()
        .map(|p| base.join(p))
        .collect();
    f.finish();
    PolicyConfig { files }
}

fn name(f: &mut Fields<'_>, key: &str, value: Option<String>) -> Option<Name> {
    let value = value?;
    match Name::new(value) {
        Ok(name) => Some(name),
        Err(error) => {
            f.problem(key, error.to_string());
            None
        }
    }
}

fn names(f: &mut Fields<'_>, key: &str) -> BTreeSet<Name> {
    let values = f.strings(key);
    values
        .into_iter()
        .filter_map(|v| name(f, key, Some(v)))
        .collect()
}

fn listener(
    path: String,
    table: Table,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ListenerConfig> {
    let mut f = Fields::new(path, table, problems);
    let listener_name = f.required_string("name");
    let listener_name = name(&mut f, "name", listener_name);
    let protocol = match f.string("protocol").as_deref() {
        None | Some("postgres") => Some(ListenerProtocol::Postgres),
        Some("http") => Some(ListenerProtocol::Http),
        Some(other) => {
            f.problem(
                "protocol",
                format!("unknown protocol `{other}`; use `postgres` or `http`"),
            );
            None
        }
    };
    let address = f
        .required_string("address")
        .and_then(|a| match a.parse::<SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                f.problem(
                    "address",
                    format!("`{a}` is not an address like `127.0.0.1:6432`"),
                );
                None
            }
        });
    let tls_table = f.table("tls");
    let has_tls = tls_table.is_some();
    let tls = tls_table.and_then(|t| tls::listener_tls(f.path_of("tls"), t, base, &mut f));
    let auth = if protocol == Some(ListenerProtocol::Http) {
        if f.string("auth").is_some() {
            f.problem(
                "auth",
                "`auth` is for `postgres` listeners; HTTP clients always present an identity's \
                 API key (`Authorization: Basic` with the identity as user and the key as password)",
            );
        }
        Some(ClientAuth::ScramSha256)
    } else {
        tls::client_auth(&mut f, has_tls)
    };
    f.finish();
    Some(ListenerConfig {
        name: listener_name?,
        protocol: protocol?,
        address: address?,
        tls,
        auth: auth?,
    })
}

fn connection(
    path: String,
    table: Table,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ConnectionConfig> {
    let mut f = Fields::new(path, table, problems);
    let connection_name = f.required_string("name");
    let connection_name = name(&mut f, "name", connection_name);
    let kind = match f.string("kind").as_deref() {
        None | Some("postgres") => Some(ConnectionKind::Postgres),
        Some(other @ ("mysql" | "shell")) => {
            f.problem(
                "kind",
                format!("`{other}` connections are not supported yet"),
            );
            None
        }
        Some(other) => {
            f.problem("kind", format!("unknown kind `{other}`; use `postgres`"));
            None
        }
    };
    let host = f.required_string("host");
    let port = match f.integer("port") {
        None => Some(5432),
        Some(p) => u16::try_from(p).ok().filter(|p| *p > 0).or_else(|| {
            f.problem("port", format!("must be between 1 and 65535, got {p}"));
            None
        }),
    };
    let database = f.required_string("database");
    let user = f.required_string("user");
    let environments = names(&mut f, "environments");
    let credentials = credentials(&mut f, base);
    let tls = tls::upstream_tls(&mut f, base);
    let estimate_rows = f.boolean("estimate_rows").unwrap_or(false);
    f.finish();
    Some(ConnectionConfig {
        name: connection_name?,
        kind: kind?,
        host: host?,
        port: port?,
        database: database?,
        user: user?,
        environments,
        credentials: credentials?,
        tls: tls?,
        estimate_rows,
    })
}

fn credentials(f: &mut Fields<'_>, base: &Path) -> Option<Credentials> {
    if f.string("password").is_some() {
        f.problem(
            "password",
            "passwords are never written in the configuration; use `password_env` or `password_file`",
        );
        return None;
    }
    match (f.string("password_env"), f.string("password_file")) {
        (Some(_), Some(_)) => {
            f.problem(
                "password_env",
                "give either `password_env` or `password_file`, not both",
            );
            None
        }
        (Some(var), None) if var.is_empty() => {
            f.problem("password_env", "must name an environment variable");
            None
        }
        (Some(var), None) => Some(Credentials::Env(var)),
        (None, Some(file)) => Some(Credentials::File(base.join(PathBuf::from(file)))),
        (None, None) => Some(Credentials::None),
    }
}

fn identity(path: String, table: Table, problems: &mut Vec<Problem>) -> Option<IdentityConfig> {
    let mut f = Fields::new(path, table, problems);
    let id = f.required_string("id");
    let id = name(&mut f, "id", id);
    let kind = match f.string("kind").as_deref() {
        None | Some("human") => Some(IdentityKind::Human),
        Some("agent") => Some(IdentityKind::Agent),
        Some("service") => Some(IdentityKind::Service),
        Some(other) => {
            f.problem(
                "kind",
                format!("unknown kind `{other}`; use `human`, `agent` or `service`"),
            );
            None
        }
    };
    let groups = names(&mut f, "groups");
    let approval_mode = mode(&mut f, "approval_mode");
    let acting_for = f.string("acting_for");
    let acting_for = name(&mut f, "acting_for", acting_for);
    if acting_for.is_some() && kind != Some(IdentityKind::Agent) {
        f.problem("acting_for", "only an agent acts for a human");
    }
    let mut api_keys = Vec::new();
    for (i, text) in f.strings("api_keys").into_iter().enumerate() {
        match ScramVerifier::parse(&text) {
            Ok(verifier) => api_keys.push(ApiKey::new(verifier)),
            Err(error @ ScramError::TooManyIterations(_)) => {
                f.problem(&format!("api_keys[{i}]"), error.to_string());
            }
            Err(_) => f.problem(
                &format!("api_keys[{i}]"),
                "expected a SCRAM-SHA-256 verifier (`SCRAM-SHA-256$4096:…`, from `airlock keys create`); keys themselves are never stored",
            ),
        }
    }
    f.finish();
    Some(IdentityConfig {
        id: id?,
        kind: kind?,
        groups,
        acting_for,
        api_keys,
        approval_mode,
    })
}

/// Rules across entries: unique names and keys, agents acting for known humans.
fn cross_checks(config: &Config, problems: &mut Vec<Problem>) {
    let mut duplicate =
        |section: &str, index: usize, field: &str, value: String, seen: &mut HashSet<String>| {
            if !seen.insert(value.clone()) {
                problems.push(Problem {
                    path: format!("{section}[{index}].{field}"),
                    reason: format!("`{value}` is already used by an earlier entry"),
                });
            }
        };
    let mut seen = HashSet::new();
    for (i, l) in config.listeners.iter().enumerate() {
        duplicate("listeners", i, "name", l.name.to_string(), &mut seen);
    }
    let mut seen = HashSet::new();
    for (i, l) in config.listeners.iter().enumerate() {
        duplicate("listeners", i, "address", l.address.to_string(), &mut seen);
    }
    let mut seen = HashSet::new();
    for (i, c) in config.connections.iter().enumerate() {
        duplicate("connections", i, "name", c.name.to_string(), &mut seen);
    }
    let mut seen = HashSet::new();
    for (i, identity) in config.identities.iter().enumerate() {
        duplicate("identities", i, "id", identity.id.to_string(), &mut seen);
    }
    let mut seen = HashSet::new();
    for (i, identity) in config.identities.iter().enumerate() {
        for key in &identity.api_keys {
            // The same key id is the same StoredKey: a copy-paste of one key.
            duplicate("identities", i, "api_keys", key.id.to_string(), &mut seen);
        }
    }
    let humans: HashSet<&str> = config
        .identities
        .iter()
        .filter(|i| i.kind == IdentityKind::Human)
        .map(|i| i.id.as_str())
        .collect();
    for (i, identity) in config.identities.iter().enumerate() {
        if let Some(human) = &identity.acting_for
            && !humans.contains(human.as_str())
        {
            problems.push(Problem {
                path: format!("identities[{i}].acting_for"),
                reason: format!("`{human}` is not a human identity of this configuration"),
            });
        }
    }
    let approvals = &config.approvals;
    if let Some(slack) = &approvals.slack {
        for (slack_user, identity) in &slack.users {
            if !humans.contains(identity.as_str()) {
                problems.push(Problem {
                    path: format!("approvals.slack.users.{slack_user}"),
                    reason: format!(
                        "`{identity}` is not a human identity of this configuration (only humans approve)"
                    ),
                });
            }
        }
    }
    let has_http = config
        .listeners
        .iter()
        .any(|l| l.protocol == ListenerProtocol::Http);
    if approvals.slack.is_some() && !has_http {
        problems.push(Problem {
            path: "approvals.slack".into(),
            reason: "Slack sends button clicks to `/slack/interactions` on an `http` listener; \
                     add a `[[listeners]]` with `protocol = \"http\"`"
                .into(),
        });
    }
    let mut seen = HashSet::new();
    for (i, w) in approvals.webhooks.iter().enumerate() {
        if !seen.insert(w.name.as_str()) {
            problems.push(Problem {
                path: format!("approvals.webhooks[{i}].name"),
                reason: format!("`{}` is already used by an earlier entry", w.name),
            });
        }
    }
}

/// An identity's keys must share the salt and iteration count: SCRAM announces them before
/// the server can know which key the client holds, so a key salted differently never works.
fn shared_salts(config: &Config, file: &str, problems: &mut Vec<Problem>) {
    for (i, identity) in config.identities.iter().enumerate() {
        let Some((first, others)) = identity.api_keys.split_first() else {
            continue;
        };
        for (k, key) in others.iter().enumerate() {
            let (a, b) = (&first.verifier, &key.verifier);
            if a.salt != b.salt || a.iterations != b.iterations {
                problems.push(Problem {
                    path: format!("identities[{i}].api_keys[{}]", k + 1),
                    reason: format!(
                        "key `{}` is salted differently from `api_keys[0]`; the keys of one \
                         identity share one salt and iteration count (SCRAM announces them \
                         before it knows which key the client holds), so this key could never \
                         log in: remove it and create its replacement with \
                         `airlock keys create --config {file} --identity {}`",
                        key.id, identity.id
                    ),
                });
            }
        }
    }
}
