//! Approvals end to end: a reviewed statement waits in a real psql session (hold) or fails
//! with its request id (retry); other humans decide through the HTTP API and the `airlock
//! approvals` CLI; the rules (no self-approval, no agents, one vote per human, exact text,
//! single use, expiry) hold; a restart keeps pending requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::approvals::{Psql, api, drop_table, exists, request_id, shown};
use support::{BOT_KEY, CAROL_KEY, DAVE_KEY, ERIN_KEY, Gateway, KEY, Options};

/// The `airlock approvals` CLI against the gateway's HTTP listener, as `identity`.
fn cli(gw: &Gateway, identity: &str, key: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("approvals")
        .args(args)
        .args(["--url", &format!("http://127.0.0.1:{}", gw.http_port)])
        .args(["--identity", identity])
        .env("AIRLOCK_API_KEY", key)
        .output()
        .unwrap()
}

async fn vote(
    gw: &Gateway,
    who: (&str, &str),
    id: &str,
    action: &str,
    reason: Option<&str>,
) -> (u16, Value) {
    let body = reason.map(|r| serde_json::json!({ "reason": r }).to_string());
    api(
        gw,
        "POST",
        &format!("/v1/approvals/{id}/{action}"),
        Some(who),
        body.as_deref(),
    )
    .await
}

/// Approves as `who` and checks the request's state afterwards; returns the request.
async fn approve_expecting(gw: &Gateway, who: (&str, &str), id: &str, state: &str) -> Value {
    let (status, body) = vote(gw, who, id, "approve", None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some(state)),
        "{who:?}: {body}"
    );
    body
}

/// Approves as `who` and checks that it is refused with `status` and `code`.
async fn approve_refused(gw: &Gateway, who: (&str, &str), id: &str, status: u16, code: &str) {
    let (got, body) = vote(gw, who, id, "approve", None).await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (status, Some(code)),
        "{who:?}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_psql_statement_runs_once_another_human_approves_it() {
    drop_table("appr_held").await;
    let mut gw = Gateway::start().await;
    let mut psql = Psql::start(
        &gw,
        "CREATE TABLE appr_held (id int);\nSELECT 'after the held statement';\n",
    );
    let notice = psql.line_with("NOTICE").await;
    assert!(
        notice.contains("approval required by rule `pg-schema-change`"),
        "{notice}"
    );
    assert!(notice.contains("sent to any other human"), "{notice}");
    let id = request_id(&notice);
    assert!(
        notice.contains(&format!(
            "approve at http://127.0.0.1:{}/approvals/{id}",
            gw.http_port
        )),
        "{notice}"
    );
    assert!(!exists("appr_held").await, "nothing runs before approval");

    // The approver sees the context.
    let shown = cli(&gw, "carol", CAROL_KEY, &["show", &id]);
    let shown_text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(
        shown_text.contains("CREATE TABLE appr_held (id int);"),
        "{shown_text}"
    );
    assert!(
        shown_text.contains("requester:  human alice"),
        "{shown_text}"
    );
    assert!(shown_text.contains("pg-schema-change"), "{shown_text}");

    let approved = cli(
        &gw,
        "carol",
        CAROL_KEY,
        &["approve", &id, "--reason", "planned migration"],
    );
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    assert!(String::from_utf8_lossy(&approved.stdout).contains("approved"));

    let (out, _) = psql.finish().await;
    assert_eq!(out.trim(), "after the held statement");
    assert!(exists("appr_held").await, "the approved statement ran");

    gw.stop().await;
    let events = gw.audit_export();
    let approval_events: Vec<&str> = events
        .iter()
        .filter(|e| e["event"]["type"] == "approval")
        .filter_map(|e| e["event"]["event"].as_str())
        .collect();
    assert_eq!(
        approval_events,
        ["requested", "approved", "executed"],
        "{events:#?}"
    );
    let ran = events
        .iter()
        .find(|e| {
            let event = &e["event"];
            event["type"] == "decision"
                && event["text"] == "CREATE TABLE appr_held (id int);"
                && event["approval"] == id.as_str()
        })
        .unwrap_or_else(|| panic!("no decision record with the approval: {events:#?}"));
    assert_eq!(ran["event"]["verdict"], "review");
    // From the recorded approval to the statement's own record, just before it is forwarded.
    let approved_at = events
        .iter()
        .find(|e| e["event"]["event"] == "approved")
        .unwrap()["time"]
        .as_str()
        .unwrap()
        .to_owned();
    let latency = millis_between(&approved_at, ran["time"].as_str().unwrap());
    eprintln!("approval → run inside the gateway: {latency:.1} ms");
    assert!(latency < 250.0, "{latency} ms from approval to run");
    drop_table("appr_held").await;
}

