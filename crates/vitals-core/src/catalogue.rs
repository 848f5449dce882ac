//! Every metric Vitals exports, named once.
//!
//! Names here carry no namespace: the server prefixes them (`health_agent_` by default), so
//! `cpu_percent` is exported as `health_agent_cpu_percent`. The standard process series
//! (`process_cpu_seconds_total` and its siblings) are the exception: stock dashboards expect
//! them under exactly those names, so they are marked `namespaced: false` and
//! [`full_name`] leaves them bare. Prometheus text, the JSON
//! snapshot's counterparts, and the docs' metrics table are all checked against this list.

/// What kind of series a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (resets on restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted into buckets.
    Histogram,
}

/// The unit a metric is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A share from 0 to 100.
    Percent,
    /// Bytes.
    Bytes,
    /// Seconds.
    Seconds,
    /// A plain count of things (connections, requests, operations).
    Count,
    /// 1 for yes, 0 for no.
    Boolean,
    /// A share from 0 to 1.
    Ratio,
}

impl Unit {
    /// The unit's name as docs and exporters spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Bytes => "bytes",
            Unit::Seconds => "seconds",
            Unit::Count => "count",
            Unit::Boolean => "boolean",
            Unit::Ratio => "ratio",
        }
    }
}

/// One exported metric.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// Name without namespace.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Unit of the value.
    pub unit: Unit,
    /// One-line help text.
    pub help: &'static str,
    /// Label names, in order.
    pub labels: &'static [&'static str],
    /// The JSON snapshot field carrying the same figure, if any (`section.field`), as docs
    /// name it.
    pub json: Option<&'static str>,
    /// Where the value comes from: read out of a snapshot section, or recorded as it happens.
    pub source: Source,
    /// Whether the exported name carries the namespace (`true` for Vitals' own series;
    /// `false` for the standard `process_*` series, exported under their conventional names).
    pub namespaced: bool,
}

/// Where an exporter finds a metric's value.
///
/// The snapshot-fed kinds hold a typed accessor into one section, in the metric's unit (bytes
/// read from the exact byte figures, not from rounded megabytes), so a new field cannot be
/// exported by a name that matches nothing.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// Recorded through the `metrics` facade as things happen (requests, acquire waits).
    Recorded,
    /// Read from the `system` section.
    System(fn(&SystemSection) -> f64),
    /// Read from each pool's section (`database`, and each of `databases` with a `pool` label).
    Database(fn(&DatabaseSection) -> f64),
    /// Read from each cache's section (`cache`, and each of `caches` with a `cache` label).
    Cache(fn(&CacheSection) -> f64),
    /// Read from the `process` section, when present.
    Process(fn(&ProcessSection) -> f64),
    /// Read from the `http` section, when present.
    Http(fn(&HttpSection) -> f64),
    /// Read from the `runtime` section, when present.
    Runtime(fn(&RuntimeSection) -> f64),
    /// Read from `system.container`, when present and when the figure is known (`None`: an
    /// unset limit, which is not exported at all rather than as a huge number).
    Container(fn(&ContainerSection) -> Option<f64>),
}

impl MetricDef {
    /// The metric's value in `snapshot`'s unnamed section (the `database`, not a named pool),
    /// or `None` for a recorded metric or an absent section.
    ///
    /// ```
    /// use vitals_core::{Snapshot, catalogue::CPU_PERCENT};
    /// let mut s = Snapshot::default();
    /// assert_eq!(CPU_PERCENT.read(&s), None, "no system section");
    /// s.system.get_or_insert_default().cpu_percent = 42.5;
    /// assert_eq!(CPU_PERCENT.read(&s), Some(42.5));
    /// ```
    pub fn read(&self, snapshot: &Snapshot) -> Option<f64> {
        match self.source {
            Source::Recorded => None,
            Source::System(f) => snapshot.system.as_ref().map(f),
            Source::Database(f) => snapshot.database.as_ref().map(f),
            Source::Cache(f) => snapshot.cache.as_ref().map(f),
            Source::Process(f) => snapshot.process.as_ref().map(f),
            Source::Http(f) => snapshot.http.as_ref().map(f),
            Source::Runtime(f) => snapshot.runtime.as_ref().map(f),
            Source::Container(f) => snapshot
                .system
                .as_ref()
                .and_then(|s| s.container.as_ref())
                .and_then(f),
        }
    }
}

