//! The upstream half of a session: forwards the server's messages to the client as they
//! come — large rows stream through in pieces, so memory stays bounded whatever the result
//! size and a slow client slows the server instead of filling the gateway — while matching
//! answers to the requests in [`Inflight`](crate::inflight::Inflight): rows and errors are
//! counted for the audit, and the stand-in errors of denied statements are swapped for ours.

use std::ops::Range;
use std::sync::atomic::Ordering;

use airlock_pg::{Frame, parse_error};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until};

use crate::denial::STAND_IN_CODE;
use crate::framed::ReadBuf;
use crate::inflight::{Finished, Inflight, Item, Shared};
use crate::record;
use crate::state::State;

/// Largest non-row message accepted from the server (rows and COPY data stream through).
const MAX_CONTROL_MESSAGE: usize = 16 << 20;

/// How the upstream half ended.
#[derive(Debug)]
pub enum End {
    UpstreamClosed,
    ClientGone,
    /// The server broke the protocol.
    Protocol(String),
    /// The audit log refused a record: the session cannot go on unrecorded.
    Audit(String),
}

impl End {
    /// The FATAL error the client is sent when the gateway ends the session itself.
    fn to_wire(&self) -> Option<Vec<u8>> {
        let (code, message) = match self {
            Self::UpstreamClosed | Self::ClientGone => return None,
            Self::Protocol(reason) => ("08P01", format!("upstream protocol error: {reason}")),
            Self::Audit(reason) => ("58030", format!("airlock closed the session: {reason}")),
        };
        let mut out = Vec::new();
        airlock_pg::encode_error(
            &mut out,
            airlock_pg::Severity::Fatal,
            code,
            &message,
            None,
            None,
        );
        Some(out)
    }

    pub fn failure(&self) -> Option<&str> {
        match self {
            Self::Protocol(reason) | Self::Audit(reason) => Some(reason),
            Self::UpstreamClosed | Self::ClientGone => None,
        }
    }
}

/// A piece of output: bytes of the read buffer, or a replacement.
enum Piece {
    Span(Range<usize>),
    Bytes(Vec<u8>),
}

pub struct Backend<'a> {
    state: &'a State,
    shared: &'a Shared,
    /// Bytes left of a row (or COPY) message being streamed through.
    streaming: usize,
}

impl<'a> Backend<'a> {
    pub fn new(state: &'a State, shared: &'a Shared) -> Self {
        Self {
            state,
            shared,
            streaming: 0,
        }
    }

