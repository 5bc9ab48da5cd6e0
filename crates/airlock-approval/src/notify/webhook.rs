//! The generic webhook: every request and decision as a JSON event, signed so the receiver
//! can tell it came from this gateway and was not replayed long after.
//!
//! Headers: `X-Airlock-Event` (`approval.requested`, `approval.approved`, …),
//! `X-Airlock-Timestamp` (Unix seconds) and `X-Airlock-Signature: v1=<hex>`, the HMAC-SHA256
//! of `<timestamp>.<body>` under the webhook's secret.

use crate::Request;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;

/// The event's body: its type, when, and the request as the API shows it.
pub fn event(name: &str, request: &Request, at: OffsetDateTime) -> Value {
    json!({
        "type": format!("approval.{name}"),
        "at": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "request": request,
    })
}

/// `v1=` + hex HMAC-SHA256(secret, `<timestamp>.<body>`).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature(b"secret", 1_700_000_000, b"{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64, "{a}");
        assert_ne!(a, signature(b"secret", 1_700_000_001, b"{}"));
        assert_ne!(a, signature(b"secret", 1_700_000_000, b"{ }"));
        assert_ne!(a, signature(b"other", 1_700_000_000, b"{}"));
        assert_eq!(a, signature(b"secret", 1_700_000_000, b"{}"));
    }
}
