use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Connection, Identity};

/// How the command reached airlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// `airlock check` and replays: decided, never executed.
    DryRun,
    PgSimple,
    PgExtended,
    Mysql,
    Mcp,
    Http,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DryRun => "dry_run",
            Self::PgSimple => "pg_simple",
            Self::PgExtended => "pg_extended",
            Self::Mysql => "mysql",
            Self::Mcp => "mcp",
            Self::Http => "http",
        }
    }
}

/// One command exactly as sent: the unit that is inspected, decided, approved and audited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub identity: Identity,
    pub connection: Connection,
    pub protocol: Protocol,
    pub text: String,
}

impl Command {
    pub fn text_hash(&self) -> TextHash {
        TextHash::of(&self.text)
    }
}

/// SHA-256 of a command's exact text; approvals and audit records bind to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct TextHash([u8; 32]);

impl TextHash {
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for TextHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::hex32(&self.0, &mut [0; 64]))
    }
}

/// As its hex string.
impl Serialize for TextHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(crate::hex32(&self.0, &mut [0; 64]))
    }
}

impl fmt::Debug for TextHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TextHash({self})")
    }
}

impl From<TextHash> for String {
    fn from(hash: TextHash) -> Self {
        hash.to_string()
    }
}

impl TryFrom<String> for TextHash {
    type Error = hex::FromHexError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(value, &mut bytes)?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hash_is_sha256_hex_and_round_trips() {
        let hash = TextHash::of("abc");
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let back = TextHash::try_from(hash.to_string()).unwrap();
        assert_eq!(back, hash);
        assert!(TextHash::try_from("zz".to_string()).is_err());
    }
}
