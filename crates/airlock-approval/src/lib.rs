//! Approval requests for reviewed commands: who may approve, the quorum, votes, the single-use
//! grant, and the events that record all of it. Pure: no I/O, no clock, no randomness — the
//! caller passes `now` and the id's random bytes. Every channel (gateway, HTTP, CLI, web,
//! Slack, Teams) decides through this crate, so each rule lives here once.
//!
//! # Rules
//!
//! - **A request** ([`Request::open`]) holds one command: requester, connection, exact text and
//!   its SHA-256, what a reviewer needs ([`RequestContext`]), who may approve (the rule's
//!   [`Approval`](airlock_model::Approval)), and its [`Lifetimes`]: the request expires one
//!   request lifetime after it opens, the grant one grant lifetime (15 minutes by default)
//!   after approval.
//! - **Who may vote** (approve or deny): a human, not the requester, not the human an agent
//!   acts for (`acting_for`) unless the rule sets `allow_principal_of_agent`, and named in the
//!   rule's users or a member of one of its groups. A rule that names no users and no groups
//!   lets **any other human** approve (every other condition still holds; this is what
//!   `airlock check` tells users). Humans are told apart by id.
//! - **Votes**: one per human. With `require_reason`, a vote without a non-blank reason is
//!   refused. One denial ends the request (`Denied`). Approvals by `quorum` distinct humans
//!   (0 counts as 1) approve it (`Approved`) and create its [`Grant`]; a human listed in two
//!   approver groups still counts once.
//! - **The grant** is bound to the requester (kind, id, `acting_for`), the connection and the
//!   text hash; [`Request::consume`] checks all of them and the grant's expiry, and moves the
//!   request to `Executed`, so it is used at most once.
//! - **States**: `Pending` → `Approved` → `Executed`; `Pending` → `Denied`; `Pending` or
//!   `Approved` → `Withdrawn` (by the requester) or `Expired` ([`Request::expire_if_due`]).
//!   Only `Pending` takes votes; past its expiry it refuses them with [`Refusal::Expired`].
//! - **Transitions** take `&self` and `now`, and return the next request with the [`Event`] to
//!   record ([`Transition`]), or a [`Refusal`] that explains itself to a human. The caller
//!   records the event durably, then keeps the new request.
//! - **Replay**: a request's events, in order, rebuild it ([`Request::replay`]); each is
//!   re-derived by the same transition, so a log the rules would not produce is rejected.
#![forbid(unsafe_code)]

mod approvers;
mod error;
mod event;
mod grant;
mod id;
mod lifetimes;
mod replay;
mod request;
mod vote;

pub mod notify;
pub mod view;

pub use approvers::who_approves;
pub use error::{LifetimeError, Refusal, ReplayError};
pub use event::{Delivery, Event, Expiry, Notice};
pub use grant::{Binding, Grant};
pub use id::{RequestId, RequestIdError};
pub use lifetimes::Lifetimes;
pub use request::{NewRequest, Request, RequestContext, State, Transition};
pub use vote::{Ballot, Channel, Choice, Vote};
