//! The background sampler and its `Collector`.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeMetrics};
use vitals_core::{Collector, RuntimeSection, Schedule, Slot, Snapshot};

use crate::reading::{Reading, section};

/// The shortest sampling interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Why a runtime collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The interval is below [`MIN_INTERVAL`].
    #[error("runtime sampling interval {given:?} is too short; use {min:?} or more")]
    IntervalTooShort {
        /// What was asked for.
        given: Duration,
        /// The minimum.
        min: Duration,
    },
}

/// Reads a Tokio runtime's counters every interval and fills the snapshot's `runtime`
/// section from the last two readings.
///
/// It has no thread of its own: registered with Vitals, the engine's scheduler calls
/// [`sample`](Collector::sample) every interval from its own OS thread — not from a task of
/// the runtime it watches, which a saturated runtime (the thing this collector exists to
/// show) would delay, or never run, exactly when its figures matter.
pub struct RuntimeCollector {
    interval: Duration,
    metrics: RuntimeMetrics,
    previous: Mutex<Reading>,
    latest: Mutex<RuntimeSection>,
}

impl RuntimeCollector {
    /// A collector of the runtime behind `handle`, for every `interval` (at least
    /// [`MIN_INTERVAL`]).
    ///
    /// Counts (workers, queue depth, alive tasks) are read before this returns; ratios and
    /// rates describe the interval between two readings, so they read 0 until the first
    /// interval has passed.
    pub fn new(handle: &Handle, interval: Duration) -> Result<Self, RuntimeError> {
        if interval < MIN_INTERVAL {
            return Err(RuntimeError::IntervalTooShort {
                given: interval,
                min: MIN_INTERVAL,
            });
        }
        let metrics = handle.metrics();
        let previous = Reading::take(&metrics);
        let latest = section(None, &previous);
        Ok(Self {
            interval,
            metrics,
            previous: Mutex::new(previous),
            latest: Mutex::new(latest),
        })
    }

    /// A collector of the runtime this is called from (see [`RuntimeCollector::new`]).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`Handle::current`] does.
    pub fn current(interval: Duration) -> Result<Self, RuntimeError> {
        Self::new(&Handle::current(), interval)
    }

    /// The figures of the last interval.
    pub fn latest(&self) -> RuntimeSection {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Collector for RuntimeCollector {
    fn schedule(&self) -> Option<Schedule> {
        Some(Schedule::every(self.interval))
    }

    /// Reads the counters now; ratios and rates cover the time since the previous reading.
    fn sample(&self) {
        let current = Reading::take(&self.metrics);
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        let figures = section(Some(&previous), &current);
        *previous = current;
        drop(previous);
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = figures;
    }

    fn collect(&self, snapshot: &mut Snapshot) {
        snapshot.runtime = Some(self.latest());
    }

    fn slot(&self) -> Option<Slot> {
        Some(Slot::Section("runtime"))
    }
}