    pub async fn run<R, W>(&mut self, upstream: &mut R, buf: &mut ReadBuf, client: &mut W) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let end = self.pump(upstream, buf, client).await;
        if let Some(fatal) = self.shared.take_fatal().or_else(|| end.to_wire()) {
            let _ = client.write_all(&fatal).await;
        }
        let _ = client.shutdown().await;
        // Final: every waiter wakes (the client half's loop and a held statement may both be
        // waiting), and one that starts waiting later finds the stored permit.
        self.shared.upstream_gone.notify_waiters();
        self.shared.upstream_gone.notify_one();
        end
    }

    async fn pump<R, W>(&mut self, upstream: &mut R, buf: &mut ReadBuf, client: &mut W) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut done = Vec::new();
        let mut pieces = Vec::new();
        // Waiters kept across messages (re-armed when they fire), not one per message.
        let shared = self.shared;
        let client_gone = shared.client_gone.notified();
        let notice = shared.notice_ready.notified();
        // One timer for the deferred records' deadline, moved only when the deadline moves: a
        // new `sleep_until` per pass registered itself with the runtime's timer (waking its
        // driver: an eventfd write and an empty epoll round) once per read of a large result.
        let timer = sleep_until(Instant::now());
        let mut armed = None;
        tokio::pin!(client_gone, notice, timer);
        loop {
            if !buf.pending().is_empty() {
                let used = match self.scan(buf.pending(), &mut pieces, &mut done) {
                    Ok(used) => used,
                    Err(reason) => return End::Protocol(reason),
                };
                // Records go in before the client sees the answers: a COMMIT sent after an
                // answer must find the answered write's receipt among the unconfirmed ones.
                if !done.is_empty() {
                    let finished = std::mem::take(&mut done);
                    if let Err(error) =
                        record::finished(&self.state.audit, self.shared, finished).await
                    {
                        return End::Audit(format!("the audit log refused a record: {error}"));
                    }
                }
                for piece in pieces.drain(..) {
                    let bytes = match &piece {
                        Piece::Span(range) => buf.pending().get(range.clone()).unwrap_or_default(),
                        Piece::Bytes(bytes) => bytes,
                    };
                    if client.write_all(bytes).await.is_err() {
                        return End::ClientGone;
                    }
                }
                // A no-op on TCP; TLS holds written bytes until flushed.
                if client.flush().await.is_err() {
                    return End::ClientGone;
                }
                buf.consume(used);
            }
            let deadline = self.shared.lock().next_deadline();
            if deadline != armed {
                if let Some(at) = deadline {
                    timer.as_mut().reset(at);
                }
                armed = deadline;
            }
            tokio::select! {
                read = buf.fill(upstream) => match read {
                    Ok(0) | Err(_) => return End::UpstreamClosed,
                    Ok(_) => {}
                },
                () = &mut client_gone => return End::ClientGone,
                // Never inside a row being streamed through: only between whole messages.
                () = &mut notice, if self.streaming == 0 => {
                    notice.set(shared.notice_ready.notified());
                    let notices = self.shared.take_notices();
                    if client.write_all(&notices).await.is_err() || client.flush().await.is_err() {
                        return End::ClientGone;
                    }
                }
                () = &mut timer, if deadline.is_some() => {
                    armed = None; // fired: reset on the next pass, whatever the deadline
                    let due = self.shared.lock().take_deferred(Some(Instant::now()));
                    if let Err(error) = record::submit_due(&self.state.audit, self.shared, due).await {
                        return End::Audit(format!("the audit log refused a record: {error}"));
                    }
                }
            }
        }
    }

    /// Scans `data` for messages; returns how many bytes were consumed and what to send.
    fn scan(
        &mut self,
        data: &[u8],
        pieces: &mut Vec<Piece>,
        done: &mut Vec<Finished>,
    ) -> Result<usize, String> {
        let mut inflight = self.shared.lock();
        let (mut pos, mut span_start) = (0usize, 0usize);
        // Bytes of whole rows since the last other message: rows are most of a large result,
        // so they are only summed here and counted once, before the next other message.
        let mut rows = 0usize;
        while pos < data.len() {
            if self.streaming > 0 {
                let n = self.streaming.min(data.len() - pos);
                self.streaming -= n;
                pos += n;
                continue;
            }
            let Some(&[tag, l0, l1, l2, l3]) = data.get(pos..pos + 5) else {
                break;
            };
            let length = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
            if length < 4 {
                return Err(format!(
                    "server sent a `{}` message of invalid length {length}",
                    char::from(tag)
                ));
            }
            let total = length + 1;
            if tag == b'D' && pos + total <= data.len() {
                rows += total;
                pos += total;
                continue;
            }
            count_bytes(&mut inflight, std::mem::take(&mut rows));
            let Some(body) = data.get(pos + 5..pos + total) else {
                if matches!(tag, b'D' | b'd') {
                    count_bytes(&mut inflight, total);
                    self.streaming = total - (data.len() - pos);
                    pos = data.len();
                    break;
                }
                if total > MAX_CONTROL_MESSAGE {
                    return Err(format!(
                        "server sent a `{}` message of {total} bytes",
                        char::from(tag)
                    ));
                }
                break;
            };
            if let Some(replacement) = self.on_message(&mut inflight, tag, body, done) {
                if span_start < pos {
                    pieces.push(Piece::Span(span_start..pos));
                }
                pieces.push(Piece::Bytes(replacement));
                span_start = pos + total;
            }
            pos += total;
        }
        count_bytes(&mut inflight, rows);
        if span_start < pos {
            pieces.push(Piece::Span(span_start..pos));
        }
        Ok(pos)
    }

    /// Bookkeeping for one whole message other than a row; `Some` replaces it on the way to
    /// the client.
    fn on_message(
        &self,
        inflight: &mut Inflight,
        tag: u8,
        body: &[u8],
        done: &mut Vec<Finished>,
    ) -> Option<Vec<u8>> {
        // Rows never come here (`scan` sums them), so the clock is read only for the other
        // messages (read per row, it was 45 % of the gateway's user-space instructions on
        // 10,000-row results).
        let now = Instant::now();
        match tag {
            b'C' => {
                let rows = command_rows(body);
                if let Some(Item::Exec(exec)) = inflight.items.front_mut() {
                    exec.bytes += (body.len() + 5) as u64;
                    if let Some(rows) = rows {
                        exec.rows = Some(exec.rows.unwrap_or(0) + rows);
                    }
                    if !exec.simple {
                        finish_front(inflight, now, done);
                    }
                }
            }
            b'I' | b's' => {
                if matches!(inflight.items.front(), Some(Item::Exec(e)) if !e.simple) {
                    finish_front(inflight, now, done);
                }
            }
            b'1' => {
                if matches!(inflight.items.front(), Some(Item::Parse)) {
                    inflight.items.pop_front();
                }
            }
            b'E' => return self.on_error(inflight, body, now, done),
            b'Z' => {
                let status = body.first().copied().unwrap_or(b'I');
                ready(inflight, now, done);
                self.shared.status.store(status, Ordering::Release);
                self.shared.ready_seen.fetch_add(1, Ordering::AcqRel);
            }
            b'S' => {
                let mut parts = body.split(|b| *b == 0);
                if parts.next() == Some(b"standard_conforming_strings") {
                    let on = parts.next() == Some(b"on");
                    self.shared.standard_strings.store(on, Ordering::Relaxed);
                }
            }
            _ => {}
        }
        None
    }

    fn on_error(
        &self,
        inflight: &mut Inflight,
        body: &[u8],
        now: Instant,
        done: &mut Vec<Finished>,
    ) -> Option<Vec<u8>> {
        let code = parse_error(&Frame { tag: b'E', body })
            .map(|fields| fields.code)
            .unwrap_or_default();
        match inflight.items.front_mut()? {
            Item::Exec(exec) => {
                exec.sqlstate = Some(code);
                if !exec.simple {
                    finish_front(inflight, now, done);
                }
                None
            }
            Item::Parse => {
                inflight.items.pop_front();
                None
            }
            Item::Denied { error, simple } => {
                let replacement = (code == STAND_IN_CODE).then(|| std::mem::take(error));
                if !*simple {
                    inflight.items.pop_front();
                }
                replacement
            }
            Item::Sync => None,
        }
    }
}

