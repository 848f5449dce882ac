//! Fleet-wide sums: the same PromQL on Prometheus and on VictoriaMetrics (fed by Prometheus'
//! remote write) against the sum of the instances' own JSON counters.
//!
//! - Rates, under steady load: `sum(rate(X[W]))` at the end of a window of W seconds against
//!   the growth of the JSON counters between readings W seconds apart, within 5 %, for the
//!   request and cache-hit counters.
//! - Counters, once the load has stopped: the cache's hits and misses move no more, so
//!   `sum(X)` must equal the JSON sum exactly (waiting a bounded while for the last scrape to
//!   reach VictoriaMetrics).
//! - The request counter never stands still while Prometheus scrapes: vitals-server counts
//!   every request, its own `/metrics` and `/api/v1/metrics` included, so each scrape adds one.
//!   Both engines, asked for the same instant, must agree exactly with each other, and the
//!   JSON sum read from that instant on may be ahead of them only by the requests made since
//!   each instance's last scrape (at most [`IN_FLIGHT_PER_INSTANCE`] each).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::Value;

use super::promql;
use super::traffic::Traffic;
use super::{Check, Fleet};
use crate::load::server::get;

/// The rates compared, as `(Prometheus counter, JSON path)`.
const RATES: [(&str, &str); 2] = [
    ("health_agent_http_requests_total", "http.requests_total"),
    ("health_agent_cache_hits_total", "cache.hits"),
];

/// The counters compared exactly at a quiet moment.
const QUIET: [(&str, &str); 2] = [
    ("health_agent_cache_hits_total", "cache.hits"),
    ("health_agent_cache_misses_total", "cache.misses"),
];

/// The request counter.
const REQUESTS: (&str, &str) = ("health_agent_http_requests_total", "http.requests_total");

/// Requests an instance may have counted since its last scrape at a quiet moment: the
/// scrape that took the last sample (counted once it ends), the snapshot read just before,
/// a scrape between the start of the reads and the read, and one to spare.
const IN_FLIGHT_PER_INSTANCE: f64 = 4.0;

/// Load per instance, requests per second.
const RATE: f64 = 25.0;
/// Load before the window opens.
const WARM_UP: Duration = Duration::from_secs(5);
/// The rate window, seconds.
const WINDOW: u64 = 30;
/// Tolerance for rates.
const RATE_TOLERANCE: f64 = 0.05;

/// Unix time now, in seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The JSON figures at `paths` of every instance, each summed over the instances, and the
/// moment the reads began (every sample a scrape took before it counts less than the read).
async fn json_sums(addrs: &[SocketAddr], paths: &[&str]) -> Result<(Vec<f64>, f64)> {
    let before = unix_now();
    let mut sums = vec![0.0; paths.len()];
    for &addr in addrs {
        let (status, body) = get(addr, "/api/v1/metrics").await?;
        anyhow::ensure!(status == 200, "{addr} answered {status} to /api/v1/metrics");
        let doc: Value = serde_json::from_str(&body).context("snapshot JSON")?;
        for (sum, path) in sums.iter_mut().zip(paths) {
            *sum += path
                .split('.')
                .try_fold(&doc, |v, k| v.get(k))
                .and_then(Value::as_f64)
                .with_context(|| format!("{addr}: no {path} in the snapshot"))?;
        }
    }
    Ok((sums, before))
}

