//! TLS on both legs with real clients: psql with `sslmode=require` (and without TLS, refused
//! clearly), cleartext passwords offered only inside TLS, the audit's `tls` flag, upstream
//! `require` against the local PostgreSQL (`ssl = on`), and `verify-full` against a second
//! gateway — passing with the right CA, failing clearly with a wrong CA or a wrong name.
//! Certificates are made for each test with rcgen.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::tls::{Pki, answer_password, auth_request, read_message, tls_connect};
use support::{Gateway, KEY, Options, Target, message, psql_at, sqlstate, table};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn listener_tls(pki: &Pki, extra: &str) -> Options {
    Options {
        listener: pki.listener(extra),
        ..Options::default()
    }
}

async fn psql(conninfo: String, script: &'static str) -> (String, String) {
    let out = tokio::task::spawn_blocking(move || psql_at(&conninfo, script))
        .await
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tls` of every session_opened record, in order.
fn sessions_tls(gateway: &Gateway) -> Vec<bool> {
    gateway
        .audit_export()
        .iter()
        .map(|e| &e["event"])
        .filter(|e| e["type"] == "session_opened")
        .map(|e| e["tls"].as_bool().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_with_sslmode_require_works_and_plaintext_is_refused() {
    table("gw_tls_psql", 3).await;
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let mut gateway = Gateway::with(listener_tls(&pki, "")).await;
    let info = gateway.conninfo("alice", KEY);

    let query = "SELECT v FROM gw_tls_psql WHERE id = 2;\nSELECT 6 * 7;\n";
    let (out, err) = psql(format!("{info} sslmode=require"), query).await;
    assert_eq!(out, "v2\n42\n", "stderr: {err}");
    // A large result streams through the encrypted leg whole.
    let rows = "SELECT g FROM generate_series(1, 200000) g;\n";
    let (out, err) = psql(format!("{info} sslmode=require"), rows).await;
    assert_eq!(out.lines().count(), 200_000, "stderr: {err}");
    assert!(out.ends_with("\n199999\n200000\n"));
    // The certificate is a real one: libpq's full verification accepts it with the CA.
    let ca = pki.ca.display();
    let verified = format!("{info} sslmode=verify-full sslrootcert={ca}");
    let (out, err) = psql(verified, "SELECT 1;\n").await;
    assert_eq!(out, "1\n", "stderr: {err}");

    let (out, err) = psql(format!("{info} sslmode=disable"), "SELECT 1;\n").await;
    assert_eq!(out, "");
    assert!(
        err.contains("FATAL:  this listener requires TLS: connect with sslmode=require"),
        "{err}"
    );
    gateway.stop().await;
    assert_eq!(sessions_tls(&gateway), [true, true, true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleartext_passwords_are_asked_only_inside_tls() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let options = Options {
        listener: format!(
            "{}\nauth = \"password\"",
            pki.listener(", required = false")
        ),
        ..Options::default()
    };
    let mut gateway = Gateway::with(options).await;

    // Inside TLS: AuthenticationCleartextPassword, the key checked against its verifier.
    let mut tls = tls_connect(gateway.port, &pki).await;
    assert_eq!(auth_request(&mut tls, "alice").await, 3);
    answer_password(&mut tls, KEY).await.unwrap();
    drop(tls);
    let mut tls = tls_connect(gateway.port, &pki).await;
    assert_eq!(auth_request(&mut tls, "alice").await, 3);
    let wrong = answer_password(&mut tls, "alk_wrong").await.unwrap_err();
    assert_eq!(
        wrong,
        (
            "28P01".to_owned(),
            "password authentication failed for user `alice`".to_owned()
        )
    );
    // An unknown user fails exactly like a wrong key.
    let mut tls = tls_connect(gateway.port, &pki).await;
    assert_eq!(auth_request(&mut tls, "mallory").await, 3);
    let unknown = answer_password(&mut tls, KEY).await.unwrap_err();
    assert_eq!(
        unknown,
        (
            "28P01".to_owned(),
            "password authentication failed for user `mallory`".to_owned()
        )
    );

    // Without TLS the key is never asked for in cleartext: SCRAM instead.
    let mut plain = TcpStream::connect(("127.0.0.1", gateway.port))
        .await
        .unwrap();
    assert_eq!(auth_request(&mut plain, "alice").await, 10);
    drop(plain);

    // psql answers whichever it is asked.
    let info = gateway.conninfo("alice", KEY);
    let (out, err) = psql(format!("{info} sslmode=require"), "SELECT 1;\n").await;
    assert_eq!(out, "1\n", "stderr: {err}");
    let (out, err) = psql(format!("{info} sslmode=disable"), "SELECT 2;\n").await;
    assert_eq!(out, "2\n", "stderr: {err}");
    gateway.stop().await;
    assert_eq!(sessions_tls(&gateway), [true, true, false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiation_refuses_what_postgres_refuses() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let gateway = Gateway::with(listener_tls(&pki, "")).await;
    let connect = || TcpStream::connect(("127.0.0.1", gateway.port));

    // GSSAPI encryption is declined; TLS is then offered as usual.
    let mut tcp = connect().await.unwrap();
    let gssenc = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];
    tcp.write_all(&gssenc).await.unwrap();
    assert_eq!(tcp.read_u8().await.unwrap(), b'N');
    tcp.write_all(&airlock_pg::encode_ssl_request())
        .await
        .unwrap();
    assert_eq!(tcp.read_u8().await.unwrap(), b'S');

    // Bytes sent after the SSLRequest, before the handshake, would pass as encrypted.
    let mut tcp = connect().await.unwrap();
    let mut early = airlock_pg::encode_ssl_request().to_vec();
    early.extend(airlock_pg::encode_startup(&[("user", "alice")]));
    tcp.write_all(&early).await.unwrap();
    let (tag, body) = read_message(&mut tcp).await;
    assert_eq!(tag, b'E');
    let fields = airlock_pg::parse_error(&airlock_pg::Frame { tag, body: &body }).unwrap();
    assert_eq!(fields.code, "08P01");
    assert_eq!(
        fields.message,
        "received unencrypted data after the SSL request"
    );

    // Inside TLS, asking again is a protocol violation.
    let mut tls = tls_connect(gateway.port, &pki).await;
    tls.write_all(&airlock_pg::encode_ssl_request())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let (tag, body) = read_message(&mut tls).await;
    assert_eq!(tag, b'E');
    let fields = airlock_pg::parse_error(&airlock_pg::Frame { tag, body: &body }).unwrap();
    assert_eq!(fields.code, "08P01");
}

const SSL_OF_THIS_BACKEND: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_require_encrypts_the_leg_to_postgres() {
    let plain = Gateway::start().await;
    let row = plain
        .connect()
        .await
        .query_one(SSL_OF_THIS_BACKEND, &[])
        .await;
    assert!(!row.unwrap().get::<_, bool>(0), "default: tls = disable");

    let encrypted = Gateway::with(Options {
        connection: "tls = \"require\"".into(),
        ..Options::default()
    })
    .await;
    let client = encrypted.connect().await;
    let row = client.query_one(SSL_OF_THIS_BACKEND, &[]).await.unwrap();
    assert!(row.get::<_, bool>(0), "the upstream leg is encrypted");
    // 10 MB of rows through the encrypted upstream leg.
    let rows = client
        .query(
            "SELECT g, repeat('x', 1000) FROM generate_series(1, 10000) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 10_000);
    assert_eq!(rows[9_999].get::<_, i32>(0), 10_000);
    assert_eq!(rows[9_999].get::<_, &str>(1).len(), 1000);
    // The cancel is forwarded inside TLS too, and PostgreSQL acts on it.
    cancel_stops_a_sleep(client).await;
}

/// Cancels a running `pg_sleep(30)` with the client's cancel key: it fails with 57014 at once.
async fn cancel_stops_a_sleep(client: tokio_postgres::Client) {
    let token = client.cancel_token();
    let sleeping = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let error = tokio::time::timeout(std::time::Duration::from_secs(5), sleeping)
        .await
        .expect("the cancel arrives")
        .unwrap()
        .unwrap_err();
    assert_eq!(sqlstate(&error), "57014", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_verify_full_with_a_wrong_ca_fails_clearly() {
    let wrong = Pki::new(&["localhost"]);
    let gateway = Gateway::with(Options {
        connection: format!(
            "tls = \"verify-full\"\ntls_ca_file = {:?}",
            wrong.ca.display().to_string()
        ),
        ..Options::default()
    })
    .await;
    let error = gateway.connect_as("alice", KEY).await.unwrap_err();
    assert_eq!(sqlstate(&error), "08001");
    let text = message(&error);
    assert!(
        text.starts_with("connection `local` is unavailable: TLS handshake failed: ")
            && text.contains("invalid peer certificate"),
        "{text}"
    );
}

/// A gateway whose connection is another gateway's TLS listener, checked with `verify-full`.
async fn chained(front: &Gateway, ca: &Pki) -> Gateway {
    Gateway::with(Options {
        connection: format!(
            "tls = \"verify-full\"\ntls_ca_file = {:?}",
            ca.ca.display().to_string()
        ),
        upstream: Some(Target {
            host: "127.0.0.1",
            port: front.port,
            database: "local",
            user: "alice",
            password: KEY,
        }),
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_verify_full_checks_the_chain_and_the_host_name() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let mut front = Gateway::with(listener_tls(&pki, "")).await;
    let back = chained(&front, &pki).await;
    let client = back.connect().await;
    let row = client.query_one("SELECT 6 * 7", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    // The client's cancel comes in plaintext (tokio-postgres, like libpq before 17), even to a
    // listener that requires TLS; the back gateway forwards it inside TLS, as its leg is.
    cancel_stops_a_sleep(client).await;

    // Signed by the right CA, but for another name.
    let elsewhere = Pki::new(&["db.example"]);
    let other_front = Gateway::with(listener_tls(&elsewhere, "")).await;
    let misnamed = chained(&other_front, &elsewhere).await;
    let error = misnamed.connect_as("alice", KEY).await.unwrap_err();
    assert_eq!(sqlstate(&error), "08001");
    let text = message(&error);
    assert!(text.contains("TLS handshake failed: "), "{text}");
    assert!(text.contains("not valid for name"), "{text}");

    // An upstream without TLS says `N`: the connection's `tls` cannot be honoured.
    let plain_front = Gateway::start().await;
    let insisting = Gateway::with(Options {
        connection: "tls = \"require\"".into(),
        upstream: Some(Target {
            host: "127.0.0.1",
            port: plain_front.port,
            database: "local",
            user: "alice",
            password: KEY,
        }),
        ..Options::default()
    })
    .await;
    let error = insisting.connect_as("alice", KEY).await.unwrap_err();
    assert_eq!(sqlstate(&error), "08001");
    assert!(
        message(&error).contains("the server does not accept TLS"),
        "{}",
        message(&error)
    );

    front.stop().await;
    // The front gateway saw the back gateway's session encrypted.
    assert_eq!(sessions_tls(&front), [true]);
}
