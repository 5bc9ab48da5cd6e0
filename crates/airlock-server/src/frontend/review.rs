//! Statements the policy sends to review. The session asks the gateway's approvals for the
//! statement: an approved grant for exactly this statement runs it once; otherwise its request
//! (the same statement's pending one, or a new one) either holds the statement in the session
//! until it is decided (`hold`), or fails it at once with the request id (`retry`).
//!
//! While a statement is held nothing else in the session runs; the client gets a NOTICE at
//! once and then periodically. Ctrl-C (a CancelRequest) or a disconnect withdraws the
//! request; the wait ends at the request's expiry or the gateway's hold timeout, and on
//! shutdown (the request then stays open, for retry).

use std::sync::Arc;
use std::time::Duration;

use airlock_approval::{Binding, Request, RequestContext, RequestId, State};
use airlock_config::ApprovalMode;
use airlock_model::{Approval, Facts, TextHash};
use airlock_policy::Judgement;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{Instant, interval_at, sleep_until};

use super::{Admit, End, Frontend};
use crate::approval_wire;
use crate::approvals::{ApprovalsError, Ask, Opened};
use crate::framed::ReadBuf;

/// A held client reads no further than this while it waits (what it sends meanwhile runs
/// after the held statement).
const MAX_BUFFERED_WHILE_HELD: usize = 1 << 20;

/// A pending request the statement waits for.
#[derive(Debug)]
pub struct Waiting {
    request: Arc<Request>,
    updates: watch::Receiver<Arc<Request>>,
}

/// A statement held in its session, with the message that runs it once approved.
#[derive(Debug)]
pub struct Held {
    waiting: Waiting,
    wire: Vec<u8>,
    text: Arc<str>,
    judgement: Arc<Judgement>,
    simple: bool,
}

impl Held {
    pub fn new(
        waiting: Waiting,
        wire: &[u8],
        text: Arc<str>,
        judgement: Arc<Judgement>,
        simple: bool,
    ) -> Self {
        Self {
            waiting,
            wire: wire.to_vec(),
            text,
            judgement,
            simple,
        }
    }
}

/// Why a held statement stopped waiting without being decided.
enum Interrupted {
    Canceled,
    ClientGone,
    UpstreamGone,
    Shutdown,
    TimedOut,
    /// An approval step (recording the expiry) failed: the statement cannot wait safely.
    Failed(ApprovalsError),
}

