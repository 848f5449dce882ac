//! Request metrics, recorded once per request by a timing layer.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hashbrown::{Equivalent, HashMap};
use http::Method;
use metrics::{Key, KeyName, Label};
use vitals_core::{Collector, HttpSection, Snapshot, Window, catalogue, math::round_to};

use crate::registry::{BucketHistogram, Registry};

/// Route label of the series that absorbs label sets past the cap.
pub const OVERFLOW: &str = "overflow";

/// Most distinct `(method, route, status)` label sets recorded by default
/// ([`EngineBuilder::max_series`](crate::EngineBuilder::max_series) changes it); later ones
/// share the overflow series. Routes are templates and methods are normalised, so real traffic stays
/// far below this; the cap is there so nothing a client sends can grow the series without
/// bound.
pub const MAX_SERIES: usize = 500;

/// Request counters, duration histograms and the slow-request counter, registered in a
/// Vitals registry, plus the figures of the JSON `http` section (whose `in_flight` also feeds
/// the in-flight gauge).
///
/// Both renderings are written by the same call ([`RequestMetrics::observe`]), once per request.
pub struct RequestMetrics {
    registry: Arc<Registry>,
    names: Names,
    series: RwLock<HashMap<SeriesKey, Series>>,
    max_series: usize,
    in_flight: AtomicU64,
    requests: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    slow: AtomicU64,
    slow_threshold: Duration,
    recent: Window,
}

struct Names {
    requests: KeyName,
    duration: KeyName,
    slow: KeyName,
}

struct Series {
    requests: Arc<AtomicU64>,
    duration: Arc<BucketHistogram>,
    slow: Arc<AtomicU64>,
}

impl RequestMetrics {
    /// Metrics registered in `registry` under its namespace; requests slower than
    /// `slow_threshold` count as slow. Recent percentiles cover the last minute.
    pub(crate) fn new(
        registry: Arc<Registry>,
        slow_threshold: Duration,
        max_series: usize,
    ) -> Self {
        let name =
            |m: &catalogue::MetricDef| KeyName::from(catalogue::full_name(registry.namespace(), m));
        Self {
            names: Names {
                requests: name(&catalogue::HTTP_REQUESTS),
                duration: name(&catalogue::HTTP_REQUEST_DURATION),
                slow: name(&catalogue::HTTP_SLOW_REQUESTS),
            },
            registry,
            series: RwLock::new(HashMap::new()),
            max_series,
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            client_errors: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            slow_threshold,
            recent: Window::new(
                Duration::from_secs(10),
                6,
                &duration_buckets(slow_threshold),
            ),
        }
    }

    /// The slow-request threshold.
    pub fn slow_threshold(&self) -> Duration {
        self.slow_threshold
    }