const fn def(
    name: &'static str,
    kind: MetricKind,
    unit: Unit,
    help: &'static str,
    labels: &'static [&'static str],
    json: Option<&'static str>,
    source: Source,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        help,
        labels,
        json,
        source,
        namespaced: true,
    }
}

/// A standard series exported under its conventional name, without the namespace.
const fn unprefixed(def: MetricDef) -> MetricDef {
    MetricDef {
        namespaced: false,
        ..def
    }
}

use crate::snapshot::{
    CacheSection, ContainerSection, DatabaseSection, HttpSection, ProcessSection, RuntimeSection,
    Snapshot, SystemSection,
};
use MetricKind::{Counter, Gauge, Histogram};
use Unit::{Boolean, Bytes, Count, Percent, Ratio, Seconds};

/// CPU use of the whole machine.
pub const CPU_PERCENT: MetricDef = def(
    "cpu_percent",
    Gauge,
    Percent,
    "CPU use of the whole machine over the last sampling window",
    &[],
    Some("system.cpu_percent"),
    Source::System(|s| s.cpu_percent),
);
/// Share of memory in use.
pub const MEMORY_PERCENT: MetricDef = def(
    "memory_percent",
    Gauge,
    Percent,
    "Memory in use over total memory",
    &[],
    Some("system.memory_percent"),
    Source::System(|s| s.memory_percent),
);
/// Memory in use.
pub const MEMORY_USED_BYTES: MetricDef = def(
    "memory_used_bytes",
    Gauge,
    Bytes,
    "Memory in use (total minus available)",
    &[],
    Some("system.memory_mb"),
    Source::System(|s| s.raw.memory_used_bytes as f64),
);
/// Memory available.
pub const MEMORY_AVAILABLE_BYTES: MetricDef = def(
    "memory_available_bytes",
    Gauge,
    Bytes,
    "Memory available to new work without swapping",
    &[],
    Some("system.memory_available_mb"),
    Source::System(|s| s.raw.memory_available_bytes as f64),
);
/// Disk reads since boot.
pub const DISK_READ_BYTES: MetricDef = def(
    "disk_read_bytes_total",
    Counter,
    Bytes,
    "Bytes read from the machine's disks since boot",
    &[],
    Some("system.disk_read_mb"),
    Source::System(|s| s.raw.disk_read_bytes as f64),
);
/// Disk writes since boot.
pub const DISK_WRITTEN_BYTES: MetricDef = def(
    "disk_written_bytes_total",
    Counter,
    Bytes,
    "Bytes written to the machine's disks since boot",
    &[],
    Some("system.disk_write_mb"),
    Source::System(|s| s.raw.disk_written_bytes as f64),
);
/// Pool size.
pub const DB_POOL_SIZE: MetricDef = def(
    "db_pool_size",
    Gauge,
    Count,
    "Database connections open, idle or in use",
    &[],
    Some("database.pool_size"),
    Source::Database(|d| f64::from(d.pool_size)),
);
/// Idle connections.
pub const DB_POOL_AVAILABLE: MetricDef = def(
    "db_pool_available",
    Gauge,
    Count,
    "Idle database connections waiting in the pool",
    &[],
    Some("database.pool_available"),
    Source::Database(|d| f64::from(d.pool_available)),
);
/// Connections in use.
pub const DB_POOL_ACTIVE: MetricDef = def(
    "db_pool_active",
    Gauge,
    Count,
    "Database connections in use",
    &[],
    Some("database.pool_active"),
    Source::Database(|d| f64::from(d.pool_active)),
);
/// Configured minimum.
pub const DB_POOL_MIN_SIZE: MetricDef = def(
    "db_pool_min_size",
    Gauge,
    Count,
    "Configured minimum pool size",
    &[],
    Some("database.pool_min_size"),
    Source::Database(|d| f64::from(d.pool_min_size)),
);
/// Configured maximum.
pub const DB_POOL_MAX_SIZE: MetricDef = def(
    "db_pool_max_size",
    Gauge,
    Count,
    "Configured maximum pool size",
    &[],
    Some("database.pool_max_size"),
    Source::Database(|d| f64::from(d.pool_max_size)),
);
/// Active over size.
pub const DB_POOL_UTILIZATION_PERCENT: MetricDef = def(
    "db_pool_utilization_percent",
    Gauge,
    Percent,
    "Connections in use over connections open",
    &[],
    Some("database.pool_utilization_percent"),
    Source::Database(|d| d.pool_utilization_percent),
);
/// Time spent waiting for a connection.
pub const DB_POOL_ACQUIRE_SECONDS: MetricDef = def(
    "db_pool_acquire_duration_seconds",
    Histogram,
    Seconds,
    "Time spent waiting to acquire a database connection",
    &[],
    None,
    Source::Recorded,
);
/// Acquires that failed.
pub const DB_POOL_ACQUIRE_ERRORS: MetricDef = def(
    "db_pool_acquire_errors_total",
    Counter,
    Count,
    "Connection acquires that failed: the database refused or did not answer, or the wait timed out",
    &[],
    Some("database.acquire_errors_total"),
    Source::Database(|d| d.acquire_errors_total as f64),
);
/// Acquires that timed out.
pub const DB_POOL_ACQUIRE_TIMEOUTS: MetricDef = def(
    "db_pool_acquire_timeouts_total",
    Counter,
    Count,
    "Connection acquires that gave up after the acquire timeout",
    &[],
    Some("database.acquire_timeouts_total"),
    Source::Database(|d| d.acquire_timeouts_total as f64),
);
/// Cache hits.
pub const CACHE_HITS: MetricDef = def(
    "cache_hits_total",
    Counter,
    Count,
    "Cache reads that found a value",
    &[],
    Some("cache.hits"),
    Source::Cache(|c| c.hits as f64),
);
/// Cache misses.
pub const CACHE_MISSES: MetricDef = def(
    "cache_misses_total",
    Counter,
    Count,
    "Cache reads that found nothing",
    &[],
    Some("cache.misses"),
    Source::Cache(|c| c.misses as f64),
);
/// Cache writes.
pub const CACHE_SETS: MetricDef = def(
    "cache_sets_total",
    Counter,
    Count,
    "Successful cache writes",
    &[],
    Some("cache.sets"),
    Source::Cache(|c| c.sets as f64),
);
/// Cache deletes.
pub const CACHE_DELETES: MetricDef = def(
    "cache_deletes_total",
    Counter,
    Count,
    "Successful cache deletes",
    &[],
    Some("cache.deletes"),
    Source::Cache(|c| c.deletes as f64),
);
/// Cache failures.
pub const CACHE_ERRORS: MetricDef = def(
    "cache_errors_total",
    Counter,
    Count,
    "Cache operations the backend failed",
    &[],
    Some("cache.errors"),
    Source::Cache(|c| c.errors as f64),
);
/// Hit rate.
pub const CACHE_HIT_RATE_PERCENT: MetricDef = def(
    "cache_hit_rate_percent",
    Gauge,
    Percent,
    "Cache hits over cache reads since start",
    &[],
    Some("cache.hit_rate_percent"),
    Source::Cache(|c| c.hit_rate_percent),
);
/// Cache configured.
pub const CACHE_ENABLED: MetricDef = def(
    "cache_enabled",
    Gauge,
    Boolean,
    "1 when a cache is configured",
    &[],
    Some("cache.enabled"),
    Source::Cache(|c| f64::from(u8::from(c.enabled))),
);
/// Cache calls skipped by the open circuit.
pub const CACHE_SKIPPED: MetricDef = def(
    "cache_skipped_total",
    Counter,
    Count,
    "Cache calls not sent to the backend because its circuit breaker was open",
    &[],
    Some("cache.skipped"),
    Source::Cache(|c| c.skipped as f64),
);
/// Circuit breaker state.
pub const CACHE_CIRCUIT_OPEN: MetricDef = def(
    "cache_circuit_open",
    Gauge,
    Boolean,
    "1 while the cache's circuit breaker is open or half-open (calls skipped or probed), 0 when closed",
    &[],
    Some("cache.circuit"),
    Source::Cache(|c| f64::from(u8::from(c.circuit.is_open()))),
);
/// HTTP requests.
pub const HTTP_REQUESTS: MetricDef = def(
    "http_requests_total",
    Counter,
    Count,
    "HTTP requests answered, by method, matched route and status",
    &["method", "route", "status"],
    None,
    Source::Recorded,
);
/// HTTP latency.
pub const HTTP_REQUEST_DURATION: MetricDef = def(
    "http_request_duration_seconds",
    Histogram,
    Seconds,
    "Time from receiving a request to its response headers",
    &["method", "route"],
    None,
    Source::Recorded,
);
/// Requests being served.
pub const HTTP_IN_FLIGHT: MetricDef = def(
    "http_requests_in_flight",
    Gauge,
    Count,
    "HTTP requests being served right now",
    &[],
    Some("http.in_flight"),
    Source::Http(|h| h.in_flight as f64),
);
/// Slow requests.
pub const HTTP_SLOW_REQUESTS: MetricDef = def(
    "http_slow_requests_total",
    Counter,
    Count,
    "HTTP requests slower than the slow-request threshold",
    &["method", "route"],
    None,
    Source::Recorded,
);
/// Time spent inside `tracing` spans (recorded by the span-timing layer of the library).
pub const SPAN_DURATION: MetricDef = def(
    "span_duration_seconds",
    Histogram,
    Seconds,
    "Busy time of tracing spans (entered, not waiting), by span name",
    &["span"],
    Some("spans"),
    Source::Recorded,
);
/// Push exports that failed.
pub const EXPORT_ERRORS: MetricDef = def(
    "export_errors_total",
    Counter,
    Count,
    "Pushes of figures (OTLP requests, EMF lines) that failed, by exporter",
    &["exporter"],
    None,
    Source::Recorded,
);
/// Process CPU.
pub const PROCESS_CPU_PERCENT: MetricDef = def(
    "process_cpu_percent",
    Gauge,
    Percent,
    "CPU used by the server process, in percent of one core",
    &[],
    Some("process.cpu_percent"),
    Source::Process(|p| p.cpu_percent),
);
/// Process memory.
pub const PROCESS_RESIDENT_MEMORY: MetricDef = def(
    "process_resident_memory_bytes",
    Gauge,
    Bytes,
    "Resident memory of the server process",
    &[],
    Some("process.rss_mb"),
    Source::Process(|p| p.rss_bytes as f64),
);

