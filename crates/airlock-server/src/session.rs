//! One client connection from accept to close: startup and authentication, the upstream
//! connection, the session's audit records, and the two halves that proxy it.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

use airlock_audit::SessionRecord;
use airlock_inspect::SqlOptions;
use airlock_model::{Command, Protocol, SessionId};
use airlock_pg::encode_frame;
use airlock_policy::Checkpoint;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::backend::{self, Backend};
use crate::cancel::{CancelMap, CancelTarget};
use crate::client_auth::{self, Opening, send};
use crate::error::SessionError;
use crate::framed::ReadBuf;
use crate::frontend::{self, Frontend};
use crate::inflight::Shared;
use crate::join::join;
use crate::listener::ListenerSettings;
use crate::record;
use crate::state::{State, identity_of};
use crate::stream::Stream;
use crate::upstream;

/// Serves one accepted connection until it ends; never panics, always closes.
pub async fn run(
    state: Arc<State>,
    listener: Arc<ListenerSettings>,
    tcp: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let mut buf = ReadBuf::new();
    let deadline = Instant::now() + state.limits.auth_timeout;
    let (client, opening) = listener.negotiate(tcp, &mut buf, deadline).await;
    let Some(mut client) = client else {
        if let Err(error) = opening {
            info!(%peer, listener = listener.name(), %error, "connection closed");
        }
        return;
    };
    let served = match opening {
        Ok(opening) => serve(&state, &listener, &mut client, buf, opening, peer, shutdown).await,
        Err(error) => Err(error),
    };
    if let Err(error) = served {
        match &error {
            SessionError::ClientIo(_) => debug!(%peer, %error, "client left during startup"),
            _ => info!(%peer, %error, "session refused"),
        }
        if let Some(bytes) = error.to_wire() {
            let _ = send(&mut client, &bytes).await;
        }
        let _ = client.shutdown().await;
    }
}

