//! The routes: `/v1/approvals` (list), `/v1/approvals/{id}` (get), `…/approve` and `…/deny`
//! (vote), `/v1/openapi.json` (this API's description), `/healthz`, and Slack's
//! `/slack/interactions`.

use std::net::SocketAddr;

use airlock_approval::{Ballot, Channel, Choice, Request, RequestId};
use airlock_config::IdentityConfig;
use airlock_model::IdentityKind;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, StatusCode};
use serde::Deserialize;

use super::auth;
use super::reply::{self, ApiError, Reply};
use crate::approvals::ApprovalsError;
use crate::state::{State, identity_of};

/// Largest request body read (a vote's reason).
const MAX_BODY: usize = 64 * 1024;
/// Most requests a list returns.
const MAX_LIST: usize = 1_000;
const OPENAPI: &str = include_str!("openapi.json");

/// A vote's body: `{"reason": "…"}` (optional, or required by the rule).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    #[serde(default)]
    reason: Option<String>,
}

pub async fn handle(state: &State, request: hyper::Request<Incoming>, peer: SocketAddr) -> Reply {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match route(state, request).await {
        Ok(reply) => reply,
        Err(error) => {
            tracing::debug!(%peer, %method, path, %error, "HTTP request refused");
            error.reply()
        }
    }
}

async fn route(state: &State, request: hyper::Request<Incoming>) -> Result<Reply, ApiError> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let wrong_method = || ApiError::Method {
        method: method.to_string(),
        path: path.clone(),
    };
    match segments.as_slice() {
        ["healthz"] if method == Method::GET => Ok(reply::json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
        )),
        ["v1", "openapi.json"] if method == Method::GET => {
            Ok(reply::document("application/json", OPENAPI))
        }
        ["v1", "approvals"] if method == Method::GET => {
            let caller = auth::caller(state, request.headers()).await?;
            list(state, caller, request.uri().query()).await
        }
        ["v1", "approvals", id] if method == Method::GET => {
            let caller = auth::caller(state, request.headers()).await?;
            let id = request_id(id)?;
            let found = state.approvals.get(id).await?;
            if !may_read(caller, &found) {
                return Err(ApprovalsError::NotFound(id.to_string()).into());
            }
            Ok(reply::json(StatusCode::OK, &*found))
        }
        ["slack", "interactions"] if method == Method::POST => {
            super::slack::interaction(state, request).await
        }
        ["v1", "approvals", id, action @ ("approve" | "deny")] if method == Method::POST => {
            let choice = if *action == "approve" {
                Choice::Approve
            } else {
                Choice::Deny
            };
            let id = request_id(id)?;
            vote(state, request, id, choice).await
        }
        ["healthz"]
        | ["v1", "openapi.json"]
        | ["v1", "approvals"]
        | ["v1", "approvals", _]
        | ["slack", "interactions"] => Err(wrong_method()),
        ["v1", "approvals", _, "approve" | "deny"] => Err(wrong_method()),
        _ => Err(ApiError::NoRoute(path.clone())),
    }
}

/// Humans (the reviewers) read every request; an agent or service only its own, so one
/// agent cannot read the statements of others.
fn may_read(caller: &IdentityConfig, request: &Request) -> bool {
    caller.kind == IdentityKind::Human || request.requester().id == caller.id
}

async fn list(
    state: &State,
    caller: &IdentityConfig,
    query: Option<&str>,
) -> Result<Reply, ApiError> {
    let mut wanted_state = None;
    let mut limit = 100;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("state", value)) => wanted_state = Some(value.to_owned()),
            Some(("limit", value)) => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIST).contains(n))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "`limit` must be 1 to {MAX_LIST}, got `{value}`"
                        ))
                    })?;
            }
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter `{pair}`; use `state` and `limit`"
                )));
            }
        }
    }
    let all = state.approvals.list().await?;
    let approvals: Vec<&Request> = all
        .iter()
        .map(AsRef::as_ref)
        .filter(|r| may_read(caller, r))
        .filter(|r| wanted_state.as_deref().is_none_or(|s| state_name(r) == s))
        .take(limit)
        .collect();
    Ok(reply::json(
        StatusCode::OK,
        &serde_json::json!({ "approvals": approvals }),
    ))
}

async fn vote(
    state: &State,
    request: hyper::Request<Incoming>,
    id: RequestId,
    choice: Choice,
) -> Result<Reply, ApiError> {
    let voter = auth::caller(state, request.headers()).await?;
    let voter = identity_of(voter);
    let body = json_body(request).await?;
    let ballot = Ballot {
        voter,
        choice,
        channel: Channel::Api,
        reason: body.reason.filter(|r| !r.trim().is_empty()),
    };
    let request = state.approvals.vote(id, ballot).await?;
    Ok(reply::json(StatusCode::OK, &*request))
}

/// A vote's body: empty, or JSON (the content type keeps browsers' cross-site forms out).
async fn json_body(request: hyper::Request<Incoming>) -> Result<VoteBody, ApiError> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(ApiError::NotJson);
    }
    let bytes: Bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| ApiError::TooLarge(MAX_BODY))?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(VoteBody::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not a vote (`{{\"reason\": \"…\"}}`): {e}"
        ))
    })
}

fn request_id(text: &str) -> Result<RequestId, ApiError> {
    text.parse::<RequestId>()
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The `state` a request serializes with.
fn state_name(request: &Request) -> &'static str {
    match request.state() {
        airlock_approval::State::Pending => "pending",
        airlock_approval::State::Approved { .. } => "approved",
        airlock_approval::State::Denied { .. } => "denied",
        airlock_approval::State::Expired { .. } => "expired",
        airlock_approval::State::Withdrawn { .. } => "withdrawn",
        airlock_approval::State::Executed { .. } => "executed",
    }
}
