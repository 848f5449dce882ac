//! The `GET /api/v1/metrics` document.
//!
//! Field order follows docs/metrics-endpoint.md: the fields every client of the endpoint
//! relies on first, in a fixed order, the others after. Every
//! section derives its computed fields (percentages, totals, megabytes) from raw figures
//! through one constructor, so no caller can get the arithmetic wrong.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::math::{bytes_to_mb, hit_rate, percent, pool_utilization, round_to};

/// One point-in-time view of the machine, the database pool and the cache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the snapshot was assembled: RFC 3339, UTC, microseconds.
    pub timestamp: String,
    /// Whole-machine figures (absent when no system collector is registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemSection>,
    /// The database connection pool (absent when no unnamed pool is registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSection>,
    /// The cache in front of the database (absent when no unnamed cache is registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSection>,
    /// HTTP traffic of the server (absent when no collector reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSection>,
    /// This server process (absent when no collector reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSection>,
    /// The Tokio runtime serving the application (absent when no collector reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeSection>,
    /// Named pools beyond the first, keyed by name (the unnamed pool fills `database`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub databases: BTreeMap<String, DatabaseSection>,
    /// Named caches beyond the first, keyed by name (the unnamed cache fills `cache`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub caches: BTreeMap<String, CacheSection>,
    /// What the host application records through the `metrics` facade (present only when
    /// Vitals' recorder is installed as the global one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppSection>,
    /// Where the time went over the last minute: `tracing` spans, top by total busy time
    /// (present only when span timings are turned on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<SpanStat>>,
    /// Each service-level objective with its error budget's burn (present only when
    /// objectives are declared; see docs/slo.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slos: Option<Vec<crate::slo::SloFigures>>,
}

impl Snapshot {
    /// An empty snapshot stamped with the current time, ready for collectors to fill.
    pub fn now() -> Self {
        Self {
            timestamp: rfc3339_micros(SystemTime::now()),
            ..Self::default()
        }
    }
}

/// Formats a time as RFC 3339 in UTC with microseconds, e.g. `2026-01-18T14:23:45.123456Z`.
pub fn rfc3339_micros(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

/// Raw machine figures, as a system collector reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SystemFigures {
    /// CPU busy share of the whole machine over the last sampling window, 0–100.
    pub cpu_percent: f64,
    /// Number of logical CPUs.
    pub cpu_count: u32,
    /// Total memory in bytes.
    pub memory_total_bytes: u64,
    /// Memory in use (total − available) in bytes.
    pub memory_used_bytes: u64,
    /// Memory available to new work without swapping, in bytes.
    pub memory_available_bytes: u64,
    /// Bytes read from disks since boot.
    pub disk_read_bytes: u64,
    /// Bytes written to disks since boot.
    pub disk_written_bytes: u64,
}

/// The `system` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemSection {
    /// Whole-machine CPU use over the last sampling window, in percent.
    pub cpu_percent: f64,
    /// Memory in use, in MB.
    pub memory_mb: f64,
    /// Memory in use over total memory, in percent.
    pub memory_percent: f64,
    /// Memory available, in MB.
    pub memory_available_mb: f64,
    /// MB read from disks since boot.
    pub disk_read_mb: f64,
    /// MB written to disks since boot.
    pub disk_write_mb: f64,
    /// Total memory, in MB.
    pub memory_total_mb: f64,
    /// Logical CPUs.
    pub cpu_count: u32,
    /// Age of the sample these figures come from, in milliseconds.
    pub sample_age_ms: u64,
    /// Why the figures are stale or zero, when the sampler failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cgroup this process runs in and its limits (absent where the sampler does not
    /// look, i.e. off Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerSection>,
    /// The raw figures behind the rounded ones, for exporters that want exact bytes.
    #[serde(skip)]
    pub raw: SystemFigures,
}

