//! `POST /slack/interactions`: Slack's callback when someone clicks Approve or Deny. The
//! signature is checked before anything in the body is read; the Slack user becomes an
//! airlock identity only through `[approvals.slack.users]`; the vote then obeys the same rules
//! as every other channel. Slack's message is updated with the outcome by the notifier; a
//! refusal is told to the clicker alone (an ephemeral reply through `response_url`).

use airlock_approval::{Ballot, Channel, Refusal};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Incoming;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::reply::{self, ApiError, Reply};
use crate::approvals::ApprovalsError;
use crate::notify::{Target, post_json};
use crate::state::{State, identity_of};
use airlock_approval::notify::slack::{self as wire, ClickError};

/// Slack's interaction payloads include the whole message: generous, but bounded.
const MAX_BODY: usize = 1024 * 1024;

pub async fn interaction(
    state: &State,
    request: hyper::Request<Incoming>,
) -> Result<Reply, ApiError> {
    let Some(slack) = &state.slack else {
        return Err(ApiError::NoRoute(
            "/slack/interactions (Slack is not configured)".into(),
        ));
    };
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let timestamp = header("x-slack-request-timestamp");
    let signature = header("x-slack-signature");
    let body: Bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| ApiError::TooLarge(MAX_BODY))?
        .to_bytes();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if let Err(error) = wire::verify(
        &slack.signing_secret,
        timestamp.as_deref(),
        signature.as_deref(),
        &body,
        now,
    ) {
        warn!(%error, "Slack callback refused");
        return Err(ApiError::BadSignature(error.to_string()));
    }
    let click = match wire::click(&body) {
        Ok(click) => click,
        Err(ClickError::NotAVote) => return Ok(ok()),
        Err(error) => return Err(ApiError::BadRequest(error.to_string())),
    };
    let answer = |text: String| {
        if let Some(url) = &click.response_url {
            ephemeral(url.clone(), text);
        }
        ok()
    };
    let Some(voter) = slack
        .users
        .get(&click.user)
        .and_then(|name| state.identity(name.as_str()))
    else {
        info!(slack_user = %click.user, request = %click.request, "Slack click from an unmapped user");
        return Ok(answer(format!(
            "Your Slack user ({}) is not mapped to an airlock identity, so your vote on {} was \
             not counted; ask an airlock admin to add you to `[approvals.slack.users]`.",
            click.user, click.request
        )));
    };
    let ballot = Ballot {
        voter: identity_of(voter),
        choice: click.choice,
        channel: Channel::Slack,
        reason: None,
    };
    match state.approvals.vote(click.request, ballot).await {
        Ok(_) => Ok(ok()),
        Err(error) => {
            info!(slack_user = %click.user, request = %click.request, %error, "Slack vote refused");
            // A button carries no reason: where the rule wants one, the inbox takes it.
            let elsewhere = match (&error, &state.approval.inbox) {
                (ApprovalsError::Refused(Refusal::ReasonRequired { .. }), Some(base)) => {
                    format!(
                        " Decide with a reason in airlock: {base}/approvals/{}",
                        click.request
                    )
                }
                _ => String::new(),
            };
            Ok(answer(format!("Not counted: {error}.{elsewhere}")))
        }
    }
}

fn ok() -> Reply {
    reply::json(StatusCode::OK, &serde_json::json!({}))
}

/// Tells the clicker alone, in the background (Slack wants the callback answered in 3 s).
fn ephemeral(url: String, text: String) {
    tokio::spawn(async move {
        let body = serde_json::json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": text,
        });
        let sent = match Target::parse(&url) {
            Ok(target) => post_json(&target, &[], serde_json::to_vec(&body).unwrap_or_default())
                .await
                .map(|_| ()),
            Err(error) => Err(error),
        };
        if let Err(error) = sent {
            warn!(%error, "Slack reply not sent");
        }
    });
}