/// ReadyForQuery: ends the front simple query, or the extended batch up to its Sync
/// (statements the server skipped after an error are recorded as not run).
fn ready(inflight: &mut Inflight, now: Instant, done: &mut Vec<Finished>) {
    while let Some(item) = inflight.items.pop_front() {
        match item {
            Item::Exec(exec) if exec.simple => {
                done.push(exec.finish(now));
                return;
            }
            Item::Exec(exec) => done.push(exec.skipped()),
            Item::Denied { simple: true, .. } | Item::Sync => return,
            Item::Denied { simple: false, .. } | Item::Parse => {}
        }
    }
}

fn finish_front(inflight: &mut Inflight, now: Instant, done: &mut Vec<Finished>) {
    if let Some(Item::Exec(exec)) = inflight.items.pop_front() {
        done.push(exec.finish(now));
    }
}

fn count_bytes(inflight: &mut Inflight, n: usize) {
    if n == 0 {
        return;
    }
    if let Some(Item::Exec(exec)) = inflight.items.front_mut() {
        exec.bytes += n as u64;
    }
}

/// The row count at the end of a CommandComplete tag (`SELECT 5`, `INSERT 0 5`, `UPDATE 3`).
fn command_rows(body: &[u8]) -> Option<u64> {
    let tag = body.strip_suffix(b"\0").unwrap_or(body);
    let last = tag.rsplit(|b| *b == b' ').next()?;
    let first_word = tag.split(|b| *b == b' ').next()?;
    if first_word == tag {
        return None;
    }
    std::str::from_utf8(last).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_come_from_command_tags() {
        assert_eq!(command_rows(b"SELECT 5\0"), Some(5));
        assert_eq!(command_rows(b"INSERT 0 12\0"), Some(12));
        assert_eq!(command_rows(b"UPDATE 3\0"), Some(3));
        assert_eq!(command_rows(b"BEGIN\0"), None);
        assert_eq!(command_rows(b"CREATE TABLE\0"), None);
    }
}