impl SystemSection {
    /// Derives the section from raw figures.
    pub fn from_figures(f: &SystemFigures, sample_age_ms: u64, error: Option<String>) -> Self {
        Self {
            cpu_percent: round_to(f.cpu_percent, 2),
            memory_mb: bytes_to_mb(f.memory_used_bytes),
            memory_percent: percent(f.memory_used_bytes as f64, f.memory_total_bytes as f64),
            memory_available_mb: bytes_to_mb(f.memory_available_bytes),
            disk_read_mb: bytes_to_mb(f.disk_read_bytes),
            disk_write_mb: bytes_to_mb(f.disk_written_bytes),
            memory_total_mb: bytes_to_mb(f.memory_total_bytes),
            cpu_count: f.cpu_count,
            sample_age_ms,
            error,
            container: None,
            raw: *f,
        }
    }
}

/// Raw pool figures, as a pool collector reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PoolFigures {
    /// Connections open right now, idle or in use.
    pub size: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// The pool's configured minimum.
    pub min: u32,
    /// The pool's configured maximum.
    pub max: u32,
    /// Acquires attempted through the metered pool.
    pub acquires: u64,
    /// Acquires that failed, timeouts included.
    pub acquire_errors: u64,
    /// Acquires that gave up after the acquire timeout.
    pub acquire_timeouts: u64,
    /// Median acquire wait over the recent window, in seconds.
    pub acquire_wait_p50_seconds: f64,
    /// 99th percentile acquire wait over the recent window, in seconds.
    pub acquire_wait_p99_seconds: f64,
    /// Length of the window the acquire-wait percentiles cover, in seconds.
    pub acquire_wait_window_seconds: u64,
}

/// The `database` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSection {
    /// Connections open right now.
    pub pool_size: u32,
    /// Idle connections.
    pub pool_available: u32,
    /// Connections in use (size − idle).
    pub pool_active: u32,
    /// Configured minimum.
    pub pool_min_size: u32,
    /// Configured maximum.
    pub pool_max_size: u32,
    /// Active over size, in percent.
    pub pool_utilization_percent: f64,
    /// `postgresql` or `sqlite`.
    pub backend: String,
    /// Acquires attempted through the metered pool since start.
    pub acquires_total: u64,
    /// Acquires that failed since start (the database unreachable, or a timeout).
    pub acquire_errors_total: u64,
    /// Of those, acquires that gave up after the acquire timeout.
    pub acquire_timeouts_total: u64,
    /// Median acquire wait over the last `acquire_wait_window_seconds`, in milliseconds.
    pub acquire_wait_p50_ms: f64,
    /// 99th percentile acquire wait over the same window, in milliseconds.
    pub acquire_wait_p99_ms: f64,
    /// Length of the window the acquire-wait percentiles cover, in seconds.
    pub acquire_wait_window_seconds: u64,
}

impl DatabaseSection {
    /// Derives the section from raw figures.
    pub fn from_figures(backend: &str, f: &PoolFigures) -> Self {
        // sqlx counts idle connections separately from size; clamp in case a connection is
        // released between the two reads.
        let idle = f.idle.min(f.size);
        let active = f.size - idle;
        Self {
            pool_size: f.size,
            pool_available: idle,
            pool_active: active,
            pool_min_size: f.min,
            pool_max_size: f.max,
            pool_utilization_percent: pool_utilization(active, f.size),
            backend: backend.to_owned(),
            acquires_total: f.acquires,
            acquire_errors_total: f.acquire_errors,
            acquire_timeouts_total: f.acquire_timeouts,
            acquire_wait_p50_ms: round_to(f.acquire_wait_p50_seconds * 1000.0, 3),
            acquire_wait_p99_ms: round_to(f.acquire_wait_p99_seconds * 1000.0, 3),
            acquire_wait_window_seconds: f.acquire_wait_window_seconds,
        }
    }
}

/// Raw cache counters, as a metered cache keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Reads that found a value.
    pub hits: u64,
    /// Reads that found nothing.
    pub misses: u64,
    /// Successful writes.
    pub sets: u64,
    /// Successful deletes.
    pub deletes: u64,
    /// Operations the backend failed (each surfaced to the caller as a miss or a no-op).
    pub errors: u64,
}

