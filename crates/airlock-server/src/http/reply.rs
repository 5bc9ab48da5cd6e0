//! HTTP answers: JSON bodies, and errors as `{"error": {"code", "message"}}` with the status
//! that says whose fault it is.

use airlock_approval::Refusal;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::approvals::ApprovalsError;

pub type Reply = Response<Full<Bytes>>;

/// Why an API request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "missing or wrong credentials: send an identity and one of its API keys with HTTP basic authentication"
    )]
    Unauthorized,
    #[error("the API key could not be checked: the audit store cannot be read")]
    KeyCheck,
    #[error("no such resource `{0}`")]
    NoRoute(String),
    #[error("method `{method}` is not allowed on `{path}`")]
    Method { method: String, path: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("send the body as JSON with `Content-Type: application/json`")]
    NotJson,
    #[error("the Slack signature is not valid: {0}")]
    BadSignature(String),
    #[error(transparent)]
    Approval(#[from] ApprovalsError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::KeyCheck => StatusCode::SERVICE_UNAVAILABLE,
            Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::Method { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Approval(ApprovalsError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Approval(ApprovalsError::Refused(refusal)) => refusal_status(refusal),
            Self::Approval(ApprovalsError::Audit(_) | ApprovalsError::Random(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::KeyCheck => "key_check_failed",
            Self::NoRoute(_) | Self::Approval(ApprovalsError::NotFound(_)) => "not_found",
            Self::Method { .. } => "method_not_allowed",
            Self::BadRequest(_) => "bad_request",
            Self::TooLarge(_) => "too_large",
            Self::NotJson => "not_json",
            Self::BadSignature(_) => "bad_signature",
            Self::Approval(ApprovalsError::Refused(refusal)) => refusal.code(),
            Self::Approval(ApprovalsError::Audit(_)) => "audit_unavailable",
            Self::Approval(ApprovalsError::Random(_)) => "internal",
        }
    }

    pub fn reply(&self) -> Reply {
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        });
        let mut reply = json(self.status(), &body);
        if matches!(self, Self::Unauthorized) {
            reply.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"airlock\", charset=\"UTF-8\""),
            );
        }
        reply
    }
}

/// Refusals are the caller's doing: not allowed to (403), too late or already done (409), or
/// missing a reason the rule requires (422).
fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::OwnRequest { .. }
        | Refusal::NotHuman { .. }
        | Refusal::PrincipalOfAgent { .. }
        | Refusal::NotAnApprover { .. }
        | Refusal::NotRequester { .. }
        | Refusal::WrongIdentity { .. }
        | Refusal::WrongConnection { .. }
        | Refusal::WrongText { .. } => StatusCode::FORBIDDEN,
        Refusal::Expired { .. }
        | Refusal::AlreadyApproved { .. }
        | Refusal::Denied { .. }
        | Refusal::Withdrawn { .. }
        | Refusal::AlreadyUsed { .. }
        | Refusal::GrantExpired { .. }
        | Refusal::AlreadyVoted { .. }
        | Refusal::NotApproved { .. } => StatusCode::CONFLICT,
        Refusal::ReasonRequired { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// A JSON answer (never cached: approvals change).
pub fn json(status: StatusCode, body: &impl Serialize) -> Reply {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

/// A static document of `content_type`.
pub fn document(content_type: &'static str, body: &'static str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_approval::RequestId;
    use airlock_model::Name;

    #[test]
    fn errors_say_whose_fault_it_is() {
        let request = RequestId::from_bytes([7; 16]);
        let voter = Name::new("alice").unwrap();
        let cases = [
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::NotJson, 415, "not_json"),
            (
                ApiError::Approval(ApprovalsError::NotFound("apr_x".into())),
                404,
                "not_found",
            ),
            (
                ApiError::Approval(ApprovalsError::Refused(Refusal::OwnRequest {
                    request,
                    voter: voter.clone(),
                    choice: airlock_approval::Choice::Approve,
                })),
                403,
                "own_request",
            ),
            (
                ApiError::Approval(ApprovalsError::Refused(Refusal::AlreadyVoted {
                    request,
                    voter,
                })),
                409,
                "already_voted",
            ),
            (
                ApiError::Approval(ApprovalsError::Audit("disk full".into())),
                503,
                "audit_unavailable",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{error}");
            assert_eq!(error.code(), code);
            let reply = error.reply();
            assert_eq!(reply.status().as_u16(), status);
        }
        let reply = ApiError::Unauthorized.reply();
        assert!(reply.headers().contains_key(WWW_AUTHENTICATE));
    }
}
