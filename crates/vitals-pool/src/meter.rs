//! Counting and timing acquires.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vitals_core::{HistogramSnapshot, LATENCY_BUCKETS_SECONDS, Window};

/// Length of one slice of the acquire-wait window.
pub(crate) const WINDOW_SLICE: Duration = Duration::from_secs(10);
/// Slices in the acquire-wait window: 6 × 10 s = the last minute.
pub(crate) const WINDOW_SLICES: usize = 6;

/// The counters and waits of one pool, shared by its clones.
pub(crate) struct Meter {
    /// Acquire waits over the recent window, for the JSON percentiles.
    recent: Window,
    /// Where waits are also recorded through the `metrics` facade, once attached.
    pub(crate) wait_facade: OnceLock<metrics::Histogram>,
    acquires: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub acquires: u64,
    pub errors: u64,
    pub timeouts: u64,
}

impl Meter {
    pub(crate) fn new(slice: Duration, slices: usize) -> Self {
        Self {
            recent: Window::new(slice, slices, LATENCY_BUCKETS_SECONDS),
            wait_facade: OnceLock::new(),
            acquires: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }

    /// A meter with another window that keeps this one's counters and facade.
    pub(crate) fn with_window(&self, slice: Duration, slices: usize) -> Self {
        let counts = self.counts();
        let meter = Self::new(slice, slices);
        meter.acquires.store(counts.acquires, Ordering::Relaxed);
        meter.errors.store(counts.errors, Ordering::Relaxed);
        meter.timeouts.store(counts.timeouts, Ordering::Relaxed);
        if let Some(h) = self.wait_facade.get() {
            let _ = meter.wait_facade.set(h.clone());
        }
        meter
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            acquires: self.acquires.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn window_length(&self) -> Duration {
        self.recent.length()
    }

    pub(crate) fn waits(&self) -> HistogramSnapshot {
        self.recent.snapshot(Instant::now())
    }

    /// Runs one acquire: counts it, times it (also when the caller gives up waiting and
    /// drops the future) and counts its failure, if it fails.
    pub(crate) async fn acquire<T>(
        &self,
        acquire: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, sqlx::Error> {
        self.acquires.fetch_add(1, Ordering::Relaxed);
        let timing = Timing {
            meter: self,
            started: Instant::now(),
        };
        let result = acquire.await;
        drop(timing);
        if let Err(e) = &result {
            self.errors.fetch_add(1, Ordering::Relaxed);
            if matches!(e, sqlx::Error::PoolTimedOut) {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// Counts a connection taken without waiting (`try_acquire`).
    pub(crate) fn took_at_once(&self) {
        self.acquires.fetch_add(1, Ordering::Relaxed);
        self.record(Instant::now(), Duration::ZERO);
    }

    fn record(&self, now: Instant, waited: Duration) {
        self.recent.record(now, waited);
        if let Some(facade) = self.wait_facade.get() {
            facade.record(waited.as_secs_f64());
        }
    }
}

/// Records the wait when the acquire ends, however it ends.
struct Timing<'a> {
    meter: &'a Meter,
    started: Instant,
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        self.meter
            .record(now, now.saturating_duration_since(self.started));
    }
}
