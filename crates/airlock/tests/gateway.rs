//! The PostgreSQL gateway end to end: an in-process gateway in front of the machine's
//! PostgreSQL, driven by tokio-postgres (simple and extended protocol, pipelining, COPY,
//! notices, notifications, cancel) and checked against direct connections and the audit log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use futures_util::{SinkExt, StreamExt, TryStreamExt};
use support::{Gateway, count, direct, message, sqlstate, table};
use tokio_postgres::SimpleQueryMessage;

fn rows_as_text(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn allowed_statements_return_what_the_database_returns() {
    let gateway = Gateway::start().await;
    let client = gateway.connect().await;
    let db = direct().await;
    let sql = "SELECT 1::int4 AS i, 'x'::text AS t, 1.5::float8 AS f, ARRAY[1,2] AS a, \
               NULL::int AS n, '2026-01-02'::date AS d, 'a\"b'::jsonb AS j, B'101' AS bits \
               WHERE 1 = 1 AND 2 > 1";
    let sql = sql.replace("'a\"b'::jsonb", "'{\"k\": [1, 2]}'::jsonb");
    let through = client.simple_query(&sql).await.unwrap();
    let direct_rows = db.simple_query(&sql).await.unwrap();
    assert_eq!(rows_as_text(&through), rows_as_text(&direct_rows));
    // Extended protocol with typed parameters and binary results.
    let row = client
        .query_one(
            "SELECT $1::int8 + 1, $2::text || '!', $3::bool",
            &[&41i64, &"hi", &true],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, String>(1),
            row.get::<_, bool>(2)
        ),
        (42, "hi!".to_owned(), true)
    );
    // Server errors pass through unchanged.
    let error = client.simple_query("SELECT 1/0").await.unwrap_err();
    assert_eq!(sqlstate(&error), "22012");
    let error = client
        .query("SELECT * FROM no_such_table_xyz WHERE 1 = 0", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42P01");
    // Multi-statement simple queries.
    let messages = client
        .simple_query("SELECT 1 AS a; SELECT 2 AS b")
        .await
        .unwrap();
    assert_eq!(
        rows_as_text(&messages),
        vec![vec![Some("1".into())], vec![Some("2".into())]]
    );
}

#[tokio::test]
async fn a_denied_statement_is_42501_and_changes_nothing() {
    table("gw_denied", 5).await;
    let gateway = Gateway::with(support::Options {
        approvals: "mode = \"retry\"".into(),
        ..support::Options::default()
    })
    .await;
    let client = gateway.connect().await;
    let error = client
        .simple_query("DELETE FROM gw_denied")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    let db_error = error.as_db_error().unwrap();
    assert!(
        db_error
            .message()
            .starts_with("denied by airlock rule `pg-delete-all-rows`"),
        "{}",
        db_error.message()
    );
    assert!(
        db_error.hint().unwrap().contains("WHERE"),
        "{:?}",
        db_error.hint()
    );
    assert_eq!(count("gw_denied").await, 5);
    // Extended protocol: the Parse is refused; the statement never runs.
    let error = client
        .execute("DELETE FROM gw_denied", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    let error = client.prepare("DROP TABLE gw_denied").await.unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    assert_eq!(count("gw_denied").await, 5);
    // A data-modifying WITH over a set operation is judged like any other (it once went
    // unread: the set operation's WITH clause was skipped).
    let error = client
        .simple_query("WITH d AS (DELETE FROM gw_denied RETURNING *) SELECT 1 UNION SELECT 2")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    assert_eq!(count("gw_denied").await, 5);
    // In retry mode a review fails at once, naming its approval request (gateway_approvals.rs
    // covers holding and approving).
    let error = client
        .simple_query("CREATE TABLE gw_review (a int)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    assert!(
        message(&error).starts_with("approval required by airlock rule"),
        "{}",
        message(&error)
    );
    // Outside a transaction block the session simply continues.
    let rows = client
        .query("SELECT count(*) FROM gw_denied WHERE id > $1", &[&0i32])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 5);
}

#[tokio::test]
async fn a_denial_inside_a_transaction_aborts_it() {
    table("gw_txn", 3).await;
    let gateway = Gateway::start().await;
    let client = gateway.connect().await;
    client.batch_execute("BEGIN").await.unwrap();
    client
        .execute("INSERT INTO gw_txn VALUES (100, 'new')", &[])
        .await
        .unwrap();
    let error = client.simple_query("DELETE FROM gw_txn").await.unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    let error = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&error), "25P02", "{error}");
    let error = client
        .query("SELECT id FROM gw_txn WHERE id = $1", &[&1i32])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "25P02", "{error}");
    let messages = client.simple_query("COMMIT").await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| matches!(m, SimpleQueryMessage::CommandComplete(0))),
        "COMMIT of an aborted transaction reports ROLLBACK"
    );
    assert_eq!(
        count("gw_txn").await,
        3,
        "nothing in the aborted transaction committed"
    );
    // Extended protocol inside a transaction: same rules.
    client.batch_execute("BEGIN").await.unwrap();
    client
        .execute("INSERT INTO gw_txn VALUES ($1, 'x')", &[&101i32])
        .await
        .unwrap();
    let error = client
        .execute("UPDATE gw_txn SET v = 'all'", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    let error = client
        .execute("INSERT INTO gw_txn VALUES ($1, 'y')", &[&102i32])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(count("gw_txn").await, 3);
    // And a clean transaction commits.
    client
        .batch_execute("BEGIN; INSERT INTO gw_txn VALUES (200, 'ok'); COMMIT")
        .await
        .unwrap();
    assert_eq!(count("gw_txn").await, 4);
}

