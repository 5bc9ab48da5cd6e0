//! One readable line per event, for `airlock audit tail` and logs:
//! `#42 2026-01-01T00:00:00Z deny agent deploy-bot (for alice) on prod-db [pg-drop]: DROP …`.

use std::fmt::Write;

use time::format_description::well_known::Rfc3339;

use crate::{EventKind, Outcome, Record};

impl Record {
    /// The event on one line; command text and errors are cut to `max_text` characters.
    pub fn summary(&self, max_text: usize) -> String {
        let time = self.event.time.format(&Rfc3339).unwrap_or_default();
        let who = self.event.identity();
        let mut line = format!("#{} {time} ", self.seq);
        let mut actor = format!("{} {}", who.kind.as_str(), who.id);
        if let Some(human) = &who.acting_for {
            let _ = write!(actor, " (for {human})");
        }
        let _ = match &self.event.kind {
            EventKind::Decision(decision) => {
                let _ = write!(
                    line,
                    "{} {actor} on {}",
                    decision.verdict, decision.connection
                );
                if !decision.rules.is_empty() {
                    let rules: Vec<&str> = decision.rules.iter().map(|r| r.as_str()).collect();
                    let _ = write!(line, " [{}]", rules.join(", "));
                }
                write!(line, ": {}", one_line(&decision.text, max_text))
            }
            EventKind::Outcome(outcome) => write!(
                line,
                "outcome of #{} for {actor} on {}: {}",
                outcome.decision_seq,
                outcome.connection,
                outcome_text(&outcome.outcome, max_text)
            ),
        };
        line
    }
}

fn outcome_text(outcome: &Outcome, max_text: usize) -> String {
    match outcome {
        Outcome::NotRun => "not run".to_owned(),
        Outcome::Succeeded { rows: Some(rows) } => format!("succeeded ({rows} rows)"),
        Outcome::Succeeded { rows: None } => "succeeded".to_owned(),
        Outcome::Failed { error } => format!("failed: {}", one_line(error, max_text)),
    }
}

/// `text` on one line (control characters escaped), cut to `max` characters with `…`.
pub fn one_line(text: &str, max: usize) -> String {
    let mut line = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            line.push('…');
            break;
        }
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::decision_event;
    use crate::{AuditEvent, Chain, OutcomeRecord};

    #[test]
    fn summaries_are_one_readable_line() {
        let mut chain = Chain::new();
        let decision = decision_event("DROP TABLE users;\nSELECT 1");
        let record = chain.seal(&decision).unwrap().to_row().decode().unwrap();
        assert_eq!(
            record.summary(200),
            "#1 2026-01-01T00:00:00Z deny agent deploy-bot (for alice@example.com) on prod-db \
             [test]: DROP TABLE users;\\nSELECT 1"
        );
        let outcome = OutcomeRecord {
            decision_seq: 1,
            identity: decision.identity().clone(),
            connection: airlock_model::Name::new("prod-db").unwrap(),
            outcome: Outcome::Failed {
                error: "permission denied".into(),
            },
        };
        let event = AuditEvent::new(decision.time, EventKind::Outcome(outcome));
        let record = chain.seal(&event).unwrap().to_row().decode().unwrap();
        assert!(
            record
                .summary(9)
                .ends_with("on prod-db: failed: permissio…")
        );
    }

    #[test]
    fn one_line_escapes_and_cuts() {
        assert_eq!(one_line("a\nb\tc", 10), "a\\nb\\tc");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
