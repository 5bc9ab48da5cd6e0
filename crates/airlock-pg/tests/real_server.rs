//! The codec against the real PostgreSQL on 127.0.0.1:5432 (trust authentication, database
//! `test`): a startup built by airlock is accepted, and every message the server sends back
//! splits into frames and decodes — including an error with its SQLSTATE and the
//! transaction-status byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use airlock_pg::{
    Decoded, MAX_FRAME, decode_frame, encode_frame, encode_startup, parse_error, parse_ready,
};

/// A connection to the local PostgreSQL with a read timeout (a hung server fails the test).
fn open() -> TcpStream {
    let stream = TcpStream::connect("127.0.0.1:5432").expect("PostgreSQL on 127.0.0.1:5432");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Appends whatever the server sends next to `buf`.
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).unwrap();
    assert!(n > 0, "the server closed the connection");
    buf.extend_from_slice(&chunk[..n]);
}

/// Reads frames until ReadyForQuery; returns (tag, body) pairs.
fn until_ready(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    loop {
        match decode_frame(buf, MAX_FRAME).unwrap() {
            Decoded::Complete(frame, used) => {
                let done = frame.tag == b'Z';
                frames.push((frame.tag, frame.body.to_vec()));
                buf.drain(..used);
                if done {
                    return frames;
                }
            }
            Decoded::Incomplete(_) => read_more(stream, buf),
        }
    }
}

#[test]
fn startup_query_error_and_status_against_postgres() {
    let mut stream = open();
    stream
        .write_all(&encode_startup(&[
            ("user", "postgres"),
            ("database", "test"),
            ("application_name", "airlock-pg-test"),
        ]))
        .unwrap();
    let mut buf = Vec::new();
    let startup = until_ready(&mut stream, &mut buf);
    let tags: Vec<u8> = startup.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        startup.first().map(|(t, b)| (*t, b.clone())),
        Some((b'R', 0i32.to_be_bytes().to_vec())),
        "AuthenticationOk (trust)"
    );
    assert!(tags.contains(&b'S'), "ParameterStatus");
    assert!(tags.contains(&b'K'), "BackendKeyData");

    let mut query = Vec::new();
    encode_frame(&mut query, b'Q', b"BEGIN; SELECT 1 AS one; SELECT 1/0;\0");
    stream.write_all(&query).unwrap();
    let replies = until_ready(&mut stream, &mut buf);
    let tags: Vec<u8> = replies.iter().map(|(t, _)| *t).collect();
    assert_eq!(tags, vec![b'C', b'T', b'D', b'C', b'E', b'Z']);
    let (_, error_body) = replies.iter().find(|(t, _)| *t == b'E').unwrap();
    let error = parse_error(&airlock_pg::Frame {
        tag: b'E',
        body: error_body,
    })
    .unwrap();
    assert_eq!(error.code, "22012", "{error:?}");
    assert_eq!(error.severity, "ERROR");
    let (_, ready) = replies.last().unwrap();
    assert_eq!(
        parse_ready(&airlock_pg::Frame {
            tag: b'Z',
            body: ready
        })
        .unwrap(),
        b'E',
        "failed transaction"
    );

    let mut terminate = Vec::new();
    encode_frame(&mut terminate, b'X', b"");
    stream.write_all(&terminate).unwrap();
}

fn connect() -> (TcpStream, Vec<u8>) {
    let mut stream = open();
    stream
        .write_all(&encode_startup(&[
            ("user", "postgres"),
            ("database", "test"),
        ]))
        .unwrap();
    let mut buf = Vec::new();
    until_ready(&mut stream, &mut buf);
    (stream, buf)
}

fn query(stream: &mut TcpStream, buf: &mut Vec<u8>, sql: &str) -> Vec<(u8, Vec<u8>)> {
    let mut message = Vec::new();
    encode_frame(&mut message, b'Q', format!("{sql}\0").as_bytes());
    stream.write_all(&message).unwrap();
    let replies = until_ready(stream, buf);
    if let Some((_, body)) = replies.iter().find(|(t, _)| *t == b'E') {
        panic!(
            "{sql}: {:?}",
            parse_error(&airlock_pg::Frame { tag: b'E', body }).unwrap()
        );
    }
    replies
}

/// The first column of the first DataRow.
fn first_value(replies: &[(u8, Vec<u8>)]) -> String {
    let (_, row) = replies.iter().find(|(t, _)| *t == b'D').expect("a row");
    let len = i32::from_be_bytes(row[2..6].try_into().unwrap()) as usize;
    String::from_utf8(row[6..6 + len].to_vec()).unwrap()
}

#[test]
fn scram_verifiers_match_the_ones_postgres_computes() {
    let (mut stream, mut buf) = connect();
    let role = format!("airlock_scram_{}", std::process::id());
    query(
        &mut stream,
        &mut buf,
        "SET password_encryption = 'scram-sha-256'",
    );
    query(
        &mut stream,
        &mut buf,
        &format!("DROP ROLE IF EXISTS {role}"),
    );
    query(
        &mut stream,
        &mut buf,
        &format!("CREATE ROLE {role} PASSWORD 'pencil'"),
    );
    let stored = first_value(&query(
        &mut stream,
        &mut buf,
        &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'"),
    ));
    query(&mut stream, &mut buf, &format!("DROP ROLE {role}"));
    let verifier = airlock_pg::ScramVerifier::parse(&stored).unwrap();
    assert!(verifier.verify_password("pencil"));
    assert!(!verifier.verify_password("pencil2"));
    let ours = airlock_pg::ScramVerifier::new("pencil", &verifier.salt, verifier.iterations);
    assert_eq!(
        ours.to_string(),
        stored,
        "same salt and iterations give PostgreSQL's verifier"
    );
}

#[test]
fn upstream_handshake_reaches_ready_against_postgres() {
    let mut stream = open();
    let (mut handshake, startup) = airlock_pg::UpstreamHandshake::start(
        "postgres",
        "test",
        &[("application_name", "airlock")],
        None,
        "nonce".into(),
    );
    stream.write_all(&startup).unwrap();
    let mut buf = Vec::new();
    let session = loop {
        match decode_frame(&buf, MAX_FRAME).unwrap() {
            Decoded::Complete(frame, used) => {
                let step = handshake.on_frame(&frame).unwrap();
                buf.drain(..used);
                match step {
                    airlock_pg::Step::Send(bytes) => stream.write_all(&bytes).unwrap(),
                    airlock_pg::Step::Continue => {}
                    airlock_pg::Step::Ready(session) => break session,
                }
            }
            Decoded::Incomplete(_) => read_more(&mut stream, &mut buf),
        }
    };
    let param = |name: &str| {
        session
            .params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(param("standard_conforming_strings").as_deref(), Some("on"));
    assert!(param("server_version").is_some());
    assert!(
        session
            .backend
            .is_some_and(|(pid, key)| pid > 0 && !key.is_empty())
    );
}