#[tokio::test]
async fn pipelined_requests_get_their_own_answers_in_order() {
    table("gw_pipe", 10).await;
    let gateway = Gateway::start().await;
    let client = gateway.connect().await;
    let allowed = client.query("SELECT v FROM gw_pipe WHERE id = $1", &[&3i32]);
    let denied = client.execute("DELETE FROM gw_pipe", &[]);
    let allowed_again = client.query("SELECT v FROM gw_pipe WHERE id = $1", &[&4i32]);
    let (a, d, b) = tokio::join!(allowed, denied, allowed_again);
    assert_eq!(a.unwrap()[0].get::<_, String>(0), "v3");
    assert_eq!(sqlstate(&d.unwrap_err()), "42501");
    assert_eq!(b.unwrap()[0].get::<_, String>(0), "v4");
    assert_eq!(count("gw_pipe").await, 10);
    // Many named statements and portals at once.
    let statement = client
        .prepare("SELECT v FROM gw_pipe WHERE id = $1")
        .await
        .unwrap();
    let queries = (1..=10).map(|i| {
        let statement = statement.clone();
        let client = &client;
        async move {
            client
                .query_one(&statement, &[&i])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    });
    let values = futures_util::future::join_all(queries).await;
    assert_eq!(
        values,
        (1..=10).map(|i| format!("v{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn copy_in_and_out_pass_through() {
    table("gw_copy", 0).await;
    let gateway = Gateway::start().await;
    let client = gateway.connect().await;
    let sink = client.copy_in("COPY gw_copy FROM STDIN").await.unwrap();
    let mut sink = Box::pin(sink);
    let data: String = (1..=1000).map(|i| format!("{i}\trow {i}\n")).collect();
    sink.send(bytes::Bytes::from(data.clone())).await.unwrap();
    assert_eq!(sink.as_mut().finish().await.unwrap(), 1000);
    assert_eq!(count("gw_copy").await, 1000);
    let stream = client
        .copy_out("COPY (SELECT id, v FROM gw_copy WHERE id <= 1000 ORDER BY id) TO STDOUT")
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let out: Vec<u8> = chunks.concat();
    assert_eq!(String::from_utf8(out).unwrap(), data);
}

#[tokio::test]
async fn notices_and_notifications_reach_the_client() {
    let gateway = Gateway::start().await;
    let (client, mut connection) = tokio_postgres::connect(
        &gateway.conninfo("alice", support::KEY),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(stream.for_each(move |message| {
        let _ = tx.send(message.unwrap());
        async {}
    }));
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$")
        .await
        .unwrap();
    client.batch_execute("LISTEN gw_channel").await.unwrap();
    direct()
        .await
        .batch_execute("NOTIFY gw_channel, 'payload 1'")
        .await
        .unwrap();
    let mut notice = None;
    let mut notification = None;
    while notice.is_none() || notification.is_none() {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        match message {
            tokio_postgres::AsyncMessage::Notice(n) => notice = Some(n.message().to_owned()),
            tokio_postgres::AsyncMessage::Notification(n) => {
                notification = Some((n.channel().to_owned(), n.payload().to_owned()));
            }
            _ => {}
        }
    }
    assert_eq!(notice.unwrap(), "hello from the server");
    assert_eq!(
        notification.unwrap(),
        ("gw_channel".to_owned(), "payload 1".to_owned())
    );
}

#[tokio::test]
async fn cancel_requests_reach_the_right_backend() {
    let gateway = Gateway::start().await;
    let client = gateway.connect().await;
    let other = gateway.connect().await;
    let token = client.cancel_token();
    let sleeping = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await });
    let busy = tokio::spawn(async move {
        other
            .simple_query("SELECT pg_sleep(1.5) AS done")
            .await
            .map(|m| m.len())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let error = sleeping.await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&error), "57014", "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        busy.await.unwrap().is_ok(),
        "the other session is not cancelled"
    );
}

#[tokio::test]
async fn authentication_needs_the_identity_key_and_a_known_connection() {
    let gateway = Gateway::start().await;
    let wrong = gateway
        .connect_as("alice", "alk_wrong")
        .await
        .err()
        .unwrap();
    assert_eq!(sqlstate(&wrong), "28P01");
    let unknown = gateway
        .connect_as("mallory", "alk_anything")
        .await
        .err()
        .unwrap();
    assert_eq!(
        sqlstate(&unknown),
        "28P01",
        "unknown users fail exactly like bad keys"
    );
    let info = format!(
        "host=127.0.0.1 port={} dbname=nope user=alice password={}",
        gateway.port,
        support::KEY
    );
    let error = tokio_postgres::connect(&info, tokio_postgres::NoTls)
        .await
        .err()
        .unwrap();
    assert_eq!(sqlstate(&error), "3D000");
    let info = format!(
        "host=127.0.0.1 port={} dbname=local user=alice password={} options='-c role=admin'",
        gateway.port,
        support::KEY
    );
    let error = tokio_postgres::connect(&info, tokio_postgres::NoTls)
        .await
        .err()
        .unwrap();
    assert_eq!(sqlstate(&error), "0A000", "{error}");
    let info = format!(
        "host=127.0.0.1 port={} dbname=local user=alice password={} replication=database",
        gateway.port,
        support::KEY
    );
    assert!(
        tokio_postgres::connect(&info, tokio_postgres::NoTls)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_agent_identity_is_judged_as_itself() {
    let gateway = Gateway::start().await;
    let bot = gateway.connect_as("bot", support::BOT_KEY).await.unwrap();
    let rows = bot.query("SELECT $1::text", &[&"hi"]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "hi");
    let user: String = bot
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        user, "postgres",
        "the upstream runs as the connection's own user"
    );
}

#[tokio::test]
async fn every_statement_is_in_the_verified_audit_log() {
    table("gw_audit", 2).await;
    let mut gateway = Gateway::start().await;
    {
        let client = gateway.connect().await;
        client
            .simple_query("SELECT v FROM gw_audit WHERE id = 1")
            .await
            .unwrap();
        client
            .execute("UPDATE gw_audit SET v = 'u' WHERE id = $1", &[&2i32])
            .await
            .unwrap();
        let _ = client
            .simple_query("DELETE FROM gw_audit")
            .await
            .unwrap_err();
        let _ = client.simple_query("SELECT 1/0").await.unwrap_err();
        client
            .batch_execute("BEGIN; INSERT INTO gw_audit VALUES (3, 'c'); COMMIT")
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    gateway.stop().await;
    let events = gateway.audit_export();
    let decisions: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"]["type"] == "decision")
        .collect();
    let texts: Vec<&str> = decisions
        .iter()
        .map(|e| e["event"]["text"].as_str().unwrap())
        .collect();
    for expected in [
        "SELECT v FROM gw_audit WHERE id = 1",
        "UPDATE gw_audit SET v = 'u' WHERE id = $1",
        "DELETE FROM gw_audit",
        "SELECT 1/0",
        "BEGIN; INSERT INTO gw_audit VALUES (3, 'c'); COMMIT",
    ] {
        assert!(texts.contains(&expected), "{expected} not in {texts:?}");
    }
    let find = |text: &str| {
        decisions
            .iter()
            .find(|e| e["event"]["text"] == text)
            .map(|e| &e["event"])
            .unwrap()
    };
    let outcome_of = |decision| support::outcome_of(&events, decision);
    let read = find("SELECT v FROM gw_audit WHERE id = 1");
    assert_eq!(read["verdict"], "allow");
    assert_eq!(outcome_of(read)["status"], "succeeded", "{read}");
    assert_eq!(outcome_of(read)["rows"], 1);
    let denied = find("DELETE FROM gw_audit");
    assert_eq!(denied["verdict"], "deny");
    assert_eq!(denied["rules"][0], "pg-delete-all-rows");
    assert_eq!(denied["outcome"]["status"], "not_run");
    let failed = find("SELECT 1/0");
    assert_eq!(outcome_of(failed)["sqlstate"], "22012", "{failed}");
    // The autocommit UPDATE was recorded (durably) before it ran: its outcome follows apart.
    let update = find("UPDATE gw_audit SET v = 'u' WHERE id = $1");
    assert!(update.get("outcome").is_none(), "{update}");
    assert_eq!(update["protocol"], "pg_extended", "{update}");
    assert_eq!(read["protocol"], "pg_simple", "{read}");
    assert_eq!(outcome_of(update)["rows"], 1, "{update}");
    let batch = find("BEGIN; INSERT INTO gw_audit VALUES (3, 'c'); COMMIT");
    assert_eq!(outcome_of(batch)["status"], "succeeded");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"session_opened") && kinds.contains(&"session_closed"));
    let all = serde_json::to_string(&events).unwrap();
    assert!(
        !all.contains(support::UPSTREAM_SECRET),
        "the upstream password is never recorded"
    );
}

#[tokio::test]
async fn outcomes_count_every_row_and_byte_of_large_results() {
    let mut gateway = Gateway::start().await;
    {
        let client = gateway.connect().await;
        // 5,000 small rows span many reads, whole and split; one row larger than a read
        // buffer streams through in pieces.
        for sql in [
            "SELECT repeat('x', 100) FROM generate_series(1, 5000)",
            "SELECT repeat('y', 100000)",
        ] {
            client.simple_query(sql).await.unwrap();
        }
    }
    gateway.stop().await;
    let events = gateway.audit_export();
    let outcome = |text: &str| {
        let decision = events
            .iter()
            .map(|e| &e["event"])
            .find(|e| e["type"] == "decision" && e["text"] == text)
            .unwrap();
        support::outcome_of(&events, decision)
    };
    // A row: tag, length, column count, value length, value; CommandComplete: tag, length,
    // command tag, NUL.
    let row = |value: u64| 1 + 4 + 2 + 4 + value;
    let complete = |tag: &str| 1 + 4 + tag.len() as u64 + 1;
    let many = outcome("SELECT repeat('x', 100) FROM generate_series(1, 5000)");
    assert_eq!(many["rows"], 5000, "{many}");
    assert_eq!(many["bytes"], 5000 * row(100) + complete("SELECT 5000"));
    let one = outcome("SELECT repeat('y', 100000)");
    assert_eq!(one["rows"], 1, "{one}");
    assert_eq!(one["bytes"], row(100_000) + complete("SELECT 1"));
}
