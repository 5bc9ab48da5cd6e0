//! Approval helpers shared by the approval tests: the API over raw HTTP/1.1, a psql session
//! whose stderr (NOTICEs, errors) is read line by line, and table checks.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{CAROL_KEY, Gateway, KEY, direct};

/// A raw HTTP/1.1 call to the API; returns the status and the JSON body.
pub async fn api(
    gw: &Gateway,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&str>,
) -> (u16, Value) {
    use base64::Engine;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", gw.http_port))
        .await
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some((user, key)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}"));
        request.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status: u16 = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Request `id` as a human reviewer (carol) reads it through the API; its status must be 200.
pub async fn shown(gw: &Gateway, id: &str) -> Value {
    let (status, request) = api(
        gw,
        "GET",
        &format!("/v1/approvals/{id}"),
        Some(("carol", CAROL_KEY)),
        None,
    )
    .await;
    assert_eq!(status, 200, "GET /v1/approvals/{id}: {request}");
    request
}

/// The request id in a message (`… request apr_… …`).
pub fn request_id(text: &str) -> String {
    let start = text
        .find("apr_")
        .unwrap_or_else(|| panic!("no request id in: {text}"));
    text[start..start + 36].to_owned()
}

/// psql running `script` through the gateway as alice; its stderr lines arrive on the channel.
pub struct Psql {
    child: tokio::process::Child,
    stderr: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Psql {
    pub fn start(gw: &Gateway, script: &str) -> Self {
        let mut child = tokio::process::Command::new("psql")
            .arg(gw.conninfo("alice", KEY))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-At"])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let script = script.to_owned();
        tokio::spawn(async move {
            stdin.write_all(script.as_bytes()).await.unwrap();
        });
        let (send, stderr) = tokio::sync::mpsc::unbounded_channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = send.send(line);
            }
        });
        Self { child, stderr }
    }

    /// Waits for a stderr line containing `needle`.
    pub async fn line_with(&mut self, needle: &str) -> String {
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = self.stderr.recv().await {
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("psql ended without printing `{needle}`");
        });
        found
            .await
            .unwrap_or_else(|_| panic!("psql did not print `{needle}` in time"))
    }

    /// Waits for psql to finish; returns its standard output and the rest of its stderr.
    pub async fn finish(mut self) -> (String, String) {
        use tokio::io::AsyncReadExt;
        let mut out = String::new();
        let mut stdout = self.child.stdout.take().unwrap();
        tokio::time::timeout(Duration::from_secs(20), stdout.read_to_string(&mut out))
            .await
            .expect("psql did not finish")
            .unwrap();
        let _ = self.child.wait().await;
        let mut rest = Vec::new();
        while let Ok(line) = self.stderr.try_recv() {
            rest.push(line);
        }
        (out, rest.join("\n"))
    }
}

pub async fn exists(table: &str) -> bool {
    direct()
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

pub async fn drop_table(table: &str) {
    direct()
        .await
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .await
        .unwrap();
}
