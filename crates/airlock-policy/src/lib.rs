//! airlock's policy: Cedar policies validated against airlock's schema, the default guardrail
//! pack, and the total [`decide`] function.
//!
//! - A rule is a Cedar policy with annotations: `@id` (unique), and for a `forbid`
//!   `@verdict("deny"|"review")`, `@message`, optional `@hint`, and for review
//!   `@approvers_users`, `@approvers_groups`, `@quorum`, `@allow_principal_of_agent`,
//!   `@require_reason`.
//! - One Cedar request per statement (and per setting it changes); the most severe verdict of
//!   all statements decides. A request without a matching permit is denied (`no-permit`); a
//!   rule that fails while judging denies (`policy-error`): fail closed.
//! - Pure: no I/O except reading the policy files given to [`Policy::load`].
#![forbid(unsafe_code)]

mod abstraction;
mod checkpoint;
mod context;
mod decide;
mod error;
mod load;
mod pack;
mod policy;
mod render;
mod rule;

pub use checkpoint::{Checkpoint, Judgement};
pub use decide::{NO_PERMIT, POLICY_ERROR};
pub use error::{PolicyError, Position, Problem};
pub use load::PolicySource;
pub use pack::{DEFAULT_PACK, PackFile, SCHEMA, default_pack_text, default_sources};
pub use policy::{Policy, Summary, schema};
pub use render::PLACEHOLDERS;
pub use rule::{ANNOTATIONS, RESERVED_IDS, Rule, RuleEffect};

use airlock_model::{Command, Decision, Facts};

/// Decides a command from its facts. Total: an internal failure is a deny with a reason.
pub fn decide(command: &Command, facts: &Facts, policy: &Policy) -> Decision {
    policy.decide(command, facts)
}
