//! A request in words, the same on every channel that shows it to humans (web inbox, Slack,
//! Teams): who asks, what the statement does, and where the request stands.

use crate::{Expiry, Request, State, who_approves};
use airlock_model::IdentityKind;
use time::OffsetDateTime;

/// `alice`, or `bot (agent for alice)`.
pub fn requester(request: &Request) -> String {
    let who = request.requester();
    match (who.kind, &who.acting_for) {
        (IdentityKind::Agent, Some(human)) => format!("{} (agent for {human})", who.id),
        (IdentityKind::Agent, None) => format!("{} (agent)", who.id),
        (IdentityKind::Service, _) => format!("{} (service)", who.id),
        (IdentityKind::Human, _) => who.id.to_string(),
    }
}

/// `delete, update`, or `unknown` when the inspector named none.
pub fn kinds(request: &Request) -> String {
    let kinds = request.context().statement_kinds.iter();
    joined(kinds.map(|k| k.as_str().to_owned()), "unknown")
}

/// `public.orders (write), users (read)`, or `none named`.
pub fn objects(request: &Request) -> String {
    let objects = request.context().objects.iter();
    joined(
        objects.map(|o| format!("{} ({})", o.name, o.access.as_str())),
        "none named",
    )
}

/// The items separated by commas, or `none` when there are none.
fn joined(items: impl Iterator<Item = String>, none: &str) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        none.to_owned()
    } else {
        items.join(", ")
    }
}

/// The planner's estimate, or `not estimated`.
pub fn rows(request: &Request) -> String {
    request
        .context()
        .estimated_rows
        .map_or_else(|| "not estimated".to_owned(), |n| n.to_string())
}

/// `2 of group `dba` (1 so far)`.
pub fn approvers(request: &Request) -> String {
    format!(
        "{} of {} ({} so far)",
        request.quorum(),
        who_approves(request.approval()),
        request.approvals().len()
    )
}

/// Where the request stands, in a sentence.
pub fn status(request: &Request) -> String {
    let voters = || {
        request
            .approvals()
            .iter()
            .map(|v| format!("{} ({})", v.voter.id, v.channel.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match request.state() {
        State::Pending if request.approvals().is_empty() => "pending".to_owned(),
        State::Pending => format!(
            "pending: {} of {} approvals ({})",
            request.approvals().len(),
            request.quorum(),
            voters()
        ),
        State::Approved { .. } => format!("approved by {}; not run yet", voters()),
        State::Denied { vote } => match vote.reason.as_deref() {
            Some(reason) => format!(
                "denied by {} ({}): {reason}",
                vote.voter.id,
                vote.channel.as_str()
            ),
            None => format!("denied by {} ({})", vote.voter.id, vote.channel.as_str()),
        },
        State::Expired {
            what: Expiry::Request,
            ..
        } => "expired: not decided in time".to_owned(),
        State::Expired {
            what: Expiry::Grant,
            ..
        } => format!("approved by {}, but not run in time", voters()),
        State::Withdrawn { .. } => "withdrawn by the requester".to_owned(),
        State::Executed { .. } => format!("approved by {}; ran", voters()),
    }
}

/// `3 min`, `2 h`, `5 s`: how long ago `at` was.
pub fn age(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (now - at).whole_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3_600 => format!("{} min", seconds / 60),
        3_600..86_400 => format!("{} h", seconds / 3_600),
        _ => format!("{} d", seconds / 86_400),
    }
}

/// An RFC 3339 UTC time for humans (`2026-11-21 14:03:07 UTC`).
pub fn when(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}
