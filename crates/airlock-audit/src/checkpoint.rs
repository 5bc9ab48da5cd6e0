//! Signed checkpoints: an Ed25519 signature over the chain head, so that deleting the newest
//! events (truncation) or rewriting and re-hashing the chain is detectable.
//!
//! Signed message: `CHECKPOINT_DOMAIN || seq (u64 big-endian) || head_hash (32 bytes) ||
//! len(time) (u32 big-endian) || time` where `time` is the stored RFC 3339 text.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::{ChainHash, ChainHead, SealError};

/// Domain tag of the signed checkpoint message.
pub const CHECKPOINT_DOMAIN: &[u8] = b"airlock-audit-checkpoint-v1\0";

/// The Ed25519 key that signs checkpoints. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct AuditKey(SigningKey);

/// The public half of an [`AuditKey`], stored with every checkpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// Short id of a public key: hex of the first 8 bytes of SHA-256 of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

/// A signed statement "the chain had `seq` events and its head hash was `head_hash`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub head_hash: ChainHash,
    /// RFC 3339, UTC; signed as stored.
    pub time: String,
    pub public_key: PublicKey,
    pub signature: [u8; 64],
}

/// A checkpoint row as read back from a store, unchecked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub seq: i64,
    pub head_hash: Vec<u8>,
    pub time: String,
    pub public_key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a key must be 64 hex characters (32 bytes)")]
    Format,
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
}

/// Why a checkpoint is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointFault {
    #[error("it is malformed: {0}")]
    Malformed(&'static str),
    #[error("it is signed by key `{found}`, not by the trusted key `{trusted}`")]
    UntrustedKey { found: KeyId, trusted: KeyId },
    #[error("its signature does not match its contents")]
    BadSignature,
}

impl AuditKey {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads the hex seed format of the key file (surrounding whitespace allowed).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        decode_32(text).map(Self::from_seed)
    }

    /// The key file format: the 32-byte seed in hex, with a trailing newline.
    pub fn to_hex(&self) -> String {
        format!("{}\n", hex::encode(self.0.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKey({})", self.public().key_id())
    }
}

impl PublicKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| KeyError::InvalidPublicKey)
    }

    /// Reads a public key file: 64 hex characters (surrounding whitespace allowed).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes(&decode_32(text)?)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key file format: hex with a trailing newline.
    pub fn to_hex(&self) -> String {
        format!("{}\n", hex::encode(self.to_bytes()))
    }

    pub fn key_id(&self) -> KeyId {
        let digest: [u8; 32] = Sha256::digest(self.0.as_bytes()).into();
        let mut id = [0u8; 8];
        id.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        KeyId(id)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl KeyId {
    /// Stands for an unreadable key.
    pub const ZERO: Self = Self([0; 8]);
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl Checkpoint {
    /// Signs `head` at `time` with `key`.
    pub fn sign(head: ChainHead, time: OffsetDateTime, key: &AuditKey) -> Result<Self, SealError> {
        let time = time
            .to_offset(UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(|e| SealError::Encode(e.to_string()))?;
        let signature = key.0.sign(&message(head.seq, &head.hash, &time)).to_bytes();
        Ok(Self {
            seq: head.seq,
            head_hash: head.hash,
            time,
            public_key: key.public(),
            signature,
        })
    }

    pub fn key_id(&self) -> KeyId {
        self.public_key.key_id()
    }

    pub fn to_stored(&self) -> StoredCheckpoint {
        StoredCheckpoint {
            seq: i64::try_from(self.seq).unwrap_or(i64::MAX),
            head_hash: self.head_hash.as_bytes().to_vec(),
            time: self.time.clone(),
            public_key: self.public_key.to_bytes().to_vec(),
            signature: self.signature.to_vec(),
        }
    }
}

impl StoredCheckpoint {
    /// Checks the signature (and that the signer is `trusted`, when given); returns the head it
    /// vouches for.
    pub fn check(&self, trusted: Option<&PublicKey>) -> Result<ChainHead, CheckpointFault> {
        let seq = u64::try_from(self.seq).ok().filter(|seq| *seq > 0).ok_or(
            CheckpointFault::Malformed("its sequence number is not positive"),
        )?;
        let hash = ChainHash::from_slice(&self.head_hash)
            .ok_or(CheckpointFault::Malformed("its head hash is not 32 bytes"))?;
        let key_bytes = <[u8; 32]>::try_from(self.public_key.as_slice())
            .map_err(|_| CheckpointFault::Malformed("its public key is not 32 bytes"))?;
        let key = PublicKey::from_bytes(&key_bytes)
            .map_err(|_| CheckpointFault::Malformed("its public key is not a valid key"))?;
        if let Some(trusted) = trusted.filter(|t| **t != key) {
            return Err(CheckpointFault::UntrustedKey {
                found: key.key_id(),
                trusted: trusted.key_id(),
            });
        }
        let signature = Signature::from_slice(&self.signature)
            .map_err(|_| CheckpointFault::Malformed("its signature is not 64 bytes"))?;
        key.0
            .verify_strict(&message(seq, &hash, &self.time), &signature)
            .map_err(|_| CheckpointFault::BadSignature)?;
        Ok(ChainHead { seq, hash })
    }
}

fn message(seq: u64, head: &ChainHash, time: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 44 + time.len());
    message.extend_from_slice(CHECKPOINT_DOMAIN);
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(head.as_bytes());
    let len = u32::try_from(time.len()).unwrap_or(u32::MAX);
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(time.as_bytes());
    message
}

fn decode_32(text: &str) -> Result<[u8; 32], KeyError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyError::Format)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{key, t0};

    fn signed() -> Checkpoint {
        let head = ChainHead {
            seq: 3,
            hash: ChainHash::link(&ChainHash::GENESIS, b"x"),
        };
        Checkpoint::sign(head, t0(), &key(1)).unwrap()
    }

    #[test]
    fn signature_verifies_and_binds_every_field() {
        let stored = signed().to_stored();
        assert_eq!(stored.check(Some(&key(1).public())).unwrap().seq, 3);
        assert!(stored.check(None).is_ok());
        let mut moved = stored.clone();
        moved.seq = 4;
        assert_eq!(moved.check(None), Err(CheckpointFault::BadSignature));
        let mut retimed = stored.clone();
        retimed.time.push('0');
        assert_eq!(retimed.check(None), Err(CheckpointFault::BadSignature));
        assert!(matches!(
            stored.check(Some(&key(2).public())),
            Err(CheckpointFault::UntrustedKey { .. })
        ));
    }

    #[test]
    fn keys_round_trip_as_hex_and_debug_hides_the_secret() {
        let key = key(7);
        let back = AuditKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(back.public(), key.public());
        assert_eq!(
            PublicKey::from_hex(&key.public().to_hex()).unwrap(),
            key.public()
        );
        assert_eq!(
            format!("{key:?}"),
            format!("AuditKey({})", key.public().key_id())
        );
        assert_eq!(key.public().key_id().to_string().len(), 16);
        assert_eq!(AuditKey::from_hex("abc").err(), Some(KeyError::Format));
    }
}