/// The `cache` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheSection {
    /// Whether a cache collector fills this section (`false` when the application registered
    /// no cache, and every figure is then zero).
    pub enabled: bool,
    /// Reads that found a value.
    pub hits: u64,
    /// Reads that found nothing.
    pub misses: u64,
    /// Successful writes.
    pub sets: u64,
    /// Successful deletes.
    pub deletes: u64,
    /// Failed operations.
    pub errors: u64,
    /// hits + misses.
    pub total_reads: u64,
    /// hits over total reads, in percent.
    pub hit_rate_percent: f64,
    /// `redis` or `memory`.
    pub backend: String,
    /// Hits over reads in the last 60 seconds, in percent (0 when there were no reads in that
    /// window); `hit_rate_percent` stays the figure since start. See docs/metrics-endpoint.md.
    #[serde(default)]
    pub hit_rate_recent_percent: f64,
    /// Reads in that same window (tells "no reads" from "all misses" when the rate is 0).
    #[serde(default)]
    pub total_reads_recent: u64,
    /// Mean command latency seen by the Redis client over its last latency window, in
    /// milliseconds (absent for backends that do not measure it, such as the in-process one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_latency_avg_ms: Option<f64>,
    /// Slowest command over the same window, in milliseconds (absent likewise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_latency_max_ms: Option<f64>,
    /// Commands queued in the client, not yet written to the server (absent likewise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_len: Option<u64>,
    /// The cache's circuit breaker: `closed` (calls go to the backend), `open` (the backend
    /// failed repeatedly and calls are skipped for a while) or `half_open` (one probe call is
    /// let through to see whether it recovered).
    pub circuit: CircuitState,
    /// Calls not sent to the backend because the circuit was open (answered as a miss or a
    /// no-op, like a failure, but without waiting for the backend).
    pub skipped: u64,
}

/// The state of a cache's circuit breaker, as `cache.circuit` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Healthy: every call goes to the backend.
    #[default]
    Closed,
    /// Tripped: calls are skipped until the backoff window ends.
    Open,
    /// Probing: one call goes to the backend; its outcome closes or reopens the circuit.
    HalfOpen,
}

impl CircuitState {
    /// The JSON spelling: `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// `true` unless the circuit is closed (calls are being skipped or probed).
    pub fn is_open(self) -> bool {
        self != Self::Closed
    }
}

impl CacheSection {
    /// Derives the section from raw counters of an enabled cache.
    pub fn from_counts(backend: &str, c: CacheCounts) -> Self {
        Self {
            enabled: true,
            hits: c.hits,
            misses: c.misses,
            sets: c.sets,
            deletes: c.deletes,
            errors: c.errors,
            total_reads: c.hits.saturating_add(c.misses),
            hit_rate_percent: hit_rate(c.hits, c.misses),
            backend: backend.to_owned(),
            ..Self::default()
        }
    }

    /// Sets the recent hit rate from the hits and misses of the recent window.
    #[must_use]
    pub fn with_recent(mut self, recent_hits: u64, recent_misses: u64) -> Self {
        self.hit_rate_recent_percent = hit_rate(recent_hits, recent_misses);
        self.total_reads_recent = recent_hits.saturating_add(recent_misses);
        self
    }
}

/// The `http` section: requests the server has answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSection {
    /// Requests answered since start.
    pub requests_total: u64,
    /// Requests being served right now.
    pub in_flight: u64,
    /// Answers with a 4xx status since start.
    pub client_errors_total: u64,
    /// Answers with a 5xx status since start.
    pub server_errors_total: u64,
    /// Requests slower than the slow-request threshold since start.
    pub slow_requests_total: u64,
    /// Median latency over the recent window, in milliseconds.
    pub latency_p50_ms: f64,
    /// 95th percentile latency over the recent window, in milliseconds.
    pub latency_p95_ms: f64,
    /// 99th percentile latency over the recent window, in milliseconds.
    pub latency_p99_ms: f64,
    /// Length of the recent window the percentiles cover, in seconds.
    pub latency_window_seconds: u64,
    /// Each `(method, route)` over the same window, busiest first.
    pub routes: Vec<RouteFigures>,
    /// The slowest requests of the same window whose ids were kept (the exemplars of the
    /// request-duration histogram), slowest first, at most five.
    pub slowest_requests: Vec<SlowRequest>,
}

/// A request kept as an exemplar of the request-duration histogram: its id and duration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlowRequest {
    /// Normalised request method.
    pub method: String,
    /// The matched route template.
    pub route: String,
    /// The W3C trace id of its `traceparent` (32 hex digits), or else its `X-Request-ID`.
    pub id: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// When it finished: RFC 3339, UTC, microseconds.
    pub timestamp: String,
}

