//! Request metrics: what a timing layer records once per request, and what the JSON `http`
//! section, `/metrics` and the exporters read back.
//!
//! The request path is kept near its floor (see docs/performance.md): a lookup in a small
//! per-thread cache, a handful of atomic adds on cells of the recording thread's own shard,
//! and no lock, no allocation and no store to a cache line another worker writes — except the
//! sequential request id, which is one shared counter by definition. Everything is added up
//! when read.

mod exemplar;
mod recent;
mod series;
mod shard;
mod slowest;
mod table;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use vitals_core::math::{percent, round_to};
use vitals_core::{HistogramSnapshot, HttpSection, RouteFigures};

pub use exemplar::{Exemplar, ExemplarId, MAX_ID_BYTES};
pub use recent::{STEP, WINDOW};
pub use series::RouteSeries;
pub use table::OVERFLOW;

pub(crate) use series::{Fold, OVERFLOW_STATUS};
use shard::Padded;
use table::Table;

/// Most distinct `(method, route, status)` label sets recorded by default
/// ([`EngineBuilder::max_series`](crate::EngineBuilder::max_series) changes it); later ones
/// share the overflow series. Routes are templates and methods are normalised, so real
/// traffic stays far below this; the cap is there so nothing a client sends can grow the
/// series without bound.
pub const MAX_SERIES: usize = 500;

/// The route name of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Most edges the request-duration histogram takes.
pub const MAX_EDGES: usize = 31;

/// Totals of one shard, for the JSON `http` section (one read per shard, not per series).
#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    slow: AtomicU64,
    in_flight: AtomicI64,
    /// Requests to Vitals' own endpoints in flight (left out of `in_flight`).
    own_in_flight: AtomicI64,
}

/// The request metrics of one engine. It lives as long as the process (an engine leaks one
/// when built), so a layer holds it as a plain `&'static` and never touches a reference count.
pub struct RequestMetrics {
    table: Table,
    totals: Box<[Padded<Totals>]>,
    /// Bucket edges in seconds (for the exposition) and in nanoseconds (for recording).
    edges: Arc<[f64]>,
    edges_ns: Box<[u64]>,
    le: Box<[Box<str>]>,
    slow: Duration,
    count_own: bool,
    next_id: AtomicU64,
    started: Instant,
    /// `started` on the wall clock, in nanoseconds since the Unix epoch.
    started_unix_nanos: u64,
    recent: recent::Recent,
}

/// What an answer was, for the layer: whether it was slow (the one place that decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Slower than the threshold (and not a 408, whose slowness is the client's).
    pub slow: bool,
}

