//! Prometheus exposition from the same figures as the JSON snapshot.
//!
//! The [`Exporter`] owns a Prometheus recorder of the `metrics` facade (never installed as
//! the global recorder, so several servers, or a host application with its own recorder,
//! can live in one process). Request metrics are recorded into it by the performance layer
//! through [`HttpMetrics`]; pool acquire waits by [`vitals_pool::MeteredPool`]; everything
//! else is set from the very [`Snapshot`] the JSON endpoint serves, right before rendering,
//! so both endpoints agree in one scrape.

mod http;
mod window;

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Gauge, Key, KeyName, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use vitals_core::catalogue::{self, MetricDef, MetricKind};
use vitals_core::math::BYTES_PER_MB;
use vitals_core::{LATENCY_BUCKETS_SECONDS, Snapshot};

pub use http::{HttpMetrics, InFlight, MAX_SERIES, OVERFLOW, duration_buckets};

/// How often the server folds recorded histogram samples into their buckets. The exporter
/// keeps each sample until then, so this bounds that memory to about one interval of traffic
/// (8 bytes a request): 1 s at 25,000 requests/s is about 200 KB.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Renders Prometheus text for one server.
pub struct Exporter {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    namespace: String,
    gauges: Vec<(MetricDef, Gauge)>,
    counters: Vec<(MetricDef, Counter)>,
}

impl Exporter {
    /// An exporter naming metrics under `namespace`, with request-duration buckets that
    /// include `slow_threshold` as an edge.
    pub fn new(namespace: &str, slow_threshold: Duration) -> Self {
        let full = |m: &MetricDef| catalogue::full_name(namespace, m);
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(full(&catalogue::HTTP_REQUEST_DURATION)),
                &duration_buckets(slow_threshold),
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(full(&catalogue::DB_POOL_ACQUIRE_SECONDS)),
                    LATENCY_BUCKETS_SECONDS,
                )
            });
        // Both bucket lists are non-empty constants, so the builder cannot refuse them.
        let builder = builder.unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = Arc::new(builder.build_recorder());
        let handle = recorder.handle();
        let metadata = Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        let mut gauges = Vec::new();
        let mut counters = Vec::new();
        for def in catalogue::CATALOGUE {
            let name = KeyName::from(full(def));
            let help = SharedString::const_str(def.help);
            let unit = unit_of(def);
            match def.kind {
                MetricKind::Counter => recorder.describe_counter(name.clone(), unit, help),
                MetricKind::Gauge => recorder.describe_gauge(name.clone(), unit, help),
                MetricKind::Histogram => recorder.describe_histogram(name.clone(), unit, help),
            }
            // Series the snapshot feeds; request metrics and acquire waits are recorded as
            // they happen instead.
            if def.json.is_some() && def.labels.is_empty() {
                let key = Key::from_name(name);
                match def.kind {
                    MetricKind::Gauge => {
                        gauges.push((*def, recorder.register_gauge(&key, &metadata)))
                    }
                    MetricKind::Counter => {
                        counters.push((*def, recorder.register_counter(&key, &metadata)));
                    }
                    MetricKind::Histogram => {}
                }
            }
        }
        Self {
            recorder,
            handle,
            namespace: namespace.to_owned(),
            gauges,
            counters,
        }
    }

    /// The recorder, for components that record as things happen.
    pub fn recorder(&self) -> Arc<dyn Recorder + Send + Sync> {
        Arc::clone(&self.recorder) as Arc<dyn Recorder + Send + Sync>
    }

    /// A histogram series registered under this exporter's namespace.
    pub fn histogram(&self, def: &MetricDef) -> metrics::Histogram {
        let key = Key::from_name(catalogue::full_name(&self.namespace, def));
        let metadata = Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        self.recorder.register_histogram(&key, &metadata)
    }

    /// Sets the snapshot-fed series from `snapshot`, then renders the text exposition.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        for (def, gauge) in &self.gauges {
            gauge.set(value_of(snapshot, def));
        }
        for (def, counter) in &self.counters {
            // Counters mirror monotonic figures the collectors keep; `absolute` never lowers
            // a counter, so a figure that resets (a restarted Redis cannot reset ours) is safe.
            counter.absolute(value_of(snapshot, def) as u64);
        }
        self.handle.render()
    }

    /// Drains histogram samples into their buckets so memory stays bounded between scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn unit_of(def: &MetricDef) -> Option<metrics::Unit> {
    match def.unit {
        catalogue::Unit::Percent => Some(metrics::Unit::Percent),
        catalogue::Unit::Bytes => Some(metrics::Unit::Bytes),
        catalogue::Unit::Seconds => Some(metrics::Unit::Seconds),
        catalogue::Unit::Count => Some(metrics::Unit::Count),
        catalogue::Unit::Boolean => None,
    }
}