    /// Marks a request as started; the guard marks it finished when dropped (also when the
    /// client goes away before the answer).
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Records one answered request.
    pub fn observe(
        &self,
        method: &Method,
        route: &str,
        status: u16,
        elapsed: Duration,
        at: Instant,
    ) {
        // A 408 took long because the client was slow to send; it is not a slow answer.
        let slow = elapsed > self.slow_threshold && status != 408;
        self.requests.fetch_add(1, Ordering::Relaxed);
        match status {
            400..=499 => {
                self.client_errors.fetch_add(1, Ordering::Relaxed);
            }
            500..=599 => {
                self.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if slow {
            self.slow.fetch_add(1, Ordering::Relaxed);
        }
        self.recent.record(at, elapsed);

        let method = normalise(method);
        let wanted = SeriesRef {
            method,
            route,
            status,
        };
        let record = |s: &Series| {
            s.requests.fetch_add(1, Ordering::Relaxed);
            s.duration.observe(elapsed.as_secs_f64());
            if slow {
                s.slow.fetch_add(1, Ordering::Relaxed);
            }
        };
        {
            let series = self.series.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = series.get(&wanted) {
                record(s);
                return;
            }
        }
        let mut series = self.series.write().unwrap_or_else(|e| e.into_inner());
        let key = if series.len() < self.max_series {
            SeriesKey {
                method,
                route: route.into(),
                status,
            }
        } else {
            SeriesKey {
                method: OVERFLOW,
                route: OVERFLOW.into(),
                status: 0,
            }
        };
        let entry = series.entry(key).or_insert_with_key(|k| self.register(k));
        record(entry);
    }

    fn register(&self, key: &SeriesKey) -> Series {
        let status = if key.status == 0 {
            OVERFLOW.to_owned()
        } else {
            key.status.to_string()
        };
        let method = Label::new("method", key.method);
        let route = Label::new("route", key.route.to_string());
        let with_status = vec![method.clone(), route.clone(), Label::new("status", status)];
        let without_status = vec![method, route];
        Series {
            requests: self
                .registry
                .own_counter(&Key::from_parts(self.names.requests.clone(), with_status)),
            duration: self.registry.own_histogram(&Key::from_parts(
                self.names.duration.clone(),
                without_status.clone(),
            )),
            slow: self
                .registry
                .own_counter(&Key::from_parts(self.names.slow.clone(), without_status)),
        }
    }

    /// Distinct label sets recorded so far.
    pub fn series_count(&self) -> usize {
        self.series.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The `http` section as of now.
    pub fn section(&self) -> HttpSection {
        let recent = self.recent.snapshot(Instant::now());
        let ms = |q: f64| round_to(recent.quantile(q) * 1000.0, 3);
        HttpSection {
            requests_total: self.requests.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            client_errors_total: self.client_errors.load(Ordering::Relaxed),
            server_errors_total: self.server_errors.load(Ordering::Relaxed),
            slow_requests_total: self.slow.load(Ordering::Relaxed),
            latency_p50_ms: ms(0.5),
            latency_p95_ms: ms(0.95),
            latency_p99_ms: ms(0.99),
            latency_window_seconds: self.recent.length().as_secs(),
        }
    }
}

impl Collector for RequestMetrics {
    /// Fills the `http` section (the in-flight gauge reads its `in_flight`).
    fn collect(&self, snapshot: &mut Snapshot) {
        snapshot.http = Some(self.section());
    }
}

/// Keeps a request counted as in flight until dropped.
pub struct InFlight(Arc<RequestMetrics>);

impl InFlight {
    /// The metrics the request is counted in.
    pub fn metrics(&self) -> &RequestMetrics {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Bucket edges for request durations: the latency buckets plus one at the slow threshold,
/// so "slower than the threshold" can be read off the histogram exactly.
pub(crate) fn duration_buckets(slow_threshold: Duration) -> Vec<f64> {
    let mut edges = vitals_core::LATENCY_BUCKETS_SECONDS.to_vec();
    let slow = slow_threshold.as_secs_f64();
    if slow > 0.0 && !edges.iter().any(|&e| (e - slow).abs() < 1e-9) {
        edges.push(slow);
        edges.sort_by(f64::total_cmp);
    }
    edges
}

/// Standard methods keep their name; anything else a client invents is `OTHER`.
fn normalise(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

#[derive(PartialEq, Eq)]
struct SeriesKey {
    method: &'static str,
    route: Arc<str>,
    status: u16,
}

/// A borrowed key, so the hot path looks series up without allocating.
struct SeriesRef<'a> {
    method: &'static str,
    route: &'a str,
    status: u16,
}

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.method, &*self.route, self.status).hash(state);
    }
}

impl Hash for SeriesRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.method, self.route, self.status).hash(state);
    }
}

impl Equivalent<SeriesKey> for SeriesRef<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.method == key.method && self.route == &*key.route && self.status == key.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_threshold_is_a_bucket_edge() {
        let edges = duration_buckets(Duration::from_millis(3000));
        assert!(edges.contains(&3.0));
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
        let edges = duration_buckets(Duration::from_millis(250));
        assert_eq!(edges.iter().filter(|&&e| e == 0.25).count(), 1);
    }

    #[test]
    fn invented_methods_share_one_label() {
        let m = Method::from_bytes(b"BREW").expect("method");
        assert_eq!(normalise(&m), "OTHER");
        assert_eq!(normalise(&Method::GET), "GET");
    }
}
