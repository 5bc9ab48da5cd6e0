//! [`Request`]: one reviewed command waiting for (or done with) approval, its [`State`], and the
//! transitions that need no vote: opening, expiry, withdrawal and notification.

use airlock_model::{Approval, Identity, Name, ObjectRef, RuleId, StatementKind, TextHash};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::{Channel, Delivery, Event, Expiry, Grant, Lifetimes, Notice, Refusal, RequestId, Vote};

/// What a reviewer needs to judge the command, beyond its text: which rule asked for review
/// and why, what kinds of statements it holds, what it touches and how many rows it may hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    /// The rule that asked for review; its approvers are the request's approvers.
    pub rule: RuleId,
    /// The rule's message, filled in for this command.
    pub message: String,
    #[serde(default)]
    pub statement_kinds: Vec<StatementKind>,
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<u64>,
}

/// Everything a request is opened with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequest {
    pub id: RequestId,
    /// Who asked; for an agent, `acting_for` names the human it works for.
    pub requester: Identity,
    pub connection: Name,
    /// The exact command text; the grant binds to its SHA-256.
    pub text: String,
    pub context: RequestContext,
    /// Who may approve, from the rule that asked for review.
    pub approval: Approval,
}

/// Where a request is. `Pending` is the only state that takes votes; `Approved` the only one
/// whose grant can be used; the others are final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    Pending,
    /// Quorum was met; the grant has not been used yet.
    Approved {
        grant: Grant,
    },
    Denied {
        vote: Vote,
    },
    /// The request found no quorum in time, or its grant was not used in time.
    Expired {
        what: Expiry,
        #[serde(with = "time::serde::rfc3339")]
        deadline: OffsetDateTime,
    },
    Withdrawn {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The grant was used.
    Executed {
        grant: Grant,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        #[serde(skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
    },
}

/// An approval request. Serializes for APIs and inboxes (it is persisted as its events, not as
/// itself). Built only by [`Request::open`] and changed only by transitions (or
/// rebuilt by [`Request::replay`] from the events they produced), so its state always obeys the
/// rules in the crate documentation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    pub(crate) id: RequestId,
    pub(crate) requester: Identity,
    pub(crate) connection: Name,
    pub(crate) text: String,
    pub(crate) text_hash: TextHash,
    pub(crate) context: RequestContext,
    pub(crate) approval: Approval,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) expires_at: OffsetDateTime,
    #[serde(rename = "grant_lifetime_seconds", serialize_with = "seconds")]
    pub(crate) grant_lifetime: Duration,
    /// The approving votes so far, one per distinct human, in order.
    pub(crate) approvals: Vec<Vote>,
    pub(crate) notices: Vec<Notice>,
    /// Flattened: `"state": "approved", "grant": {…}`.
    #[serde(flatten)]
    pub(crate) state: State,
}

/// The result of an allowed transition: the request's next state and the event to record.
/// Record the event durably before acting on the new state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub request: Request,
    pub event: Event,
}

impl Request {
    /// Opens a pending request at `now`; it expires `lifetimes.request()` later.
    pub fn open(new: NewRequest, lifetimes: Lifetimes, now: OffsetDateTime) -> Transition {
        let now = utc(now);
        let request = Self {
            id: new.id,
            requester: new.requester,
            connection: new.connection,
            text_hash: TextHash::of(&new.text),
            text: new.text,
            context: new.context,
            approval: new.approval,
            created_at: now,
            expires_at: now.saturating_add(lifetimes.request()),
            grant_lifetime: lifetimes.grant(),
            approvals: Vec::new(),
            notices: Vec::new(),
            state: State::Pending,
        };
        let event = request.requested_event();
        Transition { request, event }
    }

    /// Expires the request if it is pending past its expiry, or approved with a grant past its
    /// expiry. `None` when nothing is due.
    pub fn expire_if_due(&self, now: OffsetDateTime) -> Option<Transition> {
        let now = utc(now);
        let (what, deadline) = match &self.state {
            State::Pending if now >= self.expires_at => (Expiry::Request, self.expires_at),
            State::Approved { grant } if now >= grant.expires_at => {
                (Expiry::Grant, grant.expires_at)
            }
            State::Pending
            | State::Approved { .. }
            | State::Denied { .. }
            | State::Expired { .. }
            | State::Withdrawn { .. }
            | State::Executed { .. } => return None,
        };
        let mut request = self.clone();
        request.state = State::Expired { what, deadline };
        let event = Event::Expired {
            request: self.id,
            at: now,
            what,
            deadline,
        };
        Some(Transition { request, event })
    }

