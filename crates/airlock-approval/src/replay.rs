//! [`Request::replay`]: rebuilds a request from its recorded events (e.g. after a gateway
//! restart) by running each recorded transition again and checking it produces the same event.

use time::Duration;

use crate::{Ballot, Choice, Event, Lifetimes, NewRequest, ReplayError, Request, Transition};

impl Request {
    /// The request the `events` (one request's, in order) describe. Each event after the first
    /// is re-applied through the same transition that produced it, and must come out identical:
    /// a log that is out of order, mixes requests or records what the rules refuse does not
    /// rebuild.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Self, ReplayError> {
        let mut events = events.into_iter().enumerate();
        let Some((_, first)) = events.next() else {
            return Err(ReplayError::Empty);
        };
        let mut request = reopen(first)?;
        for (index, event) in events {
            if event.request() != request.id {
                return Err(ReplayError::OtherRequest {
                    index,
                    expected: request.id,
                    found: event.request(),
                });
            }
            let step = request.redo(index, event)?;
            if &step.event != event {
                return Err(ReplayError::Diverged {
                    index,
                    event: event.name(),
                });
            }
            request = step.request;
        }
        Ok(request)
    }

    /// Runs the transition that produced `event` again from its recorded inputs.
    fn redo(&self, index: usize, event: &Event) -> Result<Transition, ReplayError> {
        let refused = |refusal| ReplayError::Refused {
            index,
            event: event.name(),
            refusal,
        };
        match event {
            Event::Requested { request, .. } => Err(ReplayError::OpenedAgain {
                index,
                request: *request,
            }),
            Event::Approved { vote, .. } => self
                .vote(Ballot::of(vote, Choice::Approve), vote.at)
                .map_err(refused),
            Event::Denied { vote, .. } => self
                .vote(Ballot::of(vote, Choice::Deny), vote.at)
                .map_err(refused),
            Event::Withdrawn { at, by, reason, .. } => {
                self.withdraw(by, reason.clone(), *at).map_err(refused)
            }
            Event::Expired { at, .. } => self.expire_if_due(*at).ok_or(ReplayError::Diverged {
                index,
                event: event.name(),
            }),
            Event::Executed {
                at,
                binding,
                outcome,
                ..
            } => self.consume(binding, outcome.clone(), *at).map_err(refused),
            Event::Notified {
                at,
                channel,
                delivery,
                ..
            } => Ok(self.notified(*channel, delivery.clone(), *at)),
        }
    }
}

/// Opens the request the first event records, and checks it records exactly that.
fn reopen(first: &Event) -> Result<Request, ReplayError> {
    let Event::Requested {
        request,
        at,
        requester,
        connection,
        text,
        context,
        approval,
        expires_at,
        grant_lifetime_seconds,
        ..
    } = first
    else {
        return Err(ReplayError::NotOpenedFirst {
            found: first.name(),
        });
    };
    let lifetimes = Lifetimes::new(
        *expires_at - *at,
        Duration::seconds(*grant_lifetime_seconds),
    )?;
    let new = NewRequest {
        id: *request,
        requester: requester.clone(),
        connection: connection.clone(),
        text: text.clone(),
        context: context.clone(),
        approval: approval.clone(),
    };
    let opened = Request::open(new, lifetimes, *at);
    if &opened.event != first {
        return Err(ReplayError::Diverged {
            index: 0,
            event: first.name(),
        });
    }
    Ok(opened.request)
}
