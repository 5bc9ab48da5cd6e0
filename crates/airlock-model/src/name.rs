use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated identifier: principal ids, group names, connection names, environment tags,
/// rule ids. Non-empty, at most 256 bytes, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Name(String);

/// Why a string is not a valid [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name must not be empty")]
    Empty,
    #[error("a name must be at most {max} bytes, got {len}")]
    TooLong { len: usize, max: usize },
    #[error("a name must not contain control characters: `{0}`")]
    ControlCharacter(String),
}

impl Name {
    pub const MAX_LEN: usize = 256;

    pub fn new(value: impl Into<String>) -> Result<Self, NameError> {
        let value = value.into();
        if value.is_empty() {
            return Err(NameError::Empty);
        }
        if value.len() > Self::MAX_LEN {
            return Err(NameError::TooLong {
                len: value.len(),
                max: Self::MAX_LEN,
            });
        }
        if value.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter(
                value.escape_debug().to_string(),
            ));
        }
        Ok(Self(value))
    }

    /// For literals inside this crate that are known to be valid.
    pub(crate) fn trusted(value: &'static str) -> Self {
        Self(value.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

/// As the string it is, borrowed (`into = "String"` cloned it for every field of every audit
/// record).
impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_long_and_control() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert!(matches!(
            Name::new("x".repeat(300)),
            Err(NameError::TooLong { len: 300, .. })
        ));
        assert!(matches!(
            Name::new("a\nb"),
            Err(NameError::ControlCharacter(_))
        ));
        assert_eq!(
            Name::new("alice@example.com")
                .map(|n| n.to_string())
                .as_deref(),
            Ok("alice@example.com")
        );
    }

    #[test]
    fn serializes_as_its_string_and_deserialization_validates() {
        assert!(serde_json::from_str::<Name>("\"\"").is_err());
        let name = serde_json::from_str::<Name>("\"prod\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"prod\"");
    }
}
