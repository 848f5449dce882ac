//! The figures one history row keeps, each read from a [`Snapshot`] by a typed accessor.
//! Counters are kept as totals (the page turns them into rates); a figure whose section is
//! absent (no pool, no runtime collector) is NaN in the ring and `null` in JSON.

use std::time::SystemTime;

use vitals_core::Snapshot;

/// One column of the history.
pub(crate) struct Column {
    /// Name in the JSON (`columns.<name>`).
    pub(crate) name: &'static str,
    /// Unit, as the page labels it.
    pub(crate) unit: &'static str,
    read: fn(&Snapshot) -> Option<f64>,
}

const fn col(name: &'static str, unit: &'static str, read: fn(&Snapshot) -> Option<f64>) -> Column {
    Column { name, unit, read }
}

/// How many columns a row has.
pub(crate) const NCOLS: usize = COLUMNS.len();

/// One row: the figures of one snapshot, in [`COLUMNS`] order.
pub(crate) type Row = [f64; NCOLS];

/// The columns, the time first.
pub(crate) const COLUMNS: [Column; 37] = [
    // Filled by `row` from the sampling time, not from the snapshot.
    col("t", "unix_ms", |_| None),
    col("cpu_percent", "percent", |s| {
        s.system.as_ref().map(|x| x.cpu_percent)
    }),
    col("memory_percent", "percent", |s| {
        s.system.as_ref().map(|x| x.memory_percent)
    }),
    col("memory_mb", "MB", |s| {
        s.system.as_ref().map(|x| x.memory_mb)
    }),
    col("disk_read_mb", "MB", |s| {
        s.system.as_ref().map(|x| x.disk_read_mb)
    }),
    col("disk_write_mb", "MB", |s| {
        s.system.as_ref().map(|x| x.disk_write_mb)
    }),
    col("pool_size", "connections", |s| {
        pool(s).map(|d| f64::from(d.pool_size))
    }),
    col("pool_active", "connections", |s| {
        pool(s).map(|d| f64::from(d.pool_active))
    }),
    col("pool_utilization_percent", "percent", |s| {
        pool(s).map(|d| d.pool_utilization_percent)
    }),
    col("acquire_wait_p50_ms", "ms", |s| {
        pool(s).map(|d| d.acquire_wait_p50_ms)
    }),
    col("acquire_wait_p99_ms", "ms", |s| {
        pool(s).map(|d| d.acquire_wait_p99_ms)
    }),
    col("acquire_timeouts_total", "count", |s| {
        pool(s).map(|d| d.acquire_timeouts_total as f64)
    }),
    col("acquire_errors_total", "count", |s| {
        pool(s).map(|d| d.acquire_errors_total as f64)
    }),
    col("cache_hit_rate_percent", "percent", |s| {
        cache(s).map(|c| c.hit_rate_percent)
    }),
    col("cache_hit_rate_recent_percent", "percent", |s| {
        cache(s).map(|c| c.hit_rate_recent_percent)
    }),
    col("cache_hits", "count", |s| cache(s).map(|c| c.hits as f64)),
    col("cache_misses", "count", |s| {
        cache(s).map(|c| c.misses as f64)
    }),
    col("cache_sets", "count", |s| cache(s).map(|c| c.sets as f64)),
    col("cache_deletes", "count", |s| {
        cache(s).map(|c| c.deletes as f64)
    }),
    col("cache_errors", "count", |s| {
        cache(s).map(|c| c.errors as f64)
    }),
    col("http_requests_total", "count", |s| {
        s.http.as_ref().map(|h| h.requests_total as f64)
    }),
    col("http_client_errors_total", "count", |s| {
        s.http.as_ref().map(|h| h.client_errors_total as f64)
    }),
    col("http_server_errors_total", "count", |s| {
        s.http.as_ref().map(|h| h.server_errors_total as f64)
    }),
    col("http_slow_requests_total", "count", |s| {
        s.http.as_ref().map(|h| h.slow_requests_total as f64)
    }),
    col("http_in_flight", "requests", |s| {
        s.http.as_ref().map(|h| h.in_flight as f64)
    }),
    col("http_p50_ms", "ms", |s| {
        s.http.as_ref().map(|h| h.latency_p50_ms)
    }),
    col("http_p95_ms", "ms", |s| {
        s.http.as_ref().map(|h| h.latency_p95_ms)
    }),
    col("http_p99_ms", "ms", |s| {
        s.http.as_ref().map(|h| h.latency_p99_ms)
    }),
    col("runtime_busy_percent", "percent", |s| {
        s.runtime
            .as_ref()
            .map(|r| vitals_core::math::round_to(r.busy_ratio * 100.0, 2))
    }),
    col("runtime_global_queue_depth", "tasks", |s| {
        s.runtime.as_ref().map(|r| r.global_queue_depth as f64)
    }),
    col("runtime_alive_tasks", "tasks", |s| {
        s.runtime.as_ref().map(|r| r.alive_tasks as f64)
    }),
    col("process_cpu_percent", "percent", |s| {
        s.process.as_ref().map(|p| p.cpu_percent)
    }),
    col("process_rss_mb", "MB", |s| {
        s.process.as_ref().map(|p| p.rss_mb)
    }),
    col("process_threads", "threads", |s| {
        s.process.as_ref().map(|p| f64::from(p.threads))
    }),
    col("process_open_fds", "fds", |s| {
        s.process.as_ref().map(|p| p.open_fds as f64)
    }),
    col("cache_total_reads", "count", |s| {
        cache(s).map(|c| c.total_reads as f64)
    }),
    col("memory_total_mb", "MB", |s| {
        s.system.as_ref().map(|x| x.memory_total_mb)
    }),
];

/// The unnamed pool's section, when there is a pool.
fn pool(s: &Snapshot) -> Option<&vitals_core::DatabaseSection> {
    s.database.as_ref()
}

/// The unnamed cache's section, when there is a cache.
fn cache(s: &Snapshot) -> Option<&vitals_core::CacheSection> {
    s.cache.as_ref()
}

/// The row of `snapshot`, sampled at `at`.
pub(crate) fn row(snapshot: &Snapshot, at: SystemTime) -> Row {
    let mut row = [f64::NAN; NCOLS];
    for (slot, c) in row.iter_mut().zip(COLUMNS.iter()) {
        *slot = (c.read)(snapshot)
            .filter(|v| v.is_finite())
            .unwrap_or(f64::NAN);
    }
    let ms = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    row[0] = ms as f64;
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_time_comes_first() {
        let mut names: Vec<_> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names[0], "t");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NCOLS);
    }

    #[test]
    fn absent_sections_are_nan_present_ones_are_read() {
        let mut s = Snapshot::now();
        s.system.get_or_insert_default().cpu_percent = 42.5;
        let r = row(
            &s,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1234),
        );
        let at = |n: &str| r[COLUMNS.iter().position(|c| c.name == n).expect("column")];
        assert_eq!(at("t"), 1234.0);
        assert_eq!(at("cpu_percent"), 42.5);
        assert!(at("http_p95_ms").is_nan());
        assert!(at("pool_size").is_nan());
    }
}
