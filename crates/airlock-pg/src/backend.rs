//! Messages from the server that the gateway reads, and the ones it writes itself.

use crate::WireError;
use crate::frame::{Frame, encode_frame};
use crate::reader::Reader;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
    Notice,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
            Self::Notice => "NOTICE",
            Self::Warning => "WARNING",
        }
    }
}

/// The fields of an ErrorResponse or NoticeResponse airlock writes or reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFields {
    pub severity: String,
    /// SQLSTATE, e.g. `42501`.
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// Appends an ErrorResponse (`E`).
pub fn encode_error(
    out: &mut Vec<u8>,
    severity: Severity,
    code: &str,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
) {
    encode_fields(out, b'E', severity, code, message, detail, hint);
}

/// Appends a NoticeResponse (`N`).
pub fn encode_notice(out: &mut Vec<u8>, code: &str, message: &str, hint: Option<&str>) {
    encode_fields(out, b'N', Severity::Notice, code, message, None, hint);
}

fn encode_fields(
    out: &mut Vec<u8>,
    tag: u8,
    severity: Severity,
    code: &str,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
) {
    let mut body = Vec::new();
    let mut field = |kind: u8, value: &str| {
        body.push(kind);
        // A NUL would end the field early: never let user text split a message.
        body.extend(value.bytes().filter(|b| *b != 0));
        body.push(0);
    };
    field(b'S', severity.as_str());
    field(b'V', severity.as_str());
    field(b'C', code);
    field(b'M', message);
    if let Some(detail) = detail {
        field(b'D', detail);
    }
    if let Some(hint) = hint {
        field(b'H', hint);
    }
    body.push(0);
    encode_frame(out, tag, &body);
}

/// Reads an ErrorResponse or NoticeResponse.
pub fn parse_error(frame: &Frame<'_>) -> Result<ErrorFields, WireError> {
    let mut r = Reader::new(char::from(frame.tag), frame.body);
    let mut fields = ErrorFields::default();
    loop {
        let kind = r.u8("field type")?;
        if kind == 0 {
            break;
        }
        let value = r.cstr("field value")?.to_owned();
        match kind {
            b'V' => fields.severity = value,
            b'S' if fields.severity.is_empty() => fields.severity = value,
            b'C' => fields.code = value,
            b'M' => fields.message = value,
            b'D' => fields.detail = Some(value),
            b'H' => fields.hint = Some(value),
            _ => {}
        }
    }
    r.finish()?;
    Ok(fields)
}

/// Reads ReadyForQuery (`Z`): `I` idle, `T` in a transaction, `E` in a failed transaction.
pub fn parse_ready(frame: &Frame<'_>) -> Result<u8, WireError> {
    let mut r = Reader::new('Z', frame.body);
    let status = r.u8("status")?;
    r.finish()?;
    match status {
        b'I' | b'T' | b'E' => Ok(status),
        other => Err(WireError::BadStatus(char::from(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_and_nul_cannot_split_them() {
        let mut wire = Vec::new();
        encode_error(
            &mut wire,
            Severity::Error,
            "42501",
            "denied by rule `pg-drop`\0S",
            None,
            Some("add a WHERE clause"),
        );
        let Ok(crate::Decoded::Complete(frame, _)) = crate::decode_frame(&wire, crate::MAX_FRAME)
        else {
            panic!()
        };
        let fields = parse_error(&frame).unwrap();
        assert_eq!(fields.code, "42501");
        assert_eq!(fields.severity, "ERROR");
        assert_eq!(fields.message, "denied by rule `pg-drop`S");
        assert_eq!(fields.hint.as_deref(), Some("add a WHERE clause"));
    }
}
