//! The figures of a run, per host: averages and peaks, poll-latency percentiles, the cache hit
//! rate from counter deltas, the memory-drift verdict, and the performance targets of the
//! contract checked against them.
//!
//! Percentiles use the nearest-rank method on the answered polls' `api_ms`: sort the n values,
//! take the one at rank ⌈p/100 × n⌉. No interpolation, so every figure is a real poll.
//!
//! "The second half" is the second half of the host's answered polls in time: from the
//! midpoint between its first and last answered poll to the end.

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
    /// `redis_hit_rate` over the whole run: the server's hit rate since it started (polls known
    /// to come before the first cache read are left out: their 0 % is "no reads").
    pub cache_hit_rate: Option<Agg>,
    /// The steady-state hit rate in percent: hits / reads over the second half, from the
    /// deltas of `cache_hits` / `cache_misses` (or, in a CSV without them, the mean of the
    /// since-start column over the second half).
    pub cache_hit_rate_steady: Option<f64>,
    /// How `cache_hit_rate_steady` was obtained.
    pub cache_hit_rate_steady_method: &'static str,
    /// Whether the cache was read at all (known when the CSV has cache_hits/cache_misses).
    pub cache_reads: Option<f64>,
    /// `process_rss_mb`: the server process's resident memory.
    pub process_rss_mb: Option<Agg>,
    /// `process_cpu_percent`.
    pub process_cpu_percent: Option<Agg>,
    /// The RSS slope over the second half and its verdict (absent without `process_rss_mb`).
    pub memory_drift: Option<Drift>,
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
    let answered_rows: Vec<&Parsed> = sorted
        .iter()
        .copied()
        .filter(|p| p.record.answered())
        .collect();
    let figure = |f: fn(&Record) -> Option<f64>| Agg::of(answered.iter().filter_map(|r| f(r)));
    let extra = |f: fn(&Parsed) -> Option<f64>| Agg::of(answered_rows.iter().filter_map(|p| f(p)));

    let start = recs.first().map_or(0.0, |r| r.timestamp);
    let end = recs.last().map_or(0.0, |r| r.timestamp);
    let (steady, steady_method) = steady_hit_rate(&answered_rows);
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
        cache_hit_rate: Agg::of(
            answered_rows
                .iter()
                .filter(|p| p.cache_reads != Some(0.0))
                .filter_map(|p| p.record.cache_hit_rate),
        ),
        cache_hit_rate_steady: steady,
        cache_hit_rate_steady_method: steady_method,
        cache_reads,
        process_rss_mb: extra(|p| p.process_rss_mb),
        process_cpu_percent: extra(|p| p.process_cpu_percent),
        memory_drift: memory_drift(&answered_rows),
        api_ms,
        targets: Vec::new(),
    };
    s.targets = targets(&s);
    s
}

