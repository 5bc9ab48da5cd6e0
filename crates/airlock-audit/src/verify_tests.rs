use super::*;
use crate::testing::{decision_event, key, t0};
use crate::{Chain, Checkpoint};

/// `n` events with a checkpoint after every `every` events and one at the end.
fn log(n: u64, every: u64) -> (Vec<StoredRow>, Vec<StoredCheckpoint>) {
    let mut chain = Chain::new();
    let (mut rows, mut checkpoints) = (Vec::new(), Vec::new());
    for i in 1..=n {
        rows.push(
            chain
                .seal(&decision_event(&format!("SELECT {i}")))
                .unwrap()
                .to_row(),
        );
        if i % every == 0 || i == n {
            checkpoints.push(
                Checkpoint::sign(chain.head(), t0(), &key(1))
                    .unwrap()
                    .to_stored(),
            );
        }
    }
    (rows, checkpoints)
}

fn check(rows: Vec<StoredRow>, checkpoints: Vec<StoredCheckpoint>) -> Result<Report, Problem> {
    verify(rows, checkpoints, Some(key(1).public()))
}

fn rehash(row: &mut StoredRow) {
    let prev = ChainHash::from_slice(&row.prev_hash).unwrap();
    row.hash = ChainHash::link(&prev, &row.body).as_bytes().to_vec();
}

fn edit_body(row: &mut StoredRow) {
    let body = String::from_utf8(row.body.clone())
        .unwrap()
        .replace("SELECT", "DELETE");
    row.body = body.into_bytes();
}

#[test]
fn an_intact_chain_verifies() {
    let (rows, checkpoints) = log(10, 4);
    let head = rows
        .last()
        .map(|r| ChainHash::from_slice(&r.hash).unwrap())
        .unwrap();
    let report = check(rows, checkpoints).unwrap();
    assert_eq!(
        (report.events, report.checkpoints, report.last_checkpoint),
        (10, 3, Some(10))
    );
    assert_eq!(
        report.head,
        ChainHead {
            seq: 10,
            hash: head
        }
    );
    assert_eq!(report.signers, vec![key(1).public().key_id()]);
    assert_eq!(verify(vec![], vec![], None).unwrap().events, 0);
}

#[test]
fn an_edited_body_is_named() {
    let (mut rows, checkpoints) = log(10, 4);
    edit_body(&mut rows[2]);
    let problem = check(rows, checkpoints).unwrap_err();
    assert_eq!(
        problem,
        Problem::Edited {
            seq: 3,
            how: Edit::ContentChanged
        }
    );
    assert_eq!(
        problem.to_string(),
        "event 3 was edited: its contents no longer match its hash"
    );
    assert_eq!(problem.kind(), "edited");
}

#[test]
fn an_edited_and_rehashed_event_breaks_the_next_link() {
    let (mut rows, checkpoints) = log(10, 4);
    edit_body(&mut rows[2]);
    rehash(&mut rows[2]);
    let problem = check(rows, checkpoints).unwrap_err();
    assert_eq!(
        problem,
        Problem::Edited {
            seq: 3,
            how: Edit::Rehashed { next: 4 }
        }
    );
    assert!(
        problem
            .to_string()
            .contains("event 4 no longer links to it"),
        "{problem}"
    );
}

#[test]
fn a_chain_rewritten_to_the_end_contradicts_the_checkpoint() {
    let (mut rows, checkpoints) = log(10, 4);
    edit_body(&mut rows[5]);
    let mut prev = ChainHash::from_slice(&rows[5].prev_hash).unwrap();
    for row in rows.iter_mut().skip(5) {
        row.prev_hash = prev.as_bytes().to_vec();
        rehash(row);
        prev = ChainHash::from_slice(&row.hash).unwrap();
    }
    let problem = check(rows, checkpoints).unwrap_err();
    assert_eq!(
        problem,
        Problem::Edited {
            seq: 8,
            how: Edit::ContradictsCheckpoint
        }
    );
}

#[test]
fn a_first_event_that_does_not_start_from_genesis_is_edited() {
    let (mut rows, _) = log(3, 10);
    rows[0].prev_hash = vec![1; 32];
    rehash(&mut rows[0]);
    let problem = verify(rows, vec![], None).unwrap_err();
    assert_eq!(
        problem,
        Problem::Edited {
            seq: 1,
            how: Edit::BadStart
        }
    );
}

