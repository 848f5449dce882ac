//! What the load engine saw: latency histograms per endpoint and errors by kind.

use std::collections::BTreeMap;
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

    /// All requests.
    pub fn total(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// Requests whose endpoint and outcome pass `which`.
    pub fn count(&self, which: impl Fn(Endpoint, Outcome) -> bool) -> u64 {
        self.outcomes
            .iter()
            .filter(|((e, o), _)| which(*e, *o))
            .map(|(_, n)| n)
            .sum()
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
        assert_eq!(
            (s.total(), s.count(|_, o| o.answered()), s.errors()),
            (102, 101, 2)
        );
        let h = &s.latency[&Endpoint::History];
        assert!((h.value_at_quantile(0.95) as f64 - 95_000.0).abs() < 100.0);
        assert_eq!(s.errors_by_kind().get("http_503"), Some(&1));
        assert_eq!(s.errors_by_kind().get("timeout"), Some(&1));
    }
}
