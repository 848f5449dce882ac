//! The interface every source of figures implements.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::catalogue::MetricDef;
use crate::snapshot::Snapshot;

/// A source of figures that fills its own part of a [`Snapshot`].
///
/// `collect` runs on the request path of `GET /api/v1/metrics`, so it must only read figures
/// already at hand (atomics, the last sample of a background sampler, a pool's counters): no
/// I/O, no waiting, no measurement. A collector whose source fails keeps its last good values
/// (or zeros) and says so in its section's `error` field rather than failing the snapshot.
///
/// The other methods have defaults, so the smallest collector is one method:
///
/// ```
/// use vitals_core::{Collector, Snapshot};
///
/// struct Fixed;
/// impl Collector for Fixed {
///     fn collect(&self, snapshot: &mut Snapshot) {
///         snapshot.system.get_or_insert_default().cpu_percent = 12.5;
///     }
/// }
///
/// let mut snapshot = Snapshot::now();
/// Fixed.collect(&mut snapshot);
/// assert_eq!(snapshot.system.map(|s| s.cpu_percent), Some(12.5));
/// ```
pub trait Collector: Send + Sync + 'static {
    /// Writes this collector's figures into `snapshot`.
    fn collect(&self, snapshot: &mut Snapshot);

    /// Which snapshot section this collector owns, so a registry can refuse two collectors
    /// writing the same one (two unnamed pools, say). `None`: it shares nothing.
    fn slot(&self) -> Option<Slot> {
        None
    }

    /// Called once when the collector is registered: collectors that record as things happen
    /// (acquire waits) take their series here.
    fn attach(&self, _metrics: &dyn MetricSink) {}

    /// A readiness probe for the dependency behind this collector, if it has one.
    fn readiness(&self) -> Option<ReadinessProbe> {
        None
    }

    /// When a collector that samples (reads `/proc`, a runtime's counters…) wants
    /// [`sample`](Collector::sample) called. `None` (the default): it never samples, its
    /// figures are read as they are.
    fn schedule(&self) -> Option<Schedule> {
        None
    }

    /// Takes one reading. The registry that holds the collector calls it on its scheduler's
    /// thread as [`schedule`](Collector::schedule) says, before it builds the snapshot of
    /// that moment, so a slow reading delays other periodic work, never a request.
    fn sample(&self) {}
}

/// When a sampling collector is called: first `first_after` after it is registered, then
/// `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Time between two readings.
    pub every: Duration,
    /// Time before the first reading (a CPU figure needs one short window to exist at all).
    pub first_after: Duration,
}

impl Schedule {
    /// Every `every`, the first one `every` from now.
    pub fn every(every: Duration) -> Self {
        Self {
            every,
            first_after: every,
        }
    }
}

impl<C: Collector + ?Sized> Collector for std::sync::Arc<C> {
    fn collect(&self, snapshot: &mut Snapshot) {
        (**self).collect(snapshot);
    }
    fn slot(&self) -> Option<Slot> {
        (**self).slot()
    }
    fn attach(&self, metrics: &dyn MetricSink) {
        (**self).attach(metrics);
    }
    fn readiness(&self) -> Option<ReadinessProbe> {
        (**self).readiness()
    }
    fn schedule(&self) -> Option<Schedule> {
        (**self).schedule()
    }
    fn sample(&self) {
        (**self).sample();
    }
}

/// The snapshot section a collector writes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `system` (and `process`).
    System,
    /// `database` when unnamed, `databases[name]` otherwise.
    Pool(Option<String>),
    /// `cache` when unnamed, `caches[name]` otherwise.
    Cache(Option<String>),
    /// Any other section, by its name.
    Section(&'static str),
}

/// Where a collector registers series it records as things happen.
pub trait MetricSink {
    /// A histogram series of `metric` (named under the registry's namespace, with the
    /// metric's buckets) carrying `labels`.
    fn histogram(
        &self,
        metric: &MetricDef,
        labels: &[(&'static str, String)],
    ) -> metrics::Histogram;
}

/// What a failed readiness probe means for the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importance {
    /// The service cannot work without it: a failure makes the service unready (503).
    Required,
    /// The service works without it, worse: a failure is reported as `degraded` (still 200).
    Optional,
}

/// A boxed future of a probe's outcome: `Err` carries a short description without secrets.
pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A named check of one dependency, run by `GET /health/ready`.
pub struct ReadinessProbe {
    /// The check's name in the readiness document (`database`, `cache`, `database:replica`).
    pub name: String,
    /// The backend it talks to (`postgresql`, `redis`…), shown beside the result.
    pub backend: String,
    /// Whether a failure makes the service unready or only degraded.
    pub importance: Importance,
    /// Starts one probe; the caller bounds it with a timeout.
    pub probe: Box<dyn Fn() -> ProbeFuture + Send + Sync>,
}

impl std::fmt::Debug for ReadinessProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessProbe")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("importance", &self.importance)
            .finish_non_exhaustive()
    }
}
