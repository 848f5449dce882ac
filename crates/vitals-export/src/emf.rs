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
//! use vitals_engine::Engine;
//! use vitals_export::emf::{EmfExporter, EmfOutput, EmfSettings};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::builder().build().unwrap();
//! let settings = EmfSettings::new(EmfOutput::File(dir.path().join("emf.log")));
//! let exporter = EmfExporter::start(&engine, settings)?; // a line now, then one per interval
//! std::thread::sleep(std::time::Duration::from_millis(200));
//! drop(exporter); // stops it
//! let text = std::fs::read_to_string(dir.path().join("emf.log"))?;
//! assert!(text.starts_with("{\"_aws\""));
//! # Ok(()) }
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use vitals_core::{HttpSection, Snapshot};
use vitals_engine::Engine;
use vitals_engine::scheduler::Scheduled;

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
    /// CloudWatch namespace (default `Vitals`).
    pub namespace: String,
    /// Value of the `ServiceName` dimension (default
    /// [`default_service_name`](crate::default_service_name)).
    pub service: String,
    /// Time between lines (default 10 s).
    pub interval: Duration,
}

impl EmfSettings {
    /// Defaults for `output`.
    pub fn new(output: EmfOutput) -> Self {
        Self {
            output,
            namespace: "Vitals".to_owned(),
            service: crate::default_service_name(),
            interval: Duration::from_secs(10),
        }
    }
}

/// The running exporter. The engine's scheduler writes a line every interval from the
/// snapshot of that tick; a thread of its own does the writing, so a slow disk or a stdout
/// nobody reads never stalls other periodic work (a line that finds the previous ones still
/// unwritten is dropped and counted as an error). Dropping it stops both after at most the
/// line being written.
#[derive(Debug)]
pub struct EmfExporter {
    scheduled: Option<Scheduled>,
    lines: Option<mpsc::SyncSender<String>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EmfExporter {
    fn drop(&mut self) {
        drop(self.scheduled.take());
        drop(self.lines.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Metric names and units a line can carry, in order (a metric whose section the snapshot
/// lacks — no pool, say — is left out of the line).
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
pub(crate) fn document(
    snapshot: &Snapshot,
    previous: Option<&HttpSection>,
    settings: &EmfSettings,
    timestamp_ms: u64,
) -> Value {
    let before = previous.cloned().unwrap_or_default();
    let http = snapshot.http.as_ref();
    let since = |now: u64, then: u64| now.saturating_sub(then) as f64;
    let values = [
        snapshot.system.as_ref().map(|s| s.cpu_percent),
        snapshot.system.as_ref().map(|s| s.memory_mb),
        snapshot
            .database
            .as_ref()
            .map(|d| d.pool_utilization_percent),
        snapshot.cache.as_ref().map(|c| c.hit_rate_percent),
        http.map(|h| since(h.requests_total, before.requests_total)),
        http.map(|h| since(h.server_errors_total, before.server_errors_total)),
        http.map(|h| since(h.slow_requests_total, before.slow_requests_total)),
        http.map(|h| h.latency_p95_ms),
    ];
    let present: Vec<(&str, &str, f64)> = METRICS
        .iter()
        .zip(values)
        .filter_map(|(&(name, unit), v)| {
            v.map(|v| (name, unit, if v.is_finite() { v } else { 0.0 }))
        })
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": settings.namespace,
                "Dimensions": [["ServiceName"]],
                "Metrics": present
                    .iter()
                    .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert("ServiceName".to_owned(), json!(settings.service));
    for (name, _, value) in present {
        root.insert(name.to_owned(), json!(value));
    }
    Value::Object(root)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Lines waiting for the writer at most.
const BACKLOG: usize = 4;

impl EmfExporter {
    /// Starts writing EMF lines for `engine`: one now, then one every `settings.interval`. A
    /// file that cannot be opened is an error now; a write that fails later is counted in
    /// `<ns>_export_errors_total{exporter="emf"}` and logged once per interval at most.
    pub fn start(engine: &Engine, settings: EmfSettings) -> std::io::Result<Self> {
        let mut out: Box<dyn Write + Send> = match &settings.output {
            EmfOutput::Stdout => Box::new(std::io::stdout()),
            EmfOutput::File(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let errors = engine.export_errors("emf");
        let (lines, pending) = mpsc::sync_channel::<String>(BACKLOG);
        let thread = {
            let errors = Arc::clone(&errors);
            std::thread::Builder::new()
                .name("vitals-emf".to_owned())
                .spawn(move || {
                    for line in pending {
                        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                            errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(error = %e, "EMF line not written; will retry next interval");
                        }
                    }
                })?
        };
        let scheduled = {
            let lines = lines.clone();
            let mut previous: Option<HttpSection> = None;
            engine.every_from_now(settings.interval, move |tick| {
                let Some(snapshot) = tick.snapshot() else {
                    return;
                };
                let mut line =
                    document(&snapshot, previous.as_ref(), &settings, unix_ms(tick.at)).to_string();
                line.push('\n');
                if lines.try_send(line).is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("EMF line dropped: the previous lines are still being written");
                }
                previous.clone_from(&snapshot.http);
            })?
        };
        Ok(Self {
            scheduled: Some(scheduled),
            lines: Some(lines),
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
        let system = s.system.get_or_insert_default();
        system.cpu_percent = 12.5;
        system.memory_mb = 2048.4;
        s.database.get_or_insert_default().pool_utilization_percent = 40.0;
        s.cache.get_or_insert_default().hit_rate_percent = 75.25;
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
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Vitals");
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
