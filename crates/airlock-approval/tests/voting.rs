//! Who may vote, quorum of distinct humans, denial, reasons, expiry and withdrawal.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use airlock_approval::{Choice, Event, Expiry, State};
use airlock_model::{Approval, Identity};
use common::*;

struct Case {
    name: &'static str,
    requester: Identity,
    approval: Approval,
    voter: Identity,
    /// `None`: the vote counts; `Some(code)`: refused with that code.
    refused: Option<&'static str>,
}

fn eligibility_cases() -> Vec<Case> {
    let dba = approval(&["carol"], &["dba"], 1);
    let claude = agent("claude", Some("alice"), &[]);
    let principal_allowed = Approval {
        allow_principal_of_agent: true,
        ..dba.clone()
    };
    let case = |name, requester: &Identity, approval: &Approval, voter, refused| Case {
        name,
        requester: requester.clone(),
        approval: approval.clone(),
        voter,
        refused,
    };
    let alice = human("alice", &["dev", "dba"]);
    vec![
        case("listed user", &alice, &dba, human("carol", &[]), None),
        case("group member", &alice, &dba, human("dave", &["dba"]), None),
        case(
            "self-approval, even as a member",
            &alice,
            &dba,
            alice.clone(),
            Some("own_request"),
        ),
        case(
            "agent approver",
            &alice,
            &dba,
            agent("bot", None, &["dba"]),
            Some("not_human"),
        ),
        case(
            "service approver",
            &alice,
            &dba,
            service("ci", &["dba"]),
            Some("not_human"),
        ),
        case(
            "agent's principal",
            &claude,
            &dba,
            human("alice", &["dba"]),
            Some("principal_of_agent"),
        ),
        case(
            "agent's principal, allowed",
            &claude,
            &principal_allowed,
            human("alice", &["dba"]),
            None,
        ),
        case(
            "agent approving itself",
            &claude,
            &dba,
            agent("claude", None, &["dba"]),
            Some("own_request"),
        ),
        case(
            "not listed",
            &alice,
            &dba,
            human("bob", &["dev"]),
            Some("not_an_approver"),
        ),
        case(
            "group name is not a user name",
            &alice,
            &approval(&[], &["carol"], 1),
            human("carol", &[]),
            Some("not_an_approver"),
        ),
        case(
            "no approvers named: any other human",
            &alice,
            &approval(&[], &[], 1),
            human("carol", &[]),
            None,
        ),
        case(
            "no approvers named: still not the requester",
            &alice,
            &approval(&[], &[], 1),
            alice.clone(),
            Some("own_request"),
        ),
        case(
            "no approvers named: still not an agent",
            &alice,
            &approval(&[], &[], 1),
            agent("bot", None, &[]),
            Some("not_human"),
        ),
    ]
}

#[test]
fn who_may_vote() {
    for case in eligibility_cases() {
        let request = open_by(case.requester, case.approval).request;
        for choice in [Choice::Approve, Choice::Deny] {
            let result = request.vote(ballot(case.voter.clone(), choice, None), at(1));
            match (case.refused, result) {
                (None, Ok(step)) => assert_ne!(step.request, request, "{}", case.name),
                (Some(code), Err(refusal)) => assert_eq!(refusal.code(), code, "{}", case.name),
                (expected, got) => panic!(
                    "{} ({choice}): expected {expected:?}, got {got:?}",
                    case.name
                ),
            }
        }
        let may = request.may_vote(&case.voter, at(1)).err().map(|r| r.code());
        assert_eq!(may, case.refused, "may_vote: {}", case.name);
    }
}

#[test]
fn refusals_explain_themselves() {
    let request = open(approval(&["carol"], &["dba"], 1)).request;
    let refusal = |voter| approve(&request, voter, 1).unwrap_err().to_string();
    let id = request.id();
    assert_eq!(
        refusal(human("alice", &["dba"])),
        format!("`alice` cannot approve their own request {id}")
    );
    assert_eq!(
        refusal(agent("bot", None, &["dba"])),
        format!("`bot` is an agent, and only humans can approve or deny request {id}")
    );
    assert_eq!(
        refusal(human("bob", &[])),
        format!(
            "`bob` is not an approver of request {id}: rule `pg-drop` asks for user `carol` or group `dba`"
        )
    );
}

#[test]
fn one_human_in_two_groups_counts_once_toward_quorum() {
    let request = open(approval(&[], &["dba", "sre"], 2)).request;
    let carol = human("carol", &["dba", "sre"]);
    let step = approve(&request, carol.clone(), 1).unwrap();
    let Event::Approved {
        approvals: 1,
        quorum: 2,
        quorum_met: false,
        grant: None,
        ..
    } = step.event
    else {
        panic!("unexpected {:?}", step.event);
    };
    assert_eq!(step.request.state(), &State::Pending);
    let again = approve(&step.request, carol, 2).unwrap_err();
    assert_eq!(
        again.to_string(),
        format!("`carol` already approved request {}", request.id())
    );
    let denies_after = step
        .request
        .vote(ballot(human("carol", &[]), Choice::Deny, None), at(2));
    assert_eq!(denies_after.unwrap_err().code(), "already_voted");

    let step = approve(&step.request, human("dave", &["sre"]), 3).unwrap();
    let Event::Approved {
        approvals: 2,
        quorum_met: true,
        grant: Some(grant),
        ..
    } = &step.event
    else {
        panic!("unexpected {:?}", step.event);
    };
    assert_eq!(grant.approved_at, at(3));
    assert_eq!(grant.expires_at, at(18));
    assert_eq!(step.request.grant(), Some(grant));
    assert_eq!(step.request.approvals().len(), 2);
    let late = approve(&step.request, human("erin", &["dba"]), 4).unwrap_err();
    assert_eq!(late.code(), "already_approved");
}

