//! How busy the Tokio runtime is, for Vitals.
//!
//! A [`RuntimeCollector`] reads Tokio's own stable counters
//! ([`RuntimeMetrics`](tokio::runtime::RuntimeMetrics)) each time it is asked to sample
//! (registered with Vitals, by the engine's scheduler every interval) and fills the
//! snapshot's `runtime` section:
//!
//! - `workers`: worker threads;
//! - `busy_ratio`: the share of the workers' time spent running tasks over the last interval,
//!   0–1, and `max_worker_busy_ratio`, the same for the busiest worker;
//! - `global_queue_depth`: tasks waiting in the global queue (spawned from outside the
//!   runtime, or spilled from a full worker queue) right now;
//! - `alive_tasks`: tasks spawned and not yet finished;
//! - `park_rate`: how often workers ran out of work and went to sleep, per second;
//! - `mean_poll_us`: mean task poll time, only when built with `--cfg tokio_unstable` (absent,
//!   never zero, otherwise).
//!
//! A busy ratio near 1 with a growing global queue is a starved runtime: too few workers, or
//! blocking calls inside async code. A worker stuck inside one long poll does not report its
//! busy time until the poll returns; the collector counts such a worker busy when work waits
//! in the global queue throughout an interval while the worker neither reports busy time nor
//! parks (see `docs/metrics-endpoint.md`).
//!
//! ```
//! use std::time::Duration;
//! use vitals_core::{Collector, Snapshot};
//! use vitals_runtime::RuntimeCollector;
//!
//! let runtime = tokio::runtime::Builder::new_multi_thread()
//!     .worker_threads(2)
//!     .build()?;
//! let collector = RuntimeCollector::new(runtime.handle(), Duration::from_millis(100))?;
//! collector.sample(); // what the scheduler does every interval
//! let mut snapshot = Snapshot::now();
//! collector.collect(&mut snapshot);
//! assert_eq!(snapshot.runtime.map(|r| r.workers), Some(2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod collector;
mod reading;

pub use collector::{MIN_INTERVAL, RuntimeCollector, RuntimeError};
