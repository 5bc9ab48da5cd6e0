//! Slack, without the network: the Block Kit message a request is posted as (and updated to
//! once decided), the check of an interaction callback's `X-Slack-Signature` (v0: HMAC-SHA256
//! over `v0:<timestamp>:<body>`, within five minutes), and the reading of a button click.

use crate::{Choice, Request, RequestId, State};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::view;

/// How far a callback's timestamp may be from now (Slack's advice: five minutes).
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;
/// Slack's limits (Block Kit reference): section text 3 000 characters, header 150, field 2 000.
const SECTION_MAX: usize = 3_000;
const HEADER_MAX: usize = 150;
const FIELD_MAX: usize = 2_000;
/// `action_id`s of the message's buttons.
pub const APPROVE: &str = "airlock_approve";
pub const DENY: &str = "airlock_deny";
const OPEN: &str = "airlock_open";

/// Why a callback is not read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no `X-Slack-Signature` or `X-Slack-Request-Timestamp` header")]
    Missing,
    #[error("`X-Slack-Request-Timestamp` is not a Unix time")]
    BadTimestamp,
    #[error(
        "the request was signed {0} s away from now (more than {MAX_SKEW_SECONDS} s): a replay or a wrong clock"
    )]
    Stale(i64),
    #[error("the signature does not match the body (wrong signing secret, or a changed body)")]
    Mismatch,
}

/// Checks a callback before anything in it is read: the timestamp is within five minutes of
/// `now` and `signature` is `v0=` + hex HMAC-SHA256(secret, `v0:<timestamp>:<body>`).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = now.saturating_sub(at);
    if skew.abs() > MAX_SKEW_SECONDS {
        return Err(SignatureError::Stale(skew));
    }
    let given = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or(SignatureError::Mismatch)?;
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    // Constant time: `verify_slice` compares without an early exit.
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature Slack would send for `body` at `timestamp` (for tests and the docs' example).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// A click on one of the message's buttons, as airlock needs it.
#[derive(Debug, PartialEq, Eq)]
pub struct Click {
    /// The Slack user who clicked (mapped to an identity by `[approvals.slack.users]`).
    pub user: String,
    pub request: RequestId,
    pub choice: Choice,
    /// Where to answer the user privately (a refusal).
    pub response_url: Option<String>,
}

/// Why an interaction payload is not a click airlock acts on.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClickError {
    #[error("the body has no `payload` field")]
    NoPayload,
    #[error("the payload is not a Slack interaction: {0}")]
    Malformed(String),
    /// Another interaction (e.g. the "Open in airlock" link): nothing to do.
    #[error("not an approve or deny click")]
    NotAVote,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: PayloadUser,
    #[serde(default)]
    actions: Vec<PayloadAction>,
    #[serde(default)]
    response_url: Option<String>,
}

#[derive(Deserialize)]
struct PayloadUser {
    id: String,
}

#[derive(Deserialize)]
struct PayloadAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// Reads a `block_actions` callback (`application/x-www-form-urlencoded`, the JSON in
/// `payload`). Call only after [`verify`].
pub fn click(body: &[u8]) -> Result<Click, ClickError> {
    let payload = form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or(ClickError::NoPayload)?;
    let payload: Payload =
        serde_json::from_str(&payload).map_err(|e| ClickError::Malformed(e.to_string()))?;
    if payload.kind != "block_actions" {
        return Err(ClickError::NotAVote);
    }
    let action = payload
        .actions
        .iter()
        .find(|a| a.action_id == APPROVE || a.action_id == DENY)
        .ok_or(ClickError::NotAVote)?;
    let choice = if action.action_id == APPROVE {
        Choice::Approve
    } else {
        Choice::Deny
    };
    let request = action
        .value
        .as_deref()
        .unwrap_or_default()
        .parse::<RequestId>()
        .map_err(|e| ClickError::Malformed(e.to_string()))?;
    Ok(Click {
        user: payload.user.id,
        request,
        choice,
        response_url: payload.response_url,
    })
}

/// `chat.postMessage`'s body: the request with Approve/Deny buttons and a link to the inbox.
pub fn post_message(channel: &str, request: &Request, inbox: Option<&str>) -> Value {
    let (text, blocks) = message(request, inbox);
    json!({"channel": channel, "text": text, "blocks": blocks})
}

/// `chat.update`'s body: the same message, its buttons replaced by the outcome once decided.
pub fn update_message(channel: &str, ts: &str, request: &Request, inbox: Option<&str>) -> Value {
    let (text, blocks) = message(request, inbox);
    json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks})
}

