//! One readable line per event, for `airlock audit tail` and logs:
//! `#42 2026-01-01T00:00:00Z deny agent deploy-bot (for alice) on prod-db [pg-drop]: DROP …`.

use std::fmt::Write;

use airlock_model::Identity;
use time::format_description::well_known::Rfc3339;

use crate::{EventKind, Outcome, Record};

impl Record {
    /// The event on one line; command text and errors are cut to `max_text` characters.
    pub fn summary(&self, max_text: usize) -> String {
        let time = self.event.time.format(&Rfc3339).unwrap_or_default();
        let mut line = format!("#{} {time} ", self.seq);
        let actor = self.event.identity().map(actor).unwrap_or_default();
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
                "outcome of statement {} of session {} for {actor} on {}: {}",
                outcome.statement,
                outcome.session,
                outcome.connection,
                outcome_text(&outcome.outcome, max_text)
            ),
            EventKind::SessionOpened(open) => write!(
                line,
                "session {} opened by {actor} on {} from {}{}{}",
                open.session,
                open.connection,
                open.client,
                if open.tls { " (tls)" } else { "" },
                open.application_name
                    .as_deref()
                    .map(|app| format!(" app {}", one_line(app, max_text)))
                    .unwrap_or_default()
            ),
            EventKind::SessionClosed(end) => write!(
                line,
                "session {} closed for {actor} on {} after {} statement(s): {}",
                end.session,
                end.connection,
                end.statements,
                one_line(&end.reason, max_text)
            ),
            EventKind::Approval(event) => {
                line.push_str(&crate::approval::summary(event, max_text));
                Ok(())
            }
        };
        line
    }
}

/// `agent deploy-bot (for alice)`.
pub(crate) fn actor(who: &Identity) -> String {
    let mut actor = format!("{} {}", who.kind.as_str(), who.id);
    if let Some(human) = &who.acting_for {
        let _ = write!(actor, " (for {human})");
    }
    actor
}

fn outcome_text(outcome: &Outcome, max_text: usize) -> String {
    match outcome {
        Outcome::NotRun => "not run".to_owned(),
        Outcome::Succeeded {
            rows, duration_us, ..
        } => {
            let mut text = "succeeded".to_owned();
            if let Some(rows) = rows {
                let _ = write!(text, " ({rows} rows)");
            }
            if let Some(us) = duration_us {
                let _ = write!(text, " in {us} µs");
            }
            text
        }
        Outcome::Failed {
            sqlstate, error, ..
        } => match sqlstate {
            Some(code) => format!("failed ({code}): {}", one_line(error, max_text)),
            None => format!("failed: {}", one_line(error, max_text)),
        },
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
            session: airlock_model::SessionId::from_u64(7),
            statement: 3,
            identity: decision.identity().unwrap().clone(),
            connection: airlock_model::Name::new("prod-db").unwrap(),
            outcome: Outcome::Failed {
                sqlstate: Some("42501".into()),
                error: "permission denied".into(),
                duration_us: Some(12),
            },
        };
        let event = AuditEvent::new(decision.time, EventKind::Outcome(outcome));
        let record = chain.seal(&event).unwrap().to_row().decode().unwrap();
        assert_eq!(
            record.summary(9),
            "#2 2026-01-01T00:00:00Z outcome of statement 3 of session 0000000000000007 for \
             agent deploy-bot (for alice@example.com) on prod-db: failed (42501): permissio…"
        );
    }

    #[test]
    fn one_line_escapes_and_cuts() {
        assert_eq!(one_line("a\nb\tc", 10), "a\\nb\\tc");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
