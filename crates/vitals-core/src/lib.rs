//! The shared language of Vitals.
//!
//! `vitals-core` holds what every other Vitals crate agrees on, and nothing heavier than
//! `serde`:
//!
//! - [`Snapshot`]: the document served by `GET /api/v1/metrics`, field for field;
//! - [`math`]: the derived figures (utilization, hit rate, rounding) as pure functions;
//! - [`catalogue`]: every metric Vitals exports, named once with its kind, unit and help;
//! - [`alerts`]: the alert rules, thresholds and `for` durations, named once, and
//!   [`evaluator`], the state machine that evaluates them (pending, firing, resolved);
//! - [`Histogram`]: a lock-free fixed-bucket latency histogram collectors record into, and
//!   [`Window`], a ring of them covering the recent past;
//! - [`slo`]: service-level objectives, their burn rates and the Prometheus rules that alert
//!   on them;
//! - [`Collector`]: the trait a source of figures implements to fill its part of a snapshot.
//!
//! ```
//! use vitals_core::{CacheCounts, CacheSection, Snapshot};
//!
//! let mut snapshot = Snapshot::now();
//! snapshot.cache = Some(CacheSection::from_counts(
//!     "memory",
//!     CacheCounts { hits: 3, misses: 1, ..CacheCounts::default() },
//! ));
//! let cache = snapshot.cache.as_ref().expect("filled above");
//! assert_eq!(cache.total_reads, 4);
//! assert_eq!(cache.hit_rate_percent, 75.0);
//! ```

pub mod alerts;
pub mod catalogue;
mod collector;
pub mod evaluator;
pub mod histogram;
pub mod math;
pub mod slo;
mod snapshot;
pub mod text;
mod window;

pub use catalogue::{CATALOGUE, MetricDef, MetricKind, Unit};
pub use collector::{
    Collector, Importance, MetricSink, ProbeFuture, ReadinessProbe, Schedule, Slot,
};
pub use histogram::{Histogram, HistogramSnapshot, LATENCY_BUCKETS_SECONDS};
pub use snapshot::{
    AppCounter, AppGauge, AppHistogram, AppSection, CacheCounts, CacheSection, CircuitState,
    ContainerFigures, ContainerSection, DatabaseSection, HttpSection, PoolFigures, ProcessSection,
    RouteFigures, RuntimeSection, SlowRequest, Snapshot, SpanStat, SystemFigures, SystemSection,
    rfc3339_micros,
};
pub use window::Window;
