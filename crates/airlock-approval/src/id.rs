//! [`RequestId`]: names one approval request, e.g. `apr_3f9c0a…`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An approval request's id: `apr_` and 32 lowercase hex digits (128 random bits). The
/// randomness comes from the caller, so this crate stays deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RequestId([u8; 16]);

/// Why a string is not a [`RequestId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an approval request id is `apr_` and 32 lowercase hex digits, got `{0}`")]
pub struct RequestIdError(String);

impl RequestId {
    pub const PREFIX: &'static str = "apr_";

    /// The id made of 16 random bytes (from the caller's random source).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, hex::encode(self.0))
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> Self {
        id.to_string()
    }
}

impl TryFrom<String> for RequestId {
    type Error = RequestIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let Some(digits) = text.strip_prefix(Self::PREFIX) else {
            return Err(RequestIdError(text));
        };
        let lowercase = digits.bytes().all(|b| !b.is_ascii_uppercase());
        let mut bytes = [0u8; 16];
        match hex::decode_to_slice(digits, &mut bytes) {
            Ok(()) if lowercase => Ok(Self(bytes)),
            _ => Err(RequestIdError(text)),
        }
    }
}

impl std::str::FromStr for RequestId {
    type Err = RequestIdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::try_from(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_prefix_and_hex() {
        let id = RequestId::from_bytes([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text, format!("apr_{}", "ab".repeat(16)));
        assert_eq!(text.parse::<RequestId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<RequestId>(&json).unwrap(), id);
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "",
            "apr_",
            "abababababababababababababababab",
            "req_abababababababababababababababab",
            "apr_ABABABABABABABABABABABABABABABAB",
            "apr_ababababababababababababababab",
            "apr_abababababababababababababababzz",
        ] {
            assert!(bad.parse::<RequestId>().is_err(), "{bad}");
        }
    }
}
