//! Sealing events into the hash chain, and decoding stored rows back into events.
//!
//! Canonical body encoding (format version 1): compact JSON (no whitespace) of
//! `{"v":1,"seq":N,"time":RFC3339-UTC,"event":{"type":...,...}}`, produced from Rust structs,
//! so fields always appear in declaration order; sets are sorted (`BTreeSet`), there are no
//! maps and no floats. The hash covers the *stored bytes* of the body, so verification never
//! depends on re-encoding: [`ChainHash::link`] over `prev_hash || body`.

use airlock_approval::RequestId;
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::{AuditEvent, ChainHash, EventKind};

/// Room reserved for a body beyond its command text (a decision record with its outcome is
/// ≈ 440 bytes besides the text).
const BODY_CAPACITY: usize = 512;

/// The version written in every body as `v`.
pub const FORMAT_VERSION: u32 = 1;

/// The position of the chain's last event; `seq` 0 with [`ChainHash::GENESIS`] when empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: ChainHash,
}

/// Seals events in order: event `n` gets `seq = n` (from 1) and links to event `n - 1`.
#[derive(Clone, Debug)]
pub struct Chain {
    head: ChainHead,
}

/// An event sealed into the chain, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEvent {
    pub seq: u64,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
    /// The canonical body (UTF-8 JSON), exactly the bytes that were hashed.
    pub body: String,
    /// The approval request an approval event belongs to, for stores that index them (so
    /// they never parse bodies to find out). Not part of the chain.
    pub approval: Option<RequestId>,
}

/// A row as read back from a store, unchecked: any column may have been tampered with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredRow {
    /// The row's key in the store (its position in the chain).
    pub seq: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub body: Vec<u8>,
}

/// A stored row decoded (but not verified): see [`crate::Verifier`] for that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
    pub event: AuditEvent,
}

/// Why an event could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("audit event cannot be encoded: {0}")]
    Encode(String),
    #[error("audit chain is full: sequence number overflow")]
    SeqOverflow,
}

/// Why a stored row could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("its position is not a positive sequence number")]
    Position,
    #[error("the {column} column is not a 32-byte hash")]
    HashLength { column: &'static str },
    #[error("the body is not valid: {0}")]
    Body(String),
    #[error("the body has unsupported format version {0}")]
    Version(u32),
}

#[derive(Serialize)]
struct BodyOut<'a> {
    v: u32,
    seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    event: &'a EventKind,
}

/// One line of `airlock audit export --format jsonl`.
#[derive(Serialize)]
struct ExportLine<'a> {
    seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    hash: ChainHash,
    prev_hash: ChainHash,
    event: &'a EventKind,
}

#[derive(Deserialize)]
struct BodyIn {
    v: u32,
    seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    event: EventKind,
}

impl ChainHead {
    pub const EMPTY: Self = Self {
        seq: 0,
        hash: ChainHash::GENESIS,
    };
}

impl Chain {
    /// A chain with no events yet.
    pub fn new() -> Self {
        Self::resume(ChainHead::EMPTY)
    }

