//! Real command-line clients through an in-process gateway: psql (simple protocol, COPY,
//! errors as a user sees them) and pgbench (every protocol mode, concurrent sessions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;

use support::{Gateway, KEY, count, direct, psql_at, table};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_queries_copies_and_sees_denials() {
    table("gw_psql", 3).await;
    let gateway = Gateway::start().await;
    let info = gateway.conninfo("alice", KEY);
    let out = tokio::task::spawn_blocking(move || {
        psql_at(
            &info,
            "SELECT v FROM gw_psql WHERE id = 2;\n\
         DELETE FROM gw_psql;\n\
         \\copy gw_psql FROM STDIN\n10\tten\n11\televen\n\\.\n\
         SELECT count(*) FROM gw_psql WHERE id > 0;\n",
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "v2\n5\n", "stderr: {stderr}");
    assert!(
        stderr.contains("ERROR:  denied by airlock rule `pg-delete-all-rows`"),
        "{stderr}"
    );
    assert!(stderr.contains("HINT:  add a WHERE clause"), "{stderr}");
    assert_eq!(count("gw_psql").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_runs_every_protocol_mode_through_the_gateway() {
    let db = direct().await;
    db.batch_execute(
        "DROP TABLE IF EXISTS gw_bench; CREATE TABLE gw_bench (id int primary key, n int);
         INSERT INTO gw_bench SELECT g, 0 FROM generate_series(1, 100) g;",
    )
    .await
    .unwrap();
    let gateway = Gateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bench.sql");
    std::fs::write(
        &script,
        "\\set id random(1, 100)\n\
         BEGIN;\n\
         UPDATE gw_bench SET n = n + 1 WHERE id = :id;\n\
         SELECT n FROM gw_bench WHERE id = :id;\n\
         END;\n",
    )
    .unwrap();
    let mut total = 0i64;
    for mode in ["simple", "extended", "prepared"] {
        let port = gateway.port.to_string();
        let script = script.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("pgbench")
                .args(["-n", "-c", "4", "-j", "2", "-t", "50", "-M", mode, "-f"])
                .arg(&script)
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "alice", "local"])
                .env("PGPASSWORD", KEY)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "pgbench -M {mode}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("number of transactions actually processed: 200/200"),
            "{stdout}"
        );
        assert!(
            stdout.contains("number of failed transactions: 0"),
            "{stdout}"
        );
        total += 200;
    }
    let sum: i64 = db
        .query_one("SELECT sum(n)::int8 FROM gw_bench", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sum, total, "every update committed exactly once");
}
