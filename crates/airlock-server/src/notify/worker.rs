//! One destination's task: takes changes in order, delivers each (three tries), and records the
//! result through `Approvals::notified`.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use airlock_approval::{Channel, Delivery, Request, RequestId};
use hyper::header::{AUTHORIZATION, HeaderName};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::Change;
use super::outbound::{self, Target, post_json};
use super::settings::NotifySettings;
use crate::approvals::Approvals;
use airlock_approval::notify::{slack, teams, webhook};

/// Waits before the second and third attempt.
const RETRY_AFTER: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];

#[derive(Clone, Copy)]
pub(super) enum Sink {
    Slack,
    Teams,
    Webhook(usize),
}

pub(super) struct Worker {
    pub(super) sink: Sink,
    pub(super) settings: Arc<NotifySettings>,
    pub(super) approvals: Weak<Approvals>,
    /// Request → (channel, ts) of the Slack message that announced it.
    pub(super) slack_messages: HashMap<RequestId, (String, String)>,
}

/// One attempt's failure: worth another try, or not.
struct Failure {
    error: String,
    retry: bool,
}

impl Worker {
    pub(super) async fn run(mut self, mut changes: mpsc::Receiver<Change>) {
        while let Some(change) = changes.recv().await {
            let Some(channel) = self.channel_for(&change) else {
                continue;
            };
            let delivery = self.deliver(&change).await;
            if let Delivery::Failed { error } = &delivery {
                warn!(request = %change.request.id(), channel = channel.as_str(), %error,
                      "approval notice not delivered");
            }
            let Some(approvals) = self.approvals.upgrade() else {
                return;
            };
            if let Err(error) = approvals
                .notified(change.request.id(), channel, delivery)
                .await
            {
                warn!(request = %change.request.id(), %error, "approval notice not recorded");
            }
        }
    }

    /// The channel this change is announced on, if this destination announces it: Teams the
    /// request only; Slack the request and then each change of its message; webhooks all. A
    /// request announced again after a restart goes only where it was never delivered.
    fn channel_for(&self, change: &Change) -> Option<Channel> {
        let channel = match self.sink {
            Sink::Teams => Channel::Teams,
            Sink::Slack => Channel::Slack,
            Sink::Webhook(_) => Channel::Webhook,
        };
        if change.resent {
            let delivered =
                change.request.notices().iter().any(|n| {
                    n.channel == channel && matches!(n.delivery, Delivery::Delivered { .. })
                });
            return (!delivered).then_some(channel);
        }
        let wanted = match self.sink {
            Sink::Teams => change.event == "requested",
            Sink::Slack => {
                change.event == "requested" || self.slack_message(&change.request).is_some()
            }
            Sink::Webhook(_) => true,
        };
        wanted.then_some(channel)
    }

    async fn deliver(&mut self, change: &Change) -> Delivery {
        let mut attempt = 0;
        loop {
            match self.attempt(change).await {
                Ok(reference) => return Delivery::Delivered { reference },
                Err(failure) => match RETRY_AFTER.get(attempt) {
                    Some(wait) if failure.retry => {
                        info!(request = %change.request.id(), error = %failure.error,
                              "approval notice failed; trying again");
                        tokio::time::sleep(*wait).await;
                        attempt += 1;
                    }
                    _ => {
                        return Delivery::Failed {
                            error: failure.error,
                        };
                    }
                },
            }
        }
    }

