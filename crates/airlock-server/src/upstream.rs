//! The upstream leg: connect to the real server (over TLS when the connection asks for it)
//! and authenticate with the connection's own credentials (the client never sees them).

use airlock_pg::{
    Step, UpstreamHandshake, UpstreamSession, encode_cancel_request, encode_frame,
    encode_ssl_request,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client_auth::{nonce, send};
use crate::error::SessionError;
use crate::framed::ReadBuf;
use crate::state::{Upstream, UpstreamTls};
use crate::stream::Stream;

/// A connected, authenticated upstream session and any bytes read past its handshake.
#[derive(Debug)]
pub struct Connected {
    pub stream: Stream,
    pub buf: ReadBuf,
    pub session: UpstreamSession,
}

/// Connects and authenticates; bounded by `timeout`.
pub async fn connect(
    upstream: &Upstream,
    params: &[(String, String)],
    timeout: std::time::Duration,
) -> Result<Connected, SessionError> {
    let name = upstream.config.name.as_str().to_owned();
    let unavailable = |reason: String| SessionError::Upstream {
        connection: name.clone(),
        reason,
    };
    match tokio::time::timeout(timeout, handshake(upstream, params)).await {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(HandshakeFailure::Io(e))) => Err(unavailable(e.to_string())),
        Ok(Err(HandshakeFailure::Tls(reason))) => Err(unavailable(reason)),
        Ok(Err(HandshakeFailure::Protocol(error))) => Err(SessionError::Handshake {
            connection: name.clone(),
            error: Box::new(error),
        }),
        Err(_) => Err(unavailable(format!(
            "no answer within {} s",
            timeout.as_secs()
        ))),
    }
}

enum HandshakeFailure {
    Io(std::io::Error),
    Tls(String),
    Protocol(airlock_pg::HandshakeError),
}

impl From<std::io::Error> for HandshakeFailure {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

async fn handshake(
    upstream: &Upstream,
    params: &[(String, String)],
) -> Result<Connected, HandshakeFailure> {
    let config = &upstream.config;
    let tcp = TcpStream::connect((config.host.as_str(), config.port)).await?;
    tcp.set_nodelay(true)?;
    let mut stream = match &upstream.tls {
        None => Stream::Plain(tcp),
        Some(tls) => encrypt(tcp, tls).await?,
    };
    let extra: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (mut machine, packet) = UpstreamHandshake::start(
        &config.user,
        &config.database,
        &extra,
        upstream.password.clone(),
        nonce(),
    );
    send(&mut stream, &packet).await?;
    let mut buf = ReadBuf::new();
    loop {
        let frame = match buf.next_frame(1 << 20) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                if buf.fill(&mut stream).await? == 0 {
                    return Err(HandshakeFailure::Io(
                        std::io::ErrorKind::UnexpectedEof.into(),
                    ));
                }
                continue;
            }
            Err(e) => return Err(HandshakeFailure::Protocol(e.into())),
        };
        let wire = airlock_pg::Frame {
            tag: frame.tag,
            body: buf.bytes(frame.body),
        };
        match machine
            .on_frame(&wire)
            .map_err(HandshakeFailure::Protocol)?
        {
            Step::Send(bytes) => send(&mut stream, &bytes).await?,
            Step::Continue => {}
            Step::Ready(session) => {
                return Ok(Connected {
                    stream,
                    buf,
                    session,
                });
            }
        }
    }
}

/// SSLRequest, then the TLS handshake (certificate checked as the connection's `tls` says).
async fn encrypt(mut tcp: TcpStream, tls: &UpstreamTls) -> Result<Stream, HandshakeFailure> {
    tcp.write_all(&encode_ssl_request()).await?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await?;
    match &answer {
        b"S" => {}
        b"N" => {
            return Err(HandshakeFailure::Tls(
                "the server does not accept TLS (it declined the SSL request); \
                 enable `ssl` on the server or set the connection's `tls = \"disable\"`"
                    .into(),
            ));
        }
        _ => {
            return Err(HandshakeFailure::Tls(
                "the server answered the SSL request with neither `S` nor `N`".into(),
            ));
        }
    }
    match tls.connector.connect(tls.server_name.clone(), tcp).await {
        Ok(stream) => Ok(Stream::Tls(Box::new(stream.into()))),
        Err(error) => Err(HandshakeFailure::Tls(format!(
            "TLS handshake failed: {error}"
        ))),
    }
}

