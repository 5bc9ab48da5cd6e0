//! Cancel requests: each session gets its own (process id, secret) to give the client; a
//! CancelRequest carrying it is forwarded to the session's upstream backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where to send a cancel for one session.
#[derive(Clone, Debug)]
pub struct CancelTarget {
    /// The session's upstream: its address, and its TLS if the session's leg is encrypted.
    pub upstream: Arc<crate::state::Upstream>,
    pub pid: i32,
    pub key: Vec<u8>,
    /// The session's cancel counter: a statement held for approval withdraws its request.
    pub interrupts: Arc<tokio::sync::watch::Sender<u64>>,
}

/// The live sessions' cancel keys. Locked only for inserts, removals and lookups.
#[derive(Debug, Default)]
pub struct CancelMap {
    targets: Mutex<HashMap<(i32, [u8; 4]), CancelTarget>>,
}

/// Removes its key from the map when the session ends.
#[derive(Debug)]
pub struct Registration {
    map: Arc<crate::State>,
    key: (i32, [u8; 4]),
}

impl CancelMap {
    /// Registers `target` under a fresh random key; the key is what the client is given.
    pub fn register(state: &Arc<crate::State>, target: CancelTarget) -> Registration {
        let mut targets = state
            .cancels
            .targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = loop {
            let mut bytes = [0u8; 8];
            let _ = getrandom::fill(&mut bytes);
            let [a, b, c, d, e, f, g, h] = bytes;
            let pid = i32::from_be_bytes([a & 0x7f, b, c, d]).max(1);
            let key = (pid, [e, f, g, h]);
            if !targets.contains_key(&key) {
                break key;
            }
        };
        targets.insert(key, target);
        Registration {
            map: Arc::clone(state),
            key,
        }
    }

    /// The target registered under the key a client presented.
    pub fn lookup(&self, pid: i32, key: &[u8]) -> Option<CancelTarget> {
        let key: [u8; 4] = key.try_into().ok()?;
        let targets = self
            .targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        targets.get(&(pid, key)).cloned()
    }
}

impl Registration {
    pub fn pid(&self) -> i32 {
        self.key.0
    }

    pub fn secret(&self) -> [u8; 4] {
        self.key.1
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut targets = self
            .map
            .cancels
            .targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        targets.remove(&self.key);
    }
}
