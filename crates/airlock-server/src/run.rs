//! [`Gateway`]: the whole gateway of a [`Config`] — its state (policy, audit writer,
//! approvals, upstreams), every listener bound — and [`Gateway::run`], which serves until the
//! injected shutdown resolves, drains the sessions and closes the audit log with a final
//! signed checkpoint. `airlock serve` is this plus the signals.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use airlock_config::{Config, ListenerProtocol};
use airlock_store::{StoreError, WriteError, WriterTask};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::StartError;
use crate::{Limits, ListenerSettings, State, Workers};

/// A started gateway whose listeners are bound but not yet accepting.
#[derive(Debug)]
pub struct Gateway {
    state: Arc<State>,
    writer: WriterTask,
    listeners: Vec<Bound>,
    workers: Arc<Workers>,
}

/// A bound listener, as the gateway reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listening {
    pub name: String,
    pub address: SocketAddr,
    /// `no TLS`, `TLS required` or `TLS optional`.
    pub tls: &'static str,
}

#[derive(Debug)]
struct Bound {
    socket: TcpListener,
    settings: Arc<ListenerSettings>,
    protocol: ListenerProtocol,
    listening: Listening,
}

/// Why the gateway did not stop cleanly (its sessions have ended either way).
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("closing the audit log: {0}")]
    Close(#[from] WriteError),
    #[error("the audit writer: {0}")]
    Writer(#[from] StoreError),
}

impl Gateway {
    /// Loads certificates and keys (before anything is bound), starts the state and the audit
    /// writer, and binds every listener; sessions will run on `workers`' threads.
    pub async fn bind(
        config: &Config,
        limits: Limits,
        workers: Arc<Workers>,
    ) -> Result<Self, StartError> {
        let settings = config
            .listeners
            .iter()
            .map(|l| ListenerSettings::load(l).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let (state, writer) = State::start(config, limits).await?;
        let mut listeners = Vec::with_capacity(settings.len());
        for (listener, settings) in config.listeners.iter().zip(settings) {
            let socket = TcpListener::bind(listener.address)
                .await
                .map_err(|source| StartError::Listen {
                    address: listener.address.to_string(),
                    source,
                })?;
            let address = socket.local_addr().unwrap_or(listener.address);
            let tls = match &listener.tls {
                None => "no TLS",
                Some(tls) if tls.required => "TLS required",
                Some(_) => "TLS optional",
            };
            listeners.push(Bound {
                socket,
                settings,
                protocol: listener.protocol,
                listening: Listening {
                    name: listener.name.to_string(),
                    address,
                    tls,
                },
            });
        }
        Ok(Self {
            state: Arc::new(state),
            writer,
            listeners,
            workers,
        })
    }

    /// The bound listeners, in the configuration's order.
    pub fn listening(&self) -> Vec<Listening> {
        self.listeners.iter().map(|l| l.listening.clone()).collect()
    }

    /// Serves every listener until `shutdown` resolves, then drains them (see
    /// [`crate::serve_on`]) and closes the audit log.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), StopError> {
        let (stop, stopped) = watch::channel(false);
        let mut servers = JoinSet::new();
        for bound in self.listeners {
            let Listening { name, address, tls } = &bound.listening;
            tracing::warn!(listener = %name, %address, tls, "airlock listening");
            let mut stopped = stopped.clone();
            let state = Arc::clone(&self.state);
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            match bound.protocol {
                ListenerProtocol::Postgres => {
                    let workers = Some(Arc::clone(&self.workers));
                    let serving =
                        crate::serve_on(state, bound.socket, bound.settings, shutdown, workers);
                    servers.spawn(serving);
                }
                ListenerProtocol::Http => {
                    servers.spawn(crate::serve_http(
                        state,
                        bound.socket,
                        bound.settings,
                        shutdown,
                    ));
                }
            }
        }
        shutdown.await;
        let _ = stop.send(true);
        while servers.join_next().await.is_some() {}
        self.state.audit.close().await?;
        drop(self.state);
        self.writer.join().await?;
        Ok(())
    }
}
