//! Several API keys per identity through the real gateway: every active key logs in, a key
//! revoked with `airlock keys revoke` is refused from the next connection without a restart,
//! and an unreadable revocation table refuses everyone.
//! A made-up user name shows a stable salt, like a real one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::{BOT_KEY, Gateway, KEY, Options, key_id, keys, message, sqlstate};

const SECOND_KEY: &str = "alk_second_test_key_for_alice";

async fn gateway() -> Gateway {
    Gateway::with(Options {
        alice_keys: vec![KEY, SECOND_KEY],
        ..Options::default()
    })
    .await
}

async fn who(gateway: &Gateway, user: &str, key: &str) -> Result<String, String> {
    match gateway.connect_as(user, key).await {
        Ok(client) => {
            let row = client.query_one("SELECT 'connected'", &[]).await.unwrap();
            Ok(row.get(0))
        }
        Err(error) => Err(sqlstate(&error)),
    }
}

#[tokio::test]
async fn every_key_works_until_revoked_and_only_for_its_identity() {
    let mut gateway = gateway().await;
    assert_eq!(who(&gateway, "alice", KEY).await.unwrap(), "connected");
    assert_eq!(
        who(&gateway, "alice", SECOND_KEY).await.unwrap(),
        "connected"
    );
    // Bob's key is salted like alice's, but it is not one of hers.
    assert_eq!(who(&gateway, "alice", BOT_KEY).await.unwrap_err(), "28P01");
    assert_eq!(who(&gateway, "bot", SECOND_KEY).await.unwrap_err(), "28P01");
    assert_eq!(who(&gateway, "bot", BOT_KEY).await.unwrap(), "connected");

    let open = gateway.connect_as("alice", SECOND_KEY).await.unwrap();
    let revoked = keys(
        &gateway,
        &["revoke", &key_id(SECOND_KEY), "--reason", "laptop lost"],
    )
    .await;
    assert_eq!(revoked.status.code(), Some(0), "{revoked:?}");

    // The very next connection is refused, like a wrong key; the other key still works.
    let refused = gateway.connect_as("alice", SECOND_KEY).await.err().unwrap();
    assert_eq!(sqlstate(&refused), "28P01");
    assert_eq!(
        message(&refused),
        "password authentication failed for user `alice`"
    );
    assert_eq!(who(&gateway, "alice", KEY).await.unwrap(), "connected");
    // A session opened before the revocation continues (documented).
    let row = open.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);

    // An identity whose keys are all revoked fails exactly like an unknown user.
    let revoked = keys(&gateway, &["revoke", &key_id(BOT_KEY)]).await;
    assert_eq!(revoked.status.code(), Some(0), "{revoked:?}");
    assert_eq!(who(&gateway, "bot", BOT_KEY).await.unwrap_err(), "28P01");
    assert_eq!(who(&gateway, "nobody", BOT_KEY).await.unwrap_err(), "28P01");

    let list = keys(&gateway, &["list"]).await;
    let text = String::from_utf8_lossy(&list.stdout);
    // A header and one line per key: alice 2, bot, and the approvers carol, dave, erin.
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(text.contains(&format!("{}  active", key_id(KEY))), "{text}");
    assert!(text.contains("Z: laptop lost"), "{text}");
    for key in [KEY, SECOND_KEY, BOT_KEY] {
        assert!(!text.contains(key), "keys are never shown: {text}");
    }
    drop(open);
    gateway.stop().await;
    // Revocations are beside the audit chain, not in it: the log still verifies.
    assert!(!gateway.audit_export().is_empty());
}

#[tokio::test]
async fn an_unreadable_revocation_table_refuses_everyone() {
    let mut gateway = gateway().await;
    assert_eq!(who(&gateway, "alice", KEY).await.unwrap(), "connected");
    let db = gateway.data_dir().join("audit.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    sqlx::raw_sql("DROP TABLE revoked_keys")
        .execute(&mut conn)
        .await
        .unwrap();
    for (user, key) in [("alice", KEY), ("nobody", KEY)] {
        let error = gateway.connect_as(user, key).await.err().unwrap();
        assert_eq!(sqlstate(&error), "58030", "{error}");
        assert_eq!(
            message(&error),
            "API keys cannot be checked right now: the gateway's audit store is unavailable"
        );
    }
    gateway.stop().await;
}

/// The salt the gateway's SCRAM server-first-message shows `user`.
async fn scram_salt(gateway: &Gateway, user: &str) -> String {
    use support::tls::{auth_request, read_message};
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", gateway.port))
        .await
        .unwrap();
    assert_eq!(auth_request(&mut stream, user).await, 10, "SASL");
    let first = b"n,,n=,r=abcdefghijklmnopqrstuvwx";
    let mut body = b"SCRAM-SHA-256\0".to_vec();
    body.extend_from_slice(&i32::try_from(first.len()).unwrap().to_be_bytes());
    body.extend_from_slice(first);
    let mut message = Vec::new();
    airlock_pg::encode_frame(&mut message, b'p', &body);
    stream.write_all(&message).await.unwrap();
    let (tag, body) = read_message(&mut stream).await;
    assert_eq!((tag, &body[..4]), (b'R', &11i32.to_be_bytes()[..]));
    let server_first = String::from_utf8(body[4..].to_vec()).unwrap();
    server_first
        .split(',')
        .find_map(|part| part.strip_prefix("s="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn unknown_user_names_cannot_be_told_apart_by_their_salt() {
    let gateway = gateway().await;
    // A real identity shows the same salt every time; so must a made-up one, or a prober
    // could list user names by connecting twice.
    let alice = scram_salt(&gateway, "alice").await;
    assert_eq!(scram_salt(&gateway, "alice").await, alice);
    let ghost = scram_salt(&gateway, "ghost").await;
    assert_eq!(scram_salt(&gateway, "ghost").await, ghost);
    assert_ne!(ghost, alice);
    assert_ne!(scram_salt(&gateway, "phantom").await, ghost);
}