/// The fallback text (notifications, screen readers) and the blocks.
fn message(request: &Request, inbox: Option<&str>) -> (String, Vec<Value>) {
    let id = request.id();
    let title = format!(
        "Approval requested: {} on {}",
        view::kinds(request),
        request.connection()
    );
    let mut blocks = vec![
        json!({"type": "header", "text": plain(&title, HEADER_MAX)}),
        json!({"type": "section", "fields": [
            field("Requester", &view::requester(request)),
            field("Connection", request.connection().as_str()),
            field("Rule", &format!("`{}`: {}", request.context().rule, request.context().message)),
            field("Estimated rows", &view::rows(request)),
            field("Objects", &view::objects(request)),
            field("Approvers", &view::approvers(request)),
        ]}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": code(request.text())}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(&format!(
            "request {id} · expires {}", view::when(request.expires_at())
        ))}]}),
    ];
    let link = inbox.map(|base| format!("{base}/approvals/{id}"));
    if matches!(request.state(), State::Pending) {
        let mut buttons = vec![
            json!({"type": "button", "action_id": APPROVE, "style": "primary",
                   "text": plain("Approve", 75), "value": id.to_string()}),
            json!({"type": "button", "action_id": DENY, "style": "danger",
                   "text": plain("Deny", 75), "value": id.to_string(),
                   "confirm": {"title": plain("Deny this request?", 100),
                               "text": plain("The statement will not run.", 300),
                               "confirm": plain("Deny", 30), "deny": plain("Cancel", 30)}}),
        ];
        if let Some(url) = &link {
            buttons.push(json!({"type": "button", "action_id": OPEN,
                                "text": plain("Open in airlock", 75), "url": url}));
        }
        blocks.push(json!({"type": "actions", "block_id": "airlock_vote", "elements": buttons}));
    } else {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text":
            truncate(&format!("*{}*", escape(&view::status(request))), SECTION_MAX)}}));
    }
    let fallback = format!(
        "Approval requested by {} on {}: {} ({})",
        view::requester(request),
        request.connection(),
        view::kinds(request),
        view::status(request)
    );
    (escape(&fallback), blocks)
}

fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": truncate(text, max), "emoji": false})
}

fn field(label: &str, value: &str) -> Value {
    let text = format!("*{label}*\n{}", escape(value));
    json!({"type": "mrkdwn", "text": truncate(&text, FIELD_MAX)})
}

/// The statement as a code block (its own backtick runs broken so the block cannot end early).
fn code(text: &str) -> String {
    let body = escape(text).replace("```", "`\u{200b}``");
    let fence = 8; // "```\n" + "\n```"
    format!("```\n{}\n```", truncate(&body, SECTION_MAX - fence))
}

/// Slack's mrkdwn escaping: `&`, `<` and `>` (so text cannot make links or mentions).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const NOW: i64 = 1_531_420_618;

    #[test]
    fn slacks_documented_example_signature_verifies() {
        // The worked example in Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(SECRET, "1531420618", body), signature);
        assert_eq!(
            verify(SECRET, Some("1531420618"), Some(signature), body, NOW),
            Ok(())
        );
    }

    #[test]
    fn tampered_replayed_and_missing_signatures_are_refused() {
        let body = b"payload=%7B%7D";
        let good = sign(SECRET, "1531420618", body);
        let check = |ts: Option<&str>, sig: Option<&str>, body: &[u8], now: i64| {
            verify(SECRET, ts, sig, body, now)
        };
        assert_eq!(check(Some("1531420618"), Some(&good), body, NOW), Ok(()));
        assert_eq!(
            check(Some("1531420618"), Some(&good), b"payload=%7B%7E", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"another secret",
                Some("1531420618"),
                Some(&good),
                body,
                NOW
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(Some("1531420618"), Some(&good), body, NOW + 301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            check(Some("1531420618"), Some(&good), body, NOW - 301),
            Err(SignatureError::Stale(-301))
        );
        assert_eq!(
            check(Some("1531420618"), Some(&good), body, NOW + 300),
            Ok(())
        );
        assert_eq!(
            check(None, Some(&good), body, NOW),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(Some("1531420618"), None, body, NOW),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(Some("yesterday"), Some(&good), body, NOW),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check(Some("1531420618"), Some("v1=00"), body, NOW),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it forward breaks the signature.
        assert_eq!(
            check(Some("1531420700"), Some(&good), body, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_button_click_payload_is_read() {
        let id = RequestId::from_bytes([9; 16]);
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "U012AB3CD", "username": "carol", "team_id": "T0001"},
            "api_app_id": "A0001",
            "container": {"type": "message", "message_ts": "1700000000.000100"},
            "channel": {"id": "C0001", "name": "db-approvals"},
            "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
            "actions": [{"type": "button", "action_id": DENY, "block_id": "airlock_vote",
                         "value": id.to_string(), "action_ts": "1700000001.000200"}]
        });
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        assert_eq!(
            click(body.as_bytes()),
            Ok(Click {
                user: "U012AB3CD".into(),
                request: id,
                choice: Choice::Deny,
                response_url: Some("https://hooks.slack.com/actions/T0001/1/abc".into()),
            })
        );
        assert_eq!(click(b"other=1"), Err(ClickError::NoPayload));
        assert!(matches!(
            click(b"payload=%7B"),
            Err(ClickError::Malformed(_))
        ));
        let open = json!({"type": "block_actions", "user": {"id": "U1"},
                          "actions": [{"action_id": OPEN}]});
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &open.to_string())
            .finish();
        assert_eq!(click(body.as_bytes()), Err(ClickError::NotAVote));
    }

    #[test]
    fn text_cannot_break_out_of_mrkdwn() {
        assert_eq!(
            escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
        assert!(!code("select '```'; <x>").contains("'```'"));
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
