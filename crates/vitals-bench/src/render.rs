//! Time of `Vitals::render_snapshot` (the whole `/metrics` body), for the registry a running
//! server has, and for one with 1,000 HTTP label sets: 1,000 `(method, route, status)`
//! request counters, 1,000 duration histograms and 1,000 slow counters.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use http::Method;
use vitals_axum::Vitals;
use vitals_core::Snapshot;

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

/// Prints `render <case> <series> <iteration> <ns> <bytes>` per timed render.
pub fn run(iters: u64) -> Result<()> {
    default_registry(iters)?;
    thousand_series(iters)?;
    Ok(())
}

/// The server's exporter with its routes' traffic: 100 requests between two renders.
fn default_registry(iters: u64) -> Result<()> {
    let vitals = vitals(500)?;
    let http = vitals.engine().requests();
    let snapshot = Snapshot::default();
    let traffic = |round: u64| {
        for i in 0..100u64 {
            let (method, route, status) = SERVER_ROUTES[(i % 8) as usize];
            let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
            let elapsed = Duration::from_micros(50 + (i * 37 + round) % 5_000);
            let series = http.series(&method, Some(route));
            http.record(series, status, elapsed, Instant::now(), None);
        }
    };
    for round in 0..10 {
        traffic(round);
    }
    vitals.engine().render_snapshot(&snapshot);
    for i in 0..iters {
        traffic(i);
        let started = Instant::now();
        let body = vitals.engine().render_snapshot(&snapshot);
        let ns = started.elapsed().as_nanos();
        println!(
            "render default {} {i} {ns} {}",
            SERVER_ROUTES.len(),
            body.len()
        );
    }
    Ok(())
}

/// A `Vitals` as the server builds it, keeping up to `max_series` request label sets.
fn vitals(max_series: usize) -> Result<Vitals> {
    Ok(Vitals::builder()
        .slow_threshold(SLOW)
        .max_series(max_series)
        .build()?)
}

/// 1,000 label sets: one request per series between two renders.
fn thousand_series(iters: u64) -> Result<()> {
    let vitals = vitals(1_000)?;
    let http = vitals.engine().requests();
    let routes: Vec<String> = (0..1_000).map(|i| format!("/r/{i}")).collect();
    let snapshot = Snapshot::default();
    let traffic = |round: u64| {
        for (i, route) in routes.iter().enumerate() {
            let elapsed = Duration::from_micros(50 + (i as u64 * 37 + round) % 5_000);
            let series = http.series(&Method::GET, Some(route));
            http.record(series, 200, elapsed, Instant::now(), None);
        }
    };
    traffic(0);
    let body = vitals.engine().render_snapshot(&snapshot);
    let counted = body
        .lines()
        .filter(|l| l.starts_with("health_agent_http_requests_total{"))
        .count();
    ensure!(
        counted == routes.len(),
        "expected {} request series in the exposition, found {counted}; \
         did the series cap change?",
        routes.len()
    );
    for i in 0..iters {
        traffic(i + 1);
        let started = Instant::now();
        let body = vitals.engine().render_snapshot(&snapshot);
        let ns = started.elapsed().as_nanos();
        println!("render thousand {} {i} {ns} {}", routes.len(), body.len());
    }
    Ok(())
}
