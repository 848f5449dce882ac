//! The two `Vitals` whose figures the render and snapshot measurements read: the reference
//! server's routes, and 1,000 HTTP label sets. Traffic is recorded straight into the request
//! metrics (no HTTP), with durations spread over the histogram's buckets.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use http::Method;
use vitals_axum::Vitals;

const SLOW: Duration = Duration::from_millis(3000);

/// The routes of the real server, with the statuses they answer.
const SERVER_ROUTES: [(&str, &str, u16); 8] = [
    ("POST", "/api/v1/chat", 200),
    ("POST", "/api/v1/chat", 422),
    ("GET", "/api/v1/users/{user_id}/history", 200),
    ("GET", "/api/v1/metrics", 200),
    ("GET", "/metrics", 200),
    ("GET", "/health", 200),
    ("GET", "/health/ready", 200),
    ("GET", "unmatched", 404),
];

/// A `Vitals` and the label sets its traffic goes to.
pub struct Registry {
    /// `default` or `thousand`, as printed.
    pub name: &'static str,
    /// The `Vitals` holding the figures.
    pub vitals: Vitals,
    /// `(method, route, status)` of each label set.
    label_sets: Vec<(Method, String, u16)>,
    /// Requests recorded per round.
    per_round: usize,
}

impl Registry {
    /// The server's exporter with its 8 label sets; 100 requests a round.
    pub fn server() -> Result<Self> {
        let label_sets = SERVER_ROUTES
            .iter()
            .map(|&(method, route, status)| {
                let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
                (method, route.to_owned(), status)
            })
            .collect();
        let registry = Self {
            name: "default",
            vitals: vitals(500)?,
            label_sets,
            per_round: 100,
        };
        for round in 0..10 {
            registry.traffic(round);
        }
        Ok(registry)
    }

    /// 1,000 label sets (`GET /r/0` … `/r/999`, status 200), in a `Vitals` keeping up to
    /// 1,000; one request per label set a round. Checks the exposition lists all of them.
    pub fn thousand() -> Result<Self> {
        let label_sets = (0..1_000)
            .map(|i| (Method::GET, format!("/r/{i}"), 200))
            .collect();
        let registry = Self {
            name: "thousand",
            vitals: vitals(1_000)?,
            label_sets,
            per_round: 1_000,
        };
        registry.traffic(0);
        let body = registry.vitals.render_prometheus();
        let counted = body
            .lines()
            .filter(|l| l.starts_with("health_agent_http_requests_total{"))
            .count();
        ensure!(
            counted == registry.series(),
            "expected {} request series in the exposition, found {counted}; \
             did the series cap change?",
            registry.series()
        );
        Ok(registry)
    }

    /// How many `(method, route, status)` label sets it has.
    pub fn series(&self) -> usize {
        self.label_sets.len()
    }

    /// Records one round of requests, spread over the label sets.
    pub fn traffic(&self, round: u64) {
        let http = self.vitals.engine().requests();
        for i in 0..self.per_round {
            let (method, route, status) = &self.label_sets[i % self.label_sets.len()];
            let elapsed = Duration::from_micros(50 + (i as u64 * 37 + round) % 5_000);
            let series = http.series(method, Some(route));
            http.record(series, *status, elapsed, Instant::now(), None);
        }
    }
}

/// A `Vitals` as the server builds it (its `health_agent` namespace included), keeping up to
/// `max_series` request label sets.
fn vitals(max_series: usize) -> Result<Vitals> {
    Ok(Vitals::builder()
        .namespace("health_agent")
        .slow_threshold(SLOW)
        .max_series(max_series)
        .build()?)
}