/// Load, the rate comparison during it, then the comparisons at a quiet moment.
pub async fn check(fleet: &Fleet) -> Result<Vec<Check>> {
    let addrs: Vec<SocketAddr> = fleet.instances.iter().map(|i| i.addr).collect();
    let rate_paths = RATES.map(|(_, path)| path);
    let traffic = Traffic::start(&addrs, RATE, WARM_UP + Duration::from_secs(WINDOW + 3));
    tokio::time::sleep(WARM_UP).await;
    let (first, t1) = json_sums(&addrs, &rate_paths).await?;
    let opened = Instant::now();
    tokio::time::sleep(Duration::from_secs(WINDOW).saturating_sub(opened.elapsed())).await;
    let (second, t2) = json_sums(&addrs, &rate_paths).await?;
    let (answered, errors) = traffic.stop().await;
    eprintln!(
        "fleet: load of {RATE} req/s per instance: {answered} answered, {errors} failed; \
         rate window {:.1} s",
        t2 - t1
    );

    // Let the last scrapes and remote-write batches land.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut checks = Vec::new();
    for (k, (metric, path)) in RATES.iter().enumerate() {
        let expected = (second[k] - first[k]) / (t2 - t1);
        let promql = format!("sum(rate({metric}[{WINDOW}s]))");
        for (engine, api) in fleet.engines.apis() {
            let got = promql::scalar(api, &promql, Some(t2)).await?;
            let off = got.map(|g| (g - expected).abs() / expected.max(f64::MIN_POSITIVE));
            checks.push(Check {
                name: format!("rate of {metric} on {engine}"),
                passed: expected > 0.0 && off.is_some_and(|o| o <= RATE_TOLERANCE),
                detail: format!(
                    "`{promql}` = {} /s; the instances' `{path}` grew {expected:.2} /s \
                     ({}; at most 5 % apart)",
                    got.map_or("no data".into(), |g| format!("{g:.2}")),
                    off.map_or("no data".into(), |o| format!("{:.2} % apart", o * 100.0)),
                ),
            });
        }
    }

    // Quiet: nothing but the scrapes moves the counters any more.
    let quiet_paths = QUIET.map(|(_, path)| path);
    let (quiet, _) = json_sums(&addrs, &quiet_paths).await?;
    for (k, (metric, path)) in QUIET.iter().enumerate() {
        let promql = format!("sum({metric})");
        for (engine, api) in fleet.engines.apis() {
            let started = Instant::now();
            let mut got = None;
            while started.elapsed() < Duration::from_secs(20) {
                got = promql::scalar(api, &promql, None).await?;
                if got == Some(quiet[k]) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            checks.push(Check {
                name: format!("{metric} at a quiet moment on {engine}"),
                passed: got == Some(quiet[k]) && quiet[k] > 0.0,
                detail: format!(
                    "`{promql}` = {}; the instances' `{path}` add up to {} (exact; agreed after \
                     {:.1} s)",
                    got.map_or("no data".into(), |g| g.to_string()),
                    quiet[k],
                    started.elapsed().as_secs_f64()
                ),
            });
        }
    }
    checks.push(requests_at_rest(fleet, &addrs).await?);
    Ok(checks)
}

/// The request counter after the load: both engines at one instant, and the JSON read then.
async fn requests_at_rest(fleet: &Fleet, addrs: &[SocketAddr]) -> Result<Check> {
    let (metric, path) = REQUESTS;
    let (json, at) = json_sums(addrs, &[path]).await?;
    // Long enough for the scrape after `at` to reach VictoriaMetrics.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let promql = format!("sum({metric})");
    let mut values = Vec::new();
    for (engine, api) in fleet.engines.apis() {
        values.push((engine, promql::scalar(api, &promql, Some(at)).await?));
    }
    let bound = IN_FLIGHT_PER_INSTANCE * addrs.len() as f64;
    let (prometheus, victoria) = (values[0].1, values[1].1);
    let ahead = prometheus.map(|p| json[0] - p);
    Ok(Check {
        name: format!("{metric} at rest, both engines at one instant"),
        passed: prometheus.is_some()
            && prometheus == victoria
            && ahead.is_some_and(|a| (0.0..=bound).contains(&a)),
        detail: format!(
            "at the instant of the JSON read, `{promql}` = {} on Prometheus and {} on \
             VictoriaMetrics (equal); the instances' `{path}` add up to {}, ahead by {} (the \
             scrapes and snapshot reads since each instance's last scrape: at most {bound})",
            prometheus.map_or("no data".into(), |v| v.to_string()),
            victoria.map_or("no data".into(), |v| v.to_string()),
            json[0],
            ahead.map_or("?".into(), |a| a.to_string()),
        ),
    })
}
