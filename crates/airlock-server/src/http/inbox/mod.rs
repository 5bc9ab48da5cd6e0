//! The web inbox: `/login`, `/approvals` (pending requests with their context, then history),
//! `/approvals/{id}` and its vote form, `/logout`. A human logs in with an identity and one of
//! its API keys; every POST must carry the session's CSRF token and, when the browser says
//! where it comes from (`Origin`, `Sec-Fetch-Site`), come from this site.

mod form;
mod page;
mod reply;
mod session;

use std::net::SocketAddr;

use airlock_approval::{Ballot, Channel, Choice, Request, RequestId};
use airlock_model::IdentityKind;
use hyper::body::Incoming;
use hyper::header::SET_COOKIE;
use hyper::{Method, StatusCode};
use time::OffsetDateTime;
use tracing::info;

use reply::{Reply, css, html, plain, redirect, set_header};
use session::Session;
pub use session::Sessions;

use super::reply::ApiError;
use crate::client_auth;
use crate::state::{State, identity_of};

/// The inbox's view of one HTTP listener: its sessions, and whether cookies must be `Secure`.
#[derive(Debug, Default)]
pub struct Inbox {
    pub sessions: Sessions,
    pub secure: bool,
}

/// Serves the inbox's paths; `None` for a path that is not the inbox's.
pub async fn handle(
    state: &State,
    inbox: &Inbox,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Option<Reply> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let reply = match (segments.as_slice(), &method) {
        ([""], &Method::GET) => redirect("/approvals"),
        (["static", "inbox.css"], &Method::GET) => css(),
        (["login"], &Method::GET) => {
            let next = next_of(request.uri().query());
            html(StatusCode::OK, page::login(&next, None))
        }
        (["login"], &Method::POST) => login(state, inbox, request, peer).await,
        (["logout"], &Method::POST) => logout(state, inbox, request).await,
        (["approvals"], &Method::GET) => list(state, inbox, &request).await,
        (["approvals", id], &Method::GET) => detail(state, inbox, &request, id).await,
        (["approvals", id, "vote"], &Method::POST) => {
            let id = (*id).to_owned();
            vote(state, inbox, request, &id).await
        }
        (
            [""]
            | ["static", "inbox.css"]
            | ["login"]
            | ["logout"]
            | ["approvals"]
            | ["approvals", _]
            | ["approvals", _, "vote"],
            _,
        ) => {
            let text = format!("method `{method}` is not allowed on `{path}`");
            plain(StatusCode::METHOD_NOT_ALLOWED, &text)
        }
        _ => return None,
    };
    Some(reply)
}

