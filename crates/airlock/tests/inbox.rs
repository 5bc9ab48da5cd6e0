//! The web inbox end to end: headless Chromium logs in, sees a pending request with its
//! context, clicks Approve, and the statement held in a real psql session runs. Logins, CSRF
//! tokens and cross-site posts are checked over raw HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::approvals::{Psql, drop_table, exists, request_id};
use support::webdriver::Browser;
use support::{BOT_KEY, CAROL_KEY, Gateway, KEY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_and_a_click_on_approve_runs_the_held_psql_statement() {
    drop_table("inbox_held").await;
    let mut gw = Gateway::start().await;
    let mut psql = Psql::start(
        &gw,
        "CREATE TABLE inbox_held (id int);\nSELECT 'after approval';\n",
    );
    let notice = psql.line_with("NOTICE").await;
    let id = request_id(&notice);
    let page = format!("http://127.0.0.1:{}/approvals/{id}", gw.http_port);
    assert!(notice.contains(&format!("approve at {page}")), "{notice}");

    let browser = Browser::start().await;
    // The NOTICE's link asks for a login first, and comes back to the request after it.
    browser.goto(&page).await;
    browser.wait_url("/login?next=%2Fapprovals%2Fapr_").await;
    browser.type_into("#identity", "carol").await;
    browser.type_into("#key", "alk_not_carols_key").await;
    browser.click("#login").await;
    browser.wait_text("Wrong identity or API key.").await;
    browser.type_into("#identity", "carol").await;
    browser.type_into("#key", CAROL_KEY).await;
    browser.click("#login").await;
    assert_eq!(browser.wait_url(&id).await, page);

    // The context a reviewer needs, with the statement highlighted.
    let field = |name: &'static str| browser.text_of(name);
    assert_eq!(field("dd.requester").await, "alice");
    assert_eq!(field("dd.connection").await, "local");
    assert_eq!(field("dd.kinds").await, "create");
    assert!(field("dd.rule").await.starts_with("pg-schema-change"));
    assert_eq!(
        field("dd.rows").await,
        "not estimated",
        "DDL touches no rows"
    );
    assert!(field("dd.age").await.contains("ago"));
    assert_eq!(field("pre.sql").await, "CREATE TABLE inbox_held (id int);");
    assert_eq!(field("pre.sql span.kw").await, "CREATE", "highlighted");
    assert!(field("#who").await.contains("carol"), "logged in as carol");

    // The inbox lists it as pending; approve from there, with a reason.
    browser
        .goto(&format!("http://127.0.0.1:{}/approvals", gw.http_port))
        .await;
    let text = browser.wait_text("Pending 1").await;
    assert!(text.contains(&id), "{text}");
    assert!(!exists("inbox_held").await, "nothing runs before the click");
    browser
        .type_into(&format!("#{id} input.reason"), "reviewed in the inbox")
        .await;
    browser.click(&format!("#{id} button.approve")).await;

    // The held statement runs and psql goes on.
    let (out, err) = psql.finish().await;
    assert!(out.contains("after approval"), "out: {out}\nerr: {err}");
    assert!(exists("inbox_held").await);
    assert_eq!(
        browser.wait_url(&id).await,
        page,
        "the click lands on the request"
    );
    browser.goto(&page).await;
    let text = browser.wait_text("approved by carol (web); ran").await;
    assert!(text.contains("reviewed in the inbox"), "{text}");

    // History shows it; logging out ends the session.
    browser
        .goto(&format!("http://127.0.0.1:{}/approvals", gw.http_port))
        .await;
    let text = browser.wait_text("Pending 0").await;
    assert!(text.contains("History") && text.contains(&id), "{text}");
    browser.click("form.logout button").await;
    browser.wait_text("Log in").await;
    assert!(browser.url().await.ends_with("/login"));
    browser.goto(&page).await;
    browser.wait_url("/login?next=").await;
    drop(browser);
    gw.stop().await;
    drop_table("inbox_held").await;
}

/// A request header: name and value.
type Header<'a> = (&'a str, &'a str);

/// One raw HTTP/1.1 exchange: status, headers (lower-cased names) and body.
async fn http(
    gw: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", gw.http_port))
        .await
        .unwrap();
    let host = format!("127.0.0.1:{}", gw.http_port);
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Request `id`'s inbox page as the session `cookie` sees it: headers and HTML.
async fn request_page(gw: &Gateway, id: &str, cookie: &str) -> (Vec<(String, String)>, String) {
    let path = format!("/approvals/{id}");
    let (status, headers, page) = http(gw, "GET", &path, &[("Cookie", cookie)], None).await;
    assert_eq!(status, 200, "{path}: {page}");
    (headers, page)
}

/// Logs in over HTTP; returns the `Cookie` header value and the page's CSRF token.
async fn login(gw: &Gateway, identity: &str, key: &str) -> (String, String) {
    let form = format!("identity={identity}&key={key}&next=%2Fapprovals");
    let (status, headers, _) = http(gw, "POST", "/login", &[], Some(&form)).await;
    assert_eq!(status, 303, "{identity} logs in");
    let cookie = header(&headers, "set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let (status, _, page) = http(gw, "GET", "/approvals", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 200);
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_forms_need_a_session_its_csrf_token_and_this_site() {
    let mut gw = Gateway::with(support::Options {
        approvals: "mode = \"retry\"".into(),
        ..Default::default()
    })
    .await;
    let alice = gw.connect().await;
    let error = alice
        .batch_execute("CREATE TABLE inbox_csrf (id int)")
        .await
        .unwrap_err();
    let id = request_id(&support::message(&error));
    let vote_path = format!("/approvals/{id}/vote");

    // Pages need a login; the login refuses wrong keys and non-humans.
    let (status, headers, _) = http(&gw, "GET", "/approvals", &[], None).await;
    assert_eq!(status, 303);
    assert_eq!(
        header(&headers, "location"),
        Some("/login?next=%2Fapprovals")
    );
    let (status, _, page) = http(&gw, "GET", "/login", &[], None).await;
    assert_eq!(status, 200);
    assert!(page.contains("<form class=\"login\""));
    let (status, _, page) =
        http(&gw, "POST", "/login", &[], Some("identity=carol&key=wrong")).await;
    assert_eq!(status, 401);
    assert!(page.contains("Wrong identity or API key."));
    let (status, _, page) = http(
        &gw,
        "POST",
        "/login",
        &[],
        Some(&format!("identity=bot&key={BOT_KEY}")),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        page.contains("agents and services cannot approve"),
        "{page}"
    );

    // A vote without a session, without the CSRF token, or from another site is refused.
    let (cookie, csrf) = login(&gw, "carol", CAROL_KEY).await;
    let approve = format!("csrf={csrf}&choice=approve");
    let with_cookie = [("Cookie", cookie.as_str())];
    let from_elsewhere = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    let refusals: [(&[Header], &str, u16, &str); 4] = [
        (&[], &approve, 401, "no session"),
        (&with_cookie, "choice=approve", 403, "no CSRF token"),
        (
            &with_cookie,
            "csrf=forged&choice=approve",
            403,
            "a forged CSRF token",
        ),
        (&from_elsewhere, &approve, 403, "another site's form"),
    ];
    for (headers, form, expected, why) in refusals {
        let (status, _, _) = http(&gw, "POST", &vote_path, headers, Some(form)).await;
        assert_eq!(status, expected, "{why}");
    }
    let (_, page) = request_page(&gw, &id, &cookie).await;
    assert!(
        page.contains("data-state=\"pending\""),
        "nothing was counted"
    );

    // The requester sees her request but no form to decide it; her vote is refused anyway.
    let (alice_cookie, alice_csrf) = login(&gw, "alice", KEY).await;
    let (_, page) = request_page(&gw, &id, &alice_cookie).await;
    assert!(page.contains("This is your own request"), "{page}");
    assert!(!page.contains("class=\"vote\""));
    let (status, _, page) = http(
        &gw,
        "POST",
        &vote_path,
        &[("Cookie", &alice_cookie)],
        Some(&format!("csrf={alice_csrf}&choice=approve")),
    )
    .await;
    assert_eq!(status, 403);
    assert!(page.contains("role=\"alert\""), "{page}");

    // Done right: carol's vote from this site counts, and the retried statement runs.
    let (status, headers, _) = http(
        &gw,
        "POST",
        &vote_path,
        &[
            ("Cookie", &cookie),
            ("Origin", &format!("http://127.0.0.1:{}", gw.http_port)),
        ],
        Some(&format!("csrf={csrf}&choice=approve&reason=ok")),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        header(&headers, "location"),
        Some(vote_path.trim_end_matches("/vote"))
    );
    alice
        .batch_execute("CREATE TABLE inbox_csrf (id int)")
        .await
        .unwrap();
    let (headers, page) = request_page(&gw, &id, &cookie).await;
    assert!(page.contains("data-state=\"executed\""), "{page}");
    let csp = header(&headers, "content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));

    // Revoking the key a session logged in with ends the session at its next request.
    let revoked = support::keys(&gw, &["revoke", &support::key_id(CAROL_KEY)]).await;
    assert!(revoked.status.success(), "{revoked:?}");
    let (status, headers, _) = http(&gw, "GET", "/approvals", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 303, "a revoked key's session is over");
    assert_eq!(
        header(&headers, "location"),
        Some("/login?next=%2Fapprovals")
    );
    let (status, _, _) = http(&gw, "GET", "/approvals", &[("Cookie", &alice_cookie)], None).await;
    assert_eq!(status, 200, "other sessions go on");
    drop(alice);
    gw.stop().await;
    drop_table("inbox_csrf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_listener_serves_at_most_max_connections_at_once() {
    let mut gw = Gateway::with(support::Options {
        limits: airlock_server::Limits {
            max_connections: 2,
            ..airlock_server::Limits::default()
        },
        ..Default::default()
    })
    .await;
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", gw.http_port));
    let healthz = "GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
    let first = connect().await.unwrap();
    let second = connect().await.unwrap();
    // Both idle connections hold their places; a third waits in the accept queue.
    let mut third = connect().await.unwrap();
    third.write_all(healthz.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let waited = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        third.read(&mut answer),
    )
    .await;
    assert!(
        waited.is_err(),
        "a third connection is not served while two are open"
    );
    drop(first);
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), third.read(&mut answer))
        .await
        .expect("served once a place is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    drop(second);
    gw.stop().await;
}
