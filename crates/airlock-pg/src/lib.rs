//! The PostgreSQL wire protocol (v3), as far as a gateway needs it: frames are split without
//! copying or re-encoding (a proxy forwards most of them as they are), startup packets and the
//! messages airlock reads (queries, parses, errors, ready-for-query) are decoded and checked,
//! and the messages airlock writes itself (errors, notices) are encoded. Pure: no I/O.
//!
//! Decoders tell "need more bytes" ([`Decoded::Incomplete`]) from "bad bytes"
//! ([`WireError`]) and check every length before allocating.
#![forbid(unsafe_code)]

mod backend;
mod frame;
mod frontend;
mod reader;
mod scram;
mod startup;
mod upstream;

pub use backend::{ErrorFields, Severity, encode_error, encode_notice, parse_error, parse_ready};
pub use frame::{Decoded, Frame, MAX_FRAME, decode_frame, encode_frame};
pub use frontend::{FrontendMessage, encode_extended_query, parse_frontend};
pub use scram::{
    Accepted, DEFAULT_ITERATIONS, MAX_ITERATIONS, ScramClient, ScramError, ScramServer,
    ScramVerifier,
};
pub use startup::{
    StartupPacket, decode_startup, encode_cancel_request, encode_ssl_request, encode_startup,
};
pub use upstream::{HandshakeError, Step, UpstreamHandshake, UpstreamSession};

/// A protocol violation: the peer sent bytes that cannot be a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message length {length} is invalid (minimum {minimum}, maximum {maximum})")]
    BadLength {
        length: i64,
        minimum: usize,
        maximum: usize,
    },
    #[error("`{tag}` message ends before its {field}")]
    Truncated { tag: char, field: &'static str },
    #[error("`{tag}` message has {extra} unexpected trailing byte(s)")]
    Trailing { tag: char, extra: usize },
    #[error("`{tag}` message has a string that is not valid UTF-8 in its {field}")]
    NotUtf8 { tag: char, field: &'static str },
    #[error("unsupported protocol version {major}.{minor}")]
    UnsupportedVersion { major: u16, minor: u16 },
    #[error("startup packet parameter `{0}` has no value")]
    MissingValue(String),
    #[error("unknown ready-for-query status `{0}`")]
    BadStatus(char),
}
