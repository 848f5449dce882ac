//! CloudWatch Embedded Metric Format (EMF): one JSON line per interval that the CloudWatch
//! agent, ECS (awslogs / FireLens) or Lambda turn into CloudWatch metrics, with no AWS SDK.
//!
//! Each line carries `CPUUtilization` (Percent), `MemoryUsage` (Megabytes),
//! `DatabasePoolUtilization` (Percent) and `CacheHitRate` (Percent, since start) straight from
//! the snapshot, plus request figures for the interval: `Requests`, `ServerErrors`,
//! `SlowRequests` (Count, since the previous line) and `LatencyP95` (Milliseconds, over the
//! last minute), under one dimension `ServiceName`.
//!
//! ```
//! use vitals_axum::{Vitals, export::emf::{EmfOutput, EmfSettings}};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let vitals = Vitals::builder().build().unwrap();
//! let settings = EmfSettings::new(EmfOutput::File(dir.path().join("emf.log")));
//! let exporter = vitals.start_emf(settings)?; // a line now, then one per interval
//! drop(exporter); // stops it
//! let text = std::fs::read_to_string(dir.path().join("emf.log"))?;
//! assert!(text.starts_with("{\"_aws\""));
//! # Ok(()) }
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use vitals_core::{HttpSection, Snapshot};

use crate::Vitals;

/// Where the lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmfOutput {
    /// The process' standard output (what ECS and Lambda collect).
    Stdout,
    /// A file, appended to (what the CloudWatch agent tails).
    File(PathBuf),
}

impl std::str::FromStr for EmfOutput {
    type Err = std::convert::Infallible;

    /// `stdout`, or a file path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s == "stdout" {
            Self::Stdout
        } else {
            Self::File(PathBuf::from(s))
        })
    }
}

/// Settings of the EMF exporter.
#[derive(Clone, Debug)]
pub struct EmfSettings {
    /// Where lines go.
    pub output: EmfOutput,
    /// CloudWatch namespace (default `HealthAgent`).
    pub namespace: String,
    /// Value of the `ServiceName` dimension (default `health-agent`).
    pub service: String,
    /// Time between lines (default 10 s).
    pub interval: Duration,
}

impl EmfSettings {
    /// Defaults for `output`.
    pub fn new(output: EmfOutput) -> Self {
        Self {
            output,
            namespace: "HealthAgent".to_owned(),
            service: "health-agent".to_owned(),
            interval: Duration::from_secs(10),
        }
    }
}

/// The running exporter: a thread of its own (a slow disk never stalls the runtime). Dropping
/// it stops the thread after at most the line being written.
#[derive(Debug)]
pub struct EmfExporter {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EmfExporter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Metric names and units of a line, in order.
pub const METRICS: &[(&str, &str)] = &[
    ("CPUUtilization", "Percent"),
    ("MemoryUsage", "Megabytes"),
    ("DatabasePoolUtilization", "Percent"),
    ("CacheHitRate", "Percent"),
    ("Requests", "Count"),
    ("ServerErrors", "Count"),
    ("SlowRequests", "Count"),
    ("LatencyP95", "Milliseconds"),
];

/// One EMF document for `snapshot`; request counts are the difference from `previous` (the
/// figures of the line before; `None` for the first line, which counts since start).
pub fn document(
    snapshot: &Snapshot,
    previous: Option<&HttpSection>,
    settings: &EmfSettings,
    timestamp_ms: u64,
) -> Value {
    let http = snapshot.http.clone().unwrap_or_default();
    let before = previous.cloned().unwrap_or_default();
    let values = [
        snapshot.system.cpu_percent,
        snapshot.system.memory_mb,
        snapshot.database.pool_utilization_percent,
        snapshot.cache.hit_rate_percent,
        http.requests_total.saturating_sub(before.requests_total) as f64,
        http.server_errors_total
            .saturating_sub(before.server_errors_total) as f64,
        http.slow_requests_total
            .saturating_sub(before.slow_requests_total) as f64,
        http.latency_p95_ms,
    ];
    let mut root = Map::new();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": settings.namespace,
                "Dimensions": [["ServiceName"]],
                "Metrics": METRICS
                    .iter()
                    .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert("ServiceName".to_owned(), json!(settings.service));
    for ((name, _), value) in METRICS.iter().zip(values) {
        let value = if value.is_finite() { value } else { 0.0 };
        root.insert((*name).to_owned(), json!(value));
    }
    Value::Object(root)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Vitals {
    /// Starts writing EMF lines: one now, then one every `settings.interval`. A file that
    /// cannot be opened is an error now; a write that fails later is counted in
    /// `<ns>_export_errors_total{exporter="emf"}` and logged once per interval at most.
    pub fn start_emf(&self, settings: EmfSettings) -> std::io::Result<EmfExporter> {
        let mut out: Box<dyn Write + Send> = match &settings.output {
            EmfOutput::Stdout => Box::new(std::io::stdout()),
            EmfOutput::File(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let errors = self.export_errors("emf");
        let vitals = self.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vitals-emf".to_owned())
            .spawn(move || {
                let mut previous: Option<HttpSection> = None;
                loop {
                    let snapshot = vitals.snapshot();
                    let mut line = document(&snapshot, previous.as_ref(), &settings, now_ms())
                        .to_string();
                    line.push('\n');
                    if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                        errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "EMF line not written; will retry next interval");
                    }
                    previous = snapshot.http;
                    match stopped.recv_timeout(settings.interval) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(EmfExporter {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_the_snapshot_and_counts_are_per_interval() {
        let mut s = Snapshot::now();
        s.system.cpu_percent = 12.5;
        s.system.memory_mb = 2048.4;
        s.database.pool_utilization_percent = 40.0;
        s.cache.hit_rate_percent = 75.25;
        s.http = Some(HttpSection {
            requests_total: 10,
            server_errors_total: 2,
            slow_requests_total: 1,
            latency_p95_ms: 3.5,
            ..HttpSection::default()
        });
        let before = HttpSection {
            requests_total: 4,
            ..HttpSection::default()
        };
        let settings = EmfSettings::new(EmfOutput::Stdout);
        let doc = document(&s, Some(&before), &settings, 1_700_000_000_000);
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "HealthAgent"
        );
        assert_eq!(doc["CPUUtilization"], 12.5);
        assert_eq!(doc["MemoryUsage"], 2048.4);
        assert_eq!(doc["DatabasePoolUtilization"], 40.0);
        assert_eq!(doc["CacheHitRate"], 75.25);
        assert_eq!(doc["Requests"], 6.0);
        assert_eq!(doc["ServerErrors"], 2.0);
        assert_eq!(doc["LatencyP95"], 3.5);
        assert_eq!("stdout".parse(), Ok(EmfOutput::Stdout));
    }
}