/// Runtime worker threads.
pub const TOKIO_WORKERS: MetricDef = def(
    "tokio_workers",
    Gauge,
    Count,
    "Worker threads of the Tokio runtime",
    &[],
    Some("runtime.workers"),
    Source::Runtime(|r| f64::from(r.workers)),
);
/// Runtime busy share.
pub const TOKIO_BUSY_RATIO: MetricDef = def(
    "tokio_busy_ratio",
    Gauge,
    Ratio,
    "Share of the Tokio workers' time spent running tasks over the last interval (0 to 1)",
    &[],
    Some("runtime.busy_ratio"),
    Source::Runtime(|r| r.busy_ratio),
);
/// Runtime global queue.
pub const TOKIO_GLOBAL_QUEUE_DEPTH: MetricDef = def(
    "tokio_global_queue_depth",
    Gauge,
    Count,
    "Tasks waiting in the Tokio runtime's global queue",
    &[],
    Some("runtime.global_queue_depth"),
    Source::Runtime(|r| r.global_queue_depth as f64),
);
/// Runtime tasks.
pub const TOKIO_ALIVE_TASKS: MetricDef = def(
    "tokio_alive_tasks",
    Gauge,
    Count,
    "Tasks spawned on the Tokio runtime and not yet finished",
    &[],
    Some("runtime.alive_tasks"),
    Source::Runtime(|r| r.alive_tasks as f64),
);
/// Container memory limit.
pub const CONTAINER_MEMORY_LIMIT: MetricDef = def(
    "container_memory_limit_bytes",
    Gauge,
    Bytes,
    "Memory limit of the cgroup the server runs in (absent when unlimited)",
    &[],
    Some("system.container.memory_limit_mb"),
    Source::Container(|c| c.raw.memory_limit_bytes.map(|b| b as f64)),
);
/// Container working set.
pub const CONTAINER_MEMORY_WORKING_SET: MetricDef = def(
    "container_memory_working_set_bytes",
    Gauge,
    Bytes,
    "Memory charged to the server's cgroup minus its inactive file cache",
    &[],
    Some("system.container.memory_usage_mb"),
    Source::Container(|c| c.raw.memory_usage_bytes.map(|b| b as f64)),
);
/// Container CPU quota.
pub const CONTAINER_CPU_QUOTA: MetricDef = def(
    "container_cpu_quota_cores",
    Gauge,
    Count,
    "CPU quota of the server's cgroup, in cores (absent when unlimited)",
    &[],
    Some("system.container.cpu_quota_cores"),
    Source::Container(|c| c.raw.cpu_quota_cores),
);
/// Container CPU against its quota.
pub const CONTAINER_CPU_PERCENT_OF_QUOTA: MetricDef = def(
    "container_cpu_quota_used_percent",
    Gauge,
    Percent,
    "CPU the server's cgroup used over the last sampling window, in percent of its quota",
    &[],
    Some("system.container.cpu_percent_of_quota"),
    Source::Container(|c| c.raw.cpu_percent_of_quota),
);
/// Standard: process CPU time.
pub const STD_PROCESS_CPU_SECONDS: MetricDef = unprefixed(def(
    "process_cpu_seconds_total",
    Counter,
    Seconds,
    "Total user and system CPU time spent in seconds",
    &[],
    Some("process.cpu_seconds_total"),
    Source::Process(|p| p.cpu_seconds_total),
));
/// Standard: resident memory.
pub const STD_PROCESS_RESIDENT_MEMORY: MetricDef = unprefixed(def(
    "process_resident_memory_bytes",
    Gauge,
    Bytes,
    "Resident memory size in bytes",
    &[],
    Some("process.rss_mb"),
    Source::Process(|p| p.rss_bytes as f64),
));
/// Standard: virtual memory.
pub const STD_PROCESS_VIRTUAL_MEMORY: MetricDef = unprefixed(def(
    "process_virtual_memory_bytes",
    Gauge,
    Bytes,
    "Virtual memory size in bytes",
    &[],
    Some("process.virtual_memory_mb"),
    Source::Process(|p| p.virtual_memory_bytes as f64),
));
/// Standard: open file descriptors.
pub const STD_PROCESS_OPEN_FDS: MetricDef = unprefixed(def(
    "process_open_fds",
    Gauge,
    Count,
    "Number of open file descriptors",
    &[],
    Some("process.open_fds"),
    Source::Process(|p| p.open_fds as f64),
));
/// Standard: file descriptor limit.
pub const STD_PROCESS_MAX_FDS: MetricDef = unprefixed(def(
    "process_max_fds",
    Gauge,
    Count,
    "Maximum number of open file descriptors (the soft limit)",
    &[],
    Some("process.max_fds"),
    Source::Process(|p| p.max_fds as f64),
));
/// Standard: start time.
pub const STD_PROCESS_START_TIME: MetricDef = unprefixed(def(
    "process_start_time_seconds",
    Gauge,
    Seconds,
    "Start time of the process since the Unix epoch in seconds",
    &[],
    Some("process.start_time_seconds"),
    Source::Process(|p| p.start_time_seconds),
));
/// Standard: threads.
pub const STD_PROCESS_THREADS: MetricDef = unprefixed(def(
    "process_threads",
    Gauge,
    Count,
    "Number of operating-system threads in the process",
    &[],
    Some("process.threads"),
    Source::Process(|p| f64::from(p.threads)),
));

