//! Outgoing HTTP(S) POSTs for notices: one request per connection (notices are rare), a
//! deadline on the whole exchange, TLS with Mozilla's root certificates, and errors that name
//! the host but never the URL's path or query (Teams and Slack put secrets there).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The longest one delivery attempt may take, connection to last byte.
const DEADLINE: Duration = Duration::from_secs(10);
/// The most of an answer read (Slack's answers are small JSON documents).
const MAX_ANSWER: usize = 256 * 1024;

/// Where a POST goes: `http(s)://host[:port]/path?query`.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// Why a POST did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("`{0}` is not an http(s) URL")]
    Url(String),
    #[error("cannot reach {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host} did not answer within {} s", DEADLINE.as_secs())]
    Timeout { host: String },
    #[error("the exchange with {host} failed: {reason}")]
    Exchange { host: String, reason: String },
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, OutboundError> {
        let bad = || OutboundError::Url(redact(url));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        let default_port = if tls { 443 } else { 80 };
        let port_of = |text: &str| text.parse::<u16>().map_err(|_| bad());
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            // An IPv6 literal: `[::1]` or `[::1]:8080`.
            let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(port) => (host, port_of(port)?),
                None if after.is_empty() => (host, default_port),
                None => return Err(bad()),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, port_of(port)?),
                None => (authority, default_port),
            }
        };
        if host.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The same server, another path (`chat.update` beside `chat.postMessage`).
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            path: path.to_owned(),
            ..self.clone()
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The path may carry a secret (a Workflows URL's signature): never shown.
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}/…", self.host, self.port)
    }
}

/// The URL with its path and query left out, for errors.
fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = url.get(start..).unwrap_or_default();
    let end = rest.find(['/', '?']).map_or(url.len(), |i| start + i);
    format!("{}/…", url.get(..end).unwrap_or_default())
}

/// POSTs `body` (JSON) to `target` with `headers`.
pub async fn post_json(
    target: &Target,
    headers: &[(HeaderName, String)],
    body: Vec<u8>,
) -> Result<Answer, OutboundError> {
    let host = target.host.clone();
    match tokio::time::timeout(DEADLINE, exchange(target, headers, body)).await {
        Ok(answer) => answer,
        Err(_) => Err(OutboundError::Timeout { host }),
    }
}

async fn exchange(
    target: &Target,
    headers: &[(HeaderName, String)],
    body: Vec<u8>,
) -> Result<Answer, OutboundError> {
    let connect_error = |reason: String| OutboundError::Connect {
        host: target.host.clone(),
        reason,
    };
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let request = build(target, headers, body)?;
    if target.tls {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| connect_error(format!("not a TLS server name: {e}")))?;
        let tls = connector()
            .map_err(connect_error)?
            .connect(name, tcp)
            .await
            .map_err(|e| connect_error(format!("TLS: {e}")))?;
        send(target, TokioIo::new(tls), request).await
    } else {
        send(target, TokioIo::new(tcp), request).await
    }
}

fn build(
    target: &Target,
    headers: &[(HeaderName, String)],
    body: Vec<u8>,
) -> Result<Request<Full<Bytes>>, OutboundError> {
    let host = if (target.tls && target.port == 443) || (!target.tls && target.port == 80) {
        target.host.clone()
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let length = body.len();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(&target.path)
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .header(CONTENT_LENGTH, length)
        .header("user-agent", concat!("airlock/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| OutboundError::Exchange {
            host: target.host.clone(),
            reason: e.to_string(),
        })?;
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).map_err(|_| OutboundError::Exchange {
            host: target.host.clone(),
            reason: format!("header `{name}` has a value HTTP cannot carry"),
        })?;
        request.headers_mut().insert(name.clone(), value);
    }
    Ok(request)
}

async fn send<I>(
    target: &Target,
    io: I,
    request: Request<Full<Bytes>>,
) -> Result<Answer, OutboundError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let failed = |reason: String| OutboundError::Exchange {
        host: target.host.clone(),
        reason,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = answer.status().as_u16();
    let body = Limited::new(answer.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| failed(format!("reading the answer: {e}")))?
        .to_bytes();
    drop(sender);
    driver.abort();
    Ok(Answer { status, body })
}

/// One TLS client configuration for every notice, made on first use.
fn connector() -> Result<TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| crate::tls::public_client_config().map_err(|e| e.to_string()))
        .as_ref()
        .map(|config| TlsConnector::from(Arc::clone(config)))
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_secrets_in_paths_stay_out_of_errors() {
        let t = Target::parse("https://hooks.example.com/workflows/abc?sig=SECRET").unwrap();
        assert_eq!((t.tls, t.host(), t.port), (true, "hooks.example.com", 443));
        assert_eq!(t.path(), "/workflows/abc?sig=SECRET");
        assert!(!format!("{t:?}").contains("SECRET"));
        let t = Target::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (t.tls, t.host(), t.port, t.path()),
            (false, "127.0.0.1", 9000, "/")
        );
        let t = Target::parse("http://[::1]:8080/x").unwrap();
        assert_eq!((t.host(), t.port, t.path()), ("::1", 8080, "/x"));
        let t = Target::parse("https://[::1]/x").unwrap();
        assert_eq!((t.host(), t.port), ("::1", 443));
        assert!(Target::parse("http://[::1/x").is_err());
        let error = Target::parse("ftp://example.com/secret").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(Target::parse("http://user:pw@example.com/").is_err());
        assert!(Target::parse("http://example.com:notaport/").is_err());
        assert_eq!(
            Target::parse("https://slack.com/api")
                .unwrap()
                .with_path("/api/chat.update")
                .path(),
            "/api/chat.update"
        );
    }
}
