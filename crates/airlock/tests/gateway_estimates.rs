//! Row estimates end to end: on a connection with `estimate_rows = true`, the gateway asks the
//! real PostgreSQL planner (EXPLAIN, never ANALYZE) how many rows a change touches, a policy
//! decides on it, and the approver sees the number.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::approvals::{request_id, shown};
use support::{Gateway, Options, count, direct, message, sqlstate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planners_estimate_decides_and_reaches_the_approver() {
    support::table("est_rows", 5000).await;
    direct()
        .await
        .batch_execute("ANALYZE est_rows")
        .await
        .unwrap();
    let policy = r#"
@id("allow-default")
permit (principal, action, resource);

@id("big-change")
@verdict("review")
@message("changes over 1000 rows need approval")
forbid (principal, action == Action::"sql", resource)
when {
  (context.stmt.kind == "delete" || context.stmt.kind == "update") &&
  context.stmt.estimated_rows > 1000
};
"#;
    let mut gw = Gateway::with(Options {
        policy: Some(policy.into()),
        connection: "estimate_rows = true".into(),
        approvals: "mode = \"retry\"".into(),
        ..Options::default()
    })
    .await;
    let alice = gw.connect().await;

    // Few rows: allowed, and it runs.
    alice
        .batch_execute("DELETE FROM est_rows WHERE id <= 10")
        .await
        .unwrap();
    assert_eq!(count("est_rows").await, 4990);

    // Many rows: held for review; the EXPLAIN ran nothing.
    let error = alice
        .batch_execute("DELETE FROM est_rows WHERE id > 10")
        .await
        .unwrap_err();
    assert!(
        message(&error).contains("changes over 1000 rows need approval"),
        "{error}"
    );
    assert_eq!(count("est_rows").await, 4990, "estimating runs nothing");
    let id = request_id(&message(&error));
    let request = shown(&gw, &id).await;
    let rows = request["context"]["estimated_rows"].as_u64().unwrap();
    assert!(
        (4000..=6000).contains(&rows),
        "the approver sees ~4990: {rows}"
    );

    // An UPDATE is estimated the same way.
    let error = alice
        .batch_execute("UPDATE est_rows SET v = 'x'")
        .await
        .unwrap_err();
    assert!(message(&error).contains("over 1000 rows"), "{error}");

    // Where the planner cannot answer (no such table), there is no estimate: the statement
    // goes on and fails upstream as it would have.
    let error = alice
        .batch_execute("DELETE FROM est_no_such_table")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42P01", "{error}");

    // The estimator's connection recovers from that failure.
    alice
        .batch_execute("DELETE FROM est_rows WHERE id <= 20")
        .await
        .unwrap();
    assert_eq!(count("est_rows").await, 4980);
    drop(alice);
    gw.stop().await;
    direct()
        .await
        .batch_execute("DROP TABLE est_rows")
        .await
        .unwrap();
}
