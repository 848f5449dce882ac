//! The engine's `metrics` recorder: where every recorded series lives.
//!
//! Two stores keep series apart: Vitals' own (request metrics, acquire waits: named and
//! described by the catalogue in `vitals-core`) and the host application's (whatever it
//! records through the `metrics` macros once the recorder is installed globally). Counters
//! and gauges are plain atomics; histograms count into fixed buckets as they record, so there
//! is nothing to drain and a scrape only reads.

mod histogram;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit as MetricUnit,
};
use vitals_core::catalogue::{self, MetricDef};
use vitals_core::math::round_significant;
use vitals_core::{AppCounter, AppGauge, AppHistogram, AppSection, MetricSink};

pub use histogram::BucketHistogram;

/// Prometheus' conventional default buckets, for histograms nobody configured.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One series: its label text rendered once at registration, and its value.
pub(crate) struct Series<T> {
    /// `a="1",b="2"` (no braces), escaped for the exposition format.
    pub(crate) labels: Box<str>,
    /// The labels as pairs, for the JSON `app` section.
    pub(crate) pairs: Vec<(String, String)>,
    pub(crate) value: Arc<T>,
}

/// Series of one kind, by key.
pub(crate) struct Family<T> {
    pub(crate) by_key: std::collections::HashMap<Key, Arc<Series<T>>>,
}

impl<T> Default for Family<T> {
    fn default() -> Self {
        Self {
            by_key: std::collections::HashMap::new(),
        }
    }
}

/// Counters, gauges and histograms of one origin.
#[derive(Default)]
pub(crate) struct Store {
    pub(crate) counters: RwLock<Family<AtomicU64>>,
    pub(crate) gauges: RwLock<Family<AtomicU64>>,
    pub(crate) histograms: RwLock<Family<BucketHistogram>>,
}

/// A read guard, also of a lock a panicking thread left poisoned (the data stays usable: every
/// write is a single insert).
pub(crate) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A write guard, as [`read`].
pub(crate) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    fn series<T>(
        family: &RwLock<Family<T>>,
        key: &Key,
        make: impl FnOnce() -> T,
    ) -> Arc<Series<T>> {
        if let Some(s) = read(family).by_key.get(key) {
            return Arc::clone(s);
        }
        let mut family = write(family);
        Arc::clone(family.by_key.entry(key.clone()).or_insert_with(|| {
            let pairs: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            Arc::new(Series {
                labels: crate::text::label_text(
                    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                )
                .into_boxed_str(),
                pairs,
                value: Arc::new(make()),
            })
        }))
    }
}

/// The help text a series name was described with.
#[derive(Clone)]
pub(crate) struct Help(pub(crate) String);

