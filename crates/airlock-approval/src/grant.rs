//! [`Grant`]: what an approval lets happen — exactly one run of exactly the approved command,
//! by the requester, on the approved connection, before the grant expires.

use std::fmt;

use airlock_model::{Command, Identity, IdentityKind, Name, TextHash};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::request::utc;
use crate::{Event, Refusal, Request, RequestId, State, Transition};

/// Who runs what where: the requester (kind, id and the human an agent acts for; groups may
/// change and do not matter), the connection name, and the SHA-256 of the exact text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Binding {
    pub kind: IdentityKind,
    pub identity: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_for: Option<Name>,
    pub connection: Name,
    pub text_hash: TextHash,
}

/// A single-use permission to run the approved command, from the moment quorum was met until
/// `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub request: RequestId,
    pub binding: Binding,
    #[serde(with = "time::serde::rfc3339")]
    pub approved_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Binding {
    pub fn new(identity: &Identity, connection: Name, text_hash: TextHash) -> Self {
        Self {
            kind: identity.kind,
            identity: identity.id.clone(),
            acting_for: identity.acting_for.clone(),
            connection,
            text_hash,
        }
    }

    /// The binding of a command about to run.
    pub fn of(command: &Command) -> Self {
        Self::new(
            &command.identity,
            command.connection.name.clone(),
            command.text_hash(),
        )
    }

    fn same_principal(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.identity == other.identity
            && self.acting_for == other.acting_for
    }
}

/// The principal in words: ``agent `claude` acting for `alice` ``.
impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind.as_str(), self.identity)?;
        match &self.acting_for {
            Some(human) => write!(f, " acting for `{human}`"),
            None => Ok(()),
        }
    }
}

impl Grant {
    /// The grant of `request`, approved at `approved_at`.
    pub(crate) fn new(request: &Request, approved_at: OffsetDateTime) -> Self {
        Self {
            request: request.id,
            binding: Binding::new(
                &request.requester,
                request.connection.clone(),
                request.text_hash,
            ),
            approved_at,
            expires_at: approved_at.saturating_add(request.grant_lifetime),
        }
    }

    /// Checks that `used` is what this grant allows at `now`: same principal, connection and
    /// text, and not expired.
    pub fn check(&self, used: &Binding, now: OffsetDateTime) -> Result<(), Refusal> {
        let request = self.request;
        if !self.binding.same_principal(used) {
            return Err(Refusal::WrongIdentity {
                request,
                expected: self.binding.to_string(),
                found: used.to_string(),
            });
        }
        if self.binding.connection != used.connection {
            return Err(Refusal::WrongConnection {
                request,
                expected: self.binding.connection.clone(),
                found: used.connection.clone(),
            });
        }
        if self.binding.text_hash != used.text_hash {
            return Err(Refusal::WrongText {
                request,
                expected: self.binding.text_hash,
                found: used.text_hash,
            });
        }
        self.check_time(utc(now))
    }

    pub(crate) fn check_time(&self, now: OffsetDateTime) -> Result<(), Refusal> {
        if now >= self.expires_at {
            return Err(Refusal::GrantExpired {
                request: self.request,
                at: self.expires_at,
            });
        }
        Ok(())
    }
}

impl Request {
    /// Uses the grant for `used` at `now`: the request must be approved, and `used` must match
    /// the grant's identity, connection and text hash before the grant expires. The request
    /// becomes `Executed`, so a second use is refused. Record the event durably *before* running
    /// the command; `outcome` is what the caller already knows about the run (usually `None`:
    /// the run's result goes in the audit outcome record).
    pub fn consume(
        &self,
        used: &Binding,
        outcome: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Transition, Refusal> {
        let now = utc(now);
        let grant = match &self.state {
            State::Approved { grant } => grant,
            State::Pending
            | State::Denied { .. }
            | State::Expired { .. }
            | State::Withdrawn { .. }
            | State::Executed { .. } => return Err(self.closed()),
        };
        grant.check(used, now)?;
        let mut request = self.clone();
        request.state = State::Executed {
            grant: grant.clone(),
            at: now,
            outcome: outcome.clone(),
        };
        let event = Event::Executed {
            request: self.id,
            at: now,
            binding: used.clone(),
            outcome,
        };
        Ok(Transition { request, event })
    }
}