async fn serve(
    state: &Arc<State>,
    listener: &ListenerSettings,
    client: &mut Stream,
    mut buf: ReadBuf,
    opening: Opening,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SessionError> {
    let limits = &state.limits;
    let startup = match opening {
        Opening::Cancel { pid, key } => {
            forward_cancel(state, pid, &key).await;
            return Ok(());
        }
        Opening::Session(startup) => startup,
        Opening::Tls => return Err(SessionError::Unexpected('S')),
    };
    let tls = client.is_tls();
    let auth = tokio::time::timeout(
        limits.auth_timeout,
        client_auth::authenticate(state, client, &mut buf, startup, listener.auth(tls)),
    )
    .await
    .map_err(|_| SessionError::AuthTimeout)??;
    let connected =
        upstream::connect(&auth.upstream, &auth.params, limits.upstream_timeout).await?;
    let identity = identity_of(&auth.identity);
    let session = SessionId::from_u64(random_u64());
    let config = &auth.upstream.config;
    let strings = connected
        .session
        .params
        .iter()
        .find(|(k, _)| k == "standard_conforming_strings")
        .is_none_or(|(_, v)| v == "on");
    let shared = Shared::new(session, identity.clone(), config.name.clone(), strings);
    let registration = connected.session.backend.as_ref().map(|(pid, key)| {
        CancelMap::register(
            state,
            CancelTarget {
                upstream: Arc::clone(&auth.upstream),
                pid: *pid,
                key: key.clone(),
                interrupts: Arc::clone(&shared.cancels),
            },
        )
    });
    let mut hello = Vec::new();
    for (name, value) in &connected.session.params {
        encode_frame(&mut hello, b'S', format!("{name}\0{value}\0").as_bytes());
    }
    if let Some(registration) = &registration {
        let mut key = registration.pid().to_be_bytes().to_vec();
        key.extend_from_slice(&registration.secret());
        encode_frame(&mut hello, b'K', &key);
    }
    encode_frame(&mut hello, b'Z', b"I");

    let application_name = auth
        .params
        .iter()
        .find(|(k, _)| k == "application_name")
        .map(|(_, v)| v.clone());
    let opened = record::opened(SessionRecord {
        session,
        identity: identity.clone(),
        connection: config.name.clone(),
        client: peer.to_string(),
        application_name,
        tls,
    });
    state
        .audit
        .enqueue_detached(opened)
        .await
        .map_err(|e| SessionError::Audit(e.to_string()))?;
    send(client, &hello).await?;
    info!(
        %peer, %session, tls, identity = %identity.id, key = %auth.key, connection = %config.name,
        "session opened"
    );

    let options = SqlOptions {
        standard_conforming_strings: strings,
        both_string_modes: false,
    };
    let command = Command {
        identity,
        connection: auth.upstream.connection.clone(),
        protocol: Protocol::PgSimple,
        text: String::new(),
    };
    let checkpoint = Checkpoint::with_options(Arc::clone(&state.policy), options);
    let mode = state.approval.mode_of(&auth.identity);
    let mut front = Frontend::new(state, &shared, checkpoint, command, mode);
    let mut back = Backend::new(state, &shared);
    let upstream::Connected {
        stream: mut upstream_stream,
        buf: mut upstream_buf,
        ..
    } = connected;
    let halves = Halves {
        front: &mut front,
        back: &mut back,
        client_buf: &mut buf,
        upstream_buf: &mut upstream_buf,
        shutdown: &mut shutdown,
    };
    // Plain TCP splits without a lock; a TLS stream is shared by its halves.
    let (front_end, back_end) = match (client, &mut upstream_stream) {
        (Stream::Plain(c), Stream::Plain(u)) => halves.proxy(c.split(), u.split()).await,
        (Stream::Plain(c), Stream::Tls(u)) => {
            halves.proxy(c.split(), tokio::io::split(u.as_mut())).await
        }
        (Stream::Tls(c), Stream::Plain(u)) => {
            halves.proxy(tokio::io::split(c.as_mut()), u.split()).await
        }
        (Stream::Tls(c), Stream::Tls(u)) => {
            let upstream = tokio::io::split(u.as_mut());
            halves.proxy(tokio::io::split(c.as_mut()), upstream).await
        }
    };
    let abandoned = shared.lock().abandon();
    if let Err(error) = record::finished(&state.audit, &shared, abandoned).await {
        warn!(%session, %error, "records of unfinished statements not stored");
    }
    let reason = end_reason(&front_end, &back_end);
    match (&front_end, back_end.failure()) {
        (frontend::End::Failed(_), _) | (_, Some(_)) => {
            warn!(%session, reason, "session ended with an error");
        }
        _ => info!(%session, reason, "session closed"),
    }
    let closed = record::closed(&shared, front.statements_decided, reason);
    if let Err(error) = state.audit.enqueue_detached(closed).await {
        warn!(%session, %error, "session close not recorded");
    }
    drop(registration);
    Ok(())
}

/// The two halves of a session and what they work with, before the streams are split.
struct Halves<'h, 's> {
    front: &'h mut Frontend<'s>,
    back: &'h mut Backend<'s>,
    client_buf: &'h mut ReadBuf,
    upstream_buf: &'h mut ReadBuf,
    shutdown: &'h mut watch::Receiver<bool>,
}

impl Halves<'_, '_> {
    /// Runs the client half (client → upstream) and the upstream half (upstream → client)
    /// together until both end, each polled only when something it waits for happened.
    async fn proxy<CR, CW, UR, UW>(
        self,
        (mut client_read, mut client_write): (CR, CW),
        (mut upstream_read, mut upstream_write): (UR, UW),
    ) -> (frontend::End, backend::End)
    where
        CR: AsyncRead + Unpin,
        CW: AsyncWrite + Unpin,
        UR: AsyncRead + Unpin,
        UW: AsyncWrite + Unpin,
    {
        let front = pin!(self.front.run(
            &mut client_read,
            self.client_buf,
            &mut upstream_write,
            self.shutdown,
        ));
        let back = pin!(
            self.back
                .run(&mut upstream_read, self.upstream_buf, &mut client_write)
        );
        join(front, back).await
    }
}

fn end_reason(front: &frontend::End, back: &backend::End) -> String {
    if let (false, Some(reason)) = (matches!(front, frontend::End::Failed(_)), back.failure()) {
        return reason.to_owned();
    }
    match (front, back) {
        (frontend::End::Failed(error), _) => format!("client error: {error}"),
        (frontend::End::Shutdown, _) => "gateway shutdown".into(),
        (frontend::End::ClientClosed, _) => "client closed".into(),
        (frontend::End::UpstreamGone, backend::End::ClientGone) => "client gone".into(),
        (frontend::End::UpstreamGone, _) => "upstream closed".into(),
    }
}

async fn forward_cancel(state: &State, pid: i32, key: &[u8]) {
    let Some(target) = state.cancels.lookup(pid, key) else {
        debug!(pid, "cancel request for an unknown session ignored");
        return;
    };
    // A statement held for approval withdraws its request; one running upstream is canceled.
    target
        .interrupts
        .send_modify(|count| *count = count.wrapping_add(1));
    let config = &target.upstream.config;
    let sent = upstream::cancel(
        (config.host.as_str(), config.port),
        target.upstream.tls.as_ref(),
        (target.pid, &target.key),
        state.limits.upstream_timeout,
    );
    if let Err(error) = sent.await {
        warn!(%error, "cancel request could not be forwarded");
    }
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}
