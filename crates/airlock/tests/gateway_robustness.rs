//! The gateway under bad input and failure: malformed and oversized messages, clients that
//! vanish mid-query or stop reading a huge result, an upstream backend that dies, and a drain
//! on shutdown. Each ends in a clear error or a clean close, and the gateway keeps serving.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use airlock_pg::{Decoded, ScramClient, decode_frame, encode_frame, encode_startup, parse_error};
use support::{Gateway, KEY, direct, sqlstate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads frames until one with `tag` arrives; returns its body and everything before it.
async fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, tag: u8) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    loop {
        while let Decoded::Complete(frame, used) = decode_frame(buf, 1 << 24).unwrap() {
            let (t, body) = (frame.tag, frame.body.to_vec());
            buf.drain(..used);
            frames.push((t, body));
            if t == tag {
                return frames;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            return frames;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A raw, authenticated session (SCRAM done by hand), ready for queries.
async fn raw_session(gateway: &Gateway) -> (TcpStream, Vec<u8>) {
    raw_session_named(gateway, "raw").await
}

/// [`raw_session`] with its `application_name`, to find its backend in `pg_stat_activity`.
async fn raw_session_named(gateway: &Gateway, name: &str) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", gateway.port))
        .await
        .unwrap();
    let startup = [
        ("user", "alice"),
        ("database", "local"),
        ("application_name", name),
    ];
    stream.write_all(&encode_startup(&startup)).await.unwrap();
    let mut buf = Vec::new();
    read_until(&mut stream, &mut buf, b'R').await;
    let (mut scram, first) = ScramClient::start(KEY, "raw-client-nonce");
    let mut body = b"SCRAM-SHA-256\0".to_vec();
    body.extend_from_slice(&(first.len() as i32).to_be_bytes());
    body.extend_from_slice(first.as_bytes());
    let mut out = Vec::new();
    encode_frame(&mut out, b'p', &body);
    stream.write_all(&out).await.unwrap();
    let frames = read_until(&mut stream, &mut buf, b'R').await;
    let server_first = std::str::from_utf8(&frames.last().unwrap().1[4..])
        .unwrap()
        .to_owned();
    let last = scram.respond(&server_first).unwrap();
    out.clear();
    encode_frame(&mut out, b'p', last.as_bytes());
    stream.write_all(&out).await.unwrap();
    let frames = read_until(&mut stream, &mut buf, b'Z').await;
    assert!(
        frames.iter().any(|(t, b)| *t == b'K' && b.len() == 8),
        "{frames:?}"
    );
    (stream, buf)
}

fn error_of(frames: &[(u8, Vec<u8>)]) -> airlock_pg::ErrorFields {
    let (_, body) = frames
        .iter()
        .find(|(t, _)| *t == b'E')
        .expect("an ErrorResponse");
    parse_error(&airlock_pg::Frame { tag: b'E', body }).unwrap()
}

async fn still_serves(gateway: &Gateway) {
    let client = gateway.connect().await;
    let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
}

#[tokio::test]
async fn malformed_startup_bytes_are_refused_and_the_gateway_keeps_serving() {
    let gateway = Gateway::start().await;
    for garbage in [
        &b"\x00\x00\x00\x08\x00\x09\x00\x00"[..], // protocol version 9.0
        b"\xff\xff\xff\xff",                      // absurd length
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",     // not PostgreSQL at all
    ] {
        let mut stream = TcpStream::connect(("127.0.0.1", gateway.port))
            .await
            .unwrap();
        stream.write_all(garbage).await.unwrap();
        let mut reply = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
        assert!(read.is_ok(), "the gateway closes the connection");
        if let Ok(Decoded::Complete(frame, _)) = decode_frame(&reply, 1 << 20) {
            let fields = parse_error(&frame).unwrap();
            assert_eq!(fields.severity, "FATAL");
            assert_eq!(fields.code, "08P01", "{fields:?}");
        }
    }
    still_serves(&gateway).await;
}

#[tokio::test]
async fn malformed_and_oversized_messages_end_the_session_with_a_clear_error() {
    let gateway = Gateway::start().await;
    let (mut stream, mut buf) = raw_session(&gateway).await;
    // A Query whose text is not NUL-terminated.
    stream.write_all(b"Q\x00\x00\x00\x08abcd").await.unwrap();
    let frames = read_until(&mut stream, &mut buf, b'E').await;
    let error = error_of(&frames);
    assert_eq!(
        (error.severity.as_str(), error.code.as_str()),
        ("FATAL", "08P01"),
        "{error:?}"
    );
    // A message longer than the gateway accepts: refused from its header, before buffering.
    let (mut stream, mut buf) = raw_session(&gateway).await;
    stream.write_all(b"Q\x20\x00\x00\x00").await.unwrap();
    let frames = read_until(&mut stream, &mut buf, b'E').await;
    let error = error_of(&frames);
    assert_eq!(error.code, "08P01");
    assert!(error.message.contains("536870912"), "{error:?}");
    // An unknown message type.
    let (mut stream, mut buf) = raw_session(&gateway).await;
    stream.write_all(b"?\x00\x00\x00\x04").await.unwrap();
    let error = error_of(&read_until(&mut stream, &mut buf, b'E').await);
    assert_eq!(error.code, "08P01");
    still_serves(&gateway).await;
}

async fn backends_named(name: &str) -> i64 {
    direct()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn wait_event_of(name: &str) -> Option<String> {
    direct()
        .await
        .query_one(
            "SELECT max(wait_event) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_client_that_does_not_read_a_huge_result_stalls_the_server_not_the_gateway() {
    let gateway = Gateway::start().await;
    let (mut stream, mut buf) = raw_session_named(&gateway, "gw-slow-reader").await;
    let before = rss_kib();
    // ≈ 200 MB of rows, and a client that reads none of them for now.
    let mut out = Vec::new();
    encode_frame(
        &mut out,
        b'Q',
        b"SELECT repeat('x', 1000) FROM generate_series(1, 200000)\0",
    );
    stream.write_all(&out).await.unwrap();
    let mut stalled = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if wait_event_of("gw-slow-reader").await.as_deref() == Some("ClientWrite") {
            stalled = true;
            break;
        }
    }
    assert!(
        stalled,
        "the server waits to write: the gateway stopped reading it"
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "the gateway buffered {grown} KiB");
    // Reading resumes: every row arrives, whole and in order, and the session goes on.
    let (mut rows, mut complete) = (0u64, None);
    let mut chunk = vec![0u8; 64 * 1024];
    while complete.is_none() {
        while complete.is_none()
            && let Decoded::Complete(frame, used) = decode_frame(&buf, 1 << 24).unwrap()
        {
            match frame.tag {
                b'D' => {
                    assert_eq!(frame.body.len(), 2 + 4 + 1000);
                    rows += 1;
                }
                b'C' => complete = Some(frame.body.to_vec()),
                _ => {}
            }
            buf.drain(..used);
        }
        if complete.is_none() {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert_ne!(n, 0, "the session ended before the result did");
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    assert_eq!(rows, 200_000);
    assert_eq!(complete.unwrap(), b"SELECT 200000\0");
    read_until(&mut stream, &mut buf, b'Z').await;
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "the gateway buffered {grown} KiB");
    still_serves(&gateway).await;
}

#[tokio::test]
async fn a_client_that_vanishes_mid_query_frees_its_upstream() {
    let gateway = Gateway::start().await;
    let info = format!(
        "{} application_name=gw-vanish",
        gateway.conninfo("alice", KEY)
    );
    let (client, connection) = tokio_postgres::connect(&info, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let query = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(1)").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(backends_named("gw-vanish").await, 1);
    query.abort();
    connection.abort();
    let mut gone = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if backends_named("gw-vanish").await == 0 {
            gone = true;
            break;
        }
    }
    assert!(gone, "the upstream backend ends once its client is gone");
    still_serves(&gateway).await;
}

#[tokio::test]
async fn an_upstream_backend_that_dies_ends_the_session_cleanly() {
    let gateway = Gateway::start().await;
    let info = format!(
        "{} application_name=gw-killed",
        gateway.conninfo("alice", KEY)
    );
    let (client, connection) = tokio_postgres::connect(&info, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    client.simple_query("SELECT 1").await.unwrap();
    direct()
        .await
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gw-killed'",
            &[],
        )
        .await
        .unwrap();
    let error = client.simple_query("SELECT 1").await.unwrap_err();
    assert!(
        error.is_closed() || sqlstate(&error) == "57P01",
        "{error:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .unwrap()
        .unwrap()
        .ok();
    still_serves(&gateway).await;
}

#[tokio::test]
async fn shutdown_lets_running_statements_finish_then_closes_sessions() {
    let mut gateway = Gateway::start().await;
    let client = gateway.connect().await;
    let running = tokio::spawn(async move {
        let result = client
            .query_one("SELECT pg_sleep(0.5)::text, 42", &[])
            .await;
        let after = client.simple_query("SELECT 1").await;
        (result.map(|row| row.get::<_, i32>(1)), after)
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let port = gateway.port;
    gateway.stop().await;
    let (result, after) = running.await.unwrap();
    assert_eq!(result.unwrap(), 42, "the running statement finished");
    let after = after.unwrap_err();
    assert!(
        after.is_closed() || sqlstate(&after) == "57P01",
        "{after:?}"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "no longer accepting"
    );
    let events = gateway.audit_export();
    let closed = events
        .iter()
        .find(|e| e["event"]["type"] == "session_closed")
        .unwrap();
    assert_eq!(closed["event"]["reason"], "gateway shutdown");
}
