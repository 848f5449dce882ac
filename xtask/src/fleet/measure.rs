//! The per-instance figures docs/fleet.md builds its costing on, measured on the running fleet
//! once the load is over (every route it used has its series by then):
//!
//! - series and bytes of one `/metrics` answer, and its round trip (median of 50);
//! - what Prometheus reports per scrape (`scrape_samples_scraped`, `scrape_duration_seconds`);
//! - Prometheus' own counters: head series, samples appended and remote-write bytes per
//!   second, WAL bytes per sample;
//! - VictoriaMetrics' rows and its data folder per row.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::engines::INTERVAL_SECONDS;
use super::promql;
use crate::load::server::get;

/// The figures, as `(what, value, how it was measured)` rows.
pub struct Figures {
    /// One row per figure.
    pub rows: Vec<(String, String, String)>,
}

/// Samples in an exposition (lines that are not comments).
fn samples(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// Sum of a counter in a Prometheus-format text (`name` or `name{…}` lines).
fn counter(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => folder_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Measures everything; `instance` is one running instance, `run_dir` holds the engines' data.
pub async fn take(
    instance: SocketAddr,
    instances: usize,
    prometheus: SocketAddr,
    victoria: SocketAddr,
    run_dir: &Path,
) -> Result<Figures> {
    let mut rows = Vec::new();
    let mut row = |what: &str, value: String, how: &str| {
        rows.push((what.to_owned(), value, how.to_owned()));
    };

    let mut times = Vec::new();
    let mut body = String::new();
    for _ in 0..50 {
        let started = Instant::now();
        let (_, text) = get(instance, "/metrics").await?;
        times.push(started.elapsed());
        body = text;
    }
    times.sort();
    let series = samples(&body);
    row(
        "series per instance (`/metrics` samples)",
        series.to_string(),
        "sample lines of one instance's `/metrics` after the fleet's load: the default \
         catalogue with every route and status the load used, histogram buckets included",
    );
    row(
        "`/metrics` bytes",
        body.len().to_string(),
        "one answer, uncompressed",
    );
    row(
        "`/metrics` round trip (median of 50)",
        format!("{:.2} ms", times[times.len() / 2].as_secs_f64() * 1e3),
        "GET over one new connection each, render included",
    );

    let avg = |q: &str| {
        let q = q.to_owned();
        async move {
            promql::scalar(prometheus, &q, None)
                .await
                .ok()
                .flatten()
                .map(|v| v / instances as f64)
        }
    };
    if let Some(v) = avg("sum(scrape_samples_scraped{job=\"vitals\"})").await {
        row(
            "samples per scrape (Prometheus)",
            format!("{v:.0}"),
            "`scrape_samples_scraped`, mean over the instances",
        );
    }
    if let Some(v) = avg("sum(avg_over_time(scrape_duration_seconds{job=\"vitals\"}[1m]))").await {
        row(
            "scrape duration (Prometheus)",
            format!("{:.2} ms", v * 1e3),
            "`scrape_duration_seconds`, mean over the last minute and the instances",
        );
    }

    let (_, own) = get(prometheus, "/metrics").await?;
    let first = (
        counter(&own, "prometheus_tsdb_head_samples_appended_total"),
        counter(&own, "prometheus_remote_storage_bytes_total"),
        counter(&own, "prometheus_remote_storage_samples_total"),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (_, own) = get(prometheus, "/metrics").await?;
    let seconds = first.3.elapsed().as_secs_f64();
    let appended = counter(&own, "prometheus_tsdb_head_samples_appended_total");
    let sent_bytes = counter(&own, "prometheus_remote_storage_bytes_total");
    let sent_samples = counter(&own, "prometheus_remote_storage_samples_total");
    let per_instance_s = (appended - first.0) / seconds / instances as f64;
    row(
        "samples appended per instance per second (Prometheus)",
        format!("{per_instance_s:.1}"),
        &format!(
            "`prometheus_tsdb_head_samples_appended_total` over 10 s, scraping every \
             {INTERVAL_SECONDS} s: the samples of one scrape, the 5 series Prometheus adds per \
             target and the alert rules' own series"
        ),
    );
    row(
        "head series (Prometheus, whole fleet)",
        format!("{:.0}", counter(&own, "prometheus_tsdb_head_series")),
        "`prometheus_tsdb_head_series`: every series the run made, stopped instances included",
    );
    if sent_samples > first.2 {
        let per_sample = (sent_bytes - first.1) / (sent_samples - first.2);
        row(
            "remote-write bytes per sample (Prometheus → VictoriaMetrics)",
            format!("{per_sample:.2}"),
            "`prometheus_remote_storage_bytes_total` / `_samples_total` over 10 s \
             (protobuf + snappy, as sent)",
        );
        row(
            "remote-write bytes per instance per second (Prometheus → VictoriaMetrics)",
            format!("{:.0}", (sent_bytes - first.1) / seconds / instances as f64),
            &format!("the same, divided by the instances, at one scrape per {INTERVAL_SECONDS} s"),
        );
    }
    let wal = folder_bytes(&run_dir.join("prometheus/wal"));
    if appended > 0.0 {
        row(
            "WAL bytes per sample (Prometheus)",
            format!("{:.2}", wal as f64 / appended),
            "size of the write-ahead log / samples appended since start (before compaction \
             into blocks, which takes hours)",
        );
    }

    let (_, vm) = get(victoria, "/metrics").await?;
    let rows_in = counter(&vm, "vm_rows_inserted_total");
    let vm_bytes = folder_bytes(&run_dir.join("victoria-metrics"));
    if rows_in > 0.0 {
        row(
            "data folder bytes per row (VictoriaMetrics)",
            format!("{:.2}", vm_bytes as f64 / rows_in),
            "size of `-storageDataPath` / `vm_rows_inserted_total`: freshly written parts, \
             not yet merged, so an upper bound",
        );
    }
    if let Ok(Some(active)) = promql::scalar(
        victoria,
        "count({job=\"vitals\", __name__=~\"health_agent_.+|process_.+\"})",
        None,
    )
    .await
    {
        row(
            "series per instance (VictoriaMetrics)",
            format!("{:.0}", active / instances as f64),
            "`count()` of the instances' series in VictoriaMetrics / instances",
        );
    }
    Ok(Figures { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_samples_and_sums_counters() {
        let text = "# HELP a x\n# TYPE a counter\na_total{x=\"1\"} 2\na_total{x=\"2\"} 3\n\
                    a_total_other 9\nb 1\n";
        assert_eq!(samples(text), 4);
        assert_eq!(counter(text, "a_total"), 5.0);
    }
}
