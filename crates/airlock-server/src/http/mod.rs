//! The HTTP listener: the approvals API (`/v1/approvals`, described by `/v1/openapi.json`),
//! the web inbox (`/approvals`, `/login`) and Slack's interaction callback
//! (`/slack/interactions`). HTTP/1.1 over plain TCP or TLS (from the first byte). API calls
//! carry an identity's API key (`Authorization: Basic`), inbox pages a session cookie, Slack
//! callbacks Slack's signature; the caller is whoever those prove, never what a body says.

mod api;
mod auth;
mod inbox;
mod reply;
mod slack;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::listener::ListenerSettings;
use crate::state::State;

/// Time a client gets to send a request's headers (and to finish a TLS handshake).
const HEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves HTTP on `listener` until `shutdown` resolves, then lets open requests finish (for
/// up to the drain deadline) and closes idle connections.
pub async fn serve_http(
    state: Arc<State>,
    listener: TcpListener,
    settings: Arc<ListenerSettings>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let inbox = Arc::new(inbox::Inbox {
        sessions: inbox::Sessions::default(),
        secure: settings.acceptor().is_some(),
    });
    // At most `max_connections` open at once; more wait in the kernel's accept queue.
    let permits = Arc::new(Semaphore::new(state.limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            Some(_) = connections.join_next() => continue,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let web = Web {
                        state: Arc::clone(&state),
                        inbox: Arc::clone(&inbox),
                    };
                    let settings = Arc::clone(&settings);
                    let stopped = stopped.clone();
                    connections.spawn(async move {
                        connection(web, settings, tcp, peer, stopped).await;
                        drop(permit);
                    });
                }
                Err(error) => {
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(state.limits.drain_deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

/// What every request on a listener is served with.
#[derive(Clone, Debug)]
struct Web {
    state: Arc<State>,
    inbox: Arc<inbox::Inbox>,
}

async fn connection(
    web: Web,
    settings: Arc<ListenerSettings>,
    tcp: TcpStream,
    peer: SocketAddr,
    stopped: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    match settings.acceptor() {
        None => serve_io(web, TokioIo::new(tcp), peer, stopped).await,
        Some(acceptor) => match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => serve_io(web, TokioIo::new(tls), peer, stopped).await,
            Ok(Err(error)) => debug!(%peer, %error, "TLS handshake failed"),
            Err(_) => debug!(%peer, "TLS handshake timed out"),
        },
    }
}

async fn serve_io<I>(web: Web, io: I, peer: SocketAddr, mut stopped: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let web = web.clone();
        async move {
            let path = request.uri().path().to_owned();
            let reply =
                if path.starts_with("/v1/") || path == "/healthz" || path.starts_with("/slack/") {
                    api::handle(&web.state, request, peer).await
                } else {
                    match inbox::handle(&web.state, &web.inbox, request, peer).await {
                        Some(reply) => reply,
                        None => reply::ApiError::NoRoute(path).reply(),
                    }
                };
            Ok::<_, Infallible>(reply)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service);
    tokio::pin!(connection);
    if *stopped.borrow() {
        connection.as_mut().graceful_shutdown();
    }
    let served = tokio::select! {
        served = connection.as_mut() => served,
        _ = stopped.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = served {
        info!(%peer, %error, "HTTP connection ended with an error");
    }
}