    /// The requester gives up (e.g. pressed Ctrl-C): allowed while pending or approved and
    /// unused, only for the requester.
    pub fn withdraw(
        &self,
        who: &Identity,
        reason: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Transition, Refusal> {
        let now = utc(now);
        if who.kind != self.requester.kind || who.id != self.requester.id {
            return Err(Refusal::NotRequester {
                request: self.id,
                requester: self.requester.id.clone(),
                who: who.id.clone(),
            });
        }
        match &self.state {
            State::Pending => self.check_pending(now)?,
            State::Approved { grant } => grant.check_time(now)?,
            State::Denied { .. }
            | State::Expired { .. }
            | State::Withdrawn { .. }
            | State::Executed { .. } => return Err(self.closed()),
        }
        let mut request = self.clone();
        request.state = State::Withdrawn {
            at: now,
            reason: reason.clone(),
        };
        let event = Event::Withdrawn {
            request: self.id,
            at: now,
            by: who.clone(),
            reason,
        };
        Ok(Transition { request, event })
    }

    /// Records that the request was announced on `channel`, successfully or not. Allowed in
    /// every state (a final state is announced too); the state does not change.
    pub fn notified(
        &self,
        channel: Channel,
        delivery: Delivery,
        now: OffsetDateTime,
    ) -> Transition {
        let notice = Notice {
            channel,
            at: utc(now),
            delivery,
        };
        let event = Event::Notified {
            request: self.id,
            at: notice.at,
            channel,
            delivery: notice.delivery.clone(),
        };
        let mut request = self.clone();
        request.notices.push(notice);
        Transition { request, event }
    }

    pub fn id(&self) -> RequestId {
        self.id
    }

    pub fn requester(&self) -> &Identity {
        &self.requester
    }

    pub fn connection(&self) -> &Name {
        &self.connection
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn text_hash(&self) -> TextHash {
        self.text_hash
    }

    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    pub fn approval(&self) -> &Approval {
        &self.approval
    }

    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    pub fn grant_lifetime(&self) -> Duration {
        self.grant_lifetime
    }

    /// The approving votes so far (one per distinct human).
    pub fn approvals(&self) -> &[Vote] {
        &self.approvals
    }

    /// The number of distinct humans required: the rule's quorum, at least 1.
    pub fn quorum(&self) -> u32 {
        self.approval.quorum.max(1)
    }

    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The grant, while it waits to be used.
    pub fn grant(&self) -> Option<&Grant> {
        match &self.state {
            State::Approved { grant } => Some(grant),
            State::Pending
            | State::Denied { .. }
            | State::Expired { .. }
            | State::Withdrawn { .. }
            | State::Executed { .. } => None,
        }
    }

    pub(crate) fn requested_event(&self) -> Event {
        Event::Requested {
            request: self.id,
            at: self.created_at,
            requester: self.requester.clone(),
            connection: self.connection.clone(),
            text: self.text.clone(),
            text_hash: self.text_hash,
            context: self.context.clone(),
            approval: self.approval.clone(),
            expires_at: self.expires_at,
            grant_lifetime_seconds: self.grant_lifetime.whole_seconds(),
        }
    }

    /// Refuses if a pending request is past its expiry.
    pub(crate) fn check_pending(&self, now: OffsetDateTime) -> Result<(), Refusal> {
        if now >= self.expires_at {
            return Err(Refusal::Expired {
                request: self.id,
                at: self.expires_at,
            });
        }
        Ok(())
    }

    /// Why a request in its current state takes no vote, withdrawal or use. Meant for states
    /// other than `Pending`; for `Pending` it says the request is not approved yet.
    pub(crate) fn closed(&self) -> Refusal {
        let request = self.id;
        match &self.state {
            State::Pending => Refusal::NotApproved {
                request,
                approvals: count(&self.approvals),
                quorum: self.quorum(),
            },
            State::Approved { .. } => Refusal::AlreadyApproved { request },
            State::Denied { vote } => Refusal::Denied {
                request,
                by: vote.voter.id.clone(),
            },
            State::Expired {
                what: Expiry::Request,
                deadline,
            } => Refusal::Expired {
                request,
                at: *deadline,
            },
            State::Expired {
                what: Expiry::Grant,
                deadline,
            } => Refusal::GrantExpired {
                request,
                at: *deadline,
            },
            State::Withdrawn { .. } => Refusal::Withdrawn { request },
            State::Executed { at, .. } => Refusal::AlreadyUsed { request, at: *at },
        }
    }
}

/// The number of votes as a `u32` (saturating; quorums are `u32`).
pub(crate) fn count(votes: &[Vote]) -> u32 {
    u32::try_from(votes.len()).unwrap_or(u32::MAX)
}

/// `at` in UTC (unchanged if it cannot be expressed in UTC), so recorded times are uniform.
pub(crate) fn utc(at: OffsetDateTime) -> OffsetDateTime {
    at.checked_to_offset(UtcOffset::UTC).unwrap_or(at)
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(duration.whole_seconds())
}
