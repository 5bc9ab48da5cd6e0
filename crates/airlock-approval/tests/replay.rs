//! Replaying a request's events rebuilds the live request; logs the rules would not produce are
//! rejected; events encode with stable tags.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use airlock_approval::{
    Channel, Choice, Delivery, Event, Lifetimes, NewRequest, ReplayError, Request, RequestId,
};
use common::*;

/// Steps that walk an open request somewhere, logging each event.
type Steps = fn(Request, &mut Log) -> Request;

/// A request walked through `steps`, with every event it produced.
fn scenario(steps: Steps) -> (Request, Vec<Event>) {
    let mut log = Log::default();
    let request = log.keep(open(approval(&["carol"], &["dba"], 2)));
    let request = steps(request, &mut log);
    (request, log.0)
}

fn executed(r: Request, log: &mut Log) -> Request {
    let delivered = Delivery::Delivered {
        reference: Some("1712.55".into()),
    };
    let r = log.keep(r.notified(Channel::Slack, delivered, at(0)));
    let failed = Delivery::Failed {
        error: "teams webhook answered 503".into(),
    };
    let r = log.keep(r.notified(Channel::Teams, failed, at(0)));
    let r = log.keep(approve(&r, human("carol", &["dba"]), 1).unwrap());
    let r = log.keep(
        r.vote(
            ballot(human("dave", &["dba"]), Choice::Approve, Some("ok")),
            at(2),
        )
        .unwrap(),
    );
    log.keep(
        r.consume(&alice_runs("prod", TEXT), Some("not run yet".into()), at(3))
            .unwrap(),
    )
}

fn denied(r: Request, log: &mut Log) -> Request {
    let r = log.keep(approve(&r, human("carol", &[]), 1).unwrap());
    log.keep(
        r.vote(
            ballot(human("dave", &["dba"]), Choice::Deny, Some("no")),
            at(2),
        )
        .unwrap(),
    )
}

fn expired(r: Request, log: &mut Log) -> Request {
    let r = log.keep(approve(&r, human("carol", &[]), 1).unwrap());
    log.keep(r.expire_if_due(at(75)).unwrap())
}

fn grant_expired(r: Request, log: &mut Log) -> Request {
    let r = log.keep(approve(&r, human("carol", &[]), 1).unwrap());
    let r = log.keep(approve(&r, human("dave", &["dba"]), 2).unwrap());
    log.keep(r.expire_if_due(at(17)).unwrap())
}

fn withdrawn(r: Request, log: &mut Log) -> Request {
    log.keep(
        r.withdraw(&human("alice", &[]), Some("ctrl-c".into()), at(4))
            .unwrap(),
    )
}

fn pending(r: Request, log: &mut Log) -> Request {
    log.keep(approve(&r, human("carol", &[]), 1).unwrap())
}

const SCENARIOS: [(&str, Steps); 6] = [
    ("executed", executed),
    ("denied", denied),
    ("expired", expired),
    ("grant expired", grant_expired),
    ("withdrawn", withdrawn),
    ("pending", pending),
];

#[test]
fn replay_equals_the_live_request() {
    for (name, steps) in SCENARIOS {
        let (live, events) = scenario(steps);
        assert_eq!(Request::replay(&events).unwrap(), live, "{name}");
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        let decoded: Vec<Event> = json
            .iter()
            .map(|j| serde_json::from_str(j).unwrap())
            .collect();
        assert_eq!(decoded, events, "{name}: JSON round trip");
        assert_eq!(
            Request::replay(&decoded).unwrap(),
            live,
            "{name}: from JSON"
        );
    }
}

#[test]
fn events_encode_with_stable_tags() {
    let mut all = Vec::new();
    for (_, steps) in SCENARIOS {
        all.extend(scenario(steps).1);
    }
    let mut tags: Vec<String> = Vec::new();
    for event in &all {
        let value = serde_json::to_value(event).unwrap();
        assert_eq!(value["event"], event.name());
        assert_eq!(value["request"], format!("apr_{}", "5a".repeat(16)));
        tags.push(event.name().to_owned());
    }
    tags.sort();
    tags.dedup();
    assert_eq!(
        tags,
        [
            "approved",
            "denied",
            "executed",
            "expired",
            "notified",
            "requested",
            "withdrawn"
        ]
    );
    let (_, events) = scenario(executed);
    let value: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(
        value[0]["text_hash"],
        "fd0ca7112b4eedf9a353f0e0baf22cbd21b2ef9db83999fcb79434ede828835a"
    );
    assert_eq!(value[0]["at"], "2026-05-28T20:26:40Z");
    assert_eq!(value[0]["grant_lifetime_seconds"], 900);
    assert_eq!(value[1]["channel"], "slack");
    assert_eq!(value[1]["delivery"]["status"], "delivered");
    assert_eq!(value[2]["delivery"]["status"], "failed");
    assert_eq!(value[3]["quorum_met"], false);
    assert_eq!(value[3]["vote"]["channel"], "web");
    assert_eq!(value[4]["quorum_met"], true);
    assert_eq!(value[4]["grant"]["expires_at"], "2026-05-28T20:43:40Z");
    assert_eq!(value[5]["binding"]["connection"], "prod");
}

