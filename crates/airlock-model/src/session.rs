//! [`SessionId`]: names one client session in the audit log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A session's id: 64 random bits, shown as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct SessionId(u64);

/// Why a string is not a [`SessionId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a session id is 16 hex digits, got `{0}`")]
pub struct SessionIdError(String);

impl SessionId {
    pub fn from_u64(value: u64) -> Self {
        Self(value)
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl SessionId {
    /// The 16 hex digits, written into `buf` (no allocation, no formatter).
    fn hex(self, buf: &mut [u8; 16]) -> &str {
        if hex::encode_to_slice(self.0.to_be_bytes(), buf).is_err() {
            return "";
        }
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex(&mut [0; 16]))
    }
}

/// As its 16 hex digits, from a stack buffer (every statement's audit record carries one).
impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.hex(&mut [0; 16]))
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.to_string()
    }
}

impl TryFrom<String> for SessionId {
    type Error = SessionIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text.len() != 16 {
            return Err(SessionIdError(text));
        }
        u64::from_str_radix(&text, 16)
            .map(Self)
            .map_err(|_| SessionIdError(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_sixteen_hex_digits() {
        let id = SessionId::from_u64(0xfeed_0000_0000_0001);
        let text = String::from(id);
        assert_eq!(text, "feed000000000001");
        assert_eq!(SessionId::from_u64(7).to_string(), "0000000000000007");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"feed000000000001\"");
        assert_eq!(SessionId::try_from(text).unwrap(), id);
        assert!(SessionId::try_from("12".to_owned()).is_err());
        assert!(SessionId::try_from("zzzzzzzzzzzzzzzz".to_owned()).is_err());
    }
}
