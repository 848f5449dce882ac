//! The moment an application starts shutting down, for whatever Vitals keeps open on its own:
//! live streams end with a last event, a CPU profile stops sampling, so that a graceful
//! shutdown never waits on them.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// Set once, when shutdown begins; async and blocking code can wait for it.
pub(crate) struct Shutdown {
    started: watch::Sender<bool>,
    blocking: (Mutex<bool>, Condvar),
}

impl Shutdown {
    pub(crate) fn new() -> Self {
        Self {
            started: watch::channel(false).0,
            blocking: (Mutex::new(false), Condvar::new()),
        }
    }

    /// Marks shutdown as begun (again: nothing more happens) and wakes every waiter.
    pub(crate) fn begin(&self) {
        self.started.send_replace(true);
        let (flag, wake) = &self.blocking;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
    }

    pub(crate) fn has_begun(&self) -> bool {
        *self.started.borrow()
    }

    /// Completes once shutdown has begun (at once if it has).
    pub(crate) fn begun(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut started = self.started.subscribe();
        async move {
            // An error means the engine is gone, which is a shutdown too.
            let _ = started.wait_for(|begun| *begun).await;
        }
    }

    /// Blocks for at most `timeout`; `true` when shutdown began meanwhile (or before).
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let (flag, wake) = &self.blocking;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = wake
            .wait_timeout_while(guard, timeout, |begun| !*begun)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[tokio::test]
    async fn waiters_wake_when_it_begins() {
        let shutdown = Arc::new(Shutdown::new());
        assert!(!shutdown.has_begun());
        assert!(!shutdown.wait(Duration::from_millis(10)));
        let blocking = {
            let shutdown = Arc::clone(&shutdown);
            std::thread::spawn(move || {
                let started = Instant::now();
                (shutdown.wait(Duration::from_secs(30)), started.elapsed())
            })
        };
        let waiting = tokio::spawn(shutdown.begun());
        tokio::time::sleep(Duration::from_millis(50)).await;
        shutdown.begin();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the async waiter wakes")
            .expect("task");
        let (begun, took) = blocking.join().expect("thread");
        assert!(begun && took < Duration::from_secs(5), "{took:?}");
        assert!(shutdown.has_begun());
        // Later waiters do not wait at all.
        shutdown.begun().await;
        assert!(shutdown.wait(Duration::from_secs(30)));
    }
}