async fn login(
    state: &State,
    inbox: &Inbox,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Reply {
    if let Some(refusal) = form::cross_site(request.headers()) {
        return refusal;
    }
    let form = match form::read(request).await {
        Ok(form) => form,
        Err(reply) => return reply,
    };
    let next = sanitize_next(form.get("next"));
    let identity = form.get("identity").unwrap_or_default().trim().to_owned();
    let key = form.get("key").unwrap_or_default().trim().to_owned();
    let refused = |status, text: &str| html(status, page::login(&next, Some(text)));
    let (found, key) = match client_auth::verify_key(state, &identity, key).await {
        Ok(Some(verified)) => (verified.identity, verified.key.clone()),
        Ok(None) => {
            info!(%peer, user = %identity, "web inbox login failed");
            return refused(StatusCode::UNAUTHORIZED, "Wrong identity or API key.");
        }
        Err(_) => {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "The API key could not be checked: the audit store cannot be read.",
            );
        }
    };
    if found.kind != IdentityKind::Human {
        return refused(
            StatusCode::FORBIDDEN,
            "The inbox is for humans: agents and services cannot approve.",
        );
    }
    match inbox.sessions.open(found.id.clone(), key) {
        Ok((token, _)) => {
            info!(%peer, identity = %found.id, "web inbox login");
            let mut reply = redirect(&next);
            set_header(
                &mut reply,
                SET_COOKIE,
                &session::set_cookie(&token, inbox.secure),
            );
            reply
        }
        Err(error) => refused(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}

async fn logout(state: &State, inbox: &Inbox, request: hyper::Request<Incoming>) -> Reply {
    let headers = request.headers().clone();
    let session = match authorized_post(state, inbox, request).await {
        Ok((session, _)) => session,
        Err(reply) => return reply,
    };
    inbox.sessions.close(&headers);
    info!(identity = %session.identity, "web inbox logout");
    let mut reply = redirect("/login");
    set_header(&mut reply, SET_COOKIE, &session::clear_cookie(inbox.secure));
    reply
}

async fn list(state: &State, inbox: &Inbox, request: &hyper::Request<Incoming>) -> Reply {
    let session = match current(state, inbox, request.headers()).await {
        Ok(Some(session)) => session,
        Ok(None) => return to_login(request),
        Err(reply) => return reply,
    };
    match state.approvals.list().await {
        Ok(all) => {
            let all: Vec<&Request> = all.iter().map(AsRef::as_ref).collect();
            html(
                StatusCode::OK,
                page::inbox(&session, &all, OffsetDateTime::now_utc()),
            )
        }
        Err(error) => failure(&session, &ApiError::Approval(error)),
    }
}

async fn detail(
    state: &State,
    inbox: &Inbox,
    request: &hyper::Request<Incoming>,
    id: &str,
) -> Reply {
    let session = match current(state, inbox, request.headers()).await {
        Ok(Some(session)) => session,
        Ok(None) => return to_login(request),
        Err(reply) => return reply,
    };
    let id = match id.parse::<RequestId>() {
        Ok(id) => id,
        Err(e) => return failure(&session, &ApiError::BadRequest(e.to_string())),
    };
    match state.approvals.get(id).await {
        Ok(found) => html(
            StatusCode::OK,
            page::detail(&session, &found, OffsetDateTime::now_utc(), None),
        ),
        Err(error) => failure(&session, &ApiError::Approval(error)),
    }
}

async fn vote(state: &State, inbox: &Inbox, request: hyper::Request<Incoming>, id: &str) -> Reply {
    let (session, form) = match authorized_post(state, inbox, request).await {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let id = match id.parse::<RequestId>() {
        Ok(id) => id,
        Err(e) => return failure(&session, &ApiError::BadRequest(e.to_string())),
    };
    let choice = match form.get("choice") {
        Some("approve") => Choice::Approve,
        Some("deny") => Choice::Deny,
        _ => {
            return failure(
                &session,
                &ApiError::BadRequest("the form names no choice (approve or deny)".into()),
            );
        }
    };
    let Some(voter) = state.identity(session.identity.as_str()) else {
        // The identity left the configuration since the login.
        return failure(&session, &ApiError::Unauthorized);
    };
    let ballot = Ballot {
        voter: identity_of(voter),
        choice,
        channel: Channel::Web,
        reason: form
            .get("reason")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
    };
    match state.approvals.vote(id, ballot).await {
        Ok(_) => redirect(&format!("/approvals/{id}")),
        Err(error) => {
            let error = ApiError::Approval(error);
            match state.approvals.get(id).await {
                Ok(found) => html(
                    error.status(),
                    page::detail(
                        &session,
                        &found,
                        OffsetDateTime::now_utc(),
                        Some(&error.to_string()),
                    ),
                ),
                Err(_) => failure(&session, &error),
            }
        }
    }
}

/// The request's open session, if any; a session whose API key has been revoked is ended.
/// Fails closed: when revocations cannot be read, nothing is served.
async fn current(
    state: &State,
    inbox: &Inbox,
    headers: &hyper::HeaderMap,
) -> Result<Option<Session>, Reply> {
    let Some(session) = inbox.sessions.find(headers) else {
        return Ok(None);
    };
    match state
        .revoked_among(std::slice::from_ref(&session.key))
        .await
    {
        Ok(revoked) if revoked.is_empty() => Ok(Some(session)),
        Ok(_) => {
            info!(identity = %session.identity, key = %session.key, "web session ended: its API key was revoked");
            inbox.sessions.close(headers);
            Ok(None)
        }
        Err(_) => Err(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the session's API key could not be checked: the audit store cannot be read",
        )),
    }
}

/// A POST from a logged-in session, from this site, with the session's CSRF token.
async fn authorized_post(
    state: &State,
    inbox: &Inbox,
    request: hyper::Request<Incoming>,
) -> Result<(Session, form::Form), Reply> {
    if let Some(refusal) = form::cross_site(request.headers()) {
        return Err(refusal);
    }
    let Some(session) = current(state, inbox, request.headers()).await? else {
        return Err(plain(
            StatusCode::UNAUTHORIZED,
            "your web session has ended; log in again at /login",
        ));
    };
    let form = form::read(request).await?;
    if !session::csrf_matches(&session, form.get("csrf").unwrap_or_default()) {
        info!(identity = %session.identity, "web inbox form without the session's CSRF token");
        return Err(plain(
            StatusCode::FORBIDDEN,
            "the form did not carry this session's CSRF token; reload the page and try again",
        ));
    }
    Ok((session, form))
}

/// Where to go after logging in: an inbox path of this site only (no open redirect).
fn sanitize_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with("/approvals")
                && !next.contains("//")
                && !next.contains('\\')
                && next.chars().all(|c| c.is_ascii_graphic()) =>
        {
            next.to_owned()
        }
        _ => "/approvals".to_owned(),
    }
}

fn next_of(query: Option<&str>) -> String {
    let next = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
    });
    sanitize_next(next.as_deref())
}

fn to_login(request: &hyper::Request<Incoming>) -> Reply {
    let next = sanitize_next(Some(request.uri().path()));
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &next)
        .finish();
    redirect(&format!("/login?{query}"))
}

fn failure(session: &Session, error: &ApiError) -> Reply {
    let body = format!(
        r#"<p class="error" role="alert">{}</p><p><a href="/approvals">← all requests</a></p>"#,
        page::escape(&error.to_string())
    );
    html(error.status(), page::layout("Error", Some(session), &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inbox_paths_are_redirect_targets() {
        assert_eq!(sanitize_next(Some("/approvals/apr_x")), "/approvals/apr_x");
        assert_eq!(sanitize_next(Some("https://evil.example")), "/approvals");
        assert_eq!(
            sanitize_next(Some("/approvals//evil.example")),
            "/approvals"
        );
        assert_eq!(sanitize_next(Some("/approvals\\@evil")), "/approvals");
        assert_eq!(sanitize_next(None), "/approvals");
        assert_eq!(
            next_of(Some("next=%2Fapprovals%2Fapr_1")),
            "/approvals/apr_1"
        );
    }
}