/// The recorder behind one [`Engine`](crate::Engine).
pub struct Registry {
    namespace: String,
    pub(crate) own: Store,
    pub(crate) app: Store,
    /// Bucket edges by full metric name; others get [`DEFAULT_BUCKETS`].
    buckets: BTreeMap<String, Arc<[f64]>>,
    default_buckets: Arc<[f64]>,
    pub(crate) described: RwLock<BTreeMap<String, Help>>,
    /// When the registry was made: where its cumulative counts start.
    started: std::time::SystemTime,
    /// The catalogue metrics this registry exports, each with its full name: a namespaced
    /// metric whose name, without a namespace, is that of a standard unprefixed one
    /// (`process_resident_memory_bytes`) is left out, so no name appears twice.
    pub(crate) exported: Vec<(&'static MetricDef, String)>,
    /// Length of the last exposition, so the next one starts with room for it.
    pub(crate) last_render_len: std::sync::atomic::AtomicUsize,
}

impl Registry {
    /// A registry naming Vitals' series under `namespace`, with `buckets` by full name.
    pub(crate) fn new(namespace: &str, buckets: BTreeMap<String, Arc<[f64]>>) -> Self {
        let mut exported: Vec<(&'static MetricDef, String)> = Vec::new();
        for def in catalogue::CATALOGUE {
            let name = catalogue::full_name(namespace, def);
            if !exported.iter().any(|(_, n)| *n == name) {
                exported.push((def, name));
            } else if let Some(slot) = exported
                .iter_mut()
                .find(|(d, n)| *n == name && d.namespaced)
            {
                // The standard, unprefixed metric keeps the name.
                *slot = (def, name);
            }
        }
        Self {
            exported,
            namespace: namespace.to_owned(),
            own: Store::default(),
            app: Store::default(),
            buckets,
            default_buckets: Arc::from(DEFAULT_BUCKETS),
            described: RwLock::new(BTreeMap::new()),
            started: std::time::SystemTime::now(),
            last_render_len: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The namespace of Vitals' own series.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// When the registry was made: the start of every cumulative count it holds.
    pub fn started(&self) -> std::time::SystemTime {
        self.started
    }

    fn buckets_for(&self, name: &str) -> Arc<[f64]> {
        self.buckets
            .get(name)
            .map_or_else(|| Arc::clone(&self.default_buckets), Arc::clone)
    }

    /// A counter of Vitals' own, as a raw atomic (the hot path skips dynamic dispatch).
    pub(crate) fn own_counter(&self, key: &Key) -> Arc<AtomicU64> {
        Arc::clone(&Store::series(&self.own.counters, key, || AtomicU64::new(0)).value)
    }

    /// A histogram of Vitals' own.
    pub(crate) fn own_histogram(&self, key: &Key) -> Arc<BucketHistogram> {
        let bounds = self.buckets_for(key.name());
        Arc::clone(&Store::series(&self.own.histograms, key, || BucketHistogram::new(bounds)).value)
    }

    /// The key of a catalogue metric with `labels`.
    pub(crate) fn key(&self, def: &MetricDef, labels: &[(&'static str, String)]) -> Key {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone()))
            .collect();
        Key::from_parts(catalogue::full_name(&self.namespace, def), labels)
    }

    /// The `app` section: every series the application recorded.
    pub fn app_section(&self) -> AppSection {
        fn labels(pairs: &[(String, String)]) -> BTreeMap<String, String> {
            pairs.iter().cloned().collect()
        }
        let mut section = AppSection::default();
        for (key, s) in &read(&self.app.counters).by_key {
            section.counters.push(AppCounter {
                name: key.name().to_owned(),
                labels: labels(&s.pairs),
                value: s.value.load(Ordering::Relaxed),
            });
        }
        for (key, s) in &read(&self.app.gauges).by_key {
            section.gauges.push(AppGauge {
                name: key.name().to_owned(),
                labels: labels(&s.pairs),
                value: finite(f64::from_bits(s.value.load(Ordering::Relaxed))),
            });
        }
        for (key, s) in &read(&self.app.histograms).by_key {
            let h = s.value.snapshot();
            // Interpolation within a bucket can land past what was recorded: clamp to it.
            let (min, max) = s.value.range().unwrap_or((0.0, 0.0));
            let q = |q: f64| finite(h.quantile(q).clamp(min, max));
            section.histograms.push(AppHistogram {
                name: key.name().to_owned(),
                labels: labels(&s.pairs),
                count: h.count,
                sum: finite(round_significant(h.sum_seconds)),
                min: finite(min),
                max: finite(max),
                p50: q(0.5),
                p95: q(0.95),
                p99: q(0.99),
            });
        }
        section
            .counters
            .sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        section
            .gauges
            .sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        section
            .histograms
            .sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        section
    }

    fn describe(&self, key: KeyName, description: SharedString) {
        write(&self.described).insert(key.as_str().to_owned(), Help(description.into_owned()));
    }
}

/// JSON has no NaN or infinity: report them as 0.
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

impl MetricSink for Registry {
    fn histogram(&self, metric: &MetricDef, labels: &[(&'static str, String)]) -> Histogram {
        Histogram::from_arc(self.own_histogram(&self.key(metric, labels)))
    }
}

/// What the `metrics` macros reach: the application's store.
impl Recorder for Registry {
    fn describe_counter(&self, key: KeyName, _unit: Option<MetricUnit>, description: SharedString) {
        self.describe(key, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<MetricUnit>, description: SharedString) {
        self.describe(key, description);
    }

    fn describe_histogram(
        &self,
        key: KeyName,
        _unit: Option<MetricUnit>,
        description: SharedString,
    ) {
        self.describe(key, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::clone(
            &Store::series(&self.app.counters, key, || {
                self.warn_if_taken(key.name());
                AtomicU64::new(0)
            })
            .value,
        ))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::clone(
            &Store::series(&self.app.gauges, key, || {
                self.warn_if_taken(key.name());
                AtomicU64::new(0)
            })
            .value,
        ))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let bounds = self.buckets_for(key.name());
        Histogram::from_arc(Arc::clone(
            &Store::series(&self.app.histograms, key, || {
                self.warn_if_taken(key.name());
                BucketHistogram::new(bounds)
            })
            .value,
        ))
    }
}

impl Registry {
    /// Whether `name` is one of Vitals' own exported names.
    pub(crate) fn is_own_name(&self, name: &str) -> bool {
        self.exported.iter().any(|(_, n)| n == name)
    }

    /// An application metric named like one of Vitals' own would make the exposition list
    /// one name twice: it is left out of `/metrics` (still in the `app` section), and said when the series is made.
    fn warn_if_taken(&self, name: &str) {
        if self.is_own_name(name) {
            tracing::warn!(
                metric = name,
                "the application records a metric under a name Vitals exports itself; it is left out of /metrics: rename it, or give Vitals a namespace"
            );
        }
    }

    /// Installs this registry as the process-wide `metrics` recorder; `false` when another
    /// one is installed already.
    pub(crate) fn install_globally(self: &Arc<Self>) -> bool {
        metrics::set_global_recorder(Shared(Arc::clone(self))).is_ok()
    }
}

/// The recorder handed to `metrics::set_global_recorder`: the same registry, shared.
pub(crate) struct Shared(pub(crate) Arc<Registry>);

impl Recorder for Shared {
    fn describe_counter(&self, key: KeyName, unit: Option<MetricUnit>, description: SharedString) {
        self.0.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<MetricUnit>, description: SharedString) {
        self.0.describe_gauge(key, unit, description);
    }
    fn describe_histogram(
        &self,
        key: KeyName,
        unit: Option<MetricUnit>,
        description: SharedString,
    ) {
        self.0.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, metadata)
    }
}