/// One route of the `http` section: how it did over the recent window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteFigures {
    /// Normalised request method (`GET`, …, `OTHER`).
    pub method: String,
    /// The matched route template, `unmatched` or `overflow`.
    pub route: String,
    /// Answers per second over the window.
    pub requests_per_second: f64,
    /// Share of those answers with a 5xx status, in percent.
    pub error_percent: f64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
    /// The slowest request of the window whose id was kept, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slowest: Option<SlowRequest>,
}

/// The `process` section: the server process itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessSection {
    /// Operating-system process id.
    pub pid: u32,
    /// CPU used by this process over the last sampling window, in percent of one core
    /// (so it can exceed 100 on several cores, as `top` shows it).
    pub cpu_percent: f64,
    /// Resident memory, in MB.
    pub rss_mb: f64,
    /// Operating-system threads.
    pub threads: u32,
    /// Seconds since the process started.
    pub uptime_seconds: u64,
    /// CPU time (user + system) this process has used since it started, in seconds.
    pub cpu_seconds_total: f64,
    /// Virtual memory size, in MB.
    pub virtual_memory_mb: f64,
    /// File descriptors open right now.
    pub open_fds: u64,
    /// The soft limit on open file descriptors (0 when unknown or unlimited).
    pub max_fds: u64,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// Resident memory in bytes (exact; `rss_mb` is rounded).
    #[serde(skip)]
    pub rss_bytes: u64,
    /// Virtual memory size in bytes (exact; `virtual_memory_mb` is rounded).
    #[serde(skip)]
    pub virtual_memory_bytes: u64,
}

/// The `system.container` part: the cgroup this process runs in and its limits.
///
/// A limit that is not set (`max` in cgroup v2, the kernel's huge sentinel in v1) is `None`,
/// serialized as `null`, never as a huge number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSection {
    /// The memory limit, in MB; `null` when unlimited.
    pub memory_limit_mb: Option<f64>,
    /// The CPU quota in cores (quota / period); `null` when unlimited.
    pub cpu_quota_cores: Option<f64>,
    /// `v1`, `v2` or `none` (no cgroup memory or CPU controller found for this process).
    pub cgroup: String,
    /// Memory the cgroup is charged for (page cache included), in MB; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_usage_mb: Option<f64>,
    /// `memory_usage_mb` over `memory_limit_mb`, in percent; absent when unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_percent_of_limit: Option<f64>,
    /// CPU the cgroup used over the last sampling window, in percent of its quota; absent when
    /// unlimited or before the first window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent_of_quota: Option<f64>,
    /// The raw figures behind the rounded ones.
    #[serde(skip)]
    pub raw: ContainerFigures,
}

/// Raw cgroup figures, as a container probe reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContainerFigures {
    /// Memory limit in bytes, `None` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// Memory charged to the cgroup, in bytes.
    pub memory_usage_bytes: Option<u64>,
    /// CPU quota in cores, `None` when unlimited.
    pub cpu_quota_cores: Option<f64>,
    /// CPU used over the last window in percent of the quota.
    pub cpu_percent_of_quota: Option<f64>,
}

impl ContainerSection {
    /// Derives the section from raw figures; `cgroup` is `v1`, `v2` or `none`.
    pub fn from_figures(cgroup: &str, f: &ContainerFigures) -> Self {
        let memory_percent_of_limit = match (f.memory_usage_bytes, f.memory_limit_bytes) {
            (Some(used), Some(limit)) => Some(percent(used as f64, limit as f64)),
            _ => None,
        };
        Self {
            memory_limit_mb: f.memory_limit_bytes.map(bytes_to_mb),
            cpu_quota_cores: f.cpu_quota_cores.map(|c| round_to(c, 2)),
            cgroup: cgroup.to_owned(),
            memory_usage_mb: f.memory_usage_bytes.map(bytes_to_mb),
            memory_percent_of_limit,
            cpu_percent_of_quota: f.cpu_percent_of_quota.map(|p| round_to(p, 2)),
            raw: *f,
        }
    }
}