    /// Continues a chain whose last stored event is `head`.
    pub fn resume(head: ChainHead) -> Self {
        Self { head }
    }

    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// Seals `event` as the next event and advances the head.
    pub fn seal(&mut self, event: &AuditEvent) -> Result<SealedEvent, SealError> {
        let seq = self.head.seq.checked_add(1).ok_or(SealError::SeqOverflow)?;
        let body = encode_body(seq, event)?;
        let hash = ChainHash::link(&self.head.hash, body.as_bytes());
        let sealed = SealedEvent {
            seq,
            prev_hash: self.head.hash,
            hash,
            body,
            approval: event.approval_request(),
        };
        self.head = ChainHead { seq, hash };
        Ok(sealed)
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

/// The canonical body of `event` at position `seq`.
pub fn encode_body(seq: u64, event: &AuditEvent) -> Result<String, SealError> {
    let time = event.time.to_offset(UtcOffset::UTC);
    // Sized for the whole body up front: grown from serde_json's default 128 bytes, a
    // statement's record was copied three times on its way to ≈ 500.
    let text = if let EventKind::Decision(record) = &event.kind {
        record.text.len()
    } else {
        0
    };
    let mut out = Vec::with_capacity(BODY_CAPACITY + text);
    if !crate::body::body(&mut out, seq, time, &event.kind) {
        out.clear();
        let body = BodyOut {
            v: FORMAT_VERSION,
            seq,
            time,
            event: &event.kind,
        };
        serde_json::to_writer(&mut out, &body).map_err(|e| SealError::Encode(e.to_string()))?;
    }
    String::from_utf8(out).map_err(|e| SealError::Encode(e.to_string()))
}

impl SealedEvent {
    pub fn to_row(&self) -> StoredRow {
        StoredRow {
            seq: i64::try_from(self.seq).unwrap_or(i64::MAX),
            prev_hash: self.prev_hash.as_bytes().to_vec(),
            hash: self.hash.as_bytes().to_vec(),
            body: self.body.as_bytes().to_vec(),
        }
    }
}

impl StoredRow {
    /// The two hash columns, if they have the right length.
    pub fn hashes(&self) -> Result<(ChainHash, ChainHash), DecodeError> {
        let prev = ChainHash::from_slice(&self.prev_hash).ok_or(DecodeError::HashLength {
            column: "prev_hash",
        })?;
        let hash =
            ChainHash::from_slice(&self.hash).ok_or(DecodeError::HashLength { column: "hash" })?;
        Ok((prev, hash))
    }

    /// Decodes the row; `seq` is the one recorded *inside* the body.
    pub fn decode(&self) -> Result<Record, DecodeError> {
        let (prev_hash, hash) = self.hashes()?;
        let body: BodyIn =
            serde_json::from_slice(&self.body).map_err(|e| DecodeError::Body(e.to_string()))?;
        if body.v != FORMAT_VERSION {
            return Err(DecodeError::Version(body.v));
        }
        let event = AuditEvent {
            time: body.time,
            kind: body.event,
        };
        Ok(Record {
            seq: body.seq,
            prev_hash,
            hash,
            event,
        })
    }
}

impl Record {
    /// The export form: `{"seq","time","hash","prev_hash","event":{"type",...}}` on one line.
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&ExportLine {
            seq: self.seq,
            time: self.event.time,
            hash: self.hash,
            prev_hash: self.prev_hash,
            event: &self.event.kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::decision_event;

    #[test]
    fn seals_in_order_and_links() {
        let mut chain = Chain::new();
        let a = chain.seal(&decision_event("SELECT 1")).unwrap();
        let b = chain.seal(&decision_event("SELECT 2")).unwrap();
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(a.prev_hash, ChainHash::GENESIS);
        assert_eq!(b.prev_hash, a.hash);
        assert_eq!(b.hash, ChainHash::link(&a.hash, b.body.as_bytes()));
        assert_eq!(
            chain.head(),
            ChainHead {
                seq: 2,
                hash: b.hash
            }
        );
    }

    #[test]
    fn encoding_is_deterministic_and_round_trips() {
        let event = decision_event("DROP TABLE users");
        let one = encode_body(7, &event).unwrap();
        assert_eq!(one, encode_body(7, &event).unwrap());
        assert!(one.starts_with(r#"{"v":1,"seq":7,"time":"#), "{one}");
        let mut chain = Chain::resume(ChainHead {
            seq: 6,
            hash: ChainHash::GENESIS,
        });
        let row = chain.seal(&event).unwrap().to_row();
        let record = row.decode().unwrap();
        let line = record.to_json_line().unwrap();
        assert!(
            line.starts_with(r#"{"seq":7,"time":"2026-01-01T00:00:00Z","hash":""#),
            "{line}"
        );
        assert!(line.contains(r#""event":{"type":"decision","identity":{"kind":"agent""#));
        assert!(
            line.contains(r#""acting_for":"alice@example.com""#),
            "{line}"
        );
        assert_eq!((record.seq, record.event), (7, event));
    }

    /// The direct writer and serde agree on whole bodies: times with and without fractions,
    /// given at another offset, a decision and an outcome.
    #[test]
    fn direct_bodies_are_the_bytes_serde_writes() {
        let decision = decision_event("SELECT \"a\"\n\u{1}, 'é'");
        let EventKind::Decision(record) = &decision.kind else {
            panic!("{decision:?}")
        };
        let outcome = EventKind::Outcome(crate::OutcomeRecord {
            session: airlock_model::SessionId::from_u64(42),
            statement: 7,
            identity: record.identity.clone(),
            connection: record.connection.clone(),
            outcome: crate::Outcome::Failed {
                sqlstate: Some("23505".into()),
                error: "failed".into(),
                duration_us: Some(12),
            },
        });
        let at = |nanos: i128| OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
        let east = UtcOffset::from_hms(2, 0, 0).unwrap();
        let times = [
            at(1_767_225_600_000_000_000),
            at(1_795_314_735_818_186_614),
            at(1_795_314_735_500_000_000).to_offset(east),
        ];
        for time in times {
            for kind in [decision.kind.clone(), outcome.clone()] {
                let event = AuditEvent { time, kind };
                let mut direct = Vec::new();
                assert!(crate::body::body(
                    &mut direct,
                    9,
                    time.to_offset(UtcOffset::UTC),
                    &event.kind
                ));
                let serde = serde_json::to_string(&BodyOut {
                    v: FORMAT_VERSION,
                    seq: 9,
                    time: time.to_offset(UtcOffset::UTC),
                    event: &event.kind,
                })
                .unwrap();
                assert_eq!(String::from_utf8(direct).unwrap(), serde);
                assert_eq!(encode_body(9, &event).unwrap(), serde);
            }
        }
    }

    #[test]
    fn decoding_rejects_bad_rows() {
        let mut row = Chain::new().seal(&decision_event("x")).unwrap().to_row();
        row.hash.pop();
        assert_eq!(
            row.decode(),
            Err(DecodeError::HashLength { column: "hash" })
        );
        row.hash.push(0);
        row.body = b"{not json".to_vec();
        assert!(matches!(row.decode(), Err(DecodeError::Body(_))));
    }
}
