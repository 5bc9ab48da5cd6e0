//! The upstream leg: connect to the real server and authenticate with the connection's own
//! credentials (the client never sees them).

use airlock_pg::{Step, UpstreamHandshake, UpstreamSession, encode_frame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::client_auth::nonce;
use crate::error::SessionError;
use crate::framed::ReadBuf;
use crate::state::Upstream;

/// A connected, authenticated upstream session and any bytes read past its handshake.
#[derive(Debug)]
pub struct Connected {
    pub stream: TcpStream,
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
    let mut stream = TcpStream::connect((config.host.as_str(), config.port)).await?;
    stream.set_nodelay(true)?;
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
    stream.write_all(&packet).await?;
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
            Step::Send(bytes) => stream.write_all(&bytes).await?,
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
