//! [`Workers`]: single-threaded runtimes that run sessions, one thread each. A session's two
//! halves, its timers and its sockets all live on one thread, so a statement's round trip
//! wakes exactly that thread — no work-stealing scheduler waking idle threads to look for
//! work. Connections are handed out round-robin; the accept loop and the audit writer stay on
//! the caller's runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// The running session threads; [`Workers::stop`] ends them once their sessions are done.
#[derive(Debug)]
pub struct Workers {
    threads: Vec<Worker>,
    next: AtomicUsize,
}

#[derive(Debug)]
struct Worker {
    handle: Handle,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Workers {
    /// Starts `count` session threads (at least one).
    pub fn start(count: usize) -> std::io::Result<Self> {
        let mut threads = Vec::with_capacity(count.max(1));
        for index in 0..count.max(1) {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("airlock-session-{index}"))
                .spawn(move || {
                    // Sessions run while this waits; dropping the runtime ends what is left.
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            threads.push(Worker {
                handle,
                stop,
                thread,
            });
        }
        Ok(Self {
            threads,
            next: AtomicUsize::new(0),
        })
    }

    /// The runtime for the next session (round-robin).
    pub(crate) fn next(&self) -> Option<&Handle> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.threads
            .get(n % self.threads.len().max(1))
            .map(|w| &w.handle)
    }

    /// Ends the session threads (call after [`crate::serve_on`] has drained them).
    pub fn stop(self) {
        for worker in self.threads {
            let _ = worker.stop.send(());
            if worker.thread.join().is_err() {
                tracing::error!("a session thread panicked");
            }
        }
    }
}
