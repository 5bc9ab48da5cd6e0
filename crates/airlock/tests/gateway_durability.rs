//! No unrecorded change: `airlock serve` is killed with SIGKILL under write load, and every
//! row that committed upstream has its intent record in the audit log, which still verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{KEY, airlock, direct, serve_process};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_committed_row_has_its_intent_record_after_kill_9() {
    direct()
        .await
        .batch_execute("DROP TABLE IF EXISTS gw_kill; CREATE TABLE gw_kill (id int primary key)")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = serve_process(dir.path(), port, Stdio::null());
    let info = format!("host=127.0.0.1 port={port} dbname=local user=alice password={KEY}");
    let mut ready = false;
    for _ in 0..100 {
        if tokio_postgres::connect(&info, tokio_postgres::NoTls)
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "airlock serve did not start");

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4i32 {
        let (info, stop) = (info.clone(), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let Ok((client, connection)) = tokio_postgres::connect(&info, tokio_postgres::NoTls).await
            else {
                return;
            };
            tokio::spawn(connection);
            let mut id = w * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                id += 1;
                let sql = if w % 2 == 0 {
                    format!("INSERT INTO gw_kill VALUES ({id})")
                } else {
                    // A transaction block: the intents must be durable before COMMIT runs.
                    id += 1;
                    format!("BEGIN; INSERT INTO gw_kill VALUES ({}); INSERT INTO gw_kill VALUES ({id}); COMMIT", id - 1)
                };
                if client.simple_query(&sql).await.is_err() {
                    return;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        let _ = writer.await;
    }

    let rows: HashSet<i32> = direct()
        .await
        .query("SELECT id FROM gw_kill", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        rows.len() > 50,
        "the load wrote rows before the kill ({})",
        rows.len()
    );
    let data = dir.path().join("data");
    let verify = airlock(&["audit", "verify"], &data);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let export = airlock(&["audit", "export", "--format", "jsonl"], &data);
    let mut recorded = HashSet::new();
    for line in String::from_utf8_lossy(&export.stdout).lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        if event["event"]["type"] == "decision" {
            let text = event["event"]["text"].as_str().unwrap();
            for part in text.split("VALUES (").skip(1) {
                let id: i32 = part.split(')').next().unwrap().parse().unwrap();
                recorded.insert(id);
            }
        }
    }
    let missing: Vec<&i32> = rows.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "{} committed rows have no intent record: {missing:?}",
        missing.len()
    );
}
