//! Latency over the recent past: a ring of histograms, one per time slice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::histogram::{Histogram, HistogramSnapshot};

/// Keeps the last `slices × slice` of observations; older slices are cleared as time moves
/// on. Recording is lock-free; a slice is cleared by whichever recorder first enters it, so
/// an observation racing with that clear can be lost (a rounding error on a percentile,
/// never a wrong count elsewhere).
pub struct Window {
    origin: Instant,
    slice: Duration,
    slices: Box<[Slice]>,
}

struct Slice {
    /// Index of the time slice the counts belong to, plus one (0: never used).
    epoch: AtomicU64,
    counts: Histogram,
}

impl Window {
    /// A window of `slices` slices of `slice` each, over `bounds` (seconds).
    pub fn new(slice: Duration, slices: usize, bounds: &[f64]) -> Self {
        Self {
            origin: Instant::now(),
            slice: slice.max(Duration::from_millis(1)),
            slices: (0..slices.max(1))
                .map(|_| Slice {
                    epoch: AtomicU64::new(0),
                    counts: Histogram::new(bounds),
                })
                .collect(),
        }
    }

    /// Total length of the window.
    pub fn length(&self) -> Duration {
        self.slice * u32::try_from(self.slices.len()).unwrap_or(u32::MAX)
    }

    fn epoch(&self, at: Instant) -> u64 {
        let elapsed = at.saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos() / self.slice.as_nanos()).unwrap_or(u64::MAX) + 1
    }

    /// Records one observation made at `at`.
    pub fn record(&self, at: Instant, value: Duration) {
        let epoch = self.epoch(at);
        let n = self.slices.len() as u64;
        let slot = &self.slices[usize::try_from(epoch % n).unwrap_or(0)];
        let seen = slot.epoch.load(Ordering::Acquire);
        if seen != epoch
            && slot
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.counts.reset();
        }
        slot.counts.record(value);
    }

    /// The observations of the slices still inside the window at `now`, merged.
    pub fn snapshot(&self, now: Instant) -> HistogramSnapshot {
        let current = self.epoch(now);
        let n = self.slices.len() as u64;
        let mut merged: Option<HistogramSnapshot> = None;
        for slot in self.slices.iter() {
            let epoch = slot.epoch.load(Ordering::Acquire);
            if epoch == 0 || epoch + n <= current {
                continue;
            }
            let s = slot.counts.snapshot();
            match &mut merged {
                None => merged = Some(s),
                Some(m) => m.merge(&s),
            }
        }
        merged.unwrap_or_else(|| self.slices[0].counts.empty_snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_slices_leave_the_window() {
        let w = Window::new(Duration::from_secs(10), 3, &[0.01, 0.1, 1.0]);
        let t0 = w.origin;
        w.record(t0, Duration::from_millis(50));
        w.record(t0 + Duration::from_secs(15), Duration::from_millis(500));
        assert_eq!(w.snapshot(t0 + Duration::from_secs(20)).count, 2);
        // 35 s later the first slice (0–10 s) has left a 30 s window; the second has not.
        assert_eq!(w.snapshot(t0 + Duration::from_secs(35)).count, 1);
        assert_eq!(w.snapshot(t0 + Duration::from_secs(100)).count, 0);
    }

    #[test]
    fn a_reused_slot_starts_empty() {
        let w = Window::new(Duration::from_secs(1), 2, &[1.0]);
        let t0 = w.origin;
        for _ in 0..5 {
            w.record(t0, Duration::from_millis(1));
        }
        // Slot 0 again, two slices later.
        w.record(t0 + Duration::from_secs(2), Duration::from_millis(1));
        assert_eq!(w.snapshot(t0 + Duration::from_secs(2)).count, 1);
    }
}
