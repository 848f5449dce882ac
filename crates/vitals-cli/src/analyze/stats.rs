//! The figures of a run, per host: averages and peaks, poll-latency percentiles, and the
//! performance targets of the contract checked against them.
//!
//! Percentiles use the nearest-rank method on the answered polls' `api_ms`: sort the n values,
//! take the one at rank ⌈p/100 × n⌉. No interpolation, so every figure is a real poll.

use serde::Serialize;
use vitals_core::math::{percent, round_to};

use super::csv::Parsed;
use crate::record::Record;

/// Mean and maximum of one figure over the polls that carry it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Agg {
    /// Arithmetic mean.
    pub avg: f64,
    /// Largest value.
    pub max: f64,
    /// How many polls carried the figure.
    pub samples: usize,
}

impl Agg {
    fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let (mut sum, mut max, mut n) = (0.0, f64::MIN, 0usize);
        for v in values {
            sum += v;
            max = max.max(v);
            n += 1;
        }
        (n > 0).then(|| Self {
            avg: round_to(sum / n as f64, 2),
            max: round_to(max, 2),
            samples: n,
        })
    }
}

/// Poll round-trip percentiles in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Slowest poll.
    pub max: f64,
    /// Polls measured.
    pub samples: usize,
}

/// Nearest-rank percentile of sorted values (`p` in 0–100).
pub fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// One performance target and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    /// What is measured.
    pub name: &'static str,
    /// The goal as text, e.g. `< 80%`.
    pub goal: &'static str,
    /// Which statistic is compared.
    pub measured_as: &'static str,
    /// The measured value (absent when the run has no data for it).
    pub value: Option<f64>,
    /// Unit of `value`.
    pub unit: &'static str,
    /// Pass, fail, or `None` when it cannot be judged.
    pub pass: Option<bool>,
}

/// Everything `analyze` says about one host.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostSummary {
    /// Base URL.
    pub host: String,
    /// Rows in the file.
    pub polls: usize,
    /// Polls answered with a snapshot (2xx).
    pub answered: usize,
    /// Polls with no answer (status 0).
    pub unreachable: usize,
    /// Polls answered with another HTTP status.
    pub http_errors: usize,
    /// First poll, Unix seconds.
    pub start: f64,
    /// Last poll minus first poll, seconds.
    pub duration_seconds: f64,
    /// `cpu_percent`.
    pub cpu_percent: Option<Agg>,
    /// `memory_percent`.
    pub memory_percent: Option<Agg>,
    /// `memory_mb`.
    pub memory_mb: Option<Agg>,
    /// `db_pool_active` (max is the peak).
    pub db_pool_active: Option<Agg>,
    /// `db_pool_utilization_percent` (computed from active / size where the cell is empty).
    pub db_pool_utilization_percent: Option<Agg>,
    /// `redis_hit_rate` over the whole run.
    pub redis_hit_rate: Option<Agg>,
    /// Mean hit rate over the second half of the answered polls (after warm-up).
    pub redis_hit_rate_steady: Option<f64>,
    /// Whether the cache was read at all (known when the CSV has cache_hits/cache_misses).
    pub cache_reads: Option<f64>,
    /// Poll round trips.
    pub api_ms: Option<Latency>,
    /// The performance targets.
    pub targets: Vec<Target>,
}

/// Summaries per host, in order of first appearance.
pub fn summarise(rows: &[Parsed]) -> Vec<HostSummary> {
    let mut hosts: Vec<&str> = Vec::new();
    for r in rows {
        if !hosts.contains(&r.record.host.as_str()) {
            hosts.push(&r.record.host);
        }
    }
    hosts
        .into_iter()
        .map(|h| {
            let mine: Vec<&Parsed> = rows.iter().filter(|r| r.record.host == h).collect();
            host_summary(h, &mine)
        })
        .collect()
}

/// Pool utilization of a row: the column, or active / size when only those are there.
pub fn utilization(r: &Record) -> Option<f64> {
    r.db_pool_utilization_percent
        .or_else(|| match (r.db_pool_active, r.db_pool_size) {
            (Some(a), Some(s)) => Some(percent(a, s)),
            _ => None,
        })
}