/// Every metric, in the order docs list them.
pub const CATALOGUE: &[MetricDef] = &[
    CPU_PERCENT,
    MEMORY_PERCENT,
    MEMORY_USED_BYTES,
    MEMORY_AVAILABLE_BYTES,
    DISK_READ_BYTES,
    DISK_WRITTEN_BYTES,
    DB_POOL_SIZE,
    DB_POOL_AVAILABLE,
    DB_POOL_ACTIVE,
    DB_POOL_MIN_SIZE,
    DB_POOL_MAX_SIZE,
    DB_POOL_UTILIZATION_PERCENT,
    DB_POOL_ACQUIRE_SECONDS,
    DB_POOL_ACQUIRE_ERRORS,
    DB_POOL_ACQUIRE_TIMEOUTS,
    CACHE_HITS,
    CACHE_MISSES,
    CACHE_SETS,
    CACHE_DELETES,
    CACHE_ERRORS,
    CACHE_HIT_RATE_PERCENT,
    CACHE_ENABLED,
    CACHE_SKIPPED,
    CACHE_CIRCUIT_OPEN,
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    HTTP_IN_FLIGHT,
    HTTP_SLOW_REQUESTS,
    SPAN_DURATION,
    EXPORT_ERRORS,
    PROCESS_CPU_PERCENT,
    PROCESS_RESIDENT_MEMORY,
    TOKIO_WORKERS,
    TOKIO_BUSY_RATIO,
    TOKIO_GLOBAL_QUEUE_DEPTH,
    TOKIO_ALIVE_TASKS,
    CONTAINER_MEMORY_LIMIT,
    CONTAINER_MEMORY_WORKING_SET,
    CONTAINER_CPU_QUOTA,
    CONTAINER_CPU_PERCENT_OF_QUOTA,
    STD_PROCESS_CPU_SECONDS,
    STD_PROCESS_RESIDENT_MEMORY,
    STD_PROCESS_VIRTUAL_MEMORY,
    STD_PROCESS_OPEN_FDS,
    STD_PROCESS_MAX_FDS,
    STD_PROCESS_START_TIME,
    STD_PROCESS_THREADS,
];