impl RequestMetrics {
    /// Request metrics over `edges` (ascending, in seconds, at most [`MAX_EDGES`], the slow
    /// threshold among them), leaked so that layers can hold them as `&'static`.
    pub(crate) fn leak(
        edges: &[f64],
        slow: Duration,
        max_series: usize,
        count_own: bool,
    ) -> &'static Self {
        let shards = shard::count();
        let started = Instant::now();
        Box::leak(Box::new(Self {
            table: Table::new(max_series, edges.len(), shards),
            totals: (0..shards).map(|_| Padded::default()).collect(),
            edges: Arc::from(edges),
            edges_ns: edges.iter().map(|e| (e * 1e9).round() as u64).collect(),
            le: edges
                .iter()
                .map(|e| {
                    let mut text = String::new();
                    crate::text::number(&mut text, *e);
                    text.into_boxed_str()
                })
                .collect(),
            slow,
            count_own,
            next_id: AtomicU64::new(1),
            started,
            started_unix_nanos: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            recent: recent::Recent::new(started),
        }))
    }

    /// The slow-request threshold.
    pub fn slow_threshold(&self) -> Duration {
        self.slow
    }

    /// Whether requests to Vitals' own endpoints are counted like the application's.
    pub fn counts_own(&self) -> bool {
        self.count_own
    }

    /// The next sequential request id (1, 2, …): the one figure every worker shares.
    pub fn next_request_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn totals(&self) -> &Totals {
        &self.totals[shard::current()].0
    }

    /// Counts a request as in flight until the guard is dropped (also when the client goes
    /// away before the answer).
    pub fn begin(&'static self) -> InFlight {
        self.totals().in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Marks the calling request as one of Vitals' own (a scrape, a probe, a dashboard poll)
    /// for as long as the guard lives: it leaves the in-flight figure at once, and its answer
    /// should not be [`record`](Self::record)ed unless [`counts_own`](Self::counts_own).
    pub fn own(&'static self) -> OwnRequest {
        if !self.count_own {
            self.totals().own_in_flight.fetch_add(1, Ordering::Relaxed);
        }
        OwnRequest(self)
    }

    /// The series of `method` and `route` (`None`: the request matched no route).
    pub fn series(&'static self, method: &Method, route: Option<&str>) -> &'static RouteSeries {
        self.table
            .series(normalise(method), route.unwrap_or(UNMATCHED_ROUTE))
    }

    /// Records one answer of `series`: its status, how long it took, and the id to keep as
    /// the exemplar of its bucket. `at` is when it finished.
    pub fn record(
        &'static self,
        series: &'static RouteSeries,
        status: u16,
        elapsed: Duration,
        at: Instant,
        exemplar: Option<ExemplarId<'_>>,
    ) -> Recorded {
        let slow = elapsed > self.slow && status != 408;
        let nanos = vitals_core::math::nanos(elapsed);
        let bucket = self.edges_ns.partition_point(|&e| e < nanos);
        let (series, slot) = self.table.slot(series, status);
        let at_nanos = vitals_core::math::nanos(at.saturating_duration_since(self.started));
        let shard = shard::current();
        series.record(
            shard,
            slot,
            bucket,
            nanos,
            slow,
            exemplar.map(|id| (id, at_nanos)),
        );
        let totals = &self.totals[shard].0;
        totals.requests.fetch_add(1, Ordering::Relaxed);
        match status {
            400..=499 => {
                totals.client_errors.fetch_add(1, Ordering::Relaxed);
            }
            500..=599 => {
                totals.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if slow {
            totals.slow.fetch_add(1, Ordering::Relaxed);
        }
        Recorded { slow }
    }

    /// Whether an answer that took `elapsed` with `status` is slow (what
    /// [`record`](Self::record) decides, for layers that do not record).
    pub fn is_slow(&self, status: u16, elapsed: Duration) -> bool {
        elapsed > self.slow && status != 408
    }

    /// Distinct `(method, route, status)` label sets recorded so far.
    pub fn series_count(&self) -> usize {
        self.table.label_sets()
    }

    /// The newest exemplar of each bucket of `series`, with its wall-clock time.
    pub fn exemplars(&self, series: &RouteSeries) -> Vec<Option<Exemplar>> {
        series
            .exemplars()
            .into_iter()
            .map(|e| e.map(|e| self.dated(e)))
            .collect()
    }

    /// `e` with its wall-clock time filled in.
    fn dated(&self, mut e: Exemplar) -> Exemplar {
        e.unix_nanos = self.started_unix_nanos.saturating_add(e.at_nanos);
        e
    }

    /// Every series, the overflow one last.
    pub(crate) fn all_series(&self) -> Vec<&'static RouteSeries> {
        self.table.all()
    }

    /// The bucket edges, in seconds and as exposition text.
    pub(crate) fn edges(&self) -> (&[f64], &[Box<str>]) {
        (&self.edges, &self.le)
    }

    /// Keeps a copy of every series' counts for the recent window (the scheduler calls it
    /// every [`STEP`]).
    pub(crate) fn keep_recent(&self, at: Instant) {
        self.recent.keep(at, &self.table.all());
    }

    fn sum_totals(&self, read: impl Fn(&Totals) -> i64) -> u64 {
        let n: i64 = self.totals.iter().map(|t| read(&t.0)).sum();
        u64::try_from(n).unwrap_or(0)
    }

    /// The `http` section as of now.
    pub fn section(&self) -> HttpSection {
        let load = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let now = Instant::now();
        let folds: Vec<(&'static RouteSeries, Fold)> = self
            .table
            .all()
            .into_iter()
            .map(|s| (s, s.fold()))
            .collect();
        let (all, length, routes, slow) = self.recent.window(now, &folds, |windowed, length| {
            let mut all = vec![0u64; self.edges.len() + 1];
            let mut routes = Vec::new();
            let since = self
                .nanos_at(now)
                .saturating_sub(u64::try_from(length.as_nanos()).unwrap_or(u64::MAX));
            let mut slow = Vec::new();
            for w in windowed {
                let buckets = w.buckets();
                for (total, n) in all.iter_mut().zip(&buckets) {
                    *total += n;
                }
                if let Some(route) = self.route_figures(w, buckets, length, since, &mut slow) {
                    routes.push(route);
                }
            }
            (all, length, routes, slow)
        });
        let recent = self.histogram(all);
        let ms = |q: f64| round_to(recent.quantile(q) * 1000.0, 3);
        let mut routes = routes;
        routes.sort_by(|a, b| b.requests_per_second.total_cmp(&a.requests_per_second));
        HttpSection {
            requests_total: self.sum_totals(|t| load(&t.requests)),
            in_flight: self.sum_totals(|t| {
                t.in_flight.load(Ordering::Relaxed) - t.own_in_flight.load(Ordering::Relaxed)
            }),
            client_errors_total: self.sum_totals(|t| load(&t.client_errors)),
            server_errors_total: self.sum_totals(|t| load(&t.server_errors)),
            slow_requests_total: self.sum_totals(|t| load(&t.slow)),
            latency_p50_ms: ms(0.5),
            latency_p95_ms: ms(0.95),
            latency_p99_ms: ms(0.99),
            latency_window_seconds: length.as_secs(),
            routes,
            slowest_requests: slowest::slowest(slow),
        }
    }

    fn histogram(&self, counts: Vec<u64>) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.edges.to_vec(),
            count: counts.iter().sum(),
            counts,
            sum_seconds: 0.0,
        }
    }

    /// One route's figures over the window; its exemplars recorded since `since` go to
    /// `slow`.
    fn route_figures(
        &self,
        w: &recent::Windowed<'_>,
        buckets: Vec<u64>,
        length: Duration,
        since: u64,
        slow: &mut Vec<vitals_core::SlowRequest>,
    ) -> Option<RouteFigures> {
        let (answers, errors) = w.answers_and_errors();
        if answers == 0 {
            return None;
        }
        let h = self.histogram(buckets);
        let ms = |q: f64| round_to(h.quantile(q) * 1000.0, 3);
        let recent: Vec<_> = self
            .exemplars_since(w.series, since, &h.counts)
            .iter()
            .map(|e| slowest::slow_request(w.series, e))
            .collect();
        let slowest = recent.first().cloned();
        slow.extend(recent);
        Some(RouteFigures {
            method: w.series.method.to_owned(),
            route: w.series.route.to_string(),
            requests_per_second: round_to(answers as f64 / length.as_secs_f64().max(1.0), 3),
            error_percent: percent(errors as f64, answers as f64),
            p50_ms: ms(0.5),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            slowest,
        })
    }
}

/// Keeps a request counted as in flight until dropped.
#[must_use = "the request stops counting as in flight when this is dropped"]
pub struct InFlight(&'static RequestMetrics);

impl InFlight {
    /// The metrics the request is counted in.
    pub fn metrics(&self) -> &'static RequestMetrics {
        self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.totals().in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Keeps a request of Vitals' own out of the in-flight figure until dropped.
#[must_use = "the request counts as in flight again when this is dropped"]
pub struct OwnRequest(&'static RequestMetrics);

impl Drop for OwnRequest {
    fn drop(&mut self) {
        if !self.0.count_own {
            self.0
                .totals()
                .own_in_flight
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Standard methods keep their name; anything else a client invents is `OTHER`.
fn normalise(method: &Method) -> (u8, &'static str) {
    match *method {
        Method::GET => (0, "GET"),
        Method::POST => (1, "POST"),
        Method::PUT => (2, "PUT"),
        Method::DELETE => (3, "DELETE"),
        Method::PATCH => (4, "PATCH"),
        Method::HEAD => (5, "HEAD"),
        Method::OPTIONS => (6, "OPTIONS"),
        Method::CONNECT => (7, "CONNECT"),
        Method::TRACE => (8, "TRACE"),
        _ => (9, "OTHER"),
    }
}

/// Bucket edges for request durations: `base` (the latency buckets when `None`) plus one at the
/// slow threshold, so "slower than the threshold" can be read off the histogram exactly.
pub(crate) fn duration_buckets(slow_threshold: Duration, base: Option<&[f64]>) -> Vec<f64> {
    let mut edges = base
        .unwrap_or(vitals_core::LATENCY_BUCKETS_SECONDS)
        .to_vec();
    let slow = slow_threshold.as_secs_f64();
    if slow > 0.0 && !edges.iter().any(|&e| (e - slow).abs() < 1e-9) {
        edges.push(slow);
        edges.sort_by(f64::total_cmp);
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> &'static RequestMetrics {
        RequestMetrics::leak(
            &duration_buckets(Duration::from_millis(250), None),
            Duration::from_millis(250),
            MAX_SERIES,
            false,
        )
    }

    #[test]
    fn slow_threshold_is_a_bucket_edge() {
        let edges = duration_buckets(Duration::from_millis(3000), None);
        assert!(edges.contains(&3.0));
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
        let edges = duration_buckets(Duration::from_millis(250), None);
        assert_eq!(edges.iter().filter(|&&e| e == 0.25).count(), 1);
    }

    #[test]
    fn invented_methods_share_one_label() {
        let m = Method::from_bytes(b"BREW").expect("method");
        assert_eq!(normalise(&m), (9, "OTHER"));
        assert_eq!(normalise(&Method::GET).1, "GET");
    }

    #[test]
    fn totals_windows_and_routes_agree() {
        let m = metrics();
        let get = m.series(&Method::GET, Some("/a"));
        let now = Instant::now();
        for (status, ms) in [(200, 1), (200, 2), (500, 3), (404, 300)] {
            let r = m.record(get, status, Duration::from_millis(ms), now, None);
            assert_eq!(r.slow, ms == 300);
        }
        let s = m.section();
        assert_eq!(s.requests_total, 4);
        assert_eq!(
            (
                s.client_errors_total,
                s.server_errors_total,
                s.slow_requests_total
            ),
            (1, 1, 1)
        );
        assert_eq!(s.routes.len(), 1);
        assert_eq!(s.routes[0].route, "/a");
        assert_eq!(s.routes[0].error_percent, 25.0);
        assert!(s.latency_p50_ms > 0.0 && s.latency_p99_ms <= 500.0, "{s:?}");
        assert_eq!(m.series_count(), 3);
    }

    #[test]
    fn in_flight_leaves_out_own_requests() {
        let m = metrics();
        let a = m.begin();
        let b = m.begin();
        let own = m.own();
        assert_eq!(m.section().in_flight, 1);
        drop(own);
        assert_eq!(m.section().in_flight, 2);
        drop((a, b));
        assert_eq!(m.section().in_flight, 0);
    }

    #[test]
    fn past_the_cap_everything_goes_to_overflow() {
        let m = RequestMetrics::leak(&[0.1], Duration::from_secs(1), 2, false);
        let now = Instant::now();
        for route in ["/a", "/b", "/c", "/d"] {
            let s = m.series(&Method::GET, Some(route));
            m.record(s, 200, Duration::from_millis(1), now, None);
        }
        assert_eq!(m.series_count(), 2);
        let all = m.all_series();
        let overflow = all.last().expect("overflow listed");
        assert_eq!(overflow.route.as_ref(), OVERFLOW);
        assert_eq!(overflow.fold().count(), 2);
    }
}
