//! What a session tells its client about approvals: the NOTICE while a statement waits for
//! its request, and the error when it will not run (denied, expired, withdrawn, not decided in
//! time, or retry mode's "approve, then send it again").

use std::time::Duration;

use airlock_approval::{Expiry, Request, RequestId, State, who_approves};
use airlock_pg::{Severity, encode_error, encode_notice};

use crate::approvals::ApprovalsError;
use crate::denial::DENIED;
use crate::state::ApprovalSettings;

/// SQLSTATE `query_canceled`: the client withdrew the request (Ctrl-C).
const CANCELED: &str = "57014";
/// SQLSTATE `admin_shutdown`.
const SHUTDOWN: &str = "57P01";
const RETRY_HINT: &str = "once it is approved, send the identical statement again (same identity \
                          and connection) to run it once";

/// Where humans decide: the request's page in the web inbox, or (with no HTTP listener and no
/// `inbox_url`) the CLI command.
pub fn approve_at(settings: &ApprovalSettings, id: RequestId) -> String {
    match &settings.inbox {
        Some(base) => format!("approve at {base}/approvals/{id}"),
        None => format!("approve with `airlock approvals approve {id}`"),
    }
}

/// The NOTICE a held statement's session gets at once and then periodically.
pub fn notice(request: &Request, settings: &ApprovalSettings, waited: Option<Duration>) -> Vec<u8> {
    let message = format!(
        "approval required by rule `{}`: request {} sent to {}; {}",
        request.context().rule,
        request.id(),
        who_approves(request.approval()),
        approve_at(settings, request.id())
    );
    let hint = match waited {
        None => {
            "the statement waits here until the request is decided; press Ctrl-C to withdraw it"
                .to_owned()
        }
        Some(waited) => format!(
            "still waiting after {} s ({} of {} approvals)",
            waited.as_secs(),
            request.approvals().len(),
            request.quorum()
        ),
    };
    let mut out = Vec::new();
    encode_notice(&mut out, "00000", &message, Some(&hint));
    out
}

/// Retry mode: the statement fails at once, naming its request.
pub fn retry(request: &Request, settings: &ApprovalSettings) -> Vec<u8> {
    let message = format!(
        "approval required by airlock rule `{}`: {}; request {} sent to {}",
        request.context().rule,
        request.context().message,
        request.id(),
        who_approves(request.approval()),
    );
    let hint = format!("{}; {RETRY_HINT}", approve_at(settings, request.id()));
    error(DENIED, &message, Some(&hint))
}

/// The error for a held statement whose request ended without a grant.
pub fn ended(request: &Request) -> Vec<u8> {
    let id = request.id();
    match request.state() {
        State::Denied { vote } => {
            let message = match vote.reason.as_deref().map(str::trim) {
                Some(reason) if !reason.is_empty() => {
                    format!("request {id} was denied by `{}`: {reason}", vote.voter.id)
                }
                _ => format!("request {id} was denied by `{}`", vote.voter.id),
            };
            error(DENIED, &message, None)
        }
        State::Expired {
            what: Expiry::Request,
            ..
        } => error(
            DENIED,
            &format!(
                "request {id} expired without approval ({} of {} approvals)",
                request.approvals().len(),
                request.quorum()
            ),
            Some("send the statement again to open a new request"),
        ),
        State::Expired {
            what: Expiry::Grant,
            ..
        } => error(
            DENIED,
            &format!("the grant of request {id} expired unused"),
            None,
        ),
        State::Withdrawn { .. } => error(
            CANCELED,
            &format!("canceling statement: approval request {id} was withdrawn"),
            None,
        ),
        State::Executed { .. } => error(
            DENIED,
            &format!("the grant of request {id} was already used"),
            Some("send the statement again to open a new request"),
        ),
        // Still open: the wait ended for another reason, and the statement did not run.
        State::Pending | State::Approved { .. } => error(
            DENIED,
            &format!("request {id} is still open; the statement was not run"),
            Some(RETRY_HINT),
        ),
    }
}

/// The held statement waited as long as the gateway allows; its request stays open.
pub fn timed_out(id: RequestId, waited: Duration) -> Vec<u8> {
    error(
        DENIED,
        &format!(
            "approval request {id} was not decided within {} s; the request stays open",
            waited.as_secs()
        ),
        Some(RETRY_HINT),
    )
}

/// The gateway is shutting down while a statement is held; its request stays open.
pub fn shutting_down(id: RequestId) -> Vec<u8> {
    error(
        SHUTDOWN,
        &format!("the gateway is shutting down; approval request {id} stays open"),
        Some(RETRY_HINT),
    )
}

/// An approval step that failed (a refusal of the rules, or the audit log).
pub fn failed(failure: &ApprovalsError) -> Vec<u8> {
    match failure {
        ApprovalsError::Refused(refusal) => error(DENIED, &refusal.to_string(), None),
        ApprovalsError::NotFound(_) | ApprovalsError::Audit(_) | ApprovalsError::Random(_) => {
            crate::denial::audit_error(&failure.to_string())
        }
    }
}

fn error(code: &str, message: &str, hint: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_error(&mut out, Severity::Error, code, message, None, hint);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_approval::{Lifetimes, NewRequest, RequestContext};
    use airlock_model::{Approval, Identity, IdentityKind, Name};
    use airlock_pg::{Decoded, Frame, decode_frame, parse_error};

    fn fields(bytes: &[u8]) -> airlock_pg::ErrorFields {
        let Ok(Decoded::Complete(frame, _)) = decode_frame(bytes, 1 << 20) else {
            panic!("not one whole message")
        };
        parse_error(&Frame {
            tag: frame.tag,
            body: frame.body,
        })
        .unwrap()
    }

    #[test]
    fn a_request_still_open_is_never_described_as_used_or_decided() {
        let new = NewRequest {
            id: RequestId::from_bytes([1; 16]),
            requester: Identity {
                kind: IdentityKind::Human,
                id: Name::new("alice").unwrap(),
                groups: Default::default(),
                acting_for: None,
            },
            connection: Name::new("local").unwrap(),
            text: "CREATE TABLE t (id int)".into(),
            context: RequestContext {
                rule: Name::new("pg-schema-change").unwrap(),
                message: "this statement changes the schema".into(),
                statement_kinds: Vec::new(),
                objects: Vec::new(),
                estimated_rows: None,
            },
            approval: Approval::default(),
        };
        let request =
            Request::open(new, Lifetimes::default(), time::OffsetDateTime::now_utc()).request;
        let error = fields(&ended(&request));
        assert_eq!(error.code, "42501");
        assert_eq!(
            error.message,
            format!(
                "request {} is still open; the statement was not run",
                request.id()
            )
        );
        let settings = ApprovalSettings {
            mode: airlock_config::ApprovalMode::Retry,
            hold_timeout: Duration::from_secs(1),
            notice_interval: Duration::from_secs(1),
            inbox: Some("http://127.0.0.1:8080".into()),
        };
        let retry = fields(&retry(&request, &settings));
        assert!(
            retry
                .message
                .starts_with("approval required by airlock rule `pg-schema-change`"),
            "{}",
            retry.message
        );
        assert!(retry.hint.unwrap().starts_with(&format!(
            "approve at http://127.0.0.1:8080/approvals/{}",
            request.id()
        )));
    }
}
