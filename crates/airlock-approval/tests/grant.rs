//! The grant: bound to identity, connection and exact text; single use; expires.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use airlock_approval::{Binding, Event, Expiry, Request, State};
use airlock_model::{Command, Connection, ConnectionKind, Protocol, TextHash};
use common::*;

/// Alice's request, approved by carol at minute 1: the grant expires at minute 16.
fn approved() -> Request {
    let request = open(approval(&["carol"], &[], 1)).request;
    approve(&request, human("carol", &[]), 1).unwrap().request
}

#[test]
fn the_bound_command_runs_once() {
    let request = approved();
    let used = request
        .consume(&alice_runs("prod", TEXT), None, at(5))
        .unwrap();
    let State::Executed {
        at: when,
        grant,
        outcome: None,
    } = used.request.state()
    else {
        panic!("not executed: {:?}", used.request.state());
    };
    assert_eq!((*when, grant.expires_at), (at(5), at(16)));
    assert!(matches!(used.event, Event::Executed { .. }));
    assert!(used.request.grant().is_none());
    let again = used
        .request
        .consume(&alice_runs("prod", TEXT), None, at(6))
        .unwrap_err();
    assert_eq!(
        again.to_string(),
        format!(
            "the grant of request {} was already used at 2026-05-28T20:31:40Z",
            request.id()
        )
    );
    assert!(used.request.expire_if_due(at(30)).is_none());
}

#[test]
fn anything_else_is_refused() {
    let request = approved();
    let id = request.id();
    let bob = Binding::new(&human("bob", &[]), name("prod"), TextHash::of(TEXT));
    let alice_agent = Binding::new(&agent("alice", None, &[]), name("prod"), TextHash::of(TEXT));
    let cases = [
        (
            "other text",
            alice_runs("prod", "DROP TABLE orders;"),
            "wrong_text",
        ),
        (
            "other connection",
            alice_runs("staging", TEXT),
            "wrong_connection",
        ),
        ("other identity", bob, "wrong_identity"),
        ("same id, other kind", alice_agent, "wrong_identity"),
    ];
    for (what, used, code) in cases {
        let refusal = request.consume(&used, None, at(5)).unwrap_err();
        assert_eq!(refusal.code(), code, "{what}");
    }
    let refusal = request
        .consume(&alice_runs("staging", TEXT), None, at(5))
        .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        format!("the grant of request {id} is bound to connection `prod`, not `staging`")
    );
    let refusal = request
        .consume(&alice_runs("prod", "select 1"), None, at(5))
        .unwrap_err();
    assert!(
        refusal
            .to_string()
            .contains("a changed command needs a new approval"),
        "{refusal}"
    );
    let refusal = request.consume(
        &Binding {
            acting_for: Some(name("x")),
            ..alice_runs("prod", TEXT)
        },
        None,
        at(5),
    );
    assert_eq!(
        refusal.unwrap_err().to_string(),
        format!(
            "the grant of request {id} is bound to human `alice`, not human `alice` acting for `x`"
        )
    );
    // None of the refused attempts used the grant.
    assert!(
        request
            .consume(&alice_runs("prod", TEXT), None, at(5))
            .is_ok()
    );
}

#[test]
fn an_agent_grant_binds_the_agent_and_its_principal() {
    let claude = agent("claude", Some("alice"), &["bots"]);
    let request = open_by(claude.clone(), approval(&["carol"], &[], 1)).request;
    let request = approve(&request, human("carol", &[]), 1).unwrap().request;
    let command = Command {
        identity: claude.clone(),
        connection: Connection {
            name: name("prod"),
            kind: ConnectionKind::Postgres,
            environments: [name("prod")].into(),
        },
        protocol: Protocol::PgSimple,
        text: TEXT.to_owned(),
    };
    assert_eq!(request.grant().unwrap().binding, Binding::of(&command));
    let for_bob = Binding::new(
        &agent("claude", Some("bob"), &[]),
        name("prod"),
        TextHash::of(TEXT),
    );
    assert_eq!(
        request.consume(&for_bob, None, at(2)).unwrap_err().code(),
        "wrong_identity"
    );
    assert!(request.consume(&Binding::of(&command), None, at(2)).is_ok());
}

#[test]
fn a_pending_request_grants_nothing() {
    let request = open(approval(&["carol", "dave"], &[], 2)).request;
    let refusal = request
        .consume(&alice_runs("prod", TEXT), None, at(1))
        .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        format!(
            "request {} is not approved yet (0 of 2 approvals)",
            request.id()
        )
    );
    let half = approve(&request, human("carol", &[]), 1).unwrap().request;
    let refusal = half
        .consume(&alice_runs("prod", TEXT), None, at(2))
        .unwrap_err();
    assert!(
        refusal.to_string().ends_with("(1 of 2 approvals)"),
        "{refusal}"
    );
}

#[test]
fn an_expired_grant_is_refused_and_expires() {
    let request = approved();
    assert!(
        request
            .consume(&alice_runs("prod", TEXT), None, at(15))
            .is_ok()
    );
    let refusal = request
        .consume(&alice_runs("prod", TEXT), None, at(16))
        .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        format!(
            "the grant of request {} expired at 2026-05-28T20:42:40Z",
            request.id()
        )
    );
    assert!(request.expire_if_due(at(15)).is_none());
    let expired = request.expire_if_due(at(16)).unwrap();
    assert!(matches!(
        expired.event,
        Event::Expired {
            what: Expiry::Grant,
            ..
        }
    ));
    let refusal = expired
        .request
        .consume(&alice_runs("prod", TEXT), None, at(10))
        .unwrap_err();
    assert_eq!(refusal.code(), "grant_expired");
    let withdraw = expired.request.withdraw(&human("alice", &[]), None, at(17));
    assert_eq!(withdraw.unwrap_err().code(), "grant_expired");
}