fn millis_between(from: &str, to: &str) -> f64 {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let from = OffsetDateTime::parse(from, &Rfc3339).unwrap();
    let to = OffsetDateTime::parse(to, &Rfc3339).unwrap();
    (to - from).as_seconds_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_held_statement_fails_with_the_reason_and_the_session_goes_on() {
    drop_table("appr_denied").await;
    let gw = Gateway::start().await;
    let mut psql = Psql::start(
        &gw,
        "CREATE TABLE appr_denied (id int);\nSELECT 'still connected';\n",
    );
    let id = request_id(&psql.line_with("NOTICE").await);
    let (status, body) = vote(
        &gw,
        ("dave", DAVE_KEY),
        &id,
        "deny",
        Some("not during the freeze"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "denied");
    let error = psql.line_with("ERROR").await;
    assert!(
        error.contains(&format!(
            "request {id} was denied by `dave`: not during the freeze"
        )),
        "{error}"
    );
    let (out, _) = psql.finish().await;
    assert_eq!(out.trim(), "still connected");
    assert!(!exists("appr_denied").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_dies_during_a_hold_ends_the_session_and_withdraws_the_request() {
    drop_table("appr_orphan").await;
    let gw = Gateway::start().await;
    let mut psql = Psql::start(
        &gw,
        "SET application_name = 'held-orphan';\nCREATE TABLE appr_orphan (id int);\n",
    );
    let id = request_id(&psql.line_with("NOTICE").await);
    let started = Instant::now();
    support::direct()
        .await
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'held-orphan'",
            &[],
        )
        .await
        .unwrap();
    // The held client learns at once, not when its request expires.
    let (_, rest) = psql.finish().await;
    assert!(started.elapsed() < Duration::from_secs(5), "{rest}");
    let request = shown(&gw, &id).await;
    assert_eq!(request["state"], "withdrawn", "{request}");
    assert!(!exists("appr_orphan").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_statement_whose_request_expires_fails_and_late_votes_are_refused() {
    drop_table("appr_expired").await;
    let gw = Gateway::with(Options {
        approvals: "request_ttl_seconds = 1".into(),
        ..Options::default()
    })
    .await;
    let mut psql = Psql::start(&gw, "CREATE TABLE appr_expired (id int);\n");
    let id = request_id(&psql.line_with("NOTICE").await);
    let error = psql.line_with("ERROR").await;
    assert!(
        error.contains(&format!("request {id} expired without approval")),
        "{error}"
    );
    psql.finish().await;
    approve_refused(&gw, ("carol", CAROL_KEY), &id, 409, "expired").await;
    assert!(!exists("appr_expired").await);
}

/// Retry mode: the statement fails with its request id at once; the rules are checked on
/// every vote; an approved grant runs exactly that statement, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_follow_the_rules_and_a_grant_runs_exactly_its_statement_once() {
    drop_table("appr_retry").await;
    drop_table("appr_other").await;
    let gw = Gateway::with(Options {
        approvals: "mode = \"retry\"".into(),
        ..Options::default()
    })
    .await;
    let alice = gw.connect().await;
    let statement = "CREATE TABLE appr_retry (id int)";
    let error = alice.batch_execute(statement).await.unwrap_err();
    assert_eq!(support::sqlstate(&error), "42501");
    let message = support::message(&error);
    assert!(
        message.contains("approval required by airlock rule `pg-schema-change`"),
        "{message}"
    );
    let id = request_id(&message);

    // Sending it again while pending names the same request.
    let again = alice.batch_execute(statement).await.unwrap_err();
    assert_eq!(request_id(&support::message(&again)), id);

    let refusals = [
        (("alice", KEY), 403, "own_request"),
        (("bot", BOT_KEY), 403, "not_human"),
        (("carol", "alk_wrong_key"), 401, "unauthorized"),
    ];
    for (who, status, code) in refusals {
        approve_refused(&gw, who, &id, status, code).await;
    }
    approve_expecting(&gw, ("carol", CAROL_KEY), &id, "approved").await;
    approve_refused(&gw, ("erin", ERIN_KEY), &id, 409, "already_approved").await;

    // A different text is not what was approved: it opens its own request and does not run.
    let other = alice
        .batch_execute("CREATE TABLE appr_other (id int)")
        .await
        .unwrap_err();
    assert_ne!(request_id(&support::message(&other)), id);
    assert!(!exists("appr_other").await);

    // Another identity cannot use alice's grant.
    let bot = gw.connect_as("bot", BOT_KEY).await.unwrap();
    let by_bot = bot.batch_execute(statement).await.unwrap_err();
    assert_ne!(request_id(&support::message(&by_bot)), id);
    assert!(!exists("appr_retry").await);

    // The identical statement runs once; a second time it needs a new approval.
    alice.batch_execute(statement).await.unwrap();
    assert!(exists("appr_retry").await);
    drop_table("appr_retry").await;
    let reuse = alice.batch_execute(statement).await.unwrap_err();
    assert_ne!(request_id(&support::message(&reuse)), id);
    assert!(!exists("appr_retry").await);
    let request = shown(&gw, &id).await;
    assert_eq!(request["state"], "executed");

    // The human an agent acts for cannot approve the agent's request.
    let bot_id = request_id(&support::message(&by_bot));
    approve_refused(&gw, ("alice", KEY), &bot_id, 403, "principal_of_agent").await;

    // An agent reads its own requests only; humans read them all.
    let (_, listed) = api(&gw, "GET", "/v1/approvals", Some(("bot", BOT_KEY)), None).await;
    let ids: Vec<&str> = listed["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bot_id.as_str()], "{listed}");
    let (status, _) = api(
        &gw,
        "GET",
        &format!("/v1/approvals/{id}"),
        Some(("bot", BOT_KEY)),
        None,
    )
    .await;
    assert_eq!(status, 404, "alice's request is not the agent's to read");
    let (_, listed) = api(&gw, "GET", "/v1/approvals", Some(("dave", DAVE_KEY)), None).await;
    assert!(
        listed["approvals"].as_array().unwrap().len() >= 3,
        "{listed}"
    );
    drop_table("appr_other").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_of_two_counts_a_human_in_both_groups_once() {
    drop_table("appr_quorum").await;
    let policy = r#"
@id("two-keys")
@verdict("review")
@message("schema changes need two approvers")
@approvers_groups("dba, sre")
@quorum("2")
forbid (principal, action == Action::"sql", resource)
when { context.stmt.kind == "create" };
"#;
    let gw = Gateway::with(Options {
        policy: Some(policy.into()),
        approvals: "mode = \"retry\"".into(),
        ..Options::default()
    })
    .await;
    let alice = gw.connect().await;
    let statement = "CREATE TABLE appr_quorum (id int)";
    let id = request_id(&support::message(
        &alice.batch_execute(statement).await.unwrap_err(),
    ));
    approve_expecting(&gw, ("erin", ERIN_KEY), &id, "pending").await;
    approve_refused(&gw, ("erin", ERIN_KEY), &id, 409, "already_voted").await;
    assert!(
        alice.batch_execute(statement).await.is_err(),
        "one human is not a quorum of two"
    );
    let body = approve_expecting(&gw, ("dave", DAVE_KEY), &id, "approved").await;
    assert_eq!(body["approvals"].as_array().unwrap().len(), 2);
    alice.batch_execute(statement).await.unwrap();
    assert!(exists("appr_quorum").await);
    drop_table("appr_quorum").await;
}

/// The extended protocol (tokio-postgres) holds at Execute; a CancelRequest withdraws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_withdraws_a_held_request_and_the_extended_protocol_holds_too() {
    drop_table("appr_cancel").await;
    let gw = Gateway::start().await;
    let alice = gw.connect().await;
    let cancel = alice.cancel_token();
    let held = tokio::spawn(async move {
        let result = alice
            .execute("CREATE TABLE appr_cancel (id int)", &[])
            .await;
        (alice, result)
    });
    let id = pending_id(&gw).await;
    cancel.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let (alice, result) = held.await.unwrap();
    let error = result.unwrap_err();
    assert_eq!(support::sqlstate(&error), "57014", "{error}");
    assert!(support::message(&error).contains(&format!("approval request {id} was withdrawn")));
    let request = shown(&gw, &id).await;
    assert_eq!(request["state"], "withdrawn");

    // Held again, then approved: the Execute runs.
    let held = tokio::spawn(async move {
        alice
            .execute("CREATE TABLE appr_cancel (id int)", &[])
            .await
    });
    let second = pending_id(&gw).await;
    assert_ne!(second, id);
    let started = Instant::now();
    let (status, _) = vote(&gw, ("carol", CAROL_KEY), &second, "approve", None).await;
    assert_eq!(status, 200);
    held.await.unwrap().unwrap();
    eprintln!("approve call to statement done: {:?}", started.elapsed());
    assert!(exists("appr_cancel").await);
    drop_table("appr_cancel").await;
}

/// The first pending request's id, once one appears.
async fn pending_id(gw: &Gateway) -> String {
    for _ in 0..200 {
        let (_, list) = api(
            gw,
            "GET",
            "/v1/approvals?state=pending",
            Some(("carol", CAROL_KEY)),
            None,
        )
        .await;
        if let Some(id) = list["approvals"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no pending request appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_request_survives_a_restart_and_is_used_in_retry_mode() {
    drop_table("appr_restart").await;
    let mut gw = Gateway::with(Options {
        limits: airlock_server::Limits {
            drain_deadline: Duration::from_secs(5),
            ..airlock_server::Limits::default()
        },
        ..Options::default()
    })
    .await;
    let mut psql = Psql::start(&gw, "CREATE TABLE appr_restart (id int);\n");
    let id = request_id(&psql.line_with("NOTICE").await);
    gw.stop().await;
    let error = psql.line_with("shutting down").await;
    assert!(
        error.contains(&format!("approval request {id} stays open")),
        "{error}"
    );
    psql.finish().await;

    let gw = Gateway::with(Options {
        data: Some(gw.into_data()),
        // Psql sent the statement with its semicolon: exactly that text was approved.
        approvals: "hold_timeout_seconds = 5".into(),
        ..Options::default()
    })
    .await;
    // `shown` asserts the 200.
    let request = shown(&gw, &id).await;
    assert_eq!(request["state"].as_str(), Some("pending"), "{request}");
    let (status, _) = vote(&gw, ("carol", CAROL_KEY), &id, "approve", None).await;
    assert_eq!(status, 200);
    gw.connect()
        .await
        .batch_execute("CREATE TABLE appr_restart (id int);")
        .await
        .unwrap();
    assert!(exists("appr_restart").await);
    drop_table("appr_restart").await;
}

#[tokio::test]
async fn the_api_needs_credentials_and_describes_itself() {
    let gw = Gateway::start().await;
    let (status, body) = api(&gw, "GET", "/v1/approvals", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = api(
        &gw,
        "GET",
        "/v1/approvals/apr_nope",
        Some(("carol", CAROL_KEY)),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let missing = "apr_00000000000000000000000000000000";
    let (status, body) = api(
        &gw,
        "GET",
        &format!("/v1/approvals/{missing}"),
        Some(("carol", CAROL_KEY)),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = api(&gw, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["openapi"], "3.1.0");
    assert!(body["paths"]["/v1/approvals/{id}/approve"]["post"].is_object());
    let (status, _) = api(
        &gw,
        "DELETE",
        "/v1/approvals",
        Some(("carol", CAROL_KEY)),
        None,
    )
    .await;
    assert_eq!(status, 405);
}
