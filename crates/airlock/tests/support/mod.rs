//! An in-process gateway on 127.0.0.1:0 in front of the machine's PostgreSQL, with one
//! human identity (`alice`) and one agent (`bot`), for end-to-end tests with real clients.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use airlock_config::{Config, ScramVerifier};
use airlock_server::{Limits, ListenerSettings, State};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

pub mod approvals;
pub mod tls;
pub mod webdriver;

pub const KEY: &str = "alk_test_key_for_alice";
pub const BOT_KEY: &str = "alk_test_key_for_bot";
/// Approvers: carol (group `dba`), dave (group `sre`), erin (both groups).
pub const CAROL_KEY: &str = "alk_test_key_for_carol";
pub const DAVE_KEY: &str = "alk_test_key_for_dave";
pub const ERIN_KEY: &str = "alk_test_key_for_erin";
/// The upstream password the gateway is given; trust authentication ignores it, and no
/// client may ever see it.
pub const UPSTREAM_SECRET: &str = "upstream-secret-never-shown-7f3a";

pub struct Gateway {
    pub port: u16,
    /// The HTTP listener (approvals API).
    pub http_port: u16,
    pub data: tempfile::TempDir,
    /// The configuration the gateway runs, as a file for the CLI (`airlock keys …`).
    pub config_file: std::path::PathBuf,
    pub state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    http_stop: Option<oneshot::Sender<()>>,
    http_server: Option<JoinHandle<()>>,
    writer: Option<airlock_store::WriterTask>,
}

pub struct Options {
    pub durability: &'static str,
    pub policy: Option<String>,
    pub limits: Limits,
    /// Alice's API keys (all salted alike, as `airlock keys create --identity` does).
    pub alice_keys: Vec<&'static str>,
    /// Extra lines for the listener (`tls = {…}`, `auth = …`).
    pub listener: String,
    /// Extra lines for the connection (`tls = …`, `tls_ca_file = …`).
    pub connection: String,
    /// Where the connection points instead of the local PostgreSQL.
    pub upstream: Option<Target>,
    /// Lines of the `[approvals]` table.
    pub approvals: String,
    /// Run on an existing data directory (a restart) instead of a new one.
    pub data: Option<tempfile::TempDir>,
}

/// An upstream server for the gateway's connection: another gateway, for instance.
pub struct Target {
    pub host: &'static str,
    pub port: u16,
    pub database: &'static str,
    pub user: &'static str,
    pub password: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            durability: "group",
            policy: None,
            limits: Limits::default(),
            alice_keys: vec![KEY],
            listener: String::new(),
            connection: String::new(),
            upstream: None,
            approvals: String::new(),
            data: None,
        }
    }
}

pub fn verifier(key: &str) -> String {
    ScramVerifier::new(key, b"0123456789abcdef", 4096).to_string()
}

/// The id `airlock keys list` shows for `key` (as configured by [`verifier`]).
pub fn key_id(key: &str) -> String {
    let verifier = ScramVerifier::new(key, b"0123456789abcdef", 4096);
    airlock_config::ApiKey::new(verifier).id.to_string()
}

