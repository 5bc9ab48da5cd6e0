//! The pure data model shared by every airlock crate: who asks ([`Identity`]), where
//! ([`Connection`]), what ([`Command`]), what inspection found ([`Facts`]) and what the
//! policy decided ([`Decision`]). No I/O, no async, no policy logic.
#![forbid(unsafe_code)]

mod command;
mod connection;
mod decision;
mod effect;
mod facts;
mod hex;
mod identity;
mod key;
mod name;
mod session;

pub use command::{Command, Protocol, TextHash};
pub use connection::{Connection, ConnectionKind};
pub use decision::{Approval, Decision, RuleId, RuleMatch, Verdict};
pub use effect::Effect;
pub use facts::{
    Access, CopyDirection, CopyFacts, CopyTarget, DynamicSql, Facts, FunctionRisk, ObjectRef,
    Origin, SettingChange, SettingScope, SqlFacts, Statement, StatementFlag, StatementKind,
    WhereClause,
};
pub use hex::hex32;
pub use identity::{Identity, IdentityKind};
pub use key::{API_KEY_PREFIX, KeyId, KeyIdError};
pub use name::{Name, NameError};
pub use session::{SessionId, SessionIdError};