#[test]
fn deleted_events_are_named() {
    let (mut rows, checkpoints) = log(10, 4);
    rows.remove(4);
    let problem = check(rows.clone(), checkpoints.clone()).unwrap_err();
    assert_eq!(
        problem,
        Problem::Deleted {
            after: 4,
            first: 5,
            last: 5
        }
    );
    assert_eq!(
        problem.to_string(),
        "event 5 was deleted: the log jumps from event 4 to 6"
    );
    rows.drain(4..6);
    let problem = check(rows, checkpoints).unwrap_err();
    assert_eq!(
        problem,
        Problem::Deleted {
            after: 4,
            first: 5,
            last: 7
        }
    );
    assert!(
        problem
            .to_string()
            .starts_with("events 5 to 7 were deleted"),
        "{problem}"
    );
    let (mut rows, _) = log(3, 10);
    rows.remove(0);
    assert_eq!(
        verify(rows, vec![], None),
        Err(Problem::Deleted {
            after: 0,
            first: 1,
            last: 1
        })
    );
}

#[test]
fn swapped_events_are_reordered() {
    let (mut rows, checkpoints) = log(10, 4);
    rows.swap(2, 3);
    rows[2].seq = 3;
    rows[3].seq = 4;
    let problem = check(rows, checkpoints).unwrap_err();
    assert_eq!(
        problem,
        Problem::Reordered {
            position: 3,
            found: 4
        }
    );
    assert_eq!(
        problem.to_string(),
        "events were reordered: position 3 holds event 4"
    );
}

#[test]
fn deleting_the_newest_events_is_truncation() {
    let (mut rows, checkpoints) = log(10, 4);
    rows.truncate(7);
    let problem = check(rows, checkpoints).unwrap_err();
    assert_eq!(
        problem,
        Problem::Truncated {
            checkpoint: 10,
            last: 7
        }
    );
    assert!(
        problem.to_string().contains("covers events up to 10"),
        "{problem}"
    );
    assert!(check(vec![], log(3, 10).1).is_err());
}

#[test]
fn forged_or_foreign_checkpoints_are_rejected() {
    let (rows, mut checkpoints) = log(10, 4);
    checkpoints[1].signature[0] ^= 1;
    let problem = check(rows.clone(), checkpoints).unwrap_err();
    assert_eq!(
        problem,
        Problem::BadCheckpoint {
            seq: 8,
            fault: CheckpointFault::BadSignature
        }
    );
    let (_, checkpoints) = log(10, 4);
    let problem = verify(rows, checkpoints, Some(key(2).public())).unwrap_err();
    assert!(matches!(
        problem,
        Problem::BadCheckpoint {
            seq: 4,
            fault: CheckpointFault::UntrustedKey { .. }
        }
    ));
}

#[test]
fn undecodable_rows_are_malformed() {
    let (mut rows, checkpoints) = log(5, 10);
    rows[1].body = b"not json".to_vec();
    rehash(&mut rows[1]);
    let problem = check(rows.clone(), checkpoints.clone()).unwrap_err();
    assert!(matches!(
        problem,
        Problem::Malformed {
            seq: 2,
            error: DecodeError::Body(_)
        }
    ));
    rows[1].hash = vec![0; 3];
    let problem = check(rows, checkpoints).unwrap_err();
    let error = DecodeError::HashLength { column: "hash" };
    assert_eq!(problem, Problem::Malformed { seq: 2, error });
    assert_eq!(
        problem.to_string(),
        "the row at position 2 is malformed: the hash column is not a 32-byte hash"
    );
}

#[test]
fn incremental_feeding_matches_whole_verification() {
    let (rows, checkpoints) = log(25, 5);
    let mut verifier = Verifier::new(Some(key(1).public()));
    for page in rows.chunks(7) {
        let (low, high) = (page[0].seq, page[page.len() - 1].seq);
        for checkpoint in checkpoints.iter().filter(|c| c.seq >= low && c.seq <= high) {
            verifier.checkpoint(checkpoint).unwrap();
        }
        for row in page {
            verifier.event(row).unwrap();
        }
    }
    let whole = check(rows, checkpoints).unwrap();
    assert_eq!(verifier.finish().unwrap(), whole);
}
