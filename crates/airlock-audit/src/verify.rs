//! Verification of a stored chain: the first problem found, as a typed [`Problem`] whose
//! `Display` says in plain English which event is broken and how.
//!
//! Checks per row, in this order: hash columns well-formed, stored hash = hash of stored body
//! (else *edited*), body decodes (else *malformed*), body `seq` = row position (else
//! *reordered*), no gap after the previous row (else *deleted*), `prev_hash` = previous row's
//! hash (else the previous event was *edited and re-hashed*). Each signed checkpoint must name
//! the hash of the event at its `seq` (else the chain was rewritten), and no checkpoint may
//! name an event beyond the last one (else *truncated*).

use std::collections::VecDeque;
use std::fmt;

use crate::{
    ChainHash, ChainHead, CheckpointFault, DecodeError, KeyId, PublicKey, StoredCheckpoint,
    StoredRow,
};

/// Verifies a chain incrementally, in constant memory: feed rows in `seq` order with
/// [`Verifier::event`], and each checkpoint *before* the row it covers with
/// [`Verifier::checkpoint`]; then call [`Verifier::finish`].
#[derive(Debug)]
pub struct Verifier {
    trusted: Option<PublicKey>,
    head: ChainHead,
    events: u64,
    checkpoints: u64,
    last_checkpoint: Option<u64>,
    signers: Vec<KeyId>,
    pending: VecDeque<ChainHead>,
}

/// A chain that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub events: u64,
    pub checkpoints: u64,
    pub head: ChainHead,
    /// The newest signed checkpoint; events after it are not yet protected against truncation.
    pub last_checkpoint: Option<u64>,
    /// The keys that signed checkpoints.
    pub signers: Vec<KeyId>,
    /// The key signatures were required to match, if one was given.
    pub trusted: Option<KeyId>,
}

/// The first thing wrong with a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// An event's content was changed.
    Edited { seq: u64, how: Edit },
    /// Events `first..=last` are missing from the middle of the chain.
    Deleted { after: u64, first: u64, last: u64 },
    /// The row at `position` holds event `found`.
    Reordered { position: u64, found: u64 },
    /// A signed checkpoint vouches for `checkpoint` events but the log ends at `last`.
    Truncated { checkpoint: u64, last: u64 },
    /// The checkpoint row at `seq` is forged, corrupted or signed by another key.
    BadCheckpoint { seq: i64, fault: CheckpointFault },
    /// The row at position `seq` cannot be decoded.
    Malformed { seq: i64, error: DecodeError },
}

/// How an edit was detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The stored hash does not match the stored body.
    ContentChanged,
    /// The body matches a recomputed hash, but event `next` still links to the old one.
    Rehashed { next: u64 },
    /// The first event does not link to the genesis hash.
    BadStart,
    /// The hash differs from the one a signed checkpoint recorded: this event or an earlier one
    /// was rewritten and every later hash recomputed.
    ContradictsCheckpoint,
}

impl Verifier {
    /// `trusted`: the key every checkpoint must be signed with; `None` accepts the key stored
    /// with each checkpoint (which only proves the checkpoint was not corrupted by accident).
    pub fn new(trusted: Option<PublicKey>) -> Self {
        Self {
            trusted,
            head: ChainHead::EMPTY,
            events: 0,
            checkpoints: 0,
            last_checkpoint: None,
            signers: Vec::new(),
            pending: VecDeque::new(),
        }
    }

    /// Checks the next row (rows must come in ascending `seq` order).
    pub fn event(&mut self, row: &StoredRow) -> Result<(), Problem> {
        let malformed = |error| Problem::Malformed {
            seq: row.seq,
            error,
        };
        let position = u64::try_from(row.seq).ok().filter(|p| *p > 0);
        let position = position.ok_or(malformed(DecodeError::Position))?;
        let (prev, hash) = row.hashes().map_err(malformed)?;
        if ChainHash::link(&prev, &row.body) != hash {
            return Err(Problem::Edited {
                seq: position,
                how: Edit::ContentChanged,
            });
        }
        let found = row.decode().map_err(malformed)?.seq;
        let expected = self.head.seq.saturating_add(1);
        if found != position || position < expected {
            return Err(Problem::Reordered { position, found });
        }
        if position > expected {
            let (first, last) = (expected, position.saturating_sub(1));
            return Err(Problem::Deleted {
                after: self.head.seq,
                first,
                last,
            });
        }
        if prev != self.head.hash {
            let how = match self.head.seq {
                0 => Edit::BadStart,
                _ => Edit::Rehashed { next: position },
            };
            return Err(Problem::Edited {
                seq: self.head.seq.max(1),
                how,
            });
        }
        self.head = ChainHead {
            seq: position,
            hash,
        };
        self.events = self.events.saturating_add(1);
        self.match_checkpoints()
    }