fn replay_error(events: &[Event]) -> ReplayError {
    Request::replay(events).unwrap_err()
}

#[test]
fn logs_the_rules_would_not_produce_are_rejected() {
    let (_, events) = scenario(executed);
    assert_eq!(replay_error(&[]), ReplayError::Empty);
    assert!(matches!(
        replay_error(&events[3..]),
        ReplayError::NotOpenedFirst { found: "approved" }
    ));
    let twice = [events[0].clone(), events[0].clone()];
    assert!(matches!(
        replay_error(&twice),
        ReplayError::OpenedAgain { index: 1, .. }
    ));

    let mut skipped_vote = events.clone();
    skipped_vote.remove(4);
    let error = replay_error(&skipped_vote);
    let ReplayError::Refused {
        index: 4,
        event: "executed",
        refusal,
    } = &error
    else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(refusal.code(), "not_approved");

    let mut self_approved = events.clone();
    if let Event::Approved { vote, .. } = &mut self_approved[3] {
        vote.voter = human("alice", &["dba"]);
    }
    let error = replay_error(&self_approved);
    assert!(
        matches!(&error, ReplayError::Refused { index: 3, refusal, .. } if refusal.code() == "own_request"),
        "{error:?}"
    );

    let mut early_quorum = events.clone();
    if let Event::Approved { quorum_met, .. } = &mut early_quorum[3] {
        *quorum_met = true;
    }
    assert_eq!(
        replay_error(&early_quorum),
        ReplayError::Diverged {
            index: 3,
            event: "approved"
        }
    );

    let mut other_text = events.clone();
    if let Event::Executed { binding, .. } = &mut other_text[5] {
        binding.text_hash = airlock_model::TextHash::of("DROP TABLE customers");
    }
    let error = replay_error(&other_text);
    assert!(
        matches!(&error, ReplayError::Refused { index: 5, refusal, .. } if refusal.code() == "wrong_text"),
        "{error:?}"
    );

    let mut forged_hash = events.clone();
    if let Event::Requested { text, .. } = &mut forged_hash[0] {
        *text = "DROP TABLE customers".into();
    }
    assert_eq!(
        replay_error(&forged_hash),
        ReplayError::Diverged {
            index: 0,
            event: "requested"
        }
    );

    let (_, mut early_expiry) = scenario(expired);
    if let Event::Expired { at: noticed, .. } = &mut early_expiry[2] {
        *noticed = at(30);
    }
    assert_eq!(
        replay_error(&early_expiry),
        ReplayError::Diverged {
            index: 2,
            event: "expired"
        }
    );
}

#[test]
fn events_of_another_request_are_rejected() {
    let (_, mut events) = scenario(denied);
    let other = NewRequest {
        id: RequestId::from_bytes([1; 16]),
        ..new_request(human("alice", &[]), approval(&["carol"], &[], 1))
    };
    let foreign = Request::open(other, Lifetimes::default(), t0()).request;
    events.push(
        foreign
            .notified(Channel::Web, Delivery::Delivered { reference: None }, at(5))
            .event,
    );
    assert!(matches!(
        replay_error(&events),
        ReplayError::OtherRequest { index: 3, .. }
    ));
}

#[test]
fn a_request_serializes_flat_for_apis() {
    let (live, _) = scenario(grant_expired);
    let value = serde_json::to_value(&live).unwrap();
    assert_eq!(value["state"], "expired");
    assert_eq!(value["what"], "grant");
    assert_eq!(value["deadline"], "2026-05-28T20:43:40Z");
    assert_eq!(value["approvals"].as_array().unwrap().len(), 2);
    assert_eq!(value["grant_lifetime_seconds"], 900);
    let (approved, _) = scenario(|r, log| {
        let r = log.keep(approve(&r, human("carol", &[]), 1).unwrap());
        log.keep(approve(&r, human("dave", &["dba"]), 2).unwrap())
    });
    let value = serde_json::to_value(&approved).unwrap();
    assert_eq!(value["state"], "approved");
    assert_eq!(value["grant"]["binding"]["identity"], "alice");
}