/// The performance targets (docs/load-testing.md): API P95 < 3 s · DB pool utilization < 80% · cache hit
/// rate > 70% (steady state) · CPU < 70% · memory < 80%.
fn targets(s: &HostSummary) -> Vec<Target> {
    let below = |v: Option<f64>, limit: f64| v.map(|v| v < limit);
    let no_cache_reads = s.cache_reads == Some(0.0);
    let hit = if no_cache_reads {
        None
    } else {
        s.cache_hit_rate_steady
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
                s.cache_hit_rate_steady_method
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

/// Where the steady-state hit rate comes from, as the reports say it.
const STEADY_FROM_COUNTERS: &str = "hits / reads over the second half, from counter deltas";
const STEADY_NO_READS: &str = "no cache reads in the second half";
const STEADY_FROM_COLUMN: &str =
    "average of the since-start rate over the second half (CSV without cache_hits/cache_misses)";
const STEADY_TOO_SHORT: &str = "too few polls for a second half";

/// Hits and misses between each row and the previous row with counters, for rows sorted by
/// time. `None` where the row has no counters, for the first one, and where a counter went
/// down (the server restarted: its counters began again from zero).
pub fn read_deltas(rows: &[&Parsed]) -> Vec<Option<(f64, f64)>> {
    let mut previous: Option<(f64, f64)> = None;
    rows.iter()
        .map(|p| {
            let now = p.cache_hits.zip(p.cache_misses)?;
            let delta = previous
                .map(|(h, m)| (now.0 - h, now.1 - m))
                .filter(|&(dh, dm)| dh >= 0.0 && dm >= 0.0);
            previous = Some(now);
            delta
        })
        .collect()
}

/// The hit rate in percent of each interval between polls (time-sorted rows of one host):
/// `None` where [`read_deltas`] has none or nothing was read in the interval.
pub fn interval_hit_rates(rows: &[&Parsed]) -> Vec<Option<f64>> {
    read_deltas(rows)
        .into_iter()
        .map(|d| {
            d.filter(|(h, m)| h + m > 0.0)
                .map(|(h, m)| round_to(h / (h + m) * 100.0, 2))
        })
        .collect()
}

/// Index of the first row at or after the midpoint in time of `rows` (sorted by time).
fn second_half_start(rows: &[&Parsed]) -> usize {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return 0;
    };
    let mid = (first.record.timestamp + last.record.timestamp) / 2.0;
    rows.iter()
        .position(|p| p.record.timestamp >= mid)
        .unwrap_or(rows.len())
}

/// The steady-state hit rate of a host's answered rows (sorted by time) and how it was found.
fn steady_hit_rate(answered: &[&Parsed]) -> (Option<f64>, &'static str) {
    let from = second_half_start(answered);
    if answered
        .iter()
        .any(|p| p.cache_hits.zip(p.cache_misses).is_some())
    {
        // The counters of the first poll of the second half are the baseline: only the deltas
        // of the polls after it count.
        let half = &answered[from..];
        let (hits, misses) = read_deltas(half)
            .into_iter()
            .flatten()
            .fold((0.0, 0.0), |(h, m), (dh, dm)| (h + dh, m + dm));
        return match hits + misses {
            reads if reads > 0.0 => (
                Some(round_to(hits / reads * 100.0, 2)),
                STEADY_FROM_COUNTERS,
            ),
            _ if half.len() < 2 => (None, STEADY_TOO_SHORT),
            _ => (None, STEADY_NO_READS),
        };
    }
    let rates = answered[from..]
        .iter()
        .filter_map(|p| p.record.cache_hit_rate);
    (Agg::of(rates).map(|a| a.avg), STEADY_FROM_COLUMN)
}

/// Above this RSS slope over the second half a run is said to drift. 1 MB/min is 1.4 GB a day:
/// a leak of that size fills a small container within a day, while a healthy server's RSS
/// levels off after warm-up, so its slope over the second half of a run sits near 0.
pub const DRIFT_THRESHOLD_MB_PER_MIN: f64 = 1.0;
/// The fitted rise over the second half must reach this much before a slope above the
/// threshold counts as drift: `rss_mb` has 0.1 MB steps and allocators grow in steps too, so in
/// a run of a few seconds one step would read as a steep slope.
pub const DRIFT_MIN_RISE_MB: f64 = 0.5;
/// Fewer RSS samples than this in the second half cannot be judged.
pub const DRIFT_MIN_SAMPLES: usize = 5;

/// What the RSS slope says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftVerdict {
    /// The slope is above the threshold and the rise is real.
    Drift,
    /// The slope is at or below the threshold.
    NoDrift,
    /// Too few samples, or a rise too small to tell from noise.
    Inconclusive,
}

/// The memory-drift figures of one host.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Drift {
    /// The verdict.
    pub verdict: DriftVerdict,
    /// The verdict line, e.g. `no drift: +0.02 MB/min`.
    pub line: String,
    /// Least-squares slope of `process_rss_mb` over the second half, MB per minute.
    pub slope_mb_per_min: f64,
    /// The slope times the length of the second half: the fitted rise, MB.
    pub rise_mb: f64,
    /// Length of the second half, seconds.
    pub window_seconds: f64,
    /// RSS samples in the second half.
    pub samples: usize,
    /// The threshold the slope is compared with, MB per minute.
    pub threshold_mb_per_min: f64,
}

/// Least-squares slope of `points` (x, y); 0 when the x values do not vary.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(sxy, sxx), &(x, y)| {
        let dx = x - mean_x;
        (sxy + dx * (y - mean_y), sxx + dx * dx)
    });
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

/// (timestamp, RSS) of the second half of a host's answered rows (sorted by time) that carry
/// an RSS; `None` when none does.
fn second_half_rss(answered: &[&Parsed]) -> Option<Vec<(f64, f64)>> {
    let with_rss: Vec<&Parsed> = answered
        .iter()
        .copied()
        .filter(|p| p.process_rss_mb.is_some())
        .collect();
    if with_rss.is_empty() {
        return None;
    }
    let half = &with_rss[second_half_start(&with_rss)..];
    Some(
        half.iter()
            .filter_map(|p| Some((p.record.timestamp, p.process_rss_mb?)))
            .collect(),
    )
}

/// The fitted RSS line over the second half of one host's rows (sorted by time), as its two
/// end points (timestamp, MB), for the chart; `None` with fewer than two samples.
pub fn rss_fit_line(rows: &[&Parsed]) -> Option<[(f64, f64); 2]> {
    let answered: Vec<&Parsed> = rows
        .iter()
        .copied()
        .filter(|p| p.record.answered())
        .collect();
    let points = second_half_rss(&answered)?;
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let k = slope(&points);
    let at = |x: f64| (x, mean_y + k * (x - mean_x));
    Some([at(points[0].0), at(points[points.len() - 1].0)])
}

