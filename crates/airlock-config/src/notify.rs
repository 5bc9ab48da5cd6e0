//! Where approval requests are announced: `[approvals.slack]` (a Block Kit message with
//! Approve/Deny buttons; clicks come back signed), `[approvals.teams]` (an Adaptive Card to a
//! Workflows webhook) and `[[approvals.webhooks]]` (a signed JSON event for every request and
//! decision). Secrets are never inline: each is `<name>_env` or `<name>_file`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use airlock_model::Name;
use toml::{Table, Value};

use crate::Problem;
use crate::fields::Fields;
use crate::model::{Secret, SlackConfig, TeamsConfig, WebhookConfig};

/// Slack's Web API, where `chat.postMessage` and `chat.update` live.
pub const SLACK_API_URL: &str = "https://slack.com/api";

pub(crate) fn slack(table: Table, base: &Path, problems: &mut Vec<Problem>) -> Option<SlackConfig> {
    let mut f = Fields::new("approvals.slack", table, problems);
    let channel = f.required_string("channel");
    let bot_token = secret(&mut f, base, "bot_token");
    let signing_secret = secret(&mut f, base, "signing_secret");
    let api_url = f
        .string("api_url")
        .unwrap_or_else(|| SLACK_API_URL.to_owned());
    let api_url = http_url(&mut f, "api_url", api_url);
    let users = f.table("users").unwrap_or_default();
    let users = slack_users(&mut f, users);
    f.finish();
    Some(SlackConfig {
        channel: channel?,
        bot_token: bot_token?,
        signing_secret: signing_secret?,
        api_url: api_url?,
        users,
    })
}

pub(crate) fn teams(table: Table, base: &Path, problems: &mut Vec<Problem>) -> Option<TeamsConfig> {
    let mut f = Fields::new("approvals.teams", table, problems);
    let webhook_url = secret(&mut f, base, "webhook_url");
    f.finish();
    Some(TeamsConfig {
        webhook_url: webhook_url?,
    })
}

pub(crate) fn webhook(
    path: String,
    table: Table,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<WebhookConfig> {
    let mut f = Fields::new(path, table, problems);
    let name = f.required_string("name");
    let name = name.and_then(|n| match Name::new(n) {
        Ok(name) => Some(name),
        Err(e) => {
            f.problem("name", e.to_string());
            None
        }
    });
    let url = f.required_string("url");
    let url = url.and_then(|u| http_url(&mut f, "url", u));
    let secret = secret(&mut f, base, "secret");
    f.finish();
    Some(WebhookConfig {
        name: name?,
        url: url?,
        secret: secret?,
    })
}

/// A required secret: `<key>_env` (an environment variable) or `<key>_file`, never `<key>`.
fn secret(f: &mut Fields<'_>, base: &Path, key: &str) -> Option<Secret> {
    let env = format!("{key}_env");
    let file = format!("{key}_file");
    if f.string(key).is_some() {
        f.problem(
            key,
            format!("secrets are never written in the configuration; use `{env}` or `{file}`"),
        );
        return None;
    }
    match (f.string(&env), f.string(&file)) {
        (Some(_), Some(_)) => {
            f.problem(&env, format!("give either `{env}` or `{file}`, not both"));
            None
        }
        (Some(var), None) if var.is_empty() => {
            f.problem(&env, "must name an environment variable");
            None
        }
        (Some(var), None) => Some(Secret::Env(var)),
        (None, Some(path)) => Some(Secret::File(base.join(PathBuf::from(path)))),
        (None, None) => {
            f.problem(&env, format!("is required (or `{file}`)"));
            None
        }
    }
}

fn http_url(f: &mut Fields<'_>, key: &str, url: String) -> Option<String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Some(url.trim_end_matches('/').to_owned())
    } else {
        f.problem(key, format!("`{url}` is not an http(s) URL"));
        None
    }
}

/// `[approvals.slack.users]`: Slack user id → airlock identity.
fn slack_users(f: &mut Fields<'_>, users: Table) -> BTreeMap<String, Name> {
    let mut out = BTreeMap::new();
    for (slack_user, value) in users {
        let key = format!("users.{slack_user}");
        match value {
            Value::String(identity) => match Name::new(identity) {
                Ok(identity) => {
                    out.insert(slack_user, identity);
                }
                Err(e) => f.problem(&key, e.to_string()),
            },
            other => f.problem(
                &key,
                format!(
                    "must be an airlock identity's id (a string), got {}",
                    other.type_str()
                ),
            ),
        }
    }
    out
}