/// The exported name: `namespace_name`, or `name` alone with an empty namespace or for a
/// metric that is not namespaced.
///
/// ```
/// use vitals_core::catalogue::{CPU_PERCENT, STD_PROCESS_OPEN_FDS, full_name};
/// assert_eq!(full_name("health_agent", &CPU_PERCENT), "health_agent_cpu_percent");
/// assert_eq!(full_name("health_agent", &STD_PROCESS_OPEN_FDS), "process_open_fds");
/// ```
pub fn full_name(namespace: &str, metric: &MetricDef) -> String {
    if namespace.is_empty() || !metric.namespaced {
        metric.name.to_owned()
    } else {
        format!("{namespace}_{}", metric.name)
    }
}

/// The catalogue as a Markdown table, for `docs/metrics.md` (`cargo xtask docs` writes it;
/// a test checks the committed file still matches).
pub fn markdown_table(namespace: &str) -> String {
    let mut out = String::from(
        "| name | type | unit | labels | help | JSON counterpart |\n|---|---|---|---|---|---|\n",
    );
    for m in CATALOGUE {
        let kind = match m.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        };
        let labels = if m.labels.is_empty() {
            "—".to_owned()
        } else {
            m.labels.join(", ")
        };
        let json = m.json.map_or("—".to_owned(), |j| format!("`{j}`"));
        out.push_str(&format!(
            "| `{}` | {kind} | {} | {labels} | {} | {json} |\n",
            full_name(namespace, m),
            m.unit.as_str(),
            m.help
        ));
    }
    out
}

