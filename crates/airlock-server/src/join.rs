//! [`join`]: runs a session's two halves on one task, polling only the half whose waker
//! fired. `tokio::join!` polls both on every wake, so each message through one half also ran
//! the other half's idle `select!` (a socket readiness check and its `Notify` waiters).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// The task's own waker, as of its last poll.
#[derive(Default)]
struct Parent {
    waker: Mutex<Option<Waker>>,
}

impl Parent {
    fn register(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

/// The waker handed to one half: marks it runnable and wakes the task.
struct Branch {
    woken: AtomicBool,
    parent: Arc<Parent>,
}

impl Wake for Branch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let slot = self
            .parent
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(waker) = slot.as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// One half's bookkeeping: its waker and, once it is done, its output (the future itself stays
/// pinned by the caller).
struct Half<F: Future> {
    branch: Arc<Branch>,
    waker: Waker,
    output: Option<F::Output>,
}

impl<F: Future> Half<F> {
    fn new(parent: &Arc<Parent>) -> Self {
        let branch = Arc::new(Branch {
            // Polled once to start.
            woken: AtomicBool::new(true),
            parent: Arc::clone(parent),
        });
        Self {
            waker: Waker::from(Arc::clone(&branch)),
            branch,
            output: None,
        }
    }

    /// Polls the future if it is not done and its waker fired since its last poll.
    fn poll(&mut self, future: Pin<&mut F>) {
        if self.output.is_none()
            && self.branch.woken.swap(false, Ordering::AcqRel)
            && let Poll::Ready(output) = future.poll(&mut Context::from_waker(&self.waker))
        {
            self.output = Some(output);
        }
    }
}

/// Runs `a` and `b` to completion together on the calling task and returns both outputs.
/// Pinned by the caller: futures taken by value and pinned here would be held twice in this
/// function's state (as arguments and as pinned locals), doubling an idle session's memory.
pub async fn join<A: Future, B: Future>(
    mut a: Pin<&mut A>,
    mut b: Pin<&mut B>,
) -> (A::Output, B::Output) {
    let parent = Arc::new(Parent::default());
    let mut half_a = Half::<A>::new(&parent);
    let mut half_b = Half::<B>::new(&parent);
    poll_fn(|cx| {
        // Registered before the flags are read: a wake after this point polls again.
        parent.register(cx.waker());
        half_a.poll(a.as_mut());
        half_b.poll(b.as_mut());
        match (half_a.output.take(), half_b.output.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (half_a.output, half_b.output) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use std::pin::pin;

    use tokio::sync::{Notify, oneshot};

    use super::*;

    /// A future that counts its polls and waits for a notification `rounds` times.
    async fn counted(polls: &AtomicUsize, notify: &Notify, rounds: usize) -> usize {
        for _ in 0..rounds {
            let notified = notify.notified();
            let mut notified = pin!(notified);
            poll_fn(|cx| {
                polls.fetch_add(1, Ordering::Relaxed);
                notified.as_mut().poll(cx)
            })
            .await;
        }
        rounds
    }

    #[tokio::test]
    async fn only_the_woken_half_is_polled() {
        let (polls_a, polls_b) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let (notify_a, notify_b) = (Notify::new(), Notify::new());
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let driver = async {
            for _ in 0..10 {
                notify_a.notify_one();
                tokio::task::yield_now().await;
            }
            notify_b.notify_one();
            let _ = done_rx.await;
        };
        let a = pin!(counted(&polls_a, &notify_a, 10));
        let b = pin!(async {
            let n = counted(&polls_b, &notify_b, 1).await;
            let _ = done_tx.send(());
            n
        });
        let joined = join(a, b);
        let ((a, b), ()) = tokio::join!(joined, driver);
        assert_eq!((a, b), (10, 1));
        // `a` ran once per notification (plus its first poll); `b` was not polled for them.
        assert!(polls_a.load(Ordering::Relaxed) >= 11);
        assert!(
            polls_b.load(Ordering::Relaxed) <= 3,
            "b polled {} times",
            polls_b.load(Ordering::Relaxed)
        );
    }

    #[tokio::test]
    async fn wakes_from_another_thread_complete_both() {
        let notify = Arc::new(Notify::new());
        let (tx, rx) = oneshot::channel::<u32>();
        let remote = Arc::clone(&notify);
        let thread = std::thread::spawn(move || {
            remote.notify_one();
            let _ = tx.send(7);
        });
        let (first, second) = join(pin!(notify.notified()), pin!(rx)).await;
        let () = first;
        assert_eq!(second.ok(), Some(7));
        assert!(thread.join().is_ok());
    }
}