/// Sends a CancelRequest for upstream backend `(pid, key)` on a new connection to `address`,
/// inside TLS when the session's leg uses it (the key is a secret: whoever reads it can cancel
/// that backend's queries; PostgreSQL reads a cancel after SSL negotiation as libpq 17 sends
/// it). Bounded by `timeout`.
pub async fn cancel(
    address: (&str, u16),
    tls: Option<&UpstreamTls>,
    (pid, key): (i32, &[u8]),
    timeout: std::time::Duration,
) -> Result<(), String> {
    let packet = encode_cancel_request(pid, key);
    let send = async {
        let tcp = TcpStream::connect(address).await?;
        let mut stream = match tls {
            None => Stream::Plain(tcp),
            Some(tls) => encrypt(tcp, tls).await?,
        };
        stream.write_all(&packet).await?;
        stream.flush().await?;
        stream.shutdown().await.map_err(HandshakeFailure::Io)
    };
    match tokio::time::timeout(timeout, send).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(HandshakeFailure::Io(error))) => Err(error.to_string()),
        Ok(Err(HandshakeFailure::Tls(reason))) => Err(reason),
        Ok(Err(HandshakeFailure::Protocol(error))) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

/// A Terminate message.
pub fn terminate() -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    encode_frame(&mut out, b'X', b"");
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rcgen::{CertificateParams, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::net::TcpListener;

    use super::*;

    /// A stand-in server for one cancel connection: answers an SSLRequest with `S` and a TLS
    /// handshake (self-signed certificate), then returns the 16-byte CancelRequest it read and
    /// whether it came inside TLS.
    async fn stand_in(listener: TcpListener) -> (Vec<u8>, bool) {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 8];
        tcp.read_exact(&mut first).await.unwrap();
        if first != encode_ssl_request() {
            let mut rest = [0u8; 8];
            tcp.read_exact(&mut rest).await.unwrap();
            return ([first, rest].concat(), false);
        }
        tcp.write_all(b"S").await.unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut packet = vec![0u8; 16];
        tls.read_exact(&mut packet).await.unwrap();
        (packet, true)
    }

    /// What a stand-in received must be exactly one CancelRequest for backend 4242, key `k3y!`.
    fn is_the_cancel(packet: &[u8]) -> bool {
        let expected = airlock_pg::StartupPacket::Cancel {
            pid: 4242,
            key: b"k3y!".to_vec(),
        };
        airlock_pg::decode_startup(packet) == Ok(airlock_pg::Decoded::Complete(expected, 16))
    }

    #[tokio::test]
    async fn a_cancel_travels_inside_tls_when_the_session_leg_does() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(stand_in(listener));
        let config = crate::tls::client_config(&airlock_config::UpstreamTls::Require)
            .unwrap()
            .unwrap();
        let tls = UpstreamTls {
            connector: tokio_rustls::TlsConnector::from(config),
            server_name: crate::tls::server_name("localhost").unwrap(),
        };
        let address = ("127.0.0.1", port);
        let timeout = Duration::from_secs(5);
        cancel(address, Some(&tls), (4242, b"k3y!"), timeout)
            .await
            .unwrap();
        let (packet, encrypted) = server.await.unwrap();
        assert!(
            is_the_cancel(&packet) && encrypted,
            "{packet:?}, tls: {encrypted}"
        );
    }

    #[tokio::test]
    async fn a_cancel_is_plain_on_a_plain_leg_and_a_dead_upstream_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(stand_in(listener));
        let timeout = Duration::from_secs(5);
        cancel(("127.0.0.1", port), None, (4242, b"k3y!"), timeout)
            .await
            .unwrap();
        let (packet, encrypted) = server.await.unwrap();
        assert!(
            is_the_cancel(&packet) && !encrypted,
            "{packet:?}, tls: {encrypted}"
        );
        // Nothing listens there any more: a clear error, not a hang.
        let error = cancel(("127.0.0.1", port), None, (1, b"0000"), timeout)
            .await
            .unwrap_err();
        assert!(error.contains("refused"), "{error}");
    }
}
