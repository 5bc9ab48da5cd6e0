//! [`KeyId`]: names one API key without revealing it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How airlock's API keys begin (`alk_` and 64 hex digits).
pub const API_KEY_PREFIX: &str = "alk_";

/// A short, stable name of an API key: `key_` and the first 12 hex digits of the SHA-256 of
/// the key's SCRAM StoredKey. Derived from the verifier, so it is the same wherever the
/// verifier is configured, and it reveals nothing usable about the key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct KeyId(String);

/// Why a string is not a [`KeyId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyIdError {
    #[error("`{0}` is not a key id (`key_` and 12 hex digits, as `airlock keys list` shows)")]
    Malformed(String),
    /// The text is an API key itself: it is not repeated in the message.
    #[error(
        "that is an API key, not a key id: key ids (`key_` and 12 hex digits) are shown by \
         `airlock keys list`"
    )]
    IsAKey,
}

impl KeyId {
    const PREFIX: &str = "key_";
    const HEX_DIGITS: usize = 12;

    /// The id of the key whose SCRAM StoredKey is `stored_key`.
    pub fn of_stored_key(stored_key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(stored_key);
        let hex = hex::encode(digest);
        Self(format!(
            "{}{}",
            Self::PREFIX,
            hex.get(..Self::HEX_DIGITS).unwrap_or_default()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = KeyIdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.starts_with(API_KEY_PREFIX) {
            return Err(KeyIdError::IsAKey);
        }
        let digits = text.strip_prefix(Self::PREFIX).unwrap_or_default();
        let valid = digits.len() == Self::HEX_DIGITS
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(KeyIdError::Malformed(
                text.chars()
                    .take(32)
                    .collect::<String>()
                    .escape_debug()
                    .to_string(),
            ))
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> Self {
        id.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = KeyIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_from_the_stored_key_and_parsed_back() {
        let id = KeyId::of_stored_key(&[7; 32]);
        let expected = &hex::encode(Sha256::digest([7u8; 32]))[..12];
        assert_eq!(id.as_str(), format!("key_{expected}"));
        assert_eq!(id.to_string().parse::<KeyId>().unwrap(), id);
        assert_ne!(KeyId::of_stored_key(&[8; 32]), id);
        for bad in [
            "",
            "key_",
            "key_0123456789a",
            "key_0123456789abc",
            "key_0123456789AB",
        ] {
            assert!(bad.parse::<KeyId>().is_err(), "{bad}");
        }
        let error = "key_secret\n".parse::<KeyId>().unwrap_err().to_string();
        assert!(
            error.starts_with("`key_secret\\n` is not a key id"),
            "{error}"
        );
        let error = "alk_0123".parse::<KeyId>().unwrap_err().to_string();
        assert!(
            !error.contains("alk_0123"),
            "a key is never repeated: {error}"
        );
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<KeyId>(&json).unwrap(), id);
    }
}
