//! The airlock gateway: accepts client connections, authenticates them, connects upstream
//! with brokered credentials, and puts every statement through inspect → policy → audit
//! before it runs. The listener and the shutdown signal are injected, so tests run many
//! gateways in one process on port 0.
#![forbid(unsafe_code)]

mod approval_wire;
mod approvals;
mod backend;
mod cancel;
mod client_auth;
mod denial;
mod error;
mod estimate;
mod framed;
mod frontend;
mod http;
mod inflight;
mod join;
mod key_checks;
mod listener;
mod notify;
mod record;
mod run;
mod session;
mod state;
mod stream;
mod tls;
mod upstream;
mod workers;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use approvals::{Approvals, ApprovalsError, Ask, Opened};
pub use error::{SessionError, StartError};
pub use http::serve_http;
pub use listener::ListenerSettings;
pub use run::{Gateway, Listening, StopError};
pub use state::{ApprovalSettings, Limits, State};
pub use tls::{TlsError, check_tls};
pub use workers::Workers;

/// Accepts connections on `listener` (whose clients get `settings`: TLS, authentication)
/// until `shutdown` resolves, then drains: stops accepting, lets sessions finish their
/// running statements (closing each as soon as it is idle) for up to
/// `limits.drain_deadline`, and then closes whatever is left.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    settings: Arc<ListenerSettings>,
    shutdown: impl Future<Output = ()>,
) {
    serve_on(state, listener, settings, shutdown, None).await;
}

/// Like [`serve`], with each session run on one of `workers`' threads (or, with `None`, on
/// the caller's runtime).
pub async fn serve_on(
    state: Arc<State>,
    listener: TcpListener,
    settings: Arc<ListenerSettings>,
    shutdown: impl Future<Output = ()>,
    workers: Option<Arc<Workers>>,
) {
    let permits = Arc::new(Semaphore::new(state.limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = Arc::clone(&state);
                    let settings = Arc::clone(&settings);
                    let stopped = stopped.clone();
                    match workers.as_deref().and_then(Workers::next) {
                        // The socket moves to the worker's reactor.
                        Some(handle) => match stream.into_std() {
                            Ok(stream) => {
                                sessions.spawn_on(async move {
                                    match tokio::net::TcpStream::from_std(stream) {
                                        Ok(stream) => {
                                            session::run(state, settings, stream, peer, stopped).await;
                                        }
                                        Err(error) => warn!(%error, %peer, "connection not handed to a session thread"),
                                    }
                                    drop(permit);
                                }, handle);
                            }
                            Err(error) => warn!(%error, %peer, "connection not handed to a session thread"),
                        },
                        None => {
                            sessions.spawn(async move {
                                session::run(state, settings, stream, peer, stopped).await;
                                drop(permit);
                            });
                        }
                    }
                }
                Err(error) => {
                    warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = sessions.join_next() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let open = sessions.len();
    info!(open, "shutting down: draining sessions");
    let _ = stop.send(true);
    let drained = tokio::time::timeout(state.limits.drain_deadline, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            left = sessions.len(),
            "drain deadline passed: closing the remaining sessions"
        );
        sessions.shutdown().await;
    }
}