#[test]
fn quorum_zero_counts_as_one() {
    let request = open(approval(&["carol"], &[], 0)).request;
    assert_eq!(request.quorum(), 1);
    let step = approve(&request, human("carol", &[]), 1).unwrap();
    assert!(matches!(step.request.state(), State::Approved { .. }));
}

#[test]
fn a_single_denial_ends_the_request() {
    let request = open(approval(&[], &["dba"], 2)).request;
    let step = approve(&request, human("carol", &["dba"]), 1).unwrap();
    let denial = ballot(
        human("dave", &["dba"]),
        Choice::Deny,
        Some("not during peak hours"),
    );
    let denied = step.request.vote(denial, at(2)).unwrap();
    let State::Denied { vote } = denied.request.state() else {
        panic!("not denied: {:?}", denied.request.state());
    };
    assert_eq!(vote.voter.id.as_str(), "dave");
    assert_eq!(vote.reason.as_deref(), Some("not during peak hours"));
    assert!(matches!(denied.event, Event::Denied { .. }));
    let later = approve(&denied.request, human("erin", &["dba"]), 3).unwrap_err();
    assert_eq!(
        later.to_string(),
        format!("request {} was denied by `dave`", request.id())
    );
    assert!(denied.request.grant().is_none());
}

#[test]
fn require_reason_refuses_votes_without_one() {
    let rule = Approval {
        require_reason: true,
        ..approval(&["carol"], &[], 1)
    };
    let request = open(rule).request;
    let carol = || human("carol", &[]);
    for (choice, reason) in [
        (Choice::Approve, None),
        (Choice::Approve, Some("  \t")),
        (Choice::Deny, None),
    ] {
        let refusal = request
            .vote(ballot(carol(), choice, reason), at(1))
            .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            format!(
                "rule `pg-drop` requires a reason with every vote on request {}",
                request.id()
            )
        );
    }
    let step = request.vote(
        ballot(carol(), Choice::Approve, Some("ticket OPS-12")),
        at(1),
    );
    assert!(matches!(
        step.unwrap().request.state(),
        State::Approved { .. }
    ));
    let lax = open(approval(&["carol"], &[], 1)).request;
    assert!(approve(&lax, carol(), 1).is_ok());
}

#[test]
fn votes_after_expiry_are_refused_and_expiry_is_recorded() {
    let request = open(approval(&["carol"], &[], 1)).request;
    assert_eq!(request.expires_at(), at(60));
    assert!(approve(&request, human("carol", &[]), 59).is_ok());
    let refusal = approve(&request, human("carol", &[]), 60).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        format!("request {} expired at 2026-05-28T21:26:40Z", request.id())
    );
    assert!(request.expire_if_due(at(59)).is_none());
    assert!(request.expire_if_due(at(60)).is_some());
    let expired = request.expire_if_due(at(61)).unwrap();
    let Event::Expired {
        what: Expiry::Request,
        deadline,
        at: noticed,
        ..
    } = expired.event
    else {
        panic!("unexpected {:?}", expired.event);
    };
    assert_eq!((deadline, noticed), (at(60), at(61)));
    assert!(expired.request.expire_if_due(at(62)).is_none());
    let refusal = approve(&expired.request, human("carol", &[]), 30).unwrap_err();
    assert_eq!(refusal.code(), "expired");
}

#[test]
fn only_the_requester_withdraws() {
    let request = open(approval(&["carol"], &[], 1)).request;
    let refusal = request
        .withdraw(&human("carol", &[]), None, at(1))
        .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        format!(
            "only the requester `alice` can withdraw request {}, not `carol`",
            request.id()
        )
    );
    let impostor = agent("alice", None, &[]);
    assert_eq!(
        request.withdraw(&impostor, None, at(1)).unwrap_err().code(),
        "not_requester"
    );

    let withdrawn = request
        .withdraw(&human("alice", &[]), Some("ctrl-c".into()), at(1))
        .unwrap();
    assert!(matches!(withdrawn.request.state(), State::Withdrawn { .. }));
    assert_eq!(
        approve(&withdrawn.request, human("carol", &[]), 2)
            .unwrap_err()
            .code(),
        "withdrawn"
    );
    let again = withdrawn
        .request
        .withdraw(&human("alice", &[]), None, at(2));
    assert_eq!(again.unwrap_err().code(), "withdrawn");
    assert_eq!(
        request
            .withdraw(&human("alice", &[]), None, at(60))
            .unwrap_err()
            .code(),
        "expired"
    );
}

#[test]
fn an_approved_unused_request_can_be_withdrawn() {
    let request = open(approval(&["carol"], &[], 1)).request;
    let approved = approve(&request, human("carol", &[]), 1).unwrap().request;
    let withdrawn = approved
        .withdraw(&human("alice", &[]), None, at(2))
        .unwrap()
        .request;
    let used = withdrawn.consume(&alice_runs("prod", TEXT), None, at(3));
    assert_eq!(used.unwrap_err().code(), "withdrawn");
}
