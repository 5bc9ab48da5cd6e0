//! The client half of a session: reads client messages, judges every statement (simple
//! queries at Query, extended ones at Parse, recorded at each Execute), forwards what is
//! allowed and replaces what is denied with a statement that makes the server fail in its
//! place, so errors arrive in order and transactions abort exactly as for a server error.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use airlock_config::ApprovalMode;
use airlock_model::{Command, Facts, Protocol, Verdict};
use airlock_pg::{Frame, FrontendMessage, parse_frontend};
use airlock_policy::{Checkpoint, Judgement};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::denial;
use crate::error::SessionError;
use crate::framed::ReadBuf;
use crate::inflight::{Item, Shared};
use crate::state::State;

mod recording;
mod review;

use review::{Held, Waiting};

/// How the client half ended.
#[derive(Debug)]
pub enum End {
    /// Terminate or end of stream.
    ClientClosed,
    /// The upstream half ended first.
    UpstreamGone,
    Shutdown,
    Failed(SessionError),
}

/// What to do after a client message.
enum Flow {
    Next,
    /// Terminate.
    Stop,
    /// The statement waits for approval before anything else runs.
    Hold(Box<Held>),
}

/// What became of a statement the client half judged.
enum Admit {
    /// Forward the client's message.
    Forward,
    /// A failing stand-in was queued in its place.
    Replaced,
    /// Hold it until its approval request is decided.
    Hold(Waiting),
}

/// A statement the client prepared, with the judgement made at Parse.
#[derive(Debug)]
struct Prepared {
    text: Arc<str>,
    /// Shared, not copied, by every Execute of the statement.
    judgement: Arc<Judgement>,
}

pub struct Frontend<'a> {
    state: &'a State,
    shared: &'a Shared,
    checkpoint: Checkpoint,
    command: Command,
    statements: HashMap<String, Prepared>,
    /// Portal name → statement name.
    portals: HashMap<String, String>,
    /// After a denied Parse: drop messages until Sync (the server does the same after errors).
    skipping: bool,
    /// ReadyForQuery messages the forwarded messages will produce.
    ready_expected: u64,
    /// The ReadyForQuery after the last transaction-control statement: until it arrives, the
    /// transaction status the server last reported may be stale.
    barrier_ready: u64,
    pub statements_decided: u64,
    /// Whether reviewed statements wait in the session or fail with their request id.
    approval_mode: ApprovalMode,
    /// Whether the connection asks the planner for row estimates (`estimate_rows`).
    estimating: bool,
    /// The last statement text estimated and the planner's rows, for its approval request.
    estimate: Option<(String, u64)>,
    out: Vec<u8>,
}

impl<'a> Frontend<'a> {
    pub fn new(
        state: &'a State,
        shared: &'a Shared,
        checkpoint: Checkpoint,
        command: Command,
        approval_mode: ApprovalMode,
    ) -> Self {
        Self {
            state,
            shared,
            checkpoint,
            command,
            statements: HashMap::new(),
            portals: HashMap::new(),
            skipping: false,
            ready_expected: 0,
            barrier_ready: 0,
            statements_decided: 0,
            approval_mode,
            estimating: state
                .upstream(shared.connection.as_str())
                .is_some_and(|u| u.estimator.is_some()),
            estimate: None,
            out: Vec::with_capacity(8 * 1024),
        }
    }

