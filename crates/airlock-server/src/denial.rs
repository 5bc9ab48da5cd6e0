//! What a client sees when airlock refuses a statement: an ErrorResponse with SQLSTATE
//! `42501` naming the rule, the reason and, where the rule gives one, what would be allowed.
//! The statement that stands in for it upstream is a syntax error, so the server fails (and
//! aborts a transaction block) at exactly that point, and its error is swapped for ours.

use airlock_model::{Decision, Verdict};
use airlock_pg::{Severity, encode_error};

/// Sent upstream instead of a denied simple query (body of a `Q` message).
pub const STAND_IN_QUERY: &[u8] = b"airlock denied this statement\0";
/// Sent upstream instead of a denied Parse: unnamed statement, no parameter types.
pub const STAND_IN_PARSE: &[u8] = b"\0airlock denied this statement\0\0\0";
/// The SQLSTATE of the stand-in's error, the one airlock replaces.
pub const STAND_IN_CODE: &str = "42601";
/// SQLSTATE of a denial.
pub const DENIED: &str = "42501";

/// The ErrorResponse for a deny or review decision.
pub fn error_for(decision: &Decision) -> Vec<u8> {
    let rules: Vec<&str> = decision.deciding_rules().map(|r| r.rule.as_str()).collect();
    let rules = rules.join("`, `");
    let reason = decision.reason();
    let hint = decision.deciding_rules().find_map(|r| r.hint.clone());
    let (message, hint) = match decision.verdict {
        Verdict::Review => (
            format!("approval required by airlock rule `{rules}`: {reason}"),
            Some(hint.map_or_else(
                || {
                    "approvals are not available on this gateway yet; ask an operator to run it"
                        .to_owned()
                },
                |h| format!("{h} (approvals are not available on this gateway yet)"),
            )),
        ),
        Verdict::Deny | Verdict::Allow => {
            (format!("denied by airlock rule `{rules}`: {reason}"), hint)
        }
    };
    let mut out = Vec::with_capacity(message.len() + 64);
    encode_error(
        &mut out,
        Severity::Error,
        DENIED,
        &message,
        None,
        hint.as_deref(),
    );
    out
}

/// The ErrorResponse for a statement refused because it cannot be recorded.
pub fn audit_error(why: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_error(
        &mut out,
        Severity::Error,
        "58030",
        &format!("airlock refused the statement: {why}; nothing was run"),
        None,
        Some("the gateway's operator can check the audit store (disk space, permissions)"),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_pg::{Decoded, Frame, decode_frame, parse_error};

    #[test]
    fn denial_names_rule_reason_and_hint() {
        let decision = Decision::internal_deny("pg-mass-delete", "DELETE without WHERE");
        let bytes = error_for(&decision);
        let Decoded::Complete(frame, _) = decode_frame(&bytes, 1 << 20).unwrap() else {
            panic!()
        };
        let fields = parse_error(&Frame {
            tag: frame.tag,
            body: frame.body,
        })
        .unwrap();
        assert_eq!(fields.code, "42501");
        assert_eq!(
            fields.message,
            "denied by airlock rule `pg-mass-delete`: DELETE without WHERE"
        );
    }

    #[test]
    fn stand_ins_are_well_formed_messages() {
        let mut q = Vec::new();
        airlock_pg::encode_frame(&mut q, b'Q', STAND_IN_QUERY);
        let Decoded::Complete(frame, _) = decode_frame(&q, 1 << 20).unwrap() else {
            panic!()
        };
        assert!(matches!(
            airlock_pg::parse_frontend(&frame).unwrap(),
            airlock_pg::FrontendMessage::Query {
                sql: "airlock denied this statement"
            }
        ));
        let mut p = Vec::new();
        airlock_pg::encode_frame(&mut p, b'P', STAND_IN_PARSE);
        let Decoded::Complete(frame, _) = decode_frame(&p, 1 << 20).unwrap() else {
            panic!()
        };
        assert!(matches!(
            airlock_pg::parse_frontend(&frame).unwrap(),
            airlock_pg::FrontendMessage::Parse {
                name: "",
                sql: "airlock denied this statement",
                ..
            }
        ));
    }
}