/// The `runtime` section: the Tokio runtime serving the application.
///
/// Ratios are shares from 0 to 1 over the last sampling interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeSection {
    /// Worker threads.
    pub workers: u32,
    /// Time the workers spent running tasks over the last interval, over the time they had
    /// (workers × interval), 0–1.
    pub busy_ratio: f64,
    /// The same share for the busiest worker, 0–1.
    pub max_worker_busy_ratio: f64,
    /// Tasks waiting in the runtime's global (injection) queue right now.
    pub global_queue_depth: u64,
    /// Tasks spawned and not yet finished.
    pub alive_tasks: u64,
    /// Times workers parked (ran out of work and went to sleep) per second over the last
    /// interval, all workers together.
    pub park_rate: f64,
    /// Mean time a task poll takes, in microseconds (present only when the collector was
    /// built with `--cfg tokio_unstable`; absent, never zero, otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_poll_us: Option<f64>,
    /// Length of the interval the ratios and rates cover, in milliseconds.
    pub interval_ms: u64,
}

/// One span name's figures in the JSON `spans` section (last minute, busy time).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpanStat {
    /// The span's name (`overflow` for names past the cap).
    pub name: String,
    /// Spans of that name closed in the window.
    pub count: u64,
    /// Median busy time, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile busy time, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile busy time, milliseconds.
    pub p99_ms: f64,
    /// Busy time of all of them together, milliseconds.
    pub total_ms: f64,
}

/// The `app` section: series the host application records through the `metrics` facade.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSection {
    /// Counters, by name then labels.
    pub counters: Vec<AppCounter>,
    /// Gauges, by name then labels.
    pub gauges: Vec<AppGauge>,
    /// Histograms, by name then labels.
    pub histograms: Vec<AppHistogram>,
}

impl AppSection {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty() && self.gauges.is_empty() && self.histograms.is_empty()
    }
}

/// One counter series of the application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppCounter {
    /// Name as the application wrote it.
    pub name: String,
    /// Label names and values.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: u64,
}

