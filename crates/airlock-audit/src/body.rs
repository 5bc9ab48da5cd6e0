//! The canonical body of the two events every statement produces (a decision, an outcome),
//! written directly: byte for byte what `serde_json` writes for them (the tests hold it to
//! that), without its per-string calls — keys go out as one literal with their punctuation,
//! and a string is copied whole when it needs no escape. Serde's encoding was a quarter of the
//! gateway's user-space instructions per statement. Every other event goes through serde.

use airlock_model::{Identity, SessionId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{DecisionRecord, EventKind, Outcome, OutcomeRecord};

/// The whole canonical body (`{"v":1,"seq":…,"time":…,"event":{…}}`) of a statement's decision
/// or outcome at position `seq`; `false` (the caller clears `out` and asks serde) for every other
/// event, and for a time RFC 3339 cannot show.
pub(crate) fn body(out: &mut Vec<u8>, seq: u64, time: OffsetDateTime, kind: &EventKind) -> bool {
    match kind {
        EventKind::Decision(record) if record.approval.is_none() => {}
        EventKind::Outcome(_) => {}
        EventKind::Decision(_)
        | EventKind::SessionOpened(_)
        | EventKind::SessionClosed(_)
        | EventKind::Approval(_) => return false,
    }
    out.extend_from_slice(br#"{"v":"#);
    out.extend_from_slice(itoa::Buffer::new().format(crate::FORMAT_VERSION).as_bytes());
    out.extend_from_slice(br#","seq":"#);
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    out.extend_from_slice(br#","time":""#);
    if time.format_into(out, &Rfc3339).is_err() {
        return false;
    }
    out.extend_from_slice(br#"","event":"#);
    match kind {
        EventKind::Decision(record) => {
            if !decision(out, record) {
                return false;
            }
        }
        EventKind::Outcome(record) => outcome_event(out, record),
        EventKind::SessionOpened(_) | EventKind::SessionClosed(_) | EventKind::Approval(_) => {
            return false;
        }
    }
    out.push(b'}');
    true
}

/// Appends `{"type":"decision",…}` for `record`; `false` (nothing written) for a record this
/// writer does not cover (one naming an approval request), which serde encodes instead.
fn decision(out: &mut Vec<u8>, record: &DecisionRecord) -> bool {
    if record.approval.is_some() {
        return false;
    }
    out.extend_from_slice(br#"{"type":"decision","#);
    identity(out, &record.identity);
    key_str(out, "connection", record.connection.as_str());
    key_raw(out, "protocol", record.protocol.as_str());
    if let Some(session) = record.session {
        key_session(out, session);
    }
    if let Some(statement) = record.statement {
        key_u64(out, "statement", statement);
    }
    key_str(out, "text", &record.text);
    key_raw(
        out,
        "text_sha256",
        airlock_model::hex32(record.text_sha256.as_bytes(), &mut [0; 64]),
    );
    key_raw(out, "verdict", record.verdict.as_str());
    out.extend_from_slice(br#","rules":["#);
    for (i, rule) in record.rules.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, rule.as_str());
    }
    out.push(b']');
    key_str(out, "reason", &record.reason);
    if let Some(outcome) = &record.outcome {
        out.extend_from_slice(br#","outcome":"#);
        self::outcome(out, outcome);
    }
    out.push(b'}');
    true
}

/// Appends `{"type":"outcome",…}` for `record`.
fn outcome_event(out: &mut Vec<u8>, record: &OutcomeRecord) {
    out.extend_from_slice(br#"{"type":"outcome""#);
    key_session(out, record.session);
    key_u64(out, "statement", record.statement);
    out.push(b',');
    identity(out, &record.identity);
    key_str(out, "connection", record.connection.as_str());
    out.extend_from_slice(br#","outcome":"#);
    outcome(out, &record.outcome);
    out.push(b'}');
}

/// `"identity":{…}` (no leading comma).
fn identity(out: &mut Vec<u8>, identity: &Identity) {
    out.extend_from_slice(br#""identity":{"kind":""#);
    out.extend_from_slice(identity.kind.as_str().as_bytes());
    out.extend_from_slice(br#"","id":"#);
    string(out, identity.id.as_str());
    out.extend_from_slice(br#","groups":["#);
    for (i, group) in identity.groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, group.as_str());
    }
    out.push(b']');
    if let Some(human) = &identity.acting_for {
        key_str(out, "acting_for", human.as_str());
    }
    out.push(b'}');
}

fn outcome(out: &mut Vec<u8>, outcome: &Outcome) {
    out.extend_from_slice(br#"{"status":""#);
    out.extend_from_slice(outcome.as_str().as_bytes());
    out.push(b'"');
    match outcome {
        Outcome::NotRun => {}
        Outcome::Succeeded {
            rows,
            duration_us,
            bytes,
        } => {
            if let Some(rows) = rows {
                key_u64(out, "rows", *rows);
            }
            if let Some(duration) = duration_us {
                key_u64(out, "duration_us", *duration);
            }
            if let Some(bytes) = bytes {
                key_u64(out, "bytes", *bytes);
            }
        }
        Outcome::Failed {
            sqlstate,
            error,
            duration_us,
        } => {
            if let Some(code) = sqlstate {
                key_str(out, "sqlstate", code);
            }
            key_str(out, "error", error);
            if let Some(duration) = duration_us {
                key_u64(out, "duration_us", *duration);
            }
        }
    }
    out.push(b'}');
}

/// `,"key":` — keys are ASCII identifiers, never escaped.
fn key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn key_str(out: &mut Vec<u8>, name: &str, value: &str) {
    key(out, name);
    string(out, value);
}

/// A value known to need no escaping (enum names, hex digits).
fn key_raw(out: &mut Vec<u8>, name: &str, value: &str) {
    key(out, name);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
}

fn key_u64(out: &mut Vec<u8>, name: &str, value: u64) {
    key(out, name);
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn key_session(out: &mut Vec<u8>, session: SessionId) {
    key(out, "session");
    let mut digits = [0; 16];
    out.push(b'"');
    if hex::encode_to_slice(session.as_u64().to_be_bytes(), &mut digits).is_ok() {
        out.extend_from_slice(&digits);
    }
    out.push(b'"');
}

/// A JSON string as serde_json writes it: `"` and `\` escaped with a backslash, the control
/// characters with their short escape or `\u00XX` (lowercase hex), everything else as is.
fn string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"00");
            out.push(HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0'));
            out.push(HEX.get(usize::from(byte & 0xf)).copied().unwrap_or(b'0'));
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use airlock_model::{IdentityKind, Name, Protocol, TextHash, Verdict};
    use proptest::prelude::*;

    use super::*;

    fn serde_decision(record: &DecisionRecord) -> String {
        serde_json::to_string(&crate::EventKind::Decision(record.clone())).unwrap()
    }

    fn fast_decision(record: &DecisionRecord) -> String {
        let mut out = Vec::new();
        assert!(decision(&mut out, record));
        String::from_utf8(out).unwrap()
    }

    fn name() -> impl Strategy<Value = Name> {
        "[a-z@.\"\\\\\u{e9}-]{1,12}".prop_map(|s| Name::new(s).unwrap())
    }

    fn outcome_strategy() -> impl Strategy<Value = Outcome> {
        let number = proptest::option::of(any::<u64>());
        prop_oneof![
            Just(Outcome::NotRun),
            (number.clone(), number.clone(), number.clone()).prop_map(
                |(rows, duration_us, bytes)| Outcome::Succeeded {
                    rows,
                    duration_us,
                    bytes
                }
            ),
            (proptest::option::of("[0-9A-Z]{5}"), any::<String>(), number).prop_map(
                |(sqlstate, error, duration_us)| Outcome::Failed {
                    sqlstate,
                    error,
                    duration_us
                }
            ),
        ]
    }

    fn identity_strategy() -> impl Strategy<Value = Identity> {
        (
            prop_oneof![
                Just(IdentityKind::Human),
                Just(IdentityKind::Agent),
                Just(IdentityKind::Service)
            ],
            name(),
            proptest::collection::btree_set(name(), 0..3),
            proptest::option::of(name()),
        )
            .prop_map(|(kind, id, groups, acting_for)| Identity {
                kind,
                id,
                groups: groups.into_iter().collect::<BTreeSet<_>>(),
                acting_for,
            })
    }

    fn record_strategy() -> impl Strategy<Value = DecisionRecord> {
        let protocol = prop_oneof![
            Just(Protocol::PgSimple),
            Just(Protocol::PgExtended),
            Just(Protocol::Mcp),
            Just(Protocol::DryRun),
        ];
        let verdict = prop_oneof![
            Just(Verdict::Allow),
            Just(Verdict::Review),
            Just(Verdict::Deny)
        ];
        (
            (identity_strategy(), name(), protocol),
            (
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u64>()),
            ),
            (
                any::<String>(),
                verdict,
                proptest::collection::vec(name(), 0..3),
            ),
            (any::<String>(), proptest::option::of(outcome_strategy())),
        )
            .prop_map(
                |(
                    (identity, connection, protocol),
                    (session, statement),
                    (text, verdict, rules),
                    (reason, outcome),
                )| DecisionRecord {
                    identity,
                    connection,
                    protocol,
                    session: session.map(SessionId::from_u64),
                    statement,
                    text_sha256: TextHash::of(&text),
                    text,
                    verdict,
                    rules,
                    reason,
                    outcome,
                    approval: None,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn decisions_encode_exactly_as_serde_does(record in record_strategy()) {
            prop_assert_eq!(fast_decision(&record), serde_decision(&record));
        }

        #[test]
        fn outcomes_encode_exactly_as_serde_does(
            identity in identity_strategy(),
            connection in name(),
            session in any::<u64>(),
            statement in any::<u64>(),
            outcome in outcome_strategy(),
        ) {
            let record = OutcomeRecord {
                session: SessionId::from_u64(session),
                statement,
                identity,
                connection,
                outcome,
            };
            let mut out = Vec::new();
            outcome_event(&mut out, &record);
            let expected = serde_json::to_string(&crate::EventKind::Outcome(record)).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn every_ascii_character_and_some_beyond_escape_as_serde_does() {
        let text: String = (0u8..=0x7f).map(char::from).chain("é€😀".chars()).collect();
        let mut out = Vec::new();
        string(&mut out, &text);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&text).unwrap()
        );
    }

    #[test]
    fn a_record_naming_an_approval_is_left_to_serde() {
        let mut record = match crate::testing::decision_event("SELECT 1").kind {
            crate::EventKind::Decision(record) => record,
            other => panic!("{other:?}"),
        };
        record.approval = Some(airlock_approval::RequestId::from_bytes([7; 16]));
        let mut out = Vec::new();
        assert!(!decision(&mut out, &record));
        assert!(out.is_empty());
    }
}
