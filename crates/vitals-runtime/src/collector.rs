//! The background sampler and its `Collector`.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use vitals_core::{Collector, RuntimeSection, Slot, Snapshot};

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
    /// The sampling thread could not be spawned.
    #[error("could not start the runtime sampling thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Samples a Tokio runtime's counters every interval and fills the snapshot's `runtime`
/// section; dropping it stops the sampling.
///
/// Sampling happens on a small OS thread of its own, not on a task of the runtime it
/// watches: a saturated runtime (the thing this collector exists to show) would delay such a
/// task, or never run it, exactly when its figures matter.
pub struct RuntimeCollector {
    latest: Arc<Mutex<RuntimeSection>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RuntimeCollector {
    /// Starts sampling the runtime behind `handle` every `interval` (at least
    /// [`MIN_INTERVAL`]).
    ///
    /// Counts (workers, queue depth, alive tasks) are read before this returns; ratios and
    /// rates describe the interval between two readings, so they read 0 until the first
    /// interval has passed.
    pub fn start(handle: &Handle, interval: Duration) -> Result<Self, RuntimeError> {
        if interval < MIN_INTERVAL {
            return Err(RuntimeError::IntervalTooShort {
                given: interval,
                min: MIN_INTERVAL,
            });
        }
        let metrics = handle.metrics();
        let mut previous = Reading::take(&metrics);
        let latest = Arc::new(Mutex::new(section(None, &previous)));
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = {
            let latest = Arc::clone(&latest);
            std::thread::Builder::new()
                .name("vitals-runtime".into())
                .spawn(move || {
                    loop {
                        match stopped.recv_timeout(interval) {
                            Err(RecvTimeoutError::Timeout) => {}
                            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                        }
                        let current = Reading::take(&metrics);
                        let figures = section(Some(&previous), &current);
                        *latest.lock().unwrap_or_else(PoisonError::into_inner) = figures;
                        previous = current;
                    }
                })?
        };
        Ok(Self {
            latest,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Starts sampling the runtime this is called from (see [`RuntimeCollector::start`]).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`Handle::current`] does.
    pub fn start_current(interval: Duration) -> Result<Self, RuntimeError> {
        Self::start(&Handle::current(), interval)
    }

    /// The figures of the last interval.
    pub fn latest(&self) -> RuntimeSection {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for RuntimeCollector {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Collector for RuntimeCollector {
    fn collect(&self, snapshot: &mut Snapshot) {
        snapshot.runtime = Some(self.latest());
    }

    fn slot(&self) -> Option<Slot> {
        Some(Slot::Section("runtime"))
    }
}
