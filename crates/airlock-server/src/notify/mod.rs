//! Announcing approval requests: Slack (a message with buttons, updated with the outcome),
//! Teams (an Adaptive Card) and generic webhooks (a signed event for every request and
//! decision). Each destination has its own queue and task, so a slow one delays only itself;
//! the decision path only ever drops a change into the queues (never waits, never fails).
//! Each delivery is tried up to three times; its result is recorded as a `notified` event.

mod outbound;
mod settings;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use airlock_approval::Request;
use tokio::sync::mpsc;
use tracing::warn;

use crate::approvals::Approvals;
pub use outbound::{Target, post_json};
pub use settings::{NotifySettings, SlackSettings};
use worker::{Sink, Worker};

/// Changes a destination may have queued before new ones are dropped (and logged).
const QUEUE: usize = 1_024;

/// A request that changed, and the event that changed it (`requested`, `approved`, …).
#[derive(Clone, Debug)]
pub struct Change {
    pub event: &'static str,
    pub request: Arc<Request>,
    /// A pending request announced again at start: it goes only where no notice of it was
    /// ever delivered (a crash may have come between its `requested` event and its notices).
    pub resent: bool,
}

/// The decision path's side: drops changes into each destination's queue.
#[derive(Debug, Default)]
pub struct Notifier {
    queues: Vec<(String, mpsc::Sender<Change>)>,
}

impl Notifier {
    /// Starts one task per destination; they record deliveries through `approvals` and end
    /// when it is gone.
    pub fn start(settings: NotifySettings, approvals: &Arc<Approvals>) -> Self {
        if settings.is_empty() {
            return Self::default();
        }
        let settings = Arc::new(settings);
        let mut queues = Vec::new();
        let mut spawn = |name: String, sink: Sink| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let worker = Worker {
                sink,
                settings: Arc::clone(&settings),
                approvals: Arc::downgrade(approvals),
                slack_messages: HashMap::new(),
            };
            tokio::spawn(worker.run(rx));
            queues.push((name, tx));
        };
        if settings.slack.is_some() {
            spawn("slack".into(), Sink::Slack);
        }
        if settings.teams.is_some() {
            spawn("teams".into(), Sink::Teams);
        }
        for (i, hook) in settings.webhooks.iter().enumerate() {
            spawn(format!("webhook {}", hook.name), Sink::Webhook(i));
        }
        Self { queues }
    }

    /// Queues `change` for every destination, without waiting.
    pub fn send(&self, change: &Change) {
        for (name, queue) in &self.queues {
            if let Err(error) = queue.try_send(change.clone()) {
                warn!(destination = %name, request = %change.request.id(), %error,
                      "approval notice dropped: the destination's queue is full or closed");
            }
        }
    }
}
