//! `airlock serve` as an operator runs it: on port 0 it reports the port it bound; SIGTERM
//! lets the running statement finish, closes the audit log with a signed checkpoint and exits
//! 0; the log verifies and holds the statement's outcome.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{KEY, airlock, serve_process};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reports_its_port_and_sigterm_drains_then_seals_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve_process(dir.path(), 0, Stdio::piped());
    let (lines, stderr) = mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let listening = loop {
        let line = stderr.recv_timeout(Duration::from_secs(20)).unwrap();
        if line.starts_with("airlock: listening on ") {
            break line;
        }
    };
    // `airlock: listening on 127.0.0.1:<port> (pg, no TLS)`: the bound port, not the 0 asked.
    let address = listening
        .strip_prefix("airlock: listening on ")
        .and_then(|rest| rest.split_once(' '))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_else(|| panic!("unexpected line: {listening}"));
    let port: u16 = address.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_ne!(port, 0, "{listening}");
    assert!(listening.ends_with("(pg, no TLS)"), "{listening}");

    let info = format!("host=127.0.0.1 port={port} dbname=local user=alice password={KEY}");
    let (client, connection) = tokio_postgres::connect(&info, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let running = tokio::spawn(async move {
        client
            .simple_query("SELECT 'drained' FROM pg_sleep(1)")
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());

    // The statement that was running when SIGTERM came finishes with its result.
    let messages = running.await.unwrap().unwrap();
    let drained = messages.iter().any(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0) == Some("drained"),
        _ => false,
    });
    assert!(drained, "the running statement was cut off");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let rest: Vec<String> = stderr.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("shutting down (draining sessions)")),
        "{rest:?}"
    );
    assert_eq!(rest.last().map(String::as_str), Some("airlock: stopped"));

    let data = dir.path().join("data");
    let verify = airlock(&["audit", "verify"], &data);
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{report}");
    let export = airlock(&["audit", "export", "--format", "jsonl"], &data);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let sleep = events
        .iter()
        .find(|e| e["event"]["text"] == "SELECT 'drained' FROM pg_sleep(1)")
        .expect("the drained statement is recorded");
    let outcome = sleep["event"]["outcome"]["status"].as_str();
    let outcome = outcome.or_else(|| {
        events
            .iter()
            .find(|e| e["event"]["type"] == "outcome")
            .and_then(|e| e["event"]["outcome"]["status"].as_str())
    });
    assert_eq!(outcome, Some("succeeded"), "{sleep}");
    assert!(
        events
            .iter()
            .any(|e| e["event"]["type"] == "session_closed")
    );
}
