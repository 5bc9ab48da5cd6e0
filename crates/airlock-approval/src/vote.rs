//! Votes: a [`Ballot`] cast on a channel becomes a recorded [`Vote`]; [`Request::vote`] applies
//! it (one denial ends the request, a quorum of distinct humans approves it).

use std::fmt;

use airlock_model::Identity;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::request::{count, utc};
use crate::{Event, Grant, Refusal, Request, State, Transition, approvers};

/// Approve or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Approve,
    Deny,
}

/// Where a vote was cast or a notice sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The HTTP API.
    Api,
    /// The `airlock` command line.
    Cli,
    /// The web inbox.
    Web,
    Slack,
    Teams,
    /// An outgoing webhook (notices only: a webhook cannot vote).
    Webhook,
}

/// A vote as cast, before it is judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ballot {
    pub voter: Identity,
    pub choice: Choice,
    pub channel: Channel,
    pub reason: Option<String>,
}

/// A vote as recorded: who, when, where, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub voter: Identity,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Cli => "cli",
            Self::Web => "web",
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Webhook => "webhook",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Ballot {
    /// The ballot a recorded vote was cast with.
    pub fn of(vote: &Vote, choice: Choice) -> Self {
        Self {
            voter: vote.voter.clone(),
            choice,
            channel: vote.channel,
            reason: vote.reason.clone(),
        }
    }
}

impl Request {
    /// Whether `voter` may vote on this request at `now` (the checks of [`Request::vote`] except
    /// the reason): for an inbox that lists what a human can act on.
    pub fn may_vote(&self, voter: &Identity, now: OffsetDateTime) -> Result<(), Refusal> {
        self.check_voter(voter, Choice::Approve, utc(now))
    }

    /// Casts a vote at `now`. A denial by an eligible human ends the request; an approval counts
    /// toward the quorum and, when it completes it, approves the request with a grant that
    /// expires one grant lifetime later.
    pub fn vote(&self, ballot: Ballot, now: OffsetDateTime) -> Result<Transition, Refusal> {
        let now = utc(now);
        self.check_voter(&ballot.voter, ballot.choice, now)?;
        let blank = ballot.reason.as_deref().is_none_or(|r| r.trim().is_empty());
        if self.approval.require_reason && blank {
            return Err(Refusal::ReasonRequired {
                request: self.id,
                rule: self.context.rule.clone(),
            });
        }
        let vote = Vote {
            voter: ballot.voter,
            at: now,
            channel: ballot.channel,
            reason: ballot.reason,
        };
        Ok(match ballot.choice {
            Choice::Approve => self.approve(vote),
            Choice::Deny => self.deny(vote),
        })
    }

    fn check_voter(
        &self,
        voter: &Identity,
        choice: Choice,
        now: OffsetDateTime,
    ) -> Result<(), Refusal> {
        match &self.state {
            State::Pending => self.check_pending(now)?,
            State::Approved { .. }
            | State::Denied { .. }
            | State::Expired { .. }
            | State::Withdrawn { .. }
            | State::Executed { .. } => return Err(self.closed()),
        }
        if self.approvals.iter().any(|v| v.voter.id == voter.id) {
            return Err(Refusal::AlreadyVoted {
                request: self.id,
                voter: voter.id.clone(),
            });
        }
        approvers::check(self, voter, choice)
    }

    fn approve(&self, vote: Vote) -> Transition {
        let mut request = self.clone();
        request.approvals.push(vote.clone());
        let approvals = count(&request.approvals);
        let quorum = self.quorum();
        let grant = (approvals >= quorum).then(|| Grant::new(self, vote.at));
        if let Some(grant) = &grant {
            request.state = State::Approved {
                grant: grant.clone(),
            };
        }
        let event = Event::Approved {
            request: self.id,
            vote,
            approvals,
            quorum,
            quorum_met: grant.is_some(),
            grant,
        };
        Transition { request, event }
    }

    fn deny(&self, vote: Vote) -> Transition {
        let mut request = self.clone();
        request.state = State::Denied { vote: vote.clone() };
        let event = Event::Denied {
            request: self.id,
            vote,
        };
        Transition { request, event }
    }
}