/// One gauge series of the application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppGauge {
    /// Name as the application wrote it.
    pub name: String,
    /// Label names and values.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// One histogram series of the application: totals and percentiles since start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppHistogram {
    /// Name as the application wrote it.
    pub name: String,
    /// Label names and values.
    pub labels: BTreeMap<String, String>,
    /// Observations.
    pub count: u64,
    /// Sum of the observations.
    pub sum: f64,
    /// Smallest observation (0 while there is none).
    pub min: f64,
    /// Largest observation (0 while there is none).
    pub max: f64,
    /// Median, interpolated within its bucket, never outside `[min, max]`.
    pub p50: f64,
    /// 95th percentile, interpolated within its bucket.
    pub p95: f64,
    /// 99th percentile, interpolated within its bucket.
    pub p99: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_section_derives_active_and_utilization() {
        let s = DatabaseSection::from_figures(
            "postgresql",
            &PoolFigures {
                size: 13,
                idle: 8,
                min: 4,
                max: 13,
                ..PoolFigures::default()
            },
        );
        assert_eq!((s.pool_active, s.pool_available), (5, 8));
        assert_eq!(s.pool_utilization_percent, 38.46);
    }

    #[test]
    fn database_section_of_an_empty_pool_is_zero_percent() {
        let s = DatabaseSection::from_figures("sqlite", &PoolFigures::default());
        assert_eq!(s.pool_utilization_percent, 0.0);
        assert_eq!(s.pool_active, 0);
    }

    #[test]
    fn idle_above_size_is_clamped() {
        let s = DatabaseSection::from_figures(
            "sqlite",
            &PoolFigures {
                size: 2,
                idle: 3,
                ..PoolFigures::default()
            },
        );
        assert_eq!((s.pool_available, s.pool_active), (2, 0));
    }

    #[test]
    fn cache_section_without_reads_has_zero_hit_rate() {
        let s = CacheSection::from_counts("memory", CacheCounts::default());
        assert!(s.enabled);
        assert_eq!((s.total_reads, s.hit_rate_percent), (0, 0.0));
        assert_eq!(s.hit_rate_recent_percent, 0.0);
    }

    #[test]
    fn recent_hit_rate_is_apart_from_the_since_start_one() {
        let counts = CacheCounts {
            hits: 10,
            misses: 90,
            ..CacheCounts::default()
        };
        let s = CacheSection::from_counts("memory", counts).with_recent(3, 1);
        assert_eq!(
            (s.hit_rate_percent, s.hit_rate_recent_percent),
            (10.0, 75.0)
        );
        // A document from a server that predates the field still reads.
        let old: CacheSection =
            serde_json::from_str(r#"{"enabled":true,"hits":1,"misses":1}"#).expect("reads");
        assert_eq!(old.hit_rate_recent_percent, 0.0);
    }

    #[test]
    fn system_section_rounds_megabytes_and_percent() {
        let s = SystemSection::from_figures(
            &SystemFigures {
                cpu_percent: 45.234,
                cpu_count: 2,
                memory_total_bytes: 4 * 1_048_576 * 1024,
                memory_used_bytes: 1_074_266_112,
                memory_available_bytes: 3 * 1_048_576 * 1024,
                disk_read_bytes: 0,
                disk_written_bytes: 47_815_065,
            },
            5,
            None,
        );
        assert_eq!(s.cpu_percent, 45.23);
        assert_eq!(s.memory_mb, 1024.5);
        assert_eq!(s.memory_percent, 25.01);
        assert_eq!(s.disk_read_mb, 0.0);
        assert_eq!(s.disk_write_mb, 45.6);
    }

    #[test]
    fn zero_total_memory_gives_zero_percent() {
        let s = SystemSection::from_figures(&SystemFigures::default(), 0, None);
        assert_eq!(s.memory_percent, 0.0);
    }

    #[test]
    fn unlimited_container_limits_serialize_as_null() {
        let s = ContainerSection::from_figures("v1", &ContainerFigures::default());
        let json = serde_json::to_value(&s).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"memory_limit_mb": null, "cpu_quota_cores": null, "cgroup": "v1"})
        );
    }

    #[test]
    fn limited_container_reports_usage_against_the_limit() {
        let s = ContainerSection::from_figures(
            "v2",
            &ContainerFigures {
                memory_limit_bytes: Some(512 * 1_048_576),
                memory_usage_bytes: Some(128 * 1_048_576),
                cpu_quota_cores: Some(1.5),
                cpu_percent_of_quota: Some(33.333),
            },
        );
        assert_eq!(s.memory_limit_mb, Some(512.0));
        assert_eq!(s.memory_usage_mb, Some(128.0));
        assert_eq!(s.memory_percent_of_limit, Some(25.0));
        assert_eq!(s.cpu_quota_cores, Some(1.5));
        assert_eq!(s.cpu_percent_of_quota, Some(33.33));
    }

    #[test]
    fn optional_sections_and_fields_are_absent_not_null() {
        let s = Snapshot {
            runtime: Some(RuntimeSection::default()),
            cache: Some(CacheSection::from_counts("memory", CacheCounts::default())),
            system: Some(SystemSection::default()),
            ..Snapshot::default()
        };
        let json = serde_json::to_value(&s).expect("serializes");
        let runtime = json["runtime"].as_object().expect("runtime section");
        assert!(!runtime.contains_key("mean_poll_us"));
        let cache = json["cache"].as_object().expect("cache section");
        for key in [
            "command_latency_avg_ms",
            "command_latency_max_ms",
            "queue_len",
        ] {
            assert!(!cache.contains_key(key), "{key}");
        }
        assert!(
            !json["system"]
                .as_object()
                .expect("system")
                .contains_key("container")
        );
        // Field order: `runtime` follows `process`.
        let keys: Vec<&String> = json.as_object().expect("object").keys().collect();
        assert_eq!(keys.last().map(|k| k.as_str()), Some("runtime"));
        // A section nothing filled is absent, not zero.
        assert!(json.get("database").is_none());
        let empty = serde_json::to_value(Snapshot::now()).expect("serializes");
        let keys: Vec<&String> = empty.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["timestamp"]);
    }

    #[test]
    fn timestamp_is_utc_with_microseconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_768_746_225_123_456);
        assert_eq!(rfc3339_micros(t), "2026-01-18T14:23:45.123456Z");
    }
}
