//! [`ChainHash`]: the SHA-256 link between consecutive events, and the domain-separated hash
//! that produces it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain tag prefixed to every event hash, so an event hash can never collide with another
/// use of SHA-256 in airlock (text hashes, key ids, checkpoint messages).
pub const EVENT_DOMAIN: &[u8] = b"airlock-audit-event-v1\0";

/// A SHA-256 chain hash. The hash of event `n` is
/// `SHA-256(EVENT_DOMAIN || prev_hash || body)`, where `prev_hash` is the hash of event `n - 1`
/// ([`ChainHash::GENESIS`] for event 1) and `body` the event's canonical encoding, which
/// includes its sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the first event: 32 zero bytes.
    pub const GENESIS: Self = Self([0; 32]);

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// `None` unless `bytes` is exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash of an event whose canonical body is `body`, chained after `prev`.
    pub fn link(prev: &ChainHash, body: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(EVENT_DOMAIN);
        hasher.update(prev.0);
        hasher.update(body);
        Self(hasher.finalize().into())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(airlock_model::hex32(&self.0, &mut [0; 64]))
    }
}

/// As its hex string.
impl Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(airlock_model::hex32(&self.0, &mut [0; 64]))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

impl FromStr for ChainHash {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes)?;
        Ok(Self(bytes))
    }
}

impl From<ChainHash> for String {
    fn from(hash: ChainHash) -> Self {
        hash.to_string()
    }
}

impl TryFrom<String> for ChainHash {
    type Error = hex::FromHexError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_depends_on_prev_and_body_and_round_trips_as_hex() {
        let a = ChainHash::link(&ChainHash::GENESIS, b"{}");
        assert_ne!(a, ChainHash::link(&a, b"{}"));
        assert_ne!(a, ChainHash::link(&ChainHash::GENESIS, b"{ }"));
        assert_eq!(a.to_string().parse::<ChainHash>().unwrap(), a);
        assert!(ChainHash::from_slice(&[0; 31]).is_none());
        assert_eq!(ChainHash::from_slice(&[0; 32]), Some(ChainHash::GENESIS));
    }
}
