//! A headless Chromium driven through ChromeDriver's W3C WebDriver protocol (JSON over HTTP),
//! for the web inbox tests: navigate, type, click, read. Needs Debian's `chromium` and
//! `chromium-driver` (`.ci/run` installs them); a missing browser fails the test.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A ChromeDriver process and one browser session in it (both ended on drop).
pub struct Browser {
    driver: tokio::process::Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Self {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let profile_dir = profile.path().display().to_string();
        let mut browser = Self {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while browser.call("GET", "/status", None).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", format!("--user-data-dir={profile_dir}")],
            }
        }}});
        let created = browser.ok("POST", "/session", Some(capabilities)).await;
        browser.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_owned();
        browser
    }

    pub async fn goto(&self, url: &str) {
        self.command("POST", "url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        self.command("GET", "url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits (up to 10 s) until the page's text contains `needle`; returns the text.
    pub async fn wait_text(&self, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self.try_text("body").await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{needle}` did not appear on the page:\n{text}");
    }

    /// Waits (up to 10 s) until the address contains `needle`; returns it.
    pub async fn wait_url(&self, needle: &str) -> String {
        let mut url = String::new();
        for _ in 0..100 {
            url = self.url().await;
            if url.contains(needle) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser did not reach `{needle}`; it is at {url}");
    }

    async fn try_text(&self, css: &str) -> Option<String> {
        let path = format!("/session/{}/element", self.session);
        let (status, found) = self
            .call(
                "POST",
                &path,
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        if status != 200 {
            return None;
        }
        let element = found["value"]
            .as_object()?
            .values()
            .next()?
            .as_str()?
            .to_owned();
        let path = format!("/session/{}/element/{element}/text", self.session);
        let (status, text) = self.call("GET", &path, None).await.ok()?;
        (status == 200).then(|| text["value"].as_str().unwrap_or_default().to_owned())
    }

    /// The visible text of the element matching a CSS selector.
    pub async fn text_of(&self, css: &str) -> String {
        self.try_text(css)
            .await
            .unwrap_or_else(|| panic!("no element `{css}` with text on the page"))
    }

    /// The element matching a CSS selector (the test fails if there is none).
    pub async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                "POST",
                "element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element `{css}` on the page"))
            .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            "POST",
            &format!("element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// A real click: ChromeDriver moves the pointer to the element and presses it.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command("POST", &format!("element/{element}/click"), Some(json!({})))
            .await;
    }

    async fn command(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}/{what}", self.session);
        self.ok(method, &path, body).await["value"].take()
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await.unwrap();
        assert_eq!(status, 200, "WebDriver {method} {path}: {value}");
        value
    }

    /// One WebDriver call over a fresh HTTP/1.1 connection.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> std::io::Result<(u16, Value)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        // Read the head, then exactly the body (ChromeDriver may keep the connection open).
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::other("connection closed before the answer"));
            }
            data.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status"))?;
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let chunked = head.contains("transfer-encoding: chunked");
        loop {
            let have = data.len() - head_end;
            let done = match length {
                Some(length) => have >= length,
                None if chunked => data.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        let rest = String::from_utf8_lossy(&data[head_end..]).into_owned();
        let body = if chunked { dechunk(&rest) } else { rest };
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(after.get(..size).unwrap_or(after));
        rest = after.get(size + 2..).unwrap_or("");
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask for the browser to close; the driver is killed on drop either way.
        if !self.session.is_empty() {
            let port = self.port;
            let session = self.session.clone();
            let _ = std::thread::spawn(move || {
                use std::io::Write;
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ = write!(
                        s,
                        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    );
                    // The answer's first bytes: the session is gone (the driver may keep the
                    // connection open, so do not wait for its end).
                    let _ = std::io::Read::read(&mut s, &mut [0u8; 1024]);
                }
            })
            .join();
        }
        let _ = self.driver.start_kill();
    }
}
