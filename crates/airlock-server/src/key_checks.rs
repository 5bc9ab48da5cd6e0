//! [`KeyChecks`]: API keys that arrive as typed (cleartext-password sessions, the HTTP API's
//! Basic credentials, the web inbox's login) cost 4096 PBKDF2 rounds per verifier to check.
//! They run on blocking threads, at most `limit` at once: without the bound, a flood of wrong
//! keys from unauthenticated clients would occupy every core and starve the statements of
//! the sessions already open; with it, the flood waits its turn (a session's wait counts
//! against its authentication timeout). SCRAM sessions do not hash on the gateway.

use std::sync::Arc;

use tokio::sync::Semaphore;

#[derive(Debug)]
pub struct KeyChecks {
    permits: Arc<Semaphore>,
}

impl KeyChecks {
    /// At most `limit` checks at once (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    /// Half the machine's cores, at least one: the other half stays for sessions.
    pub fn default_limit() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    }

    /// Runs `check` on a blocking thread once a place is free; `None` if it could not run
    /// to the end (the runtime is shutting down, or the check panicked).
    pub async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let result = check();
            drop(permit);
            result
        })
        .await
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_limit_run_at_once_and_all_finish() {
        let checks = Arc::new(KeyChecks::new(2));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut all = Vec::new();
        for i in 0..12 {
            let (checks, running, most) = (checks.clone(), running.clone(), most.clone());
            all.push(tokio::spawn(async move {
                checks
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i
                    })
                    .await
            }));
        }
        let mut results = Vec::new();
        for task in all {
            results.push(task.await.unwrap().unwrap());
        }
        results.sort_unstable();
        assert_eq!(results, (0..12).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
