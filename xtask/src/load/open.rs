//! The open model's schedule: arrivals at a constant rate, whatever the server does.
//!
//! Arrival `k` is due at `start + k / rate`. Workers take the next arrival number from a
//! shared counter, wait until it is due, send, and measure latency from the *intended* time.
//! When every worker is busy, arrivals fall behind and their wait counts as latency, which is
//! what a user arriving at that moment would have felt; nothing is silently skipped
//! (no coordinated omission).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Hands out arrivals to workers.
pub struct Arrivals {
    start: Instant,
    interval: Duration,
    end: Instant,
    next: AtomicU64,
}

impl Arrivals {
    /// `rate` arrivals per second from `start` until `start + duration`.
    pub fn new(start: Instant, rate: f64, duration: Duration) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        Self {
            start,
            interval: Duration::from_secs_f64(1.0 / rate),
            end: start + duration,
            next: AtomicU64::new(0),
        }
    }

    /// When arrival `k` is due.
    pub fn due(&self, k: u64) -> Instant {
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        self.start + self.interval * k
    }

    /// The next arrival's intended send time, or `None` once the run is over.
    pub fn take(&self) -> Option<Instant> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let due = self.due(k);
        (due < self.end).then_some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_evenly_spaced_and_bounded() {
        let t0 = Instant::now();
        let a = Arrivals::new(t0, 4.0, Duration::from_secs(2));
        let times: Vec<Instant> = std::iter::from_fn(|| a.take()).collect();
        assert_eq!(times.len(), 8);
        assert_eq!(times[0], t0);
        assert_eq!(times[1] - times[0], Duration::from_millis(250));
        assert_eq!(times[7] - t0, Duration::from_millis(1750));
        assert_eq!(a.take(), None, "stays over");
    }

    #[test]
    fn intended_times_do_not_depend_on_when_they_are_taken() {
        let t0 = Instant::now();
        let a = Arrivals::new(t0, 10.0, Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(30));
        // Taken late, still due at its slot: the lateness becomes measured latency.
        assert_eq!(a.take(), Some(t0));
    }
}
