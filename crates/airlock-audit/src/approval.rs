//! Approval events in the audit log ([`EventKind::Approval`](crate::EventKind::Approval)): who
//! they name, and their one-line summary, e.g.
//! `approval apr_3f9c… approved by human carol via slack (1 of 2)`.

use airlock_approval::{Binding, Delivery, Event, Expiry};
use airlock_model::Identity;
use time::format_description::well_known::Rfc3339;

use crate::one_line;
use crate::summary::actor as actor_text;

/// The identity that took the step, if one did.
pub(crate) fn actor(event: &Event) -> Option<&Identity> {
    match event {
        Event::Requested { requester, .. } => Some(requester),
        Event::Approved { vote, .. } | Event::Denied { vote, .. } => Some(&vote.voter),
        Event::Withdrawn { by, .. } => Some(by),
        Event::Expired { .. } | Event::Executed { .. } | Event::Notified { .. } => None,
    }
}

/// Whether `principal` is an identity the event records, or the human such an agent acts for.
pub(crate) fn involves(event: &Event, principal: &str) -> bool {
    let binding = match event {
        Event::Executed { binding, .. } => Some(binding),
        Event::Approved { grant, .. } => grant.as_ref().map(|grant| &grant.binding),
        Event::Requested { .. }
        | Event::Denied { .. }
        | Event::Withdrawn { .. }
        | Event::Expired { .. }
        | Event::Notified { .. } => None,
    };
    actor(event).is_some_and(|identity| names(identity, principal))
        || binding.is_some_and(|binding| binds(binding, principal))
}

/// Whether `principal` is `identity` or, for an agent, the human it acts for.
pub(crate) fn names(identity: &Identity, principal: &str) -> bool {
    identity.id.as_str() == principal
        || identity
            .acting_for
            .as_ref()
            .is_some_and(|human| human.as_str() == principal)
}

fn binds(binding: &Binding, principal: &str) -> bool {
    binding.identity.as_str() == principal
        || binding
            .acting_for
            .as_ref()
            .is_some_and(|human| human.as_str() == principal)
}

/// The event in words, after `#seq time `; free text is cut to `max_text` characters.
pub(crate) fn summary(event: &Event, max_text: usize) -> String {
    let head = format!("approval {} ", event.request());
    let reason = |reason: &Option<String>| {
        reason
            .as_deref()
            .map(|r| format!(": {}", one_line(r, max_text)))
            .unwrap_or_default()
    };
    let rest = match event {
        Event::Requested {
            requester,
            connection,
            text,
            context,
            ..
        } => format!(
            "requested by {} on {connection} [{}]: {}",
            actor_text(requester),
            context.rule,
            one_line(text, max_text)
        ),
        Event::Approved {
            vote,
            approvals,
            quorum,
            quorum_met,
            ..
        } => format!(
            "approved by {} via {} ({approvals} of {quorum}{}){}",
            actor_text(&vote.voter),
            vote.channel,
            if *quorum_met { ", quorum met" } else { "" },
            reason(&vote.reason)
        ),
        Event::Denied { vote, .. } => format!(
            "denied by {} via {}{}",
            actor_text(&vote.voter),
            vote.channel,
            reason(&vote.reason)
        ),
        Event::Withdrawn {
            by, reason: why, ..
        } => {
            format!("withdrawn by {}{}", actor_text(by), reason(why))
        }
        Event::Expired { what, deadline, .. } => format!(
            "{} expired at {}",
            match what {
                Expiry::Request => "request",
                Expiry::Grant => "grant",
            },
            deadline.format(&Rfc3339).unwrap_or_default()
        ),
        Event::Executed {
            binding, outcome, ..
        } => format!(
            "executed by {}{} on {}{}",
            binding.kind.as_str(),
            binding_actor(binding),
            binding.connection,
            reason(outcome)
        ),
        Event::Notified {
            channel, delivery, ..
        } => match delivery {
            Delivery::Delivered { .. } => format!("notified on {channel}"),
            Delivery::Failed { error } => {
                format!("notice on {channel} failed: {}", one_line(error, max_text))
            }
        },
    };
    head + &rest
}

/// ` deploy-bot (for alice)`.
fn binding_actor(binding: &Binding) -> String {
    match &binding.acting_for {
        Some(human) => format!(" {} (for {human})", binding.identity),
        None => format!(" {}", binding.identity),
    }
}

#[cfg(test)]
mod tests {
    use airlock_approval::{Ballot, Channel, Choice, Request};

    use crate::testing::{approval_request, human, t0};
    use crate::{AuditEvent, Chain, EventKind, Record};

    fn record(chain: &mut Chain, event: AuditEvent) -> Record {
        chain.seal(&event).unwrap().to_row().decode().unwrap()
    }

    #[test]
    fn approval_events_round_trip_tagged_by_type_and_event() {
        let opened = approval_request();
        let approved = opened
            .request
            .vote(
                Ballot {
                    voter: human("carol"),
                    choice: Choice::Approve,
                    channel: Channel::Slack,
                    reason: Some("ticket OPS-1".into()),
                },
                t0(),
            )
            .unwrap();
        let mut chain = Chain::new();
        let mut events = Vec::new();
        for step in [&opened.event, &approved.event] {
            let event = AuditEvent::approval(step.clone());
            let sealed = chain.seal(&event).unwrap();
            let prefix = format!(
                r#""event":{{"type":"approval","event":"{}","request":"{}","#,
                step.name(),
                step.request()
            );
            assert!(sealed.body.contains(&prefix), "{}", sealed.body);
            assert_eq!(sealed.approval, Some(step.request()));
            let record = sealed.to_row().decode().unwrap();
            assert_eq!(record.event, event);
            let EventKind::Approval(decoded) = record.event.kind else {
                panic!("{:?}", record.event)
            };
            events.push(decoded);
        }
        assert_eq!(Request::replay(&events).unwrap(), approved.request);
    }

    #[test]
    fn approval_summaries_name_the_request_and_who_acted() {
        let opened = approval_request();
        let id = opened.event.request();
        let denied = opened
            .request
            .vote(
                Ballot {
                    voter: human("carol"),
                    choice: Choice::Deny,
                    channel: Channel::Web,
                    reason: Some("not during\nbusiness hours".into()),
                },
                t0(),
            )
            .unwrap();
        let mut chain = Chain::new();
        let first = record(&mut chain, AuditEvent::approval(opened.event));
        assert_eq!(
            first.summary(9),
            format!(
                "#1 2026-01-01T00:00:00Z approval {id} requested by agent deploy-bot \
                 (for alice@example.com) on prod-db [pg-review]: DELETE FR…"
            )
        );
        let second = record(&mut chain, AuditEvent::approval(denied.event));
        assert_eq!(
            second.summary(200),
            format!(
                "#2 2026-01-01T00:00:00Z approval {id} denied by human carol via web: \
                 not during\\nbusiness hours"
            )
        );
        assert!(second.event.involves("carol"));
        assert!(!second.event.involves("deploy-bot"));
        assert!(first.event.involves("alice@example.com"));
    }
}
