//! The clock the evaluator is fed from: monotonic time since the command started. Tests feed
//! the evaluator durations directly instead.

use std::time::{Duration, Instant};

/// A source of "now" as a monotonic offset.
pub trait Clock {
    /// Time elapsed since the clock's origin.
    fn now(&self) -> Duration;
}

/// The real monotonic clock.
#[derive(Debug)]
pub struct MonotonicClock(Instant);

impl MonotonicClock {
    /// A clock starting now.
    pub fn start() -> Self {
        Self(Instant::now())
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}