/// The snapshot figure behind a catalogue metric, in the metric's unit.
fn value_of(s: &Snapshot, def: &MetricDef) -> f64 {
    let mb = |v: f64| v * BYTES_PER_MB;
    let process = s.process.as_ref();
    match def.name {
        "cpu_percent" => s.system.cpu_percent,
        "memory_percent" => s.system.memory_percent,
        "memory_used_bytes" => mb(s.system.memory_mb),
        "memory_available_bytes" => mb(s.system.memory_available_mb),
        "disk_read_bytes_total" => mb(s.system.disk_read_mb),
        "disk_written_bytes_total" => mb(s.system.disk_write_mb),
        "db_pool_size" => f64::from(s.database.pool_size),
        "db_pool_available" => f64::from(s.database.pool_available),
        "db_pool_active" => f64::from(s.database.pool_active),
        "db_pool_min_size" => f64::from(s.database.pool_min_size),
        "db_pool_max_size" => f64::from(s.database.pool_max_size),
        "db_pool_utilization_percent" => s.database.pool_utilization_percent,
        "db_pool_acquire_errors_total" => s.database.acquire_errors_total as f64,
        "db_pool_acquire_timeouts_total" => s.database.acquire_timeouts_total as f64,
        "cache_hits_total" => s.cache.hits as f64,
        "cache_misses_total" => s.cache.misses as f64,
        "cache_sets_total" => s.cache.sets as f64,
        "cache_deletes_total" => s.cache.deletes as f64,
        "cache_errors_total" => s.cache.errors as f64,
        "cache_hit_rate_percent" => s.cache.hit_rate_percent,
        "cache_enabled" => f64::from(u8::from(s.cache.enabled)),
        "process_cpu_percent" => process.map_or(0.0, |p| p.cpu_percent),
        "process_resident_memory_bytes" => process.map_or(0.0, |p| mb(p.rss_mb)),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snapshot_fed_metric_has_a_source() {
        // A catalogue entry with a JSON counterpart must be mapped in `value_of`; an
        // unmapped one would silently export 0.
        let mut s = Snapshot::default();
        s.system.cpu_percent = 1.0;
        s.system.memory_percent = 1.0;
        s.system.memory_mb = 1.0;
        s.system.memory_available_mb = 1.0;
        s.system.disk_read_mb = 1.0;
        s.system.disk_write_mb = 1.0;
        s.database.pool_size = 1;
        s.database.pool_available = 1;
        s.database.pool_active = 1;
        s.database.pool_min_size = 1;
        s.database.pool_max_size = 1;
        s.database.pool_utilization_percent = 1.0;
        s.database.acquire_errors_total = 1;
        s.database.acquire_timeouts_total = 1;
        s.cache = vitals_core::CacheSection::from_counts(
            "memory",
            vitals_core::CacheCounts {
                hits: 1,
                misses: 1,
                sets: 1,
                deletes: 1,
                errors: 1,
            },
        );
        s.process = Some(vitals_core::ProcessSection {
            cpu_percent: 1.0,
            rss_mb: 1.0,
            ..Default::default()
        });
        for def in catalogue::CATALOGUE
            .iter()
            .filter(|d| d.json.is_some() && d.labels.is_empty())
        {
            assert!(value_of(&s, def) > 0.0, "{} has no source", def.name);
        }
    }
}