    async fn attempt(&mut self, change: &Change) -> Result<Option<String>, Failure> {
        let request = &change.request;
        let inbox = self.settings.inbox.as_deref();
        match self.sink {
            Sink::Teams => {
                let Some(target) = &self.settings.teams else {
                    return Ok(None);
                };
                let body = teams::card_message(request, inbox);
                post(target, &[], &body).await.map(|_| None)
            }
            Sink::Webhook(i) => {
                let Some(hook) = self.settings.webhooks.get(i) else {
                    return Ok(None);
                };
                let now = OffsetDateTime::now_utc();
                let body = webhook::event(change.event, request, now);
                let bytes = serde_json::to_vec(&body).unwrap_or_default();
                let timestamp = now.unix_timestamp();
                let headers = [
                    (
                        HeaderName::from_static("x-airlock-event"),
                        format!("approval.{}", change.event),
                    ),
                    (
                        HeaderName::from_static("x-airlock-timestamp"),
                        timestamp.to_string(),
                    ),
                    (
                        HeaderName::from_static("x-airlock-signature"),
                        webhook::signature(&hook.secret, timestamp, &bytes),
                    ),
                ];
                post_bytes(&hook.target, &headers, bytes)
                    .await
                    .map(|_| None)
            }
            Sink::Slack => {
                let Some(slack) = self.settings.slack.clone() else {
                    return Ok(None);
                };
                let auth = [(AUTHORIZATION, format!("Bearer {}", slack.token))];
                match self.slack_message(request) {
                    None => {
                        let body = slack::post_message(&slack.channel, request, inbox);
                        let target = slack.api.with_path(&format!(
                            "{}/chat.postMessage",
                            slack.api.path().trim_end_matches('/')
                        ));
                        let answer = slack_call(&target, &auth, &body).await?;
                        let ts = text_at(&answer, "ts").unwrap_or_default().to_owned();
                        let channel = text_at(&answer, "channel")
                            .unwrap_or(&slack.channel)
                            .to_owned();
                        self.slack_messages
                            .insert(request.id(), (channel.clone(), ts.clone()));
                        Ok(Some(format!("{channel}/{ts}")))
                    }
                    Some((channel, ts)) => {
                        let body = slack::update_message(&channel, &ts, request, inbox);
                        let target = slack.api.with_path(&format!(
                            "{}/chat.update",
                            slack.api.path().trim_end_matches('/')
                        ));
                        slack_call(&target, &auth, &body).await?;
                        Ok(Some(format!("{channel}/{ts}")))
                    }
                }
            }
        }
    }

    /// The Slack message that announced `request`: posted by this task, or recorded before
    /// a restart (a delivered Slack notice's reference is `<channel>/<ts>`).
    fn slack_message(&self, request: &Request) -> Option<(String, String)> {
        if let Some(known) = self.slack_messages.get(&request.id()) {
            return Some(known.clone());
        }
        request
            .notices()
            .iter()
            .find_map(|n| match (&n.channel, &n.delivery) {
                (Channel::Slack, Delivery::Delivered { reference: Some(r) }) => r
                    .split_once('/')
                    .map(|(c, ts)| (c.to_owned(), ts.to_owned())),
                _ => None,
            })
    }
}

async fn post(
    target: &Target,
    headers: &[(HeaderName, String)],
    body: &serde_json::Value,
) -> Result<outbound::Answer, Failure> {
    post_bytes(
        target,
        headers,
        serde_json::to_vec(body).unwrap_or_default(),
    )
    .await
}

/// POSTs and judges the status: 2xx delivered; 429 and 5xx worth retrying; others not.
async fn post_bytes(
    target: &Target,
    headers: &[(HeaderName, String)],
    body: Vec<u8>,
) -> Result<outbound::Answer, Failure> {
    let answer = post_json(target, headers, body)
        .await
        .map_err(|e| Failure {
            error: e.to_string(),
            retry: true,
        })?;
    match answer.status {
        200..=299 => Ok(answer),
        status => Err(Failure {
            error: format!("{} answered HTTP {status}", target.host()),
            retry: status == 429 || status >= 500,
        }),
    }
}

/// A Slack Web API call: HTTP 200 with `"ok": true`, else the `error` Slack names.
async fn slack_call(
    target: &Target,
    headers: &[(HeaderName, String)],
    body: &serde_json::Value,
) -> Result<serde_json::Value, Failure> {
    let answer = post(target, headers, body).await?;
    let answer: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| Failure {
        error: "Slack's answer is not JSON".into(),
        retry: false,
    })?;
    if answer.get("ok").and_then(serde_json::Value::as_bool) == Some(true) {
        Ok(answer)
    } else {
        let error = text_at(&answer, "error").unwrap_or("unknown_error");
        Err(Failure {
            error: format!("Slack refused the message: {error}"),
            retry: error == "ratelimited" || error == "internal_error",
        })
    }
}

fn text_at<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(serde_json::Value::as_str)
}