/// Whether `namespace` is usable as a Prometheus metric name prefix
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, or empty for none).
pub fn is_valid_namespace(namespace: &str) -> bool {
    let mut chars = namespace.chars();
    match chars.next() {
        None => true,
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        // Exported names are unique under a namespace. (With an empty namespace the two
        // resident-memory series would share a name; the namespace validation in the server
        // is where an empty namespace is refused or accepted, not here.)
        let names: HashSet<_> = CATALOGUE
            .iter()
            .map(|m| full_name("health_agent", m))
            .collect();
        assert_eq!(names.len(), CATALOGUE.len());
        let bare: HashSet<_> = CATALOGUE.iter().map(|m| (m.name, m.namespaced)).collect();
        assert_eq!(bare.len(), CATALOGUE.len());
    }

    #[test]
    fn standard_process_series_are_unprefixed() {
        let standard = [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "process_threads",
        ];
        let exported: Vec<String> = CATALOGUE
            .iter()
            .filter(|m| !m.namespaced)
            .map(|m| full_name("health_agent", m))
            .collect();
        assert_eq!(exported, standard, "exactly the standard series are bare");
        for m in CATALOGUE.iter().filter(|m| !m.namespaced) {
            assert_eq!(full_name("any_ns", m), m.name);
            assert!(matches!(m.source, Source::Process(_)), "{}", m.name);
        }
        // The older namespaced resident-memory series stays beside the standard one.
        let names: HashSet<_> = CATALOGUE
            .iter()
            .map(|m| full_name("health_agent", m))
            .collect();
        assert!(names.contains("health_agent_process_resident_memory_bytes"));
    }

    #[test]
    fn runtime_and_process_sources_read_their_sections() {
        let mut s = Snapshot::default();
        assert_eq!(TOKIO_BUSY_RATIO.read(&s), None, "absent runtime section");
        assert_eq!(
            STD_PROCESS_OPEN_FDS.read(&s),
            None,
            "absent process section"
        );
        s.runtime = Some(RuntimeSection {
            workers: 4,
            busy_ratio: 0.75,
            global_queue_depth: 12,
            alive_tasks: 30,
            ..RuntimeSection::default()
        });
        s.process = Some(ProcessSection {
            cpu_seconds_total: 1.5,
            open_fds: 9,
            max_fds: 1024,
            start_time_seconds: 1.7e9,
            threads: 5,
            rss_bytes: 4096,
            virtual_memory_bytes: 8192,
            ..ProcessSection::default()
        });
        assert_eq!(TOKIO_WORKERS.read(&s), Some(4.0));
        assert_eq!(TOKIO_BUSY_RATIO.read(&s), Some(0.75));
        assert_eq!(TOKIO_GLOBAL_QUEUE_DEPTH.read(&s), Some(12.0));
        assert_eq!(TOKIO_ALIVE_TASKS.read(&s), Some(30.0));
        assert_eq!(STD_PROCESS_CPU_SECONDS.read(&s), Some(1.5));
        assert_eq!(STD_PROCESS_RESIDENT_MEMORY.read(&s), Some(4096.0));
        assert_eq!(STD_PROCESS_VIRTUAL_MEMORY.read(&s), Some(8192.0));
        assert_eq!(STD_PROCESS_OPEN_FDS.read(&s), Some(9.0));
        assert_eq!(STD_PROCESS_MAX_FDS.read(&s), Some(1024.0));
        assert_eq!(STD_PROCESS_START_TIME.read(&s), Some(1.7e9));
        assert_eq!(STD_PROCESS_THREADS.read(&s), Some(5.0));
    }

    #[test]
    fn unset_container_limits_are_not_exported() {
        let mut s = Snapshot::default();
        assert_eq!(CONTAINER_MEMORY_LIMIT.read(&s), None, "no container part");
        let system = s.system.get_or_insert_default();
        system.container = Some(ContainerSection::from_figures(
            "v1",
            &crate::ContainerFigures {
                memory_usage_bytes: Some(4096),
                ..crate::ContainerFigures::default()
            },
        ));
        assert_eq!(CONTAINER_MEMORY_LIMIT.read(&s), None, "unlimited");
        assert_eq!(CONTAINER_CPU_QUOTA.read(&s), None, "unlimited");
        assert_eq!(CONTAINER_MEMORY_WORKING_SET.read(&s), Some(4096.0));
        s.system.get_or_insert_default().container = Some(ContainerSection::from_figures(
            "v2",
            &crate::ContainerFigures {
                memory_limit_bytes: Some(1 << 30),
                cpu_quota_cores: Some(1.5),
                cpu_percent_of_quota: Some(40.0),
                ..crate::ContainerFigures::default()
            },
        ));
        assert_eq!(CONTAINER_MEMORY_LIMIT.read(&s), Some(1_073_741_824.0));
        assert_eq!(CONTAINER_CPU_QUOTA.read(&s), Some(1.5));
        assert_eq!(CONTAINER_CPU_PERCENT_OF_QUOTA.read(&s), Some(40.0));
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for m in CATALOGUE {
            assert!(is_valid_namespace(m.name), "{}", m.name);
            assert_eq!(
                m.kind == MetricKind::Counter,
                m.name.ends_with("_total"),
                "only counters end in _total: {}",
                m.name
            );
            if m.unit == Unit::Bytes || m.unit == Unit::Seconds {
                let unit = m.unit.as_str();
                assert!(
                    m.name.contains(&format!("_{unit}")),
                    "{} should carry its unit {unit}",
                    m.name
                );
            }
            assert!(!m.help.is_empty());
        }
    }

    #[test]
    fn contract_names_are_present() {
        let names: HashSet<_> = CATALOGUE
            .iter()
            .map(|m| full_name("health_agent", m))
            .collect();
        for expected in [
            "health_agent_cpu_percent",
            "health_agent_memory_percent",
            "health_agent_memory_used_bytes",
            "health_agent_memory_available_bytes",
            "health_agent_disk_read_bytes_total",
            "health_agent_disk_written_bytes_total",
            "health_agent_db_pool_size",
            "health_agent_db_pool_available",
            "health_agent_db_pool_active",
            "health_agent_db_pool_min_size",
            "health_agent_db_pool_max_size",
            "health_agent_db_pool_utilization_percent",
            "health_agent_cache_hits_total",
            "health_agent_cache_misses_total",
            "health_agent_cache_sets_total",
            "health_agent_cache_deletes_total",
            "health_agent_cache_errors_total",
            "health_agent_cache_hit_rate_percent",
            "health_agent_cache_enabled",
            "health_agent_cache_skipped_total",
            "health_agent_cache_circuit_open",
            "health_agent_http_requests_total",
            "health_agent_http_request_duration_seconds",
            "health_agent_http_requests_in_flight",
            "health_agent_http_slow_requests_total",
            "health_agent_tokio_workers",
            "health_agent_tokio_busy_ratio",
            "health_agent_tokio_global_queue_depth",
            "health_agent_tokio_alive_tasks",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "process_threads",
        ] {
            assert!(names.contains(expected), "missing {expected}");
        }
    }

    #[test]
    fn namespaces_are_validated() {
        assert!(is_valid_namespace("health_agent"));
        assert!(is_valid_namespace(""));
        assert!(!is_valid_namespace("9lives"));
        assert!(!is_valid_namespace("with-dash"));
    }
}
