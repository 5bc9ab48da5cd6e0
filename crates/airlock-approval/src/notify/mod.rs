//! What approval requests look like on the channels that announce them, without the network:
//! Slack (Block Kit messages, the callback's signature, button clicks), Teams (an Adaptive
//! Card) and generic webhooks (a signed JSON event). The gateway sends and receives them.

pub mod slack;
pub mod teams;
pub mod webhook;
