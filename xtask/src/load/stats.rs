//! What the load engine saw: latency histograms per endpoint, errors by kind, a timeline.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Which kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    /// `POST /api/v1/chat`.
    Chat,
    /// `GET /api/v1/users/{id}/history`.
    History,
    /// `GET /api/v1/metrics`.
    Metrics,
    /// A fixed path given with `--path`.
    Path,
}

impl Endpoint {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Chat => "POST /api/v1/chat",
            Endpoint::History => "GET /api/v1/users/{user_id}/history",
            Endpoint::Metrics => "GET /api/v1/metrics",
            Endpoint::Path => "GET --path",
        }
    }
}

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// A 1xx–3xx answer.
    Ok,
    /// A 4xx answer.
    Client(u16),
    /// A 5xx answer.
    Server(u16),
    /// The connection could not be opened.
    Connect,
    /// No answer within the request timeout.
    Timeout,
    /// The connection broke mid-request.
    Io,
}

impl Outcome {
    /// Whether the server answered at all (any status).
    pub fn answered(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Client(_) | Outcome::Server(_))
    }

    /// Error kind name, `None` for success.
    pub fn error_kind(self) -> Option<String> {
        match self {
            Outcome::Ok => None,
            Outcome::Client(s) => Some(format!("http_{s}")),
            Outcome::Server(s) => Some(format!("http_{s}")),
            Outcome::Connect => Some("connect".into()),
            Outcome::Timeout => Some("timeout".into()),
            Outcome::Io => Some("io".into()),
        }
    }
}

/// One second of the run, shared by every worker without locks.
pub struct Second {
    /// Active virtual users (last seen).
    pub users: AtomicU32,
    /// Requests finished in the second.
    pub requests: AtomicU64,
    /// Of those, errors.
    pub errors: AtomicU64,
    /// Their latencies, in coarse fixed buckets (enough for a live p95 and the stress knee).
    pub latency: vitals_core::Histogram,
}

/// Per-second figures for the whole run, preallocated so recording never locks or allocates.
pub struct Timeline {
    seconds: Box<[Second]>,
}

impl Timeline {
    /// Room for `seconds` seconds (later records land in the last slot).
    pub fn new(seconds: usize) -> Self {
        Self {
            seconds: (0..seconds.max(1))
                .map(|_| Second {
                    users: AtomicU32::new(0),
                    requests: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    latency: vitals_core::Histogram::latency(),
                })
                .collect(),
        }
    }

    /// Records one finished request.
    pub fn record(&self, second: usize, users: u32, latency: Duration, error: bool) {
        let s = &self.seconds[second.min(self.seconds.len() - 1)];
        s.users.store(users, Ordering::Relaxed);
        s.requests.fetch_add(1, Ordering::Relaxed);
        if error {
            s.errors.fetch_add(1, Ordering::Relaxed);
        }
        s.latency.record(latency);
    }

    /// Figures of one second: (users, requests, errors, p95 in ms).
    pub fn second(&self, second: usize) -> Option<(u32, u64, u64, f64)> {
        let s = self.seconds.get(second)?;
        Some((
            s.users.load(Ordering::Relaxed),
            s.requests.load(Ordering::Relaxed),
            s.errors.load(Ordering::Relaxed),
            s.latency.snapshot().quantile(0.95) * 1000.0,
        ))
    }

    /// Figures of seconds `from..to` together: (max users, requests, errors, p95 in ms).
    pub fn span(&self, from: usize, to: usize) -> (u32, u64, u64, f64) {
        let mut merged: Option<vitals_core::HistogramSnapshot> = None;
        let (mut users, mut requests, mut errors) = (0, 0, 0);
        for s in self.seconds.iter().take(to).skip(from) {
            users = users.max(s.users.load(Ordering::Relaxed));
            requests += s.requests.load(Ordering::Relaxed);
            errors += s.errors.load(Ordering::Relaxed);
            let snap = s.latency.snapshot();
            match &mut merged {
                None => merged = Some(snap),
                Some(m) => m.merge(&snap),
            }
        }
        let p95 = merged.map_or(0.0, |m| m.quantile(0.95) * 1000.0);
        (users, requests, errors, p95)
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.seconds.len()
    }
}

/// What one worker recorded (merged across workers at the end of a run).
pub struct Stats {
    /// Latency per endpoint, microseconds (1 µs to 10 min, 3 significant figures).
    pub latency: BTreeMap<Endpoint, Histogram<u64>>,
    /// Requests per endpoint and outcome.
    pub outcomes: BTreeMap<(Endpoint, Outcome), u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .expect("constant bounds within hdrhistogram's limits")
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Empty.
    pub fn new() -> Self {
        Self {
            latency: BTreeMap::new(),
            outcomes: BTreeMap::new(),
        }
    }

    /// Records one finished request.
    pub fn record(&mut self, endpoint: Endpoint, latency: Duration, outcome: Outcome) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, 600_000_000);
        let _ = self
            .latency
            .entry(endpoint)
            .or_insert_with(histogram)
            .record(micros);
        *self.outcomes.entry((endpoint, outcome)).or_insert(0) += 1;
    }

    /// Adds another worker's records.
    pub fn merge(&mut self, other: Stats) {
        for (e, h) in other.latency {
            let _ = self.latency.entry(e).or_insert_with(histogram).add(&h);
        }
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_insert(0) += n;
        }
    }

    /// Requests the server answered (any status).
    pub fn answered(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|((_, o), _)| o.answered())
            .map(|(_, n)| n)
            .sum()
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// Requests that did not succeed.
    pub fn errors(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|((_, o), _)| *o != Outcome::Ok)
            .map(|(_, n)| n)
            .sum()
    }

    /// Errors by kind across endpoints.
    pub fn errors_by_kind(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((_, o), n) in &self.outcomes {
            if let Some(kind) = o.error_kind() {
                *out.entry(kind).or_insert(0) += n;
            }
        }
        out
    }

    /// All endpoints' latencies merged.
    pub fn overall(&self) -> Histogram<u64> {
        let mut all = histogram();
        for h in self.latency.values() {
            let _ = all.add(h);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentiles() {
        let mut s = Stats::new();
        for i in 1..=100u64 {
            s.record(Endpoint::History, Duration::from_millis(i), Outcome::Ok);
        }
        let mut other = Stats::new();
        other.record(
            Endpoint::Chat,
            Duration::from_millis(5),
            Outcome::Server(503),
        );
        other.record(Endpoint::Chat, Duration::from_secs(10), Outcome::Timeout);
        s.merge(other);
        assert_eq!((s.total(), s.answered(), s.errors()), (102, 101, 2));
        let h = &s.latency[&Endpoint::History];
        assert!((h.value_at_quantile(0.95) as f64 - 95_000.0).abs() < 100.0);
        assert_eq!(s.errors_by_kind().get("http_503"), Some(&1));
        assert_eq!(s.errors_by_kind().get("timeout"), Some(&1));
    }

    #[test]
    fn timeline_counts_per_second() {
        let t = Timeline::new(3);
        t.record(0, 4, Duration::from_millis(2), false);
        t.record(0, 5, Duration::from_millis(3), true);
        t.record(9, 5, Duration::from_millis(3), false);
        assert_eq!(t.second(0).map(|s| (s.0, s.1, s.2)), Some((5, 2, 1)));
        assert_eq!(
            t.second(2).map(|s| s.1),
            Some(1),
            "late records land in the last slot"
        );
        assert_eq!(t.span(0, 3).1, 3);
    }
}
