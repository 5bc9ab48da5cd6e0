//! A minimal HTTP/1.1 client for the gateway's API (`airlock approvals`): plain `http://`
//! URLs, basic authentication, JSON bodies, a timeout on every call.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the API is and who calls it.
#[derive(Debug)]
pub struct Api {
    host: String,
    port: u16,
    /// The URL's path, without a trailing slash (`""` or `/airlock`).
    base: String,
    authorization: String,
}

/// An answer: the status code and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Api {
    /// `url` is `http://host[:port][/base]`.
    pub fn new(url: &str, identity: &str, key: &str) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                bail!(
                    "`{url}`: this client speaks plain HTTP only; reach the gateway's HTTP listener on a trusted network or through a TLS-terminating proxy on this host"
                );
            }
            bail!("`{url}` is not an http:// URL such as `http://127.0.0.1:8080`");
        };
        let (authority, base) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .with_context(|| format!("`{port}` in `{url}` is not a port"))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() {
            bail!("`{url}` names no host");
        }
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{identity}:{key}"));
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            base: base.trim_end_matches('/').to_owned(),
            authorization: format!("Basic {credentials}"),
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<Answer> {
        self.call(Method::POST, path, Some(serde_json::to_vec(body)?))
            .await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Answer> {
        tokio::time::timeout(TIMEOUT, self.exchange(method, path, body))
            .await
            .with_context(|| {
                format!(
                    "no answer from {}:{} within {} s",
                    self.host,
                    self.port,
                    TIMEOUT.as_secs()
                )
            })?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Answer> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| {
                format!(
                    "cannot connect to the gateway at {}:{}",
                    self.host, self.port
                )
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake with the gateway")?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(HOST, format!("{}:{}", self.host, self.port))
            .header(AUTHORIZATION, &self.authorization);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = sender
            .send_request(request)
            .await
            .context("sending the request")?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes()
            .to_vec();
        Ok(Answer { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_https_is_refused_clearly() {
        let api = Api::new("http://127.0.0.1:8080/", "carol", "alk_x").unwrap();
        assert_eq!(
            (api.host.as_str(), api.port, api.base.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let api = Api::new("http://gw.internal/airlock", "carol", "alk_x").unwrap();
        assert_eq!(
            (api.host.as_str(), api.port, api.base.as_str()),
            ("gw.internal", 80, "/airlock")
        );
        let error = Api::new("https://gw", "carol", "k")
            .unwrap_err()
            .to_string();
        assert!(error.contains("plain HTTP only"), "{error}");
        assert!(Api::new("gw:80", "carol", "k").is_err());
        assert!(Api::new("http://gw:x", "carol", "k").is_err());
    }
}
