//! The destinations of notices, resolved at start: secrets read (a secret that cannot be read
//! stops the start, naming where it was looked for), URLs parsed.

use std::collections::BTreeMap;
use std::sync::Arc;

use airlock_config::ApprovalsConfig;
use airlock_model::Name;

use super::Target;

/// Slack, resolved: secrets read, URLs parsed.
pub struct SlackSettings {
    pub channel: String,
    pub(super) token: String,
    pub signing_secret: Vec<u8>,
    pub(super) api: Target,
    /// Slack user id → airlock identity.
    pub users: BTreeMap<String, Name>,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("channel", &self.channel)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

pub(super) struct WebhookSettings {
    pub(super) name: Name,
    pub(super) target: Target,
    pub(super) secret: Vec<u8>,
}

/// Every destination, resolved at start (a secret that cannot be read stops the start).
#[derive(Default)]
pub struct NotifySettings {
    pub slack: Option<Arc<SlackSettings>>,
    pub(super) teams: Option<Target>,
    pub(super) webhooks: Vec<WebhookSettings>,
    /// The web inbox's base URL, linked from messages.
    pub(super) inbox: Option<String>,
}

impl std::fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifySettings")
            .field("slack", &self.slack)
            .field("teams", &self.teams.is_some())
            .field("webhooks", &self.webhooks.len())
            .finish_non_exhaustive()
    }
}

impl NotifySettings {
    /// Reads the secrets and parses the URLs of `[approvals]`'s destinations.
    pub fn resolve(config: &ApprovalsConfig, inbox: Option<String>) -> Result<Self, String> {
        let slack = match &config.slack {
            None => None,
            Some(slack) => Some(Arc::new(SlackSettings {
                channel: slack.channel.clone(),
                token: slack
                    .bot_token
                    .read()
                    .map_err(at("approvals.slack.bot_token"))?,
                signing_secret: (slack.signing_secret.read())
                    .map_err(at("approvals.slack.signing_secret"))?
                    .into_bytes(),
                api: Target::parse(&slack.api_url).map_err(at("approvals.slack.api_url"))?,
                users: slack.users.clone(),
            })),
        };
        let teams = match &config.teams {
            None => None,
            Some(teams) => {
                let path = "approvals.teams.webhook_url";
                let url = teams.webhook_url.read().map_err(at(path))?;
                Some(Target::parse(url.trim()).map_err(at(path))?)
            }
        };
        let mut webhooks = Vec::new();
        for (i, hook) in config.webhooks.iter().enumerate() {
            webhooks.push(WebhookSettings {
                name: hook.name.clone(),
                target: Target::parse(&hook.url)
                    .map_err(at(&format!("approvals.webhooks[{i}].url")))?,
                secret: (hook.secret.read())
                    .map_err(at(&format!("approvals.webhooks[{i}].secret")))?
                    .into_bytes(),
            });
        }
        Ok(Self {
            slack,
            teams,
            webhooks,
            inbox,
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slack.is_none() && self.teams.is_none() && self.webhooks.is_empty()
    }
}

/// An error prefixed with the configuration path it concerns.
fn at<E: std::fmt::Display>(path: &str) -> impl Fn(E) -> String + '_ {
    move |error| format!("{path}: {error}")
}
