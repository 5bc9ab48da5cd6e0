//! The gateway's approval requests, shared by every session and every channel that decides
//! (HTTP API, web inbox, Slack). The rules are `airlock_approval`'s; this module keeps the
//! requests, records every transition durably in the audit log *before* acting on it, and
//! tells whoever waits on a request when it changes.
//!
//! Transitions are serialized (one at a time, gateway-wide): each is computed from the
//! current request, recorded, then published, so two votes can never both build on the same
//! state. They are human-paced; statements that need no review never come here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use airlock_approval::{
    Ballot, Binding, Channel, Delivery, Lifetimes, NewRequest, Refusal, Request, RequestContext,
    RequestId, State, Transition,
};
use airlock_audit::AuditEvent;
use airlock_model::{Approval, Identity, Name, TextHash};
use airlock_store::{AuditWriter, SqliteStore, StoreError};
use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::notify::{Change, Notifier};

/// A reviewed statement asking to run.
#[derive(Clone, Debug)]
pub struct Ask {
    pub requester: Identity,
    pub connection: Name,
    pub text: String,
    pub context: RequestContext,
    pub approval: Approval,
}

/// What asking found.
#[derive(Debug)]
pub enum Opened {
    /// An approved grant for exactly this statement was used (its `executed` event is
    /// durable): run the statement now, once.
    Granted(RequestId),
    /// A request is pending (opened now when `new`, or the same statement's earlier one).
    Waiting {
        request: Arc<Request>,
        updates: watch::Receiver<Arc<Request>>,
        new: bool,
    },
}

/// Why an approval operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalsError {
    #[error("there is no approval request `{0}`")]
    NotFound(String),
    /// The rules refused it (the caller's doing); the request is unchanged.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Nothing changed: a transition that cannot be recorded does not happen.
    #[error("the audit log could not record the approval step: {0}")]
    Audit(String),
    #[error("no random request id could be made: {0}")]
    Random(String),
}

/// Every approval request the gateway knows, each with the channel its waiters watch.
#[derive(Debug)]
pub struct Approvals {
    audit: AuditWriter,
    lifetimes: Lifetimes,
    /// Held while a transition is computed, recorded and published (a tokio mutex: it is
    /// held across the audit write; the map below is only locked briefly).
    turn: tokio::sync::Mutex<()>,
    requests: Mutex<HashMap<RequestId, watch::Sender<Arc<Request>>>>,
    /// Where changes are announced (Slack, Teams, webhooks), once attached.
    notifier: OnceLock<Notifier>,
}

impl Approvals {
    /// Loads every request recorded in `store` (a request whose events do not replay is
    /// logged and left out: it grants nothing).
    pub async fn load(
        store: &SqliteStore,
        audit: AuditWriter,
        lifetimes: Lifetimes,
    ) -> Result<Self, StoreError> {
        let mut requests = HashMap::new();
        for loaded in store.approval_requests().await? {
            match loaded {
                Ok(request) => {
                    requests.insert(request.id(), watch::Sender::new(Arc::new(request)));
                }
                Err(error) => warn!(%error, "approval request not loaded"),
            }
        }
        if !requests.is_empty() {
            info!(requests = requests.len(), "approval requests loaded");
        }
        Ok(Self {
            audit,
            lifetimes,
            turn: tokio::sync::Mutex::new(()),
            requests: Mutex::new(requests),
            notifier: OnceLock::new(),
        })
    }

    /// Uses an approved grant for exactly this statement if there is one, else finds the
    /// same statement's pending request, else opens one.
    pub async fn find_or_open(&self, ask: Ask) -> Result<Opened, ApprovalsError> {
        let binding = Binding::new(
            &ask.requester,
            ask.connection.clone(),
            TextHash::of(&ask.text),
        );
        let _turn = self.turn.lock().await;
        let now = OffsetDateTime::now_utc();
        for request in self.live_for(&binding) {
            if let Some(expired) = request.expire_if_due(now) {
                self.commit(expired).await?;
                continue;
            }
            match request.state() {
                State::Approved { .. } => {
                    let used = request.consume(&binding, None, now)?;
                    self.commit(used).await?;
                    return Ok(Opened::Granted(request.id()));
                }
                State::Pending => {
                    let updates = self.subscribe(request.id())?;
                    return Ok(Opened::Waiting {
                        request,
                        updates,
                        new: false,
                    });
                }
                State::Denied { .. }
                | State::Expired { .. }
                | State::Withdrawn { .. }
                | State::Executed { .. } => {}
            }
        }
        let new = NewRequest {
            id: random_id()?,
            requester: ask.requester,
            connection: ask.connection,
            text: ask.text,
            context: ask.context,
            approval: ask.approval,
        };
        let opened = Request::open(new, self.lifetimes, now);
        let request = self.commit(opened).await?;
        let updates = self.subscribe(request.id())?;
        Ok(Opened::Waiting {
            request,
            updates,
            new: true,
        })
    }

    /// Casts `ballot` on request `id`.
    pub async fn vote(
        &self,
        id: RequestId,
        ballot: Ballot,
    ) -> Result<Arc<Request>, ApprovalsError> {
        self.transition(id, |request, now| request.vote(ballot, now))
            .await
    }

    /// The requester gives up on request `id`.
    pub async fn withdraw(
        &self,
        id: RequestId,
        who: &Identity,
        reason: &str,
    ) -> Result<Arc<Request>, ApprovalsError> {
        self.transition(id, |request, now| {
            request.withdraw(who, Some(reason.to_owned()), now)
        })
        .await
    }