fn host_summary(host: &str, rows: &[&Parsed]) -> HostSummary {
    let mut sorted: Vec<&Parsed> = rows.to_vec();
    sorted.sort_by(|a, b| a.record.timestamp.total_cmp(&b.record.timestamp));
    let recs: Vec<&Record> = sorted.iter().map(|p| &p.record).collect();
    let answered: Vec<&Record> = recs.iter().copied().filter(|r| r.answered()).collect();
    let figure = |f: fn(&Record) -> Option<f64>| Agg::of(answered.iter().filter_map(|r| f(r)));

    let start = recs.first().map_or(0.0, |r| r.timestamp);
    let end = recs.last().map_or(0.0, |r| r.timestamp);
    let hit_rates: Vec<f64> = answered.iter().filter_map(|r| r.redis_hit_rate).collect();
    let steady = Agg::of(hit_rates[hit_rates.len() / 2..].iter().copied()).map(|a| a.avg);
    let cache_reads = sorted
        .iter()
        .filter(|p| p.record.answered())
        .filter_map(|p| p.cache_reads)
        .reduce(f64::max);

    let mut latencies: Vec<f64> = answered.iter().filter_map(|r| r.api_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let api_ms = match (
        nearest_rank(&latencies, 50.0),
        nearest_rank(&latencies, 95.0),
        latencies.last(),
    ) {
        (Some(p50), Some(p95), Some(&max)) => Some(Latency {
            p50: round_to(p50, 2),
            p95: round_to(p95, 2),
            max: round_to(max, 2),
            samples: latencies.len(),
        }),
        _ => None,
    };

    let mut s = HostSummary {
        host: host.to_owned(),
        polls: recs.len(),
        answered: answered.len(),
        unreachable: recs.iter().filter(|r| r.status == 0).count(),
        http_errors: recs
            .iter()
            .filter(|r| r.status != 0 && !r.answered())
            .count(),
        start,
        duration_seconds: round_to(end - start, 3),
        cpu_percent: figure(|r| r.cpu_percent),
        memory_percent: figure(|r| r.memory_percent),
        memory_mb: figure(|r| r.memory_mb),
        db_pool_active: figure(|r| r.db_pool_active),
        db_pool_utilization_percent: figure(utilization),
        redis_hit_rate: figure(|r| r.redis_hit_rate),
        redis_hit_rate_steady: steady,
        cache_reads,
        api_ms,
        targets: Vec::new(),
    };
    s.targets = targets(&s);
    s
}

/// The contract's performance targets: API P95 < 3 s · DB pool utilization < 80% · cache hit
/// rate > 70% (steady state) · CPU < 70% · memory < 80%.
fn targets(s: &HostSummary) -> Vec<Target> {
    let below = |v: Option<f64>, limit: f64| v.map(|v| v < limit);
    let no_cache_reads = s.cache_reads == Some(0.0);
    let hit = if no_cache_reads {
        None
    } else {
        s.redis_hit_rate_steady
    };
    vec![
        Target {
            name: "API P95",
            goal: "< 3000 ms",
            measured_as: "p95 of poll round trips",
            value: s.api_ms.map(|l| l.p95),
            unit: "ms",
            pass: below(s.api_ms.map(|l| l.p95), 3000.0),
        },
        Target {
            name: "DB pool utilization",
            goal: "< 80%",
            measured_as: "average",
            value: s.db_pool_utilization_percent.map(|a| a.avg),
            unit: "%",
            pass: below(s.db_pool_utilization_percent.map(|a| a.avg), 80.0),
        },
        Target {
            name: "Cache hit rate",
            goal: "> 70%",
            measured_as: if no_cache_reads {
                "no cache reads in the run"
            } else {
                "average over the second half (steady state)"
            },
            value: hit,
            unit: "%",
            pass: hit.map(|v| v > 70.0),
        },
        Target {
            name: "CPU",
            goal: "< 70%",
            measured_as: "average",
            value: s.cpu_percent.map(|a| a.avg),
            unit: "%",
            pass: below(s.cpu_percent.map(|a| a.avg), 70.0),
        },
        Target {
            name: "Memory",
            goal: "< 80%",
            measured_as: "average",
            value: s.memory_percent.map(|a| a.avg),
            unit: "%",
            pass: below(s.memory_percent.map(|a| a.avg), 80.0),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, status: u16, cpu: Option<f64>, api: Option<f64>) -> Parsed {
        Parsed {
            record: Record {
                timestamp: t,
                host: "h".into(),
                status,
                api_ms: api,
                cpu_percent: cpu,
                db_pool_active: Some(2.0),
                db_pool_size: Some(4.0),
                ..Record::default()
            },
            cache_reads: None,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 50.0), Some(10.0));
        assert_eq!(nearest_rank(&v, 95.0), Some(19.0));
        assert_eq!(nearest_rank(&v, 100.0), Some(20.0));
        assert_eq!(nearest_rank(&[7.0], 95.0), Some(7.0));
        assert_eq!(nearest_rank(&[], 50.0), None);
    }

    #[test]
    fn failed_polls_count_but_do_not_dilute_averages() {
        let rows = vec![
            row(10.0, 200, Some(40.0), Some(5.0)),
            row(15.0, 0, None, None),
            row(20.0, 200, Some(60.0), Some(7.0)),
            row(25.0, 503, None, Some(2.0)),
        ];
        let s = &summarise(&rows)[0];
        assert_eq!(
            (s.polls, s.answered, s.unreachable, s.http_errors),
            (4, 2, 1, 1)
        );
        assert_eq!(s.duration_seconds, 15.0);
        let cpu = s.cpu_percent.expect("cpu");
        assert_eq!((cpu.avg, cpu.max), (50.0, 60.0));
        assert_eq!(s.db_pool_utilization_percent.map(|a| a.avg), Some(50.0));
        assert_eq!(s.api_ms.map(|l| l.max), Some(7.0));
        let cpu_target = s.targets.iter().find(|t| t.name == "CPU").expect("target");
        assert_eq!(cpu_target.pass, Some(true));
        let hit = s
            .targets
            .iter()
            .find(|t| t.name == "Cache hit rate")
            .expect("target");
        assert_eq!(hit.pass, None);
    }
}
