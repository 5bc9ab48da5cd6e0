//! Announcing approval requests, end to end: a local HTTP server stands in for Slack's Web API,
//! a Teams Workflows webhook, a generic webhook and a broken one. The messages' JSON is checked
//! against Slack's documented Block Kit structure and the Adaptive Card shape; Slack button
//! clicks come back signed (valid, tampered, replayed-old, missing); deliveries are recorded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use support::approvals::{drop_table, request_id, shown};
use support::{Gateway, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SIGNING_SECRET: &str = "slack-signing-secret-for-tests";
const BOT_TOKEN: &str = "xoxb-test-token";
const WEBHOOK_SECRET: &str = "webhook-secret-for-tests";
const CHANNEL: &str = "C0AIRLOCK";

/// One request the stand-in received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{}: {e}", self.body))
    }
}

/// Slack, Teams and webhook receivers on one loopback port.
struct StandIn {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl StandIn {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(answer(stream, Arc::clone(&log)));
            }
        });
        Self { port, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until `count` requests to paths starting with `prefix` have arrived.
    async fn wait_for(&self, prefix: &str, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let found = self.to(prefix);
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{count} request(s) to {prefix} did not arrive; got {:#?}",
            self.received.lock().unwrap()
        );
    }

    fn to(&self, prefix: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// Reads one HTTP/1.1 request, records it, answers as the service at that path would.
async fn answer(mut stream: tokio::net::TcpStream, log: Arc<Mutex<Vec<Received>>>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let (head_end, length) = loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            break (end + 4, length);
        }
    };
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&data[..head_end - 4]).into_owned();
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap()
        .to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = String::from_utf8_lossy(&data[head_end..]).into_owned();
    log.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body,
    });
    // Slack's Web API answers both methods with the message's channel and ts.
    let (status, reply) = if path.starts_with("/api/chat.") {
        (
            "200 OK",
            json!({"ok": true, "channel": CHANNEL, "ts": "1700000000.000100"}).to_string(),
        )
    } else if path.starts_with("/slow") {
        // A destination that hangs: the gateway's deadline gives up on it, nobody waits.
        tokio::time::sleep(Duration::from_secs(60)).await;
        ("200 OK", String::new())
    } else if path.starts_with("/broken") {
        ("500 Internal Server Error", String::new())
    } else if path.starts_with("/teams") {
        ("202 Accepted", String::new())
    } else {
        ("200 OK", "ok".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The `[approvals]` table: retry mode, Slack, Teams, a webhook and a broken webhook.
fn approvals_config(stand_in: &StandIn, dir: &std::path::Path) -> String {
    let write = |name: &str, value: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.display().to_string()
    };
    format!(
        r#"mode = "retry"
[approvals.slack]
channel = "{CHANNEL}"
bot_token_file = "{token}"
signing_secret_file = "{signing}"
api_url = "{api}"
[approvals.slack.users]
U0CAROL = "carol"
U0ALICE = "alice"
[approvals.teams]
webhook_url_file = "{teams}"
[[approvals.webhooks]]
name = "tickets"
url = "{hook}"
secret_file = "{secret}"
[[approvals.webhooks]]
name = "slow"
url = "{slow}"
secret_file = "{secret}"
[[approvals.webhooks]]
name = "broken"
url = "{broken}"
secret_file = "{secret}"
"#,
        token = write("slack-token", BOT_TOKEN),
        signing = write("slack-signing", SIGNING_SECRET),
        api = stand_in.url("/api"),
        teams = write(
            "teams-url",
            &stand_in.url("/teams/workflows/abc/triggers/manual/paths/invoke?sig=SECRET")
        ),
        hook = stand_in.url("/hook"),
        broken = stand_in.url("/broken"),
        slow = stand_in.url("/slow"),
        secret = write("webhook-secret", WEBHOOK_SECRET),
    )
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// A Slack `block_actions` callback body for a click on `action_id` by `user`.
fn click_body(stand_in: &StandIn, user: &str, action_id: &str, id: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "1.2.3",
        "team": {"id": "T0TEAM", "domain": "example"},
        "channel": {"id": CHANNEL, "name": "db-approvals"},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "Approval requested"},
        "response_url": stand_in.url(&format!("/response/{user}")),
        "actions": [{"type": "button", "action_id": action_id, "block_id": "airlock_vote",
                     "text": {"type": "plain_text", "text": "Approve", "emoji": false},
                     "value": id, "style": "primary", "action_ts": "1700000001.000200"}]
    });
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// POSTs a Slack callback with the given timestamp and signature headers.
async fn callback(
    gw: &Gateway,
    body: &str,
    timestamp: Option<i64>,
    signature: Option<&str>,
) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", gw.http_port))
        .await
        .unwrap();
    let mut request = "POST /slack/interactions HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\
                       Content-Type: application/x-www-form-urlencoded\r\n"
        .to_owned();
    if let Some(ts) = timestamp {
        request.push_str(&format!("X-Slack-Request-Timestamp: {ts}\r\n"));
    }
    if let Some(sig) = signature {
        request.push_str(&format!("X-Slack-Signature: {sig}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer)[9..12].parse().unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn slack_signature(timestamp: i64, body: &str) -> String {
    format!(
        "v0={}",
        hmac_hex(SIGNING_SECRET, format!("v0:{timestamp}:{body}").as_bytes())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_slack_teams_and_webhooks_and_a_signed_slack_click_approves() {
    drop_table("notify_t").await;
    let stand_in = StandIn::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let mut gw = Gateway::with(Options {
        approvals: approvals_config(&stand_in, secrets.path()),
        ..Default::default()
    })
    .await;
    let alice = gw.connect().await;
    let statement = "CREATE TABLE notify_t (id int)";
    // Opening the request never waits for a destination (one of them hangs).
    let started = std::time::Instant::now();
    let error = alice.batch_execute(statement).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the statement waited {:?} for notices",
        started.elapsed()
    );
    let id = request_id(&support::message(&error));
    let inbox_link = format!("http://127.0.0.1:{}/approvals/{id}", gw.http_port);

    // Slack: chat.postMessage with the bot token and a valid Block Kit message.
    let posted = stand_in.wait_for("/api/chat.postMessage", 1).await;
    assert_eq!(
        posted[0].header("authorization"),
        Some(&*format!("Bearer {BOT_TOKEN}"))
    );
    assert!(
        posted[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let message = posted[0].json();
    assert_eq!(message["channel"], CHANNEL);
    check_block_kit(&message);
    let buttons = action_buttons(&message);
    assert_eq!(
        buttons
            .iter()
            .map(|b| (b["action_id"].as_str().unwrap(), b["value"].as_str()))
            .collect::<Vec<_>>(),
        [
            ("airlock_approve", Some(id.as_str())),
            ("airlock_deny", Some(id.as_str())),
            ("airlock_open", None),
        ]
    );
    assert_eq!(buttons[2]["url"], inbox_link.as_str());
    let posted_text = message.to_string();
    for expected in [
        "alice",
        "local",
        "pg-schema-change",
        "CREATE TABLE notify_t (id int)",
    ] {
        assert!(
            posted_text.contains(expected),
            "`{expected}` not in {posted_text}"
        );
    }

    // Teams: an Adaptive Card to the Workflows URL (with its query), linking to the inbox.
    let teams = stand_in.wait_for("/teams/", 1).await;
    assert!(
        teams[0].path.ends_with("/invoke?sig=SECRET"),
        "{}",
        teams[0].path
    );
    check_teams_card(&teams[0].json(), &inbox_link);

    // The webhook: a signed `approval.requested` event.
    let hooks = stand_in.wait_for("/hook", 1).await;
    check_webhook(&hooks[0], "approval.requested", &id);

    // Slack clicks: missing, tampered, replayed-old signatures are refused before reading.
    let approve = click_body(&stand_in, "U0CAROL", "airlock_approve", &id);
    assert_eq!(callback(&gw, &approve, None, None).await, 401, "missing");
    let ts = now();
    let tampered = approve.replace("U0CAROL", "U0CAROM");
    assert_eq!(
        callback(
            &gw,
            &tampered,
            Some(ts),
            Some(&slack_signature(ts, &approve))
        )
        .await,
        401,
        "tampered"
    );
    let old = now() - 6 * 60;
    assert_eq!(
        callback(
            &gw,
            &approve,
            Some(old),
            Some(&slack_signature(old, &approve))
        )
        .await,
        401,
        "replayed after five minutes"
    );
    let request = shown(&gw, &id).await;
    assert_eq!(request["state"], "pending", "no refused click counted");

    // Signed, but from a Slack user with no identity, or from the requester: not counted, and
    // the clicker alone is told why.
    let stranger = click_body(&stand_in, "U0STRANGER", "airlock_approve", &id);
    let ts = now();
    assert_eq!(
        callback(
            &gw,
            &stranger,
            Some(ts),
            Some(&slack_signature(ts, &stranger))
        )
        .await,
        200
    );
    let told = stand_in.wait_for("/response/U0STRANGER", 1).await;
    assert_eq!(told[0].json()["response_type"], "ephemeral");
    assert!(
        told[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("not mapped")
    );
    let own = click_body(&stand_in, "U0ALICE", "airlock_approve", &id);
    let ts = now();
    assert_eq!(
        callback(&gw, &own, Some(ts), Some(&slack_signature(ts, &own))).await,
        200
    );
    let told = stand_in.wait_for("/response/U0ALICE", 1).await;
    assert!(
        told[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("own request"),
        "{}",
        told[0].body
    );

    // carol's valid click approves, at once (the hanging destination delays nothing).
    let ts = now();
    let started = std::time::Instant::now();
    assert_eq!(
        callback(
            &gw,
            &approve,
            Some(ts),
            Some(&slack_signature(ts, &approve))
        )
        .await,
        200
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let request = shown(&gw, &id).await;
    assert_eq!(request["state"], "approved", "{request}");
    assert_eq!(request["approvals"][0]["voter"]["id"], "carol");
    assert_eq!(request["approvals"][0]["channel"], "slack");

    // The message is updated with the outcome (no buttons left); the webhook hears of it.
    let updates = stand_in.wait_for("/api/chat.update", 1).await;
    let update = updates[0].json();
    assert_eq!(
        (update["channel"].as_str(), update["ts"].as_str()),
        (Some(CHANNEL), Some("1700000000.000100"))
    );
    check_block_kit(&update);
    assert!(action_buttons(&update).is_empty(), "decided: no buttons");
    assert!(
        update.to_string().contains("approved by carol (slack)"),
        "{update}"
    );
    let hooks = stand_in.wait_for("/hook", 2).await;
    check_webhook(&hooks[1], "approval.approved", &id);

    // The retried statement runs once; that is announced too.
    alice.batch_execute(statement).await.unwrap();
    let hooks = stand_in.wait_for("/hook", 3).await;
    check_webhook(&hooks[2], "approval.executed", &id);
    stand_in.wait_for("/api/chat.update", 2).await;

    // Deliveries are recorded: the broken webhook was tried three times, then recorded failed.
    assert!(
        stand_in.wait_for("/broken", 3).await.len() >= 3,
        "three attempts"
    );
    let notices = notices_when(&gw, &id, |ns| {
        ns.iter().any(|n| n["delivery"]["status"] == "failed") && ns.len() >= 9
    })
    .await;
    let of = |channel: &str, status: &str| {
        notices
            .iter()
            .filter(|n| n["channel"] == channel && n["delivery"]["status"] == status)
            .count()
    };
    assert!(of("slack", "delivered") >= 2, "{notices:#?}");
    assert_eq!(of("teams", "delivered"), 1, "{notices:#?}");
    assert!(of("webhook", "delivered") >= 3, "{notices:#?}");
    let failure = notices
        .iter()
        .find(|n| n["delivery"]["status"] == "failed")
        .unwrap_or_else(|| panic!("{notices:#?}"));
    assert!(
        failure["delivery"]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{failure}"
    );
    let first_slack = notices.iter().find(|n| n["channel"] == "slack").unwrap();
    assert_eq!(
        first_slack["delivery"]["reference"],
        format!("{CHANNEL}/1700000000.000100")
    );

    drop(alice);
    gw.stop().await;
    let exported = gw.audit_export();
    let notified = exported
        .iter()
        .filter(|e| e.to_string().contains("\"notified\""))
        .count();
    assert!(
        notified >= 9,
        "every delivery is an audit event: {notified}"
    );
    drop_table("notify_t").await;
}

/// The message's Approve/Deny/Open buttons (none once decided).
fn action_buttons(message: &Value) -> Vec<Value> {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .collect()
}

/// Slack's documented Block Kit structure (Block Kit reference: blocks, block elements,
/// composition objects) and its limits, for the blocks this message uses.
fn check_block_kit(message: &Value) {
    assert!(
        message["text"].as_str().is_some_and(|t| !t.is_empty()),
        "a fallback `text`"
    );
    let blocks = message["blocks"].as_array().expect("`blocks` is an array");
    assert!(!blocks.is_empty() && blocks.len() <= 50, "1 to 50 blocks");
    for block in blocks {
        if let Some(id) = block.get("block_id") {
            assert!(id.as_str().unwrap().len() <= 255);
        }
        match block["type"].as_str().unwrap() {
            "header" => check_text(&block["text"], &["plain_text"], 150),
            "section" => {
                assert!(
                    block.get("text").is_some() || block.get("fields").is_some(),
                    "a section has text or fields: {block}"
                );
                if let Some(text) = block.get("text") {
                    check_text(text, &["plain_text", "mrkdwn"], 3000);
                }
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().unwrap();
                    assert!(fields.len() <= 10, "at most 10 fields");
                    for field in fields {
                        check_text(field, &["plain_text", "mrkdwn"], 2000);
                    }
                }
            }
            "context" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 10);
                for element in elements {
                    check_text(element, &["plain_text", "mrkdwn"], 3000);
                }
            }
            "actions" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 25);
                for button in elements {
                    assert_eq!(button["type"], "button");
                    check_text(&button["text"], &["plain_text"], 75);
                    assert!(button["action_id"].as_str().unwrap().len() <= 255);
                    if let Some(value) = button.get("value") {
                        assert!(value.as_str().unwrap().len() <= 2000);
                    }
                    if let Some(url) = button.get("url") {
                        assert!(url.as_str().unwrap().len() <= 3000);
                    }
                    if let Some(style) = button.get("style") {
                        assert!(style == "primary" || style == "danger", "{style}");
                    }
                    if let Some(confirm) = button.get("confirm") {
                        check_text(&confirm["title"], &["plain_text"], 100);
                        check_text(&confirm["text"], &["plain_text", "mrkdwn"], 300);
                        check_text(&confirm["confirm"], &["plain_text"], 30);
                        check_text(&confirm["deny"], &["plain_text"], 30);
                    }
                }
            }
            other => panic!("block type `{other}` is not one this message should use"),
        }
    }
}

/// A text composition object: its `type` one of `types`, its text 1 to `max` characters.
fn check_text(object: &Value, types: &[&str], max: usize) {
    let kind = object["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no text type: {object}"));
    assert!(
        types.contains(&kind),
        "`{kind}` where {types:?} belong: {object}"
    );
    let text = object["text"].as_str().unwrap();
    assert!(
        !text.is_empty() && text.chars().count() <= max,
        "1..={max} characters: {object}"
    );
    if kind == "plain_text"
        && let Some(emoji) = object.get("emoji")
    {
        assert!(emoji.is_boolean());
    }
}

fn check_teams_card(message: &Value, inbox_link: &str) {
    assert_eq!(message["type"], "message");
    let attachment = &message["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert!(card["version"].as_str().unwrap().starts_with("1."));
    let body = card["body"].as_array().unwrap();
    assert!(
        body.iter()
            .all(|e| ["TextBlock", "FactSet"].contains(&e["type"].as_str().unwrap()))
    );
    let facts = body.iter().find(|e| e["type"] == "FactSet").unwrap()["facts"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        facts
            .iter()
            .all(|f| f["title"].is_string() && f["value"].is_string())
    );
    assert!(
        facts
            .iter()
            .any(|f| f["title"] == "Requester" && f["value"] == "alice")
    );
    let action = &card["actions"][0];
    assert_eq!(action["type"], "Action.OpenUrl");
    assert_eq!(action["title"], "Open in airlock");
    assert_eq!(action["url"], inbox_link);
}

fn check_webhook(received: &Received, event: &str, id: &str) {
    assert_eq!(received.header("x-airlock-event"), Some(event));
    let timestamp = received.header("x-airlock-timestamp").unwrap();
    let expected = format!(
        "v1={}",
        hmac_hex(
            WEBHOOK_SECRET,
            format!("{timestamp}.{}", received.body).as_bytes()
        )
    );
    assert_eq!(
        received.header("x-airlock-signature"),
        Some(expected.as_str())
    );
    let body = received.json();
    assert_eq!(body["type"], event);
    assert_eq!(body["request"]["id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_click_on_a_rule_that_wants_a_reason_points_to_the_inbox() {
    let stand_in = StandIn::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let policy = r#"
@id("why")
@verdict("review")
@message("schema changes need a written reason")
@require_reason("true")
forbid (principal, action == Action::"sql", resource)
when { context.stmt.kind == "create" };
"#;
    let mut gw = Gateway::with(Options {
        policy: Some(policy.into()),
        approvals: approvals_config(&stand_in, secrets.path()),
        ..Default::default()
    })
    .await;
    let alice = gw.connect().await;
    let error = alice
        .batch_execute("CREATE TABLE notify_reason (id int)")
        .await
        .unwrap_err();
    let id = request_id(&support::message(&error));
    stand_in.wait_for("/api/chat.postMessage", 1).await;

    let approve = click_body(&stand_in, "U0CAROL", "airlock_approve", &id);
    let ts = now();
    let status = callback(
        &gw,
        &approve,
        Some(ts),
        Some(&slack_signature(ts, &approve)),
    )
    .await;
    assert_eq!(status, 200);
    let told = stand_in.wait_for("/response/U0CAROL", 1).await;
    let text = told[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("reason"), "{text}");
    assert!(
        text.ends_with(&format!(
            "Decide with a reason in airlock: http://127.0.0.1:{}/approvals/{id}",
            gw.http_port
        )),
        "{text}"
    );
    let request = shown(&gw, &id).await;
    assert_eq!(
        request["state"], "pending",
        "a vote without its reason does not count"
    );
    drop(alice);
    gw.stop().await;
}

/// The request's notices, once `ready` holds for them (or the last seen after 10 s).
async fn notices_when(gw: &Gateway, id: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut notices = Vec::new();
    for _ in 0..100 {
        let request = shown(gw, id).await;
        notices = request["notices"].as_array().cloned().unwrap_or_default();
        if ready(&notices) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    notices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_not_announced_before_a_restart_is_announced_after_it_once() {
    drop_table("notify_restart").await;
    // First, every destination is down (nothing listens on the port).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = StandIn {
        port: closed,
        received: Arc::new(Mutex::new(Vec::new())),
    };
    let secrets = tempfile::tempdir().unwrap();
    let mut gw = Gateway::with(Options {
        approvals: approvals_config(&down, secrets.path()),
        ..Default::default()
    })
    .await;
    let alice = gw.connect().await;
    let error = alice
        .batch_execute("CREATE TABLE notify_restart (id int)")
        .await
        .unwrap_err();
    let id = request_id(&support::message(&error));
    let failed =
        |n: &Value, channel: &str| n["channel"] == channel && n["delivery"]["status"] == "failed";
    let notices = notices_when(&gw, &id, |ns| {
        ["slack", "teams"]
            .iter()
            .all(|c| ns.iter().any(|n| failed(n, c)))
    })
    .await;
    assert!(notices.iter().any(|n| failed(n, "slack")), "{notices:#?}");
    drop(alice);
    gw.stop().await;

    // After a restart with the destinations up, the pending request is announced.
    let stand_in = StandIn::start().await;
    let restarted = |data| {
        Gateway::with(Options {
            data: Some(data),
            approvals: approvals_config(&stand_in, secrets.path()),
            ..Default::default()
        })
    };
    let mut gw = restarted(gw.into_data()).await;
    let posted = stand_in.wait_for("/api/chat.postMessage", 1).await;
    assert_eq!(action_buttons(&posted[0].json())[0]["value"], id.as_str());
    stand_in.wait_for("/teams/", 1).await;
    let hooks = stand_in.wait_for("/hook", 1).await;
    check_webhook(&hooks[0], "approval.requested", &id);
    let delivered = |n: &Value, channel: &str| {
        n["channel"] == channel && n["delivery"]["status"] == "delivered"
    };
    notices_when(&gw, &id, |ns| {
        ["slack", "teams", "webhook"]
            .iter()
            .all(|c| ns.iter().any(|n| delivered(n, c)))
    })
    .await;
    gw.stop().await;

    // Once delivered, a further restart announces nothing again.
    let mut gw = restarted(gw.into_data()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stand_in.to("/api/chat.postMessage").len(), 1);
    assert_eq!(stand_in.to("/teams/").len(), 1);
    assert_eq!(stand_in.to("/hook").len(), 1);
    gw.stop().await;
}
