//! The upstream leg: connect to the real server (over TLS when the connection asks for it)
//! and authenticate with the connection's own credentials (the client never sees them).

use airlock_pg::{Step, UpstreamHandshake, UpstreamSession, encode_frame, encode_ssl_request};
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

/// Sends a CancelRequest for upstream backend `pid`/`key` on a new connection.
pub async fn cancel(host: &str, port: u16, pid: i32, key: &[u8]) -> std::io::Result<()> {
    let mut stream = TcpStream::connect((host, port)).await?;
    let length = u32::try_from(12 + key.len()).unwrap_or(u32::MAX);
    let mut packet = Vec::with_capacity(16);
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&80_877_102i32.to_be_bytes());
    packet.extend_from_slice(&pid.to_be_bytes());
    packet.extend_from_slice(key);
    stream.write_all(&packet).await?;
    stream.shutdown().await
}

/// A Terminate message.
pub fn terminate() -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    encode_frame(&mut out, b'X', b"");
    out
}