    /// Runs until the client leaves, the upstream half ends, or shutdown drains the session.
    pub async fn run<R, W>(
        &mut self,
        client: &mut R,
        buf: &mut ReadBuf,
        upstream: &mut W,
        shutdown: &mut watch::Receiver<bool>,
    ) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let end = self.pump(client, buf, upstream, shutdown).await;
        let _ = upstream.write_all(&crate::upstream::terminate()).await;
        let _ = upstream.shutdown().await;
        end
    }

    async fn pump<R, W>(
        &mut self,
        client: &mut R,
        buf: &mut ReadBuf,
        upstream: &mut W,
        shutdown: &mut watch::Receiver<bool>,
    ) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let max = self.state.limits.max_message;
        let mut draining = *shutdown.borrow();
        // One waiter for the session's life, not one registered and dropped per message.
        let shared = self.shared;
        let upstream_gone = shared.upstream_gone.notified();
        tokio::pin!(upstream_gone);
        loop {
            loop {
                let frame = match buf.next_frame(max) {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(error) => return self.fail(SessionError::Protocol(error)),
                };
                if draining && self.idle() && starts_work(frame.tag) {
                    // Draining: what was running has finished; nothing new starts.
                    self.shared.close_client(SessionError::Shutdown.to_wire());
                    return End::Shutdown;
                }
                let wire = buf.bytes(frame.wire.clone());
                let body = buf.bytes(frame.body.clone());
                match self.on_frame(frame.tag, body, wire, upstream).await {
                    Ok(Flow::Next) => {}
                    Ok(Flow::Stop) => {
                        let _ = self.flush(upstream).await;
                        return End::ClientClosed;
                    }
                    Ok(Flow::Hold(held)) => {
                        if let Err(end) = self.hold(*held, client, buf, upstream, shutdown).await {
                            return end;
                        }
                        draining = draining || *shutdown.borrow();
                    }
                    Err(error) => return self.fail(error),
                }
            }
            if self.flush(upstream).await.is_err() {
                return End::UpstreamGone;
            }
            if draining && self.idle() {
                self.shared.close_client(SessionError::Shutdown.to_wire());
                return End::Shutdown;
            }
            tokio::select! {
                read = buf.fill(client) => match read {
                    Ok(0) | Err(_) => {
                        self.shared.close_client(None);
                        return End::ClientClosed;
                    }
                    Ok(_) => {}
                },
                () = &mut upstream_gone => return End::UpstreamGone,
                _ = shutdown.changed(), if !draining => draining = true,
                () = tokio::time::sleep(std::time::Duration::from_millis(20)), if draining => {}
            }
        }
    }

    fn fail(&self, error: SessionError) -> End {
        self.shared.close_client(error.to_wire());
        End::Failed(error)
    }

    fn idle(&self) -> bool {
        self.shared.lock().is_idle() && self.shared.ready_seen() >= self.ready_expected
    }

    async fn flush<W: AsyncWrite + Unpin>(&mut self, upstream: &mut W) -> std::io::Result<()> {
        if !self.out.is_empty() {
            let result = upstream.write_all(&self.out).await;
            self.out.clear();
            result?;
            // A no-op on TCP; TLS holds written bytes until flushed.
            upstream.flush().await?;
        }
        Ok(())
    }

    /// Handles one client message.
    async fn on_frame<W: AsyncWrite + Unpin>(
        &mut self,
        tag: u8,
        body: &[u8],
        wire: &[u8],
        upstream: &mut W,
    ) -> Result<Flow, SessionError> {
        let message = parse_frontend(&Frame { tag, body })?;
        if self.skipping && !matches!(message, FrontendMessage::Sync | FrontendMessage::Terminate) {
            return Ok(Flow::Next);
        }
        match message {
            FrontendMessage::Query { sql } => {
                self.ready_expected += 1;
                let judgement = self.judge_estimated(sql, Protocol::PgSimple).await;
                match self.admit(sql, &judgement, true, upstream).await? {
                    Admit::Forward => self.out.extend_from_slice(wire),
                    Admit::Replaced => {}
                    Admit::Hold(waiting) => {
                        let held = Held::new(waiting, wire, sql.into(), Arc::new(judgement), true);
                        return Ok(Flow::Hold(Box::new(held)));
                    }
                }
            }
            FrontendMessage::Parse { name, sql, .. } => {
                let judgement = self.judge_estimated(sql, Protocol::PgExtended).await;
                // A reviewed statement is prepared; each Execute of it asks for approval.
                if judgement.decision.verdict != Verdict::Deny {
                    self.shared.lock().items.push_back(Item::Parse);
                    self.out.extend_from_slice(wire);
                    // Re-using a live name fails upstream and the original statement stays:
                    // keep its judgement and text (the unnamed statement is simply replaced).
                    if name.is_empty() || !self.statements.contains_key(name) {
                        let text = Arc::from(sql);
                        self.statements.insert(
                            name.to_owned(),
                            Prepared {
                                text,
                                judgement: Arc::new(judgement),
                            },
                        );
                    }
                } else {
                    let error = denial::error_for(&judgement.decision);
                    self.deny(sql, &judgement, error, false).await?;
                }
            }
            FrontendMessage::Bind {
                portal, statement, ..
            } => {
                self.portals.insert(portal.to_owned(), statement.to_owned());
                self.out.extend_from_slice(wire);
            }
            FrontendMessage::Execute { portal, .. } => {
                let prepared = self
                    .portals
                    .get(portal)
                    .and_then(|name| self.statements.get(name))
                    .map(|p| (Arc::clone(&p.text), Arc::clone(&p.judgement)));
                match prepared {
                    Some((text, judgement)) => {
                        match self.admit(&text, &judgement, false, upstream).await? {
                            Admit::Forward => self.out.extend_from_slice(wire),
                            Admit::Replaced => {}
                            Admit::Hold(waiting) => {
                                let held = Held::new(waiting, wire, text, judgement, false);
                                return Ok(Flow::Hold(Box::new(held)));
                            }
                        }
                    }
                    None => {
                        self.push_untracked();
                        self.out.extend_from_slice(wire);
                    }
                }
            }
            FrontendMessage::Close { kind, name } => {
                if kind == b'S' {
                    self.statements.remove(name);
                } else {
                    self.portals.remove(name);
                }
                self.out.extend_from_slice(wire);
            }
            FrontendMessage::Sync => {
                self.skipping = false;
                self.ready_expected += 1;
                self.shared.lock().items.push_back(Item::Sync);
                self.out.extend_from_slice(wire);
            }
            FrontendMessage::Terminate => return Ok(Flow::Stop),
            FrontendMessage::FunctionCall { oid } => {
                self.ready_expected += 1;
                let text = format!("-- fast-path function call of oid {oid}");
                let judgement = Judgement {
                    decision: airlock_model::Decision::internal_deny(
                        "fast-path-call",
                        "fast-path function calls bypass SQL and are not allowed through airlock",
                    ),
                    effect: airlock_model::Effect::READ,
                };
                let error = denial::error_for(&judgement.decision);
                self.deny(&text, &judgement, error, true).await?;
            }
            FrontendMessage::Describe { .. }
            | FrontendMessage::Flush
            | FrontendMessage::CopyData(_)
            | FrontendMessage::CopyDone
            | FrontendMessage::CopyFail { .. } => self.out.extend_from_slice(wire),
            FrontendMessage::Authentication(_) | FrontendMessage::Unknown { .. } => {
                return Err(SessionError::Unexpected(char::from(tag)));
            }
        }
        Ok(Flow::Next)
    }

    fn judge(&mut self, sql: &str, protocol: Protocol) -> Judgement {
        let strings = self.shared.standard_strings.load(Ordering::Relaxed);
        if strings != self.checkpoint.options().standard_conforming_strings {
            let mut options = *self.checkpoint.options();
            options.standard_conforming_strings = strings;
            self.checkpoint.set_options(options);
        }
        self.command.protocol = protocol;
        sql.clone_into(&mut self.command.text);
        self.checkpoint.judge(&self.command)
    }

    /// Judges `sql`; on a connection with `estimate_rows`, a statement worth it is decided on
    /// its facts completed with the upstream planner's row estimate.
    async fn judge_estimated(&mut self, sql: &str, protocol: Protocol) -> Judgement {
        let judgement = self.judge(sql, protocol);
        if !self.estimating {
            return judgement;
        }
        let state = self.state;
        let Some(upstream) = state.upstream(self.shared.connection.as_str()) else {
            return judgement;
        };
        let Some(estimator) = &upstream.estimator else {
            return judgement;
        };
        let mut facts = self.checkpoint.facts(&self.command);
        let Some(rows) = estimator.rows(upstream, sql, &facts).await else {
            return judgement;
        };
        let Facts::Sql(sql_facts) = &mut facts;
        if let Some(first) = sql_facts.statements.first_mut() {
            first.estimated_rows = Some(rows);
        }
        self.estimate = Some((sql.to_owned(), rows));
        self.checkpoint.judge_facts(&self.command, &facts)
    }

    /// Decides what becomes of a statement by its verdict; forwards nothing itself.
    async fn admit<W: AsyncWrite + Unpin>(
        &mut self,
        text: &str,
        judgement: &Judgement,
        simple: bool,
        upstream: &mut W,
    ) -> Result<Admit, SessionError> {
        match judgement.decision.verdict {
            Verdict::Deny => {
                let error = denial::error_for(&judgement.decision);
                self.deny(text, judgement, error, simple).await?;
                Ok(Admit::Replaced)
            }
            Verdict::Review => self.review(text, judgement, simple, upstream).await,
            Verdict::Allow => self.execute(text, judgement, simple, None, upstream).await,
        }
    }
}

/// Messages that start running something (as opposed to finishing what is running).
fn starts_work(tag: u8) -> bool {
    matches!(tag, b'Q' | b'P' | b'B' | b'E' | b'F')
}

fn protocol(simple: bool) -> Protocol {
    if simple {
        Protocol::PgSimple
    } else {
        Protocol::PgExtended
    }
}