/// Runs `airlock keys …` against the gateway's configuration, off the test's runtime: the
/// in-process gateway must keep running meanwhile (its audit writer may be mid-commit, holding
/// SQLite's write lock, which the CLI then waits for).
pub async fn keys(gateway: &Gateway, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"));
    command
        .arg("keys")
        .args(args)
        .arg("--config")
        .arg(&gateway.config_file);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

pub fn config_text(data: &Path, port: u16, options: &Options) -> String {
    config_text_http(data, port, None, options)
}

pub fn config_text_http(data: &Path, port: u16, http: Option<u16>, options: &Options) -> String {
    let policy = match &options.policy {
        Some(text) => {
            let file = data.join("team.cedar");
            std::fs::write(&file, text).unwrap();
            format!("files = [{:?}]", file.display().to_string())
        }
        None => "files = []".to_owned(),
    };
    let target = options.upstream.as_ref().unwrap_or(&Target {
        host: "127.0.0.1",
        port: 5432,
        database: "test",
        user: "postgres",
        password: UPSTREAM_SECRET,
    });
    let secret = data.join("upstream.password");
    std::fs::write(&secret, format!("{}\n", target.password)).unwrap();
    format!(
        r#"
data_dir = {data:?}
[audit]
durability = "{durability}"
read_window_ms = 10
[policy]
{policy}
[approvals]
{approvals}
[[listeners]]
name = "pg"
protocol = "postgres"
address = "127.0.0.1:{port}"
{listener}
{http}
[[connections]]
name = "local"
kind = "postgres"
host = "{host}"
port = {upstream_port}
database = "{database}"
user = "{user}"
environments = ["prod"]
password_file = {secret:?}
{connection}
[[identities]]
id = "alice"
kind = "human"
groups = ["dba"]
api_keys = [{alice}]
[[identities]]
id = "bot"
kind = "agent"
acting_for = "alice"
api_keys = ["{bot}"]
[[identities]]
id = "carol"
kind = "human"
groups = ["dba"]
api_keys = ["{carol}"]
[[identities]]
id = "dave"
kind = "human"
groups = ["sre"]
api_keys = ["{dave}"]
[[identities]]
id = "erin"
kind = "human"
groups = ["dba", "sre"]
api_keys = ["{erin}"]
"#,
        approvals = options.approvals,
        http = http.map_or(String::new(), |port| format!(
            "[[listeners]]\nname = \"http\"\nprotocol = \"http\"\naddress = \"127.0.0.1:{port}\"\n"
        )),
        carol = verifier(CAROL_KEY),
        dave = verifier(DAVE_KEY),
        erin = verifier(ERIN_KEY),
        data = data.join("data").display().to_string(),
        durability = options.durability,
        listener = options.listener,
        connection = options.connection,
        host = target.host,
        upstream_port = target.port,
        database = target.database,
        user = target.user,
        secret = secret.display().to_string(),
        alice = options
            .alice_keys
            .iter()
            .map(|key| format!("\"{}\"", verifier(key)))
            .collect::<Vec<_>>()
            .join(", "),
        bot = verifier(BOT_KEY),
    )
}

impl Gateway {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(mut options: Options) -> Self {
        let data = match options.data.take() {
            Some(data) => data,
            None => tempfile::tempdir().unwrap(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_port = http.local_addr().unwrap().port();
        let text = config_text_http(data.path(), port, Some(http_port), &options);
        let config_file = data.path().join("airlock.toml");
        std::fs::write(&config_file, &text).unwrap();
        let config = Config::load(&config_file).unwrap();
        let settings = Arc::new(ListenerSettings::load(&config.listeners[0]).unwrap());
        let http_settings = Arc::new(ListenerSettings::load(&config.listeners[1]).unwrap());
        let (state, writer) = State::start(&config, options.limits.clone()).await.unwrap();
        let state = Arc::new(state);
        let (http_stop, http_stopped) = oneshot::channel::<()>();
        let http_server = tokio::spawn(airlock_server::serve_http(
            Arc::clone(&state),
            http,
            http_settings,
            async {
                let _ = http_stopped.await;
            },
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(airlock_server::serve(
            Arc::clone(&state),
            listener,
            settings,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            port,
            http_port,
            data,
            config_file,
            state,
            stop: Some(stop),
            server: Some(server),
            http_stop: Some(http_stop),
            http_server: Some(http_server),
            writer: Some(writer),
        }
    }

    pub fn conninfo(&self, user: &str, key: &str) -> String {
        format!(
            "host=127.0.0.1 port={} dbname=local user={user} password={key}",
            self.port
        )
    }

    pub async fn connect(&self) -> Client {
        self.connect_as("alice", KEY).await.unwrap()
    }

    pub async fn connect_as(&self, user: &str, key: &str) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) =
            tokio_postgres::connect(&self.conninfo(user, key), NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Stops accepting, drains sessions, closes the audit log (final checkpoint).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(60), server)
                .await
                .unwrap()
                .unwrap();
        }
        if let Some(stop) = self.http_stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.http_server.take() {
            tokio::time::timeout(Duration::from_secs(60), server)
                .await
                .unwrap()
                .unwrap();
        }
        self.state.audit.close().await.unwrap();
        if let Some(writer) = self.writer.take() {
            writer.join().await.unwrap();
        }
    }

    /// The data directory, to start another gateway on it (after [`Gateway::stop`]).
    pub fn into_data(self) -> tempfile::TempDir {
        self.data
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data.path().join("data")
    }

    /// `airlock audit verify` and `airlock audit export` on the gateway's data directory.
    pub fn audit_export(&self) -> Vec<serde_json::Value> {
        let verify = airlock(&["audit", "verify"], &self.data_dir());
        assert!(
            verify.status.success(),
            "audit verify failed: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        let export = airlock(&["audit", "export", "--format", "jsonl"], &self.data_dir());
        assert!(export.status.success());
        String::from_utf8_lossy(&export.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// A statement's outcome, from the exported `events`: in its `decision` record when it ended
/// within the read window, else in an outcome event of the same session and statement number.
pub fn outcome_of(events: &[serde_json::Value], decision: &serde_json::Value) -> serde_json::Value {
    if let Some(outcome) = decision.get("outcome") {
        return outcome.clone();
    }
    events
        .iter()
        .map(|e| &e["event"])
        .find(|k| {
            k["type"] == "outcome"
                && k["session"] == decision["session"]
                && k["statement"] == decision["statement"]
        })
        .map(|k| k["outcome"].clone())
        .unwrap_or(serde_json::Value::Null)
}

/// `airlock serve` as a child process, configured by [`config_text`] in `dir` with the
/// PostgreSQL listener on `port` (0: any free port); its stderr goes to `stderr`.
pub fn serve_process(dir: &Path, port: u16, stderr: std::process::Stdio) -> std::process::Child {
    let config = dir.join("airlock.toml");
    std::fs::write(&config, config_text(dir, port, &Options::default())).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

pub fn airlock(args: &[&str], data_dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

/// A direct connection to the machine's PostgreSQL (database `test`).
pub async fn direct() -> Client {
    let (client, connection) =
        tokio_postgres::connect("host=127.0.0.1 port=5432 dbname=test user=postgres", NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client
}

/// A fresh table `name (id int primary key, v text)` with rows 1..=n, created directly.
pub async fn table(name: &str, rows: i32) {
    let db = direct().await;
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int primary key, v text);
         INSERT INTO {name} SELECT g, 'v' || g FROM generate_series(1, {rows}) g;"
    ))
    .await
    .unwrap();
}

pub async fn count(name: &str) -> i64 {
    direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {name}"), &[])
        .await
        .unwrap()
        .get(0)
}

pub fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .code()
        .map(|c| c.code().to_owned())
        .unwrap_or_else(|| format!("no sqlstate: {error}"))
}

pub fn message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_else(|| error.to_string())
}

/// psql with `script` on standard input (quiet, unaligned, tuples only, errors go on).
pub fn psql_at(conninfo: &str, script: &str) -> Output {
    let mut child = Command::new("psql")
        .arg(conninfo)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-At"])
        .env_remove("PGPASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