    /// Uses the grant of request `id` for `binding` (the statement about to run).
    pub async fn consume(
        &self,
        id: RequestId,
        binding: &Binding,
    ) -> Result<Arc<Request>, ApprovalsError> {
        self.transition(id, |request, now| request.consume(binding, None, now))
            .await
    }

    /// Records the expiry of request `id` if it is due; returns the request as it now is.
    pub async fn expire(&self, id: RequestId) -> Result<Arc<Request>, ApprovalsError> {
        let _turn = self.turn.lock().await;
        self.expire_due(id).await
    }

    /// The request `id` (its expiry recorded first if it is due).
    pub async fn get(&self, id: RequestId) -> Result<Arc<Request>, ApprovalsError> {
        self.expire(id).await
    }

    /// Every request, newest first (expiries that are due recorded first).
    pub async fn list(&self) -> Result<Vec<Arc<Request>>, ApprovalsError> {
        let _turn = self.turn.lock().await;
        let now = OffsetDateTime::now_utc();
        for request in self.all() {
            if let Some(expired) = request.expire_if_due(now) {
                self.commit(expired).await?;
            }
        }
        let mut all = self.all();
        all.sort_by_key(|r| std::cmp::Reverse(r.created_at()));
        Ok(all)
    }

    /// Announces every later change through `notifier` (once; a second one is ignored).
    pub fn attach(&self, notifier: Notifier) {
        let _ = self.notifier.set(notifier);
    }

    /// Announces, again, every pending request that has not expired, to the destinations
    /// that never got it (at start, after `attach`).
    pub fn announce_pending(&self) {
        let Some(notifier) = self.notifier.get() else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        for request in self.all() {
            if matches!(request.state(), State::Pending) && request.expires_at() > now {
                notifier.send(&Change {
                    event: "requested",
                    request,
                    resent: true,
                });
            }
        }
    }

    /// Records that request `id` was announced on `channel` (delivered or not).
    pub async fn notified(
        &self,
        id: RequestId,
        channel: Channel,
        delivery: Delivery,
    ) -> Result<Arc<Request>, ApprovalsError> {
        self.transition(id, |request, now| {
            Ok(request.notified(channel, delivery, now))
        })
        .await
    }

    /// Waiters' view of request `id`.
    pub fn subscribe(
        &self,
        id: RequestId,
    ) -> Result<watch::Receiver<Arc<Request>>, ApprovalsError> {
        self.locked()
            .get(&id)
            .map(watch::Sender::subscribe)
            .ok_or_else(|| ApprovalsError::NotFound(id.to_string()))
    }

    async fn transition(
        &self,
        id: RequestId,
        step: impl FnOnce(&Request, OffsetDateTime) -> Result<Transition, Refusal>,
    ) -> Result<Arc<Request>, ApprovalsError> {
        let _turn = self.turn.lock().await;
        let request = self.expire_due(id).await?;
        let next = step(&request, OffsetDateTime::now_utc())?;
        self.commit(next).await
    }

    /// Under the turn: records request `id`'s expiry if due.
    async fn expire_due(&self, id: RequestId) -> Result<Arc<Request>, ApprovalsError> {
        let request = self.current(id)?;
        match request.expire_if_due(OffsetDateTime::now_utc()) {
            Some(expired) => self.commit(expired).await,
            None => Ok(request),
        }
    }

    /// Under the turn: records the transition's event durably, then publishes its request.
    async fn commit(&self, transition: Transition) -> Result<Arc<Request>, ApprovalsError> {
        let Transition { request, event } = transition;
        let name = event.name();
        let receipt = self
            .audit
            .enqueue(AuditEvent::approval(event))
            .await
            .map_err(|e| ApprovalsError::Audit(e.to_string()))?;
        receipt
            .wait()
            .await
            .map_err(|e| ApprovalsError::Audit(e.to_string()))?;
        info!(request = %request.id(), event = name, "approval request changed");
        let request = Arc::new(request);
        let mut requests = self.locked();
        match requests.get(&request.id()) {
            Some(sender) => {
                sender.send_replace(Arc::clone(&request));
            }
            None => {
                requests.insert(request.id(), watch::Sender::new(Arc::clone(&request)));
            }
        }
        drop(requests);
        // Announcing a notice would announce forever; everything else is announced.
        if name != "notified"
            && let Some(notifier) = self.notifier.get()
        {
            notifier.send(&Change {
                event: name,
                request: Arc::clone(&request),
                resent: false,
            });
        }
        Ok(request)
    }

    fn current(&self, id: RequestId) -> Result<Arc<Request>, ApprovalsError> {
        self.locked()
            .get(&id)
            .map(|sender| Arc::clone(&sender.borrow()))
            .ok_or_else(|| ApprovalsError::NotFound(id.to_string()))
    }

    fn all(&self) -> Vec<Arc<Request>> {
        self.locked()
            .values()
            .map(|sender| Arc::clone(&sender.borrow()))
            .collect()
    }

    /// Pending or approved requests of exactly this statement, oldest first.
    fn live_for(&self, binding: &Binding) -> Vec<Arc<Request>> {
        let mut live: Vec<Arc<Request>> = self
            .all()
            .into_iter()
            .filter(|r| matches!(r.state(), State::Pending | State::Approved { .. }))
            .filter(|r| {
                Binding::new(r.requester(), r.connection().clone(), r.text_hash()) == *binding
            })
            .collect();
        live.sort_by_key(|r| r.created_at());
        live
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, watch::Sender<Arc<Request>>>> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn random_id() -> Result<RequestId, ApprovalsError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApprovalsError::Random(e.to_string()))?;
    Ok(RequestId::from_bytes(bytes))
}