/// The RSS slope over the second half of a host's answered rows (sorted by time).
fn memory_drift(answered: &[&Parsed]) -> Option<Drift> {
    let points = second_half_rss(answered)?;
    let window = match (points.first(), points.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => 0.0,
    };
    let per_second = slope(&points);
    let per_minute = per_second * 60.0;
    let rise = per_second * window;
    let (verdict, line) = if points.len() < DRIFT_MIN_SAMPLES {
        (
            DriftVerdict::Inconclusive,
            format!(
                "inconclusive: {} RSS samples in the second half, {DRIFT_MIN_SAMPLES} needed",
                points.len()
            ),
        )
    } else if per_minute <= DRIFT_THRESHOLD_MB_PER_MIN {
        (
            DriftVerdict::NoDrift,
            format!("no drift: {per_minute:+.2} MB/min"),
        )
    } else if rise < DRIFT_MIN_RISE_MB {
        (
            DriftVerdict::Inconclusive,
            format!(
                "inconclusive: {per_minute:+.2} MB/min, but a rise of only {rise:.2} MB over \
                 {window:.0} s (run longer)"
            ),
        )
    } else {
        (
            DriftVerdict::Drift,
            format!("drift: {per_minute:+.2} MB/min"),
        )
    };
    Some(Drift {
        verdict,
        line,
        slope_mb_per_min: round_to(per_minute, 3),
        rise_mb: round_to(rise, 2),
        window_seconds: round_to(window, 3),
        samples: points.len(),
        threshold_mb_per_min: DRIFT_THRESHOLD_MB_PER_MIN,
    })
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
            ..Parsed::default()
        }
    }

    fn counters(t: f64, hits: f64, misses: f64, rss: f64) -> Parsed {
        Parsed {
            cache_hits: Some(hits),
            cache_misses: Some(misses),
            cache_reads: Some(hits + misses),
            process_rss_mb: Some(rss),
            record: Record {
                cache_hit_rate: Some(vitals_core::math::hit_rate(hits as u64, misses as u64)),
                ..row(t, 200, Some(10.0), Some(1.0)).record
            },
            ..Parsed::default()
        }
    }

    #[test]
    fn steady_hit_rate_comes_from_the_counter_deltas_of_the_second_half() {
        // Warm-up: 10 % hits for 50 s, then 80 % for 50 s. The since-start rate lags.
        let mut rows = Vec::new();
        let (mut h, mut m) = (0.0, 0.0);
        for t in 0..=20 {
            rows.push(counters(f64::from(t) * 5.0, h, m, 10.0));
            if t < 10 {
                (h, m) = (h + 1.0, m + 9.0);
            } else {
                (h, m) = (h + 8.0, m + 2.0);
            }
        }
        let s = &summarise(&rows)[0];
        assert_eq!(s.cache_hit_rate_steady, Some(80.0));
        assert_eq!(s.cache_hit_rate_steady_method, STEADY_FROM_COUNTERS);
        assert!(s.cache_hit_rate.expect("since start").avg < 50.0);
        let hit = s
            .targets
            .iter()
            .find(|t| t.name == "Cache hit rate")
            .expect("target");
        assert_eq!((hit.value, hit.pass), (Some(80.0), Some(true)));

        let refs: Vec<&Parsed> = rows.iter().collect();
        let rates = interval_hit_rates(&refs);
        assert_eq!(rates[0], None);
        assert_eq!(rates[1], Some(10.0));
        assert_eq!(rates[20], Some(80.0));
    }

    #[test]
    fn a_counter_reset_is_left_out() {
        let rows = [
            counters(0.0, 100.0, 100.0, 10.0),
            counters(5.0, 190.0, 110.0, 10.0),
            counters(10.0, 3.0, 1.0, 10.0),
            counters(15.0, 12.0, 2.0, 10.0),
        ];
        let refs: Vec<&Parsed> = rows.iter().collect();
        assert_eq!(
            interval_hit_rates(&refs),
            [None, Some(90.0), None, Some(90.0)]
        );
    }

    #[test]
    fn rss_slope_and_verdicts() {
        assert_eq!(slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]), 2.0);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 3.0)]), 0.0);
        let run = |mb_per_min: f64, secs: u32| {
            let rows: Vec<Parsed> = (0..=secs / 5)
                .map(|i| {
                    let t = f64::from(i * 5);
                    counters(
                        t,
                        0.0,
                        0.0,
                        10.0 + (t * mb_per_min / 60.0 * 10.0).round() / 10.0,
                    )
                })
                .collect();
            summarise(&rows)[0].memory_drift.clone().expect("drift")
        };
        let leak = run(3.1, 300);
        assert_eq!(leak.verdict, DriftVerdict::Drift);
        assert!((leak.slope_mb_per_min - 3.1).abs() < 0.05, "{leak:?}");
        assert!(leak.line.starts_with("drift: +3.1"), "{}", leak.line);
        let flat = run(0.0, 300);
        assert_eq!(flat.verdict, DriftVerdict::NoDrift);
        assert_eq!(flat.line, "no drift: +0.00 MB/min");
        // The chart's fit line runs over the second half only, along the data.
        let rows: Vec<Parsed> = (0..=10)
            .map(|i| counters(f64::from(i), 0.0, 0.0, 5.0 + f64::from(i)))
            .collect();
        let refs: Vec<&Parsed> = rows.iter().collect();
        assert_eq!(rss_fit_line(&refs), Some([(5.0, 10.0), (10.0, 15.0)]));
        // A steep-looking slope of a tiny rise in a short run cannot be told from noise.
        let short = run(3.0, 20);
        assert_eq!(short.verdict, DriftVerdict::Inconclusive, "{short:?}");
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