    /// Checks a checkpoint's signature and queues it until the event it covers arrives.
    pub fn checkpoint(&mut self, stored: &StoredCheckpoint) -> Result<(), Problem> {
        let bad = |fault| Problem::BadCheckpoint {
            seq: stored.seq,
            fault,
        };
        let head = stored.check(self.trusted.as_ref()).map_err(bad)?;
        let signer = stored_key_id(stored);
        if !self.signers.contains(&signer) {
            self.signers.push(signer);
        }
        self.checkpoints = self.checkpoints.saturating_add(1);
        self.last_checkpoint = self.last_checkpoint.max(Some(head.seq));
        if head.seq < self.head.seq {
            return Err(bad(CheckpointFault::Malformed(
                "it arrived after the event it covers",
            )));
        }
        self.pending.push_back(head);
        self.match_checkpoints()
    }

    /// Ends verification: any checkpoint still waiting names events that are gone.
    pub fn finish(self) -> Result<Report, Problem> {
        if let Some(checkpoint) = self.pending.iter().map(|head| head.seq).max() {
            return Err(Problem::Truncated {
                checkpoint,
                last: self.head.seq,
            });
        }
        Ok(Report {
            events: self.events,
            checkpoints: self.checkpoints,
            head: self.head,
            last_checkpoint: self.last_checkpoint,
            signers: self.signers,
            trusted: self.trusted.map(|key| key.key_id()),
        })
    }

    fn match_checkpoints(&mut self) -> Result<(), Problem> {
        while let Some(head) = self.pending.front().copied() {
            if head.seq > self.head.seq {
                break;
            }
            self.pending.pop_front();
            if head.seq == self.head.seq && head.hash != self.head.hash {
                let how = Edit::ContradictsCheckpoint;
                return Err(Problem::Edited { seq: head.seq, how });
            }
        }
        Ok(())
    }
}

/// Verifies a whole chain held in memory (rows and checkpoints in ascending `seq` order).
pub fn verify(
    rows: impl IntoIterator<Item = StoredRow>,
    checkpoints: impl IntoIterator<Item = StoredCheckpoint>,
    trusted: Option<PublicKey>,
) -> Result<Report, Problem> {
    let mut verifier = Verifier::new(trusted);
    let mut checkpoints = checkpoints.into_iter().peekable();
    for row in rows {
        while let Some(checkpoint) = checkpoints.next_if(|c| c.seq <= row.seq) {
            verifier.checkpoint(&checkpoint)?;
        }
        verifier.event(&row)?;
    }
    for checkpoint in checkpoints {
        verifier.checkpoint(&checkpoint)?;
    }
    verifier.finish()
}

fn stored_key_id(stored: &StoredCheckpoint) -> KeyId {
    let bytes = <[u8; 32]>::try_from(stored.public_key.as_slice()).unwrap_or([0; 32]);
    PublicKey::from_bytes(&bytes)
        .map(|key| key.key_id())
        .unwrap_or(KeyId::ZERO)
}

impl Problem {
    /// A one-word name of the problem: `edited`, `deleted`, `reordered`, `truncated`,
    /// `bad_checkpoint` or `malformed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Edited { .. } => "edited",
            Self::Deleted { .. } => "deleted",
            Self::Reordered { .. } => "reordered",
            Self::Truncated { .. } => "truncated",
            Self::BadCheckpoint { .. } => "bad_checkpoint",
            Self::Malformed { .. } => "malformed",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Edited { seq, how } => match how {
                Edit::ContentChanged => {
                    write!(
                        f,
                        "event {seq} was edited: its contents no longer match its hash"
                    )
                }
                Edit::Rehashed { next } => write!(
                    f,
                    "event {seq} was edited and its hash recomputed: event {next} no longer \
                     links to it"
                ),
                Edit::BadStart => {
                    write!(
                        f,
                        "event {seq} was edited: it does not start from the genesis hash"
                    )
                }
                Edit::ContradictsCheckpoint => write!(
                    f,
                    "event {seq} does not match the signed checkpoint at event {seq}: it or an \
                     earlier event was edited and the chain re-hashed"
                ),
            },
            Self::Deleted { after, first, last } if first == last => {
                write!(
                    f,
                    "event {first} was deleted: the log jumps from event {after} to {}",
                    { last.saturating_add(1) }
                )
            }
            Self::Deleted { after, first, last } => write!(
                f,
                "events {first} to {last} were deleted: the log jumps from event {after} to {}",
                last.saturating_add(1)
            ),
            Self::Reordered { position, found } => write!(
                f,
                "events were reordered: position {position} holds event {found}"
            ),
            Self::Truncated { checkpoint, last } => write!(
                f,
                "the log was truncated: a signed checkpoint covers events up to {checkpoint} but \
                 the log ends at event {last}"
            ),
            Self::BadCheckpoint { seq, fault } => {
                write!(f, "the checkpoint at event {seq} is not valid: {fault}")
            }
            Self::Malformed { seq, error } => {
                write!(f, "the row at position {seq} is malformed: {error}")
            }
        }
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
