//! What a listener asks of its clients — TLS (required or not) and the authentication
//! method — and the negotiation that enforces it before anything else is read: SSLRequest →
//! `S` and a TLS handshake; GSSENCRequest → `N`; a plaintext startup on a listener that
//! requires TLS → FATAL `28000`.

use airlock_config::{ClientAuth, ListenerConfig};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsAcceptor;

use crate::client_auth::{self, Encryption, Opening, refuse, send};
use crate::error::{SessionError, StartError};
use crate::framed::ReadBuf;
use crate::stream::Stream;
use crate::tls;

/// A listener's client-leg settings, with its certificate loaded.
pub struct ListenerSettings {
    name: String,
    tls: Option<ListenerTls>,
    auth: ClientAuth,
}

struct ListenerTls {
    acceptor: TlsAcceptor,
    required: bool,
}

impl std::fmt::Debug for ListenerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerSettings")
            .field("name", &self.name)
            .field("tls", &self.tls.as_ref().map(|t| t.required))
            .field("auth", &self.auth)
            .finish()
    }
}

impl ListenerSettings {
    /// Loads the listener's certificate and key (PEM), checking that they belong together.
    pub fn load(config: &ListenerConfig) -> Result<Self, StartError> {
        let tls = match &config.tls {
            None => None,
            Some(tls) => Some(ListenerTls {
                acceptor: TlsAcceptor::from(tls::server_config(tls).map_err(|source| {
                    StartError::Tls {
                        what: format!("listener `{}`", config.name),
                        source,
                    }
                })?),
                required: tls.required,
            }),
        };
        Ok(Self {
            name: config.name.as_str().to_owned(),
            tls,
            auth: config.auth,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TLS acceptor, for listeners that speak TLS from the first byte (HTTP).
    pub(crate) fn acceptor(&self) -> Option<&TlsAcceptor> {
        self.tls.as_ref().map(|tls| &tls.acceptor)
    }

    /// The authentication asked of a session: cleartext passwords only inside TLS.
    pub fn auth(&self, encrypted: bool) -> ClientAuth {
        match self.auth {
            ClientAuth::Password if encrypted => ClientAuth::Password,
            ClientAuth::Password | ClientAuth::ScramSha256 => ClientAuth::ScramSha256,
        }
    }

    /// Reads the client's first packets until `deadline`, switching to TLS when the client
    /// asks and the listener has it. Returns the stream as it now is (`None` when the TLS
    /// handshake failed or timed out: nothing can be said to the client) and its request.
    pub async fn negotiate(
        &self,
        mut tcp: TcpStream,
        buf: &mut ReadBuf,
        deadline: Instant,
    ) -> (Option<Stream>, Result<Opening, SessionError>) {
        let offer = match &self.tls {
            Some(_) => Encryption::Offer,
            None => Encryption::Decline,
        };
        let opening = first_packet(&mut tcp, buf, offer, deadline).await;
        let tls = match (opening, &self.tls) {
            (Ok(Opening::Tls), Some(tls)) => tls,
            (Ok(Opening::Session(_)), Some(tls)) if tls.required => {
                let error = refuse(
                    "28000",
                    "this listener requires TLS: connect with sslmode=require".into(),
                );
                return (Some(Stream::Plain(tcp)), Err(error));
            }
            (opening, _) => return (Some(Stream::Plain(tcp)), opening),
        };
        if !buf.pending().is_empty() {
            // Bytes sent before the handshake would be read as if they had been encrypted.
            let error = refuse(
                "08P01",
                "received unencrypted data after the SSL request".into(),
            );
            return (Some(Stream::Plain(tcp)), Err(error));
        }
        if let Err(error) = send(&mut tcp, b"S").await {
            return (Some(Stream::Plain(tcp)), Err(error.into()));
        }
        let mut client = match timeout_at(deadline, tls.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => Stream::Tls(Box::new(stream.into())),
            Ok(Err(error)) => return (None, Err(SessionError::Tls(error.to_string()))),
            Err(_) => return (None, Err(SessionError::AuthTimeout)),
        };
        let opening = first_packet(&mut client, buf, Encryption::Established, deadline).await;
        (Some(client), opening)
    }
}

async fn first_packet<S>(
    stream: &mut S,
    buf: &mut ReadBuf,
    encryption: Encryption,
    deadline: Instant,
) -> Result<Opening, SessionError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    timeout_at(deadline, client_auth::open(stream, buf, encryption))
        .await
        .map_err(|_| SessionError::AuthTimeout)?
}