impl Frontend<'_> {
    /// A reviewed statement: runs it on a grant, holds it, or refuses it with its request.
    pub(super) async fn review<W: AsyncWrite + Unpin>(
        &mut self,
        text: &str,
        judgement: &Judgement,
        simple: bool,
        upstream: &mut W,
    ) -> Result<Admit, crate::SessionError> {
        if !self.state.audit.is_healthy() {
            self.refuse_unrecorded(simple, "the audit store is failing");
            return Ok(Admit::Replaced);
        }
        let ask = self.ask(text, judgement, simple);
        match self.state.approvals.find_or_open(ask).await {
            Err(failure) => {
                let error = approval_wire::failed(&failure);
                self.refuse(text, judgement, simple, error, None).await;
                Ok(Admit::Replaced)
            }
            Ok(Opened::Granted(id)) => {
                self.execute(text, judgement, simple, Some(id), upstream)
                    .await
            }
            Ok(Opened::Waiting {
                request, updates, ..
            }) => match self.approval_mode {
                ApprovalMode::Hold => Ok(Admit::Hold(Waiting { request, updates })),
                ApprovalMode::Retry => {
                    let error = approval_wire::retry(&request, &self.state.approval);
                    self.refuse(text, judgement, simple, error, Some(request.id()))
                        .await;
                    Ok(Admit::Replaced)
                }
            },
        }
    }

    /// Waits for the held statement's request; queues the statement (or its error) for the
    /// upstream. `Err` ends the session.
    pub(super) async fn hold<R, W>(
        &mut self,
        held: Held,
        client: &mut R,
        buf: &mut ReadBuf,
        upstream: &mut W,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), End>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if self.flush(upstream).await.is_err() {
            return Err(End::UpstreamGone);
        }
        let Held {
            mut waiting,
            wire,
            text,
            judgement,
            simple,
        } = held;
        let id = waiting.request.id();
        let decided = self.wait(&mut waiting, client, buf, shutdown).await;
        let (request, error) = match decided {
            Ok(request) => match request.state() {
                State::Approved { .. } => {
                    let binding = self.binding(&text);
                    match self.state.approvals.consume(id, &binding).await {
                        Ok(_) => {
                            let ran = self.execute(&text, &judgement, simple, Some(id), upstream);
                            match ran.await {
                                Ok(Admit::Forward) => self.out.extend_from_slice(&wire),
                                Ok(Admit::Replaced | Admit::Hold(_)) => {}
                                Err(error) => return Err(self.fail(error)),
                            }
                            return Ok(());
                        }
                        Err(failure) => (request, approval_wire::failed(&failure)),
                    }
                }
                State::Pending
                | State::Denied { .. }
                | State::Expired { .. }
                | State::Withdrawn { .. }
                | State::Executed { .. } => {
                    let error = approval_wire::ended(&request);
                    (request, error)
                }
            },
            Err(interrupted) => {
                let end = self.interrupted(id, interrupted).await;
                match end {
                    Ok(error) => (Arc::clone(&waiting.request), error),
                    Err(end) => return Err(end),
                }
            }
        };
        self.refuse(&text, &judgement, simple, error, Some(request.id()))
            .await;
        Ok(())
    }

    /// Waits until the request is no longer pending (its latest state), or the wait is
    /// interrupted. Sends the NOTICE at once and then every notice interval.
    async fn wait<R: AsyncRead + Unpin>(
        &mut self,
        waiting: &mut Waiting,
        client: &mut R,
        buf: &mut ReadBuf,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Arc<Request>, Interrupted> {
        if *shutdown.borrow() {
            return Err(Interrupted::Shutdown);
        }
        let settings = &self.state.approval;
        let started = Instant::now();
        let deadline = started + settings.hold_timeout;
        let mut cancels = self.shared.cancels.subscribe();
        let mut reminders =
            interval_at(started + settings.notice_interval, settings.notice_interval);
        self.shared
            .send_to_client(&approval_wire::notice(&waiting.request, settings, None));
        loop {
            let request = Arc::clone(&waiting.updates.borrow_and_update());
            if !matches!(request.state(), State::Pending) {
                return Ok(request);
            }
            let expiry = instant_of(request.expires_at());
            let room = buf.pending().len() < MAX_BUFFERED_WHILE_HELD;
            tokio::select! {
                changed = waiting.updates.changed() => {
                    if changed.is_err() {
                        // Requests are never removed; fail closed if one ever is.
                        let gone = ApprovalsError::NotFound(request.id().to_string());
                        return Err(Interrupted::Failed(gone));
                    }
                }
                () = sleep_until(expiry) => {
                    // Records the expiry; the update wakes this loop.
                    if let Err(error) = self.state.approvals.expire(request.id()).await {
                        tracing::error!(%error, request = %request.id(), "expiry not recorded");
                        return Err(Interrupted::Failed(error));
                    }
                }
                () = sleep_until(deadline) => return Err(Interrupted::TimedOut),
                _ = reminders.tick() => {
                    let waited = Some(started.elapsed());
                    self.shared.send_to_client(&approval_wire::notice(&request, settings, waited));
                }
                _ = cancels.changed() => return Err(Interrupted::Canceled),
                read = buf.fill(client), if room => match read {
                    Ok(0) | Err(_) => return Err(Interrupted::ClientGone),
                    Ok(_) => {}
                },
                () = self.shared.upstream_gone.notified() => return Err(Interrupted::UpstreamGone),
                _ = shutdown.changed() => return Err(Interrupted::Shutdown),
            }
        }
    }

    /// Ends an interrupted wait: withdraws the request when the client gave up, and says
    /// why. `Err` ends the session.
    async fn interrupted(&self, id: RequestId, why: Interrupted) -> Result<Vec<u8>, End> {
        let withdraw = |reason: &'static str| async move {
            let who = &self.shared.identity;
            let withdrawn = self.state.approvals.withdraw(id, who, reason).await;
            if let Err(error) = &withdrawn {
                tracing::warn!(%error, request = %id, "held request not withdrawn");
            }
            withdrawn
        };
        match why {
            // Not withdrawn (decided meanwhile, or not recorded): the client is told why.
            Interrupted::Canceled => Ok(match withdraw("canceled by the client").await {
                Ok(request) => approval_wire::ended(&request),
                Err(failure) => approval_wire::failed(&failure),
            }),
            Interrupted::ClientGone => {
                let _ = withdraw("the client disconnected").await;
                self.shared.close_client(None);
                Err(End::ClientClosed)
            }
            Interrupted::UpstreamGone => {
                let _ = withdraw("the session's upstream connection closed").await;
                Err(End::UpstreamGone)
            }
            Interrupted::Shutdown => Ok(approval_wire::shutting_down(id)),
            Interrupted::TimedOut => Ok(approval_wire::timed_out(
                id,
                self.state.approval.hold_timeout,
            )),
            Interrupted::Failed(failure) => Ok(approval_wire::failed(&failure)),
        }
    }

    /// Records a reviewed statement that does not run, and fails it in its place.
    async fn refuse(
        &mut self,
        text: &str,
        judgement: &Judgement,
        simple: bool,
        error: Vec<u8>,
        approval: Option<RequestId>,
    ) {
        let mut record = self.record_for(text, judgement, simple);
        record.approval = approval;
        self.record_not_run(record).await;
        self.substitute(error, simple);
    }

    /// What the approvers see besides the text: the rule, what kinds of statements and
    /// which objects.
    fn ask(&mut self, text: &str, judgement: &Judgement, simple: bool) -> Ask {
        self.command.protocol = super::protocol(simple);
        text.clone_into(&mut self.command.text);
        let Facts::Sql(facts) = self.checkpoint.facts(&self.command);
        let mut statement_kinds = Vec::new();
        let mut objects = Vec::new();
        let mut estimated_rows: Option<u64> = None;
        for statement in &facts.statements {
            if !statement_kinds.contains(&statement.kind) {
                statement_kinds.push(statement.kind);
            }
            for object in &statement.objects {
                if !objects.contains(object) {
                    objects.push(object.clone());
                }
            }
            if let Some(rows) = statement.estimated_rows {
                estimated_rows = Some(estimated_rows.unwrap_or(0).saturating_add(rows));
            }
        }
        // The planner's estimate made when the statement was judged (the inspector has none).
        if let Some((estimated, rows)) = &self.estimate
            && estimated == text
        {
            estimated_rows = Some(*rows);
        }
        // Several review rules may match; the first that names approvers decides who may.
        let deciding: Vec<_> = judgement.decision.deciding_rules().collect();
        let rule = deciding
            .iter()
            .find(|r| r.approval.is_some())
            .or(deciding.first());
        let (rule_id, message, approval) = match rule {
            Some(rule) => (
                rule.rule.clone(),
                rule.message.clone(),
                rule.approval.clone().unwrap_or_default(),
            ),
            // A review verdict always has a deciding rule; this only keeps the function total.
            None => (
                airlock_model::Name::new("review")
                    .unwrap_or_else(|_| self.shared.connection.clone()),
                judgement.decision.reason(),
                Approval::default(),
            ),
        };
        Ask {
            requester: self.shared.identity.clone(),
            connection: self.shared.connection.clone(),
            text: text.to_owned(),
            context: RequestContext {
                rule: rule_id,
                message,
                statement_kinds,
                objects,
                estimated_rows,
            },
            approval,
        }
    }

    fn binding(&self, text: &str) -> Binding {
        Binding::new(
            &self.shared.identity,
            self.shared.connection.clone(),
            TextHash::of(text),
        )
    }
}

/// The monotonic instant of a wall-clock time (now, if it has passed).
fn instant_of(at: OffsetDateTime) -> Instant {
    let left = at - OffsetDateTime::now_utc();
    Instant::now() + Duration::try_from(left).unwrap_or(Duration::ZERO)
}
