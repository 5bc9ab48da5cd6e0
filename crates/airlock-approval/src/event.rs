//! [`Event`]: what happened to a request, as data for the audit log. A request's events, in
//! order, rebuild it ([`Request::replay`](crate::Request::replay)).

use airlock_model::{Approval, Identity, Name, TextHash};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Binding, Channel, Grant, RequestContext, RequestId, Vote};

/// One thing that happened to a request, tagged by `event` in the encoding. Every event names
/// its request; times are UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A reviewed command was held for approval.
    Requested {
        request: RequestId,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        requester: Identity,
        connection: Name,
        text: String,
        text_hash: TextHash,
        context: RequestContext,
        approval: Approval,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
        grant_lifetime_seconds: i64,
    },
    /// An eligible human approved; `grant` is present exactly when `quorum_met`.
    Approved {
        request: RequestId,
        vote: Vote,
        /// Distinct humans who have approved, this one included.
        approvals: u32,
        quorum: u32,
        quorum_met: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant: Option<Grant>,
    },
    /// An eligible human denied; the request is over.
    Denied { request: RequestId, vote: Vote },
    /// The requester gave up.
    Withdrawn {
        request: RequestId,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        by: Identity,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The request or its grant passed its deadline; noticed at `at`.
    Expired {
        request: RequestId,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        what: Expiry,
        #[serde(with = "time::serde::rfc3339")]
        deadline: OffsetDateTime,
    },
    /// The grant was used by `binding` (which matched it).
    Executed {
        request: RequestId,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        binding: Binding,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
    },
    /// The request was announced on a channel.
    Notified {
        request: RequestId,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        channel: Channel,
        delivery: Delivery,
    },
}

/// What passed its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    /// The request found no quorum in time.
    Request,
    /// The request was approved, but its grant was not used in time.
    Grant,
}

/// Whether a notice reached its channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Delivery {
    Delivered {
        /// The channel's id for the message (e.g. a Slack `ts`), to update it later.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// Not delivered; `error` in airlock's words (never a credential).
    Failed { error: String },
}

/// A notice sent about a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub channel: Channel,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub delivery: Delivery,
}

impl Event {
    /// The request the event belongs to.
    pub fn request(&self) -> RequestId {
        match self {
            Self::Requested { request, .. }
            | Self::Approved { request, .. }
            | Self::Denied { request, .. }
            | Self::Withdrawn { request, .. }
            | Self::Expired { request, .. }
            | Self::Executed { request, .. }
            | Self::Notified { request, .. } => *request,
        }
    }

    /// When it happened.
    pub fn at(&self) -> OffsetDateTime {
        match self {
            Self::Approved { vote, .. } | Self::Denied { vote, .. } => vote.at,
            Self::Requested { at, .. }
            | Self::Withdrawn { at, .. }
            | Self::Expired { at, .. }
            | Self::Executed { at, .. }
            | Self::Notified { at, .. } => *at,
        }
    }

    /// The `event` tag of the encoding.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Requested { .. } => "requested",
            Self::Approved { .. } => "approved",
            Self::Denied { .. } => "denied",
            Self::Withdrawn { .. } => "withdrawn",
            Self::Expired { .. } => "expired",
            Self::Executed { .. } => "executed",
            Self::Notified { .. } => "notified",
        }
    }
}
