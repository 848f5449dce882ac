//! OTLP/HTTP from the real binary into a collector someone else wrote: `rotel-agent` (the
//! PyPI package `rotel`, a Rust OpenTelemetry collector), with its OTLP/HTTP receiver on a
//! free loopback port, a blackhole exporter and its debug log of every metric it received.
//!
//! After the load stops, the last batch rotel printed must hold every series `GET /metrics`
//! shows, with the same values: counters (`Sum`, monotonic, cumulative), gauges and histograms
//! (count, sum and every bucket), under the resource attribute `service.name`.
//!
//! `.ci/setup` installs rotel. Without it the test says so and passes, except under `CI=true`,
//! where a missing collector is a failure.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::exposition::{Samples, assert_same_samples, le, parse_exposition};
use common::*;

const INTERVAL_MS: u64 = 1000;

/// Where `rotel-agent` is: `ROTEL_AGENT`, the PATH, or inside the installed Python package
/// (pip puts the binary there, next to `rotel/agent.py`).
fn rotel_agent() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("rotel-agent"))
            .find(|p| p.is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_file()).then_some(path)
}

/// A running `rotel-agent` whose standard output (the debug log) is kept line by line.
struct Rotel {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    http_port: u16,
}

impl Rotel {
    fn start(binary: &PathBuf, dir: &std::path::Path) -> Self {
        let http_port = free_port();
        let grpc_port = free_port();
        let mut child = Command::new(binary)
            .arg("start")
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
            .args(["--exporter", "blackhole"])
            .args([
                "--debug-log",
                "metrics",
                "--debug-log-verbosity",
                "detailed",
            ])
            .arg("--pid-file")
            .arg(dir.join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.join("rotel.log"))
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    lines.lock().expect("rotel output").push(line);
                }
            });
        }
        let rotel = Self {
            child,
            lines,
            http_port,
        };
        wait_until("rotel's OTLP/HTTP port", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", http_port)).is_ok()
        });
        rotel
    }

    /// Every `ResourceMetrics` block printed so far, each as its lines.
    fn batches(&self) -> Vec<Vec<String>> {
        let lines = self.lines.lock().expect("rotel output");
        let mut out: Vec<Vec<String>> = Vec::new();
        for line in lines.iter() {
            if line.starts_with("ResourceMetrics #") {
                out.push(Vec::new());
            }
            if let Some(block) = out.last_mut() {
                block.push(line.clone());
            }
        }
        out
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The metric kinds rotel's debug log names after `DataType:`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Gauge,
    Sum,
    Histogram,
}

/// One data point being read.
#[derive(Default)]
struct Point {
    attrs: Vec<(String, String)>,
    value: Option<f64>,
    count: Option<f64>,
    sum: Option<f64>,
    bounds: Vec<f64>,
    buckets: Vec<f64>,
}

/// A rotel debug block in the exposition's terms: each data point as the samples `/metrics`
/// shows for it (histogram buckets accumulated into `le` buckets); also the kind of each
/// metric and the resource attributes.
struct Decoded {
    samples: Samples,
    kinds: Vec<(String, Kind)>,
    resource: Vec<(String, String)>,
}

fn number(text: &str) -> f64 {
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("not a number in rotel's output: {text:?} ({e})"))
}

/// `-> key: Str(value)` as `(key, value)`.
fn attribute(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix("-> ")?;
    let (key, value) = rest.split_once(": ")?;
    let value = value.strip_prefix("Str(")?.strip_suffix(')')?;
    Some((key.to_owned(), value.to_owned()))
}

fn decode(block: &[String]) -> Decoded {
    let mut decoded = Decoded {
        samples: Samples::new(),
        kinds: Vec::new(),
        resource: Vec::new(),
    };
    let mut metric: Option<(String, Kind)> = None;
    let mut point: Option<Point> = None;
    let mut in_resource = false;
    let mut in_attrs = false;
    let flush = |metric: &Option<(String, Kind)>, point: Option<Point>, out: &mut Samples| {
        let (Some((name, kind)), Some(mut p)) = (metric.as_ref(), point) else {
            return;
        };
        p.attrs.sort();
        match kind {
            Kind::Gauge | Kind::Sum => {
                let value = p
                    .value
                    .unwrap_or_else(|| panic!("{name}: a point without Value"));
                out.insert((name.clone(), p.attrs), value);
            }
            Kind::Histogram => {
                assert_eq!(p.buckets.len(), p.bounds.len() + 1, "{name}: buckets");
                let count = p.count.unwrap_or_else(|| panic!("{name}: no Count"));
                assert_eq!(p.buckets.iter().sum::<f64>(), count, "{name}: bucket total");
                let with_le = |le: String| {
                    let mut a = p.attrs.clone();
                    a.push(("le".to_owned(), le));
                    a.sort();
                    a
                };
                let mut running = 0.0;
                for (edge, n) in p.bounds.iter().zip(&p.buckets) {
                    running += n;
                    out.insert((format!("{name}_bucket"), with_le(le(*edge))), running);
                }
                out.insert(
                    (format!("{name}_bucket"), with_le("+Inf".to_owned())),
                    count,
                );
                let sum = p.sum.unwrap_or_else(|| panic!("{name}: no Sum"));
                out.insert((format!("{name}_sum"), p.attrs.clone()), sum);
                out.insert((format!("{name}_count"), p.attrs), count);
            }
        }
    };
    for line in block {
        let t = line.trim();
        if t == "Resource attributes:" {
            in_resource = true;
            continue;
        }
        if in_resource {
            match attribute(t) {
                Some(kv) => {
                    decoded.resource.push(kv);
                    continue;
                }
                None => in_resource = false,
            }
        }
        if t == "Data point attributes:" {
            in_attrs = true;
            continue;
        }
        if in_attrs {
            match attribute(t) {
                Some(kv) => {
                    if let Some(p) = point.as_mut() {
                        p.attrs.push(kv);
                    }
                    continue;
                }
                None => in_attrs = false,
            }
        }
        if t.starts_with("Metric #") {
            flush(&metric, point.take(), &mut decoded.samples);
            metric = None;
        } else if let Some(name) = t.strip_prefix("-> Name: ") {
            metric = Some((name.to_owned(), Kind::Gauge));
        } else if let Some(kind) = t.strip_prefix("-> DataType: ") {
            let kind = match kind {
                "Gauge" => Kind::Gauge,
                "Sum" => Kind::Sum,
                "Histogram" => Kind::Histogram,
                other => panic!("rotel printed a kind this test does not know: {other}"),
            };
            if let Some(m) = metric.as_mut() {
                m.1 = kind;
                decoded.kinds.push(m.clone());
            }
        } else if t.starts_with("NumberDataPoints #") || t.starts_with("HistogramDataPoints #") {
            flush(&metric, point.take(), &mut decoded.samples);
            point = Some(Point::default());
        } else if let Some(p) = point.as_mut() {
            if let Some(v) = t.strip_prefix("Value: ") {
                p.value = Some(number(v));
            } else if let Some(v) = t.strip_prefix("Count: ") {
                p.count = Some(number(v));
            } else if let Some(v) = t.strip_prefix("Sum: ") {
                p.sum = Some(number(v));
            } else if let Some(rest) = t.strip_prefix("ExplicitBounds #") {
                let (_, v) = rest.split_once(": ").expect("ExplicitBounds #i: edge");
                p.bounds.push(number(v));
            } else if let Some(rest) = t.strip_prefix("Buckets #") {
                let (_, v) = rest.split_once("Count: ").expect("Buckets #i, Count: n");
                p.buckets.push(number(v));
            }
        }
    }
    flush(&metric, point, &mut decoded.samples);
    decoded
}

#[test]
fn rotel_receives_counters_gauges_and_histograms_with_the_values_of_metrics() {
    let Some(binary) = rotel_agent() else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "rotel-agent is not installed, and CI is set: .ci/setup installs it with \
             `python3 -m pip install rotel`"
        );
        eprintln!(
            "SKIPPED: rotel-agent is not installed (python3 -m pip install rotel, or set \
             ROTEL_AGENT to its path); the OTLP push into a third-party collector was not tested"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let rotel = Rotel::start(&binary, dir.path());
    let endpoint = format!("http://127.0.0.1:{}/v1/metrics", rotel.http_port);
    let mut cmd = server_command();
    cmd.args(["--data-dir", dir.path().to_str().expect("utf-8")])
        .args(["--export-interval-ms", &INTERVAL_MS.to_string()])
        // One system and runtime reading for the whole test, so those gauges hold still.
        .args(["--sample-interval-ms", "600000"])
        .args(["--otlp-endpoint", &endpoint]);
    let server = Server::start(cmd);

    // Vitals' own endpoints are not the application's traffic: the history route and the
    // unknown page are what shows.
    for path in [
        "/health",
        "/health/ready",
        "/api/v1/users/u1/history",
        "/no/such/page",
    ] {
        for _ in 0..3 {
            server.request("GET", path, &[]);
        }
    }
    server.request(
        "POST",
        "/api/v1/chat",
        &[("content-type", "application/json")],
    );

    // The load stopped: wait for two batches printed after it, then read /metrics.
    let after_load = rotel.batches().len();
    wait_until(
        "two OTLP batches in rotel's debug log after the load",
        Duration::from_secs(15),
        || rotel.batches().len() >= after_load + 2,
    );
    let batches = rotel.batches();
    let last = decode(batches.last().expect("a batch"));
    let exposition = parse_exposition(&server.request("GET", "/metrics", &[]).body);

    assert!(
        last.resource
            .contains(&("service.name".to_owned(), "health-agent".to_owned())),
        "resource attributes: {:?}",
        last.resource
    );
    let compared = assert_same_samples(&last.samples, &exposition, "rotel");
    assert!(compared > 100, "only {compared} samples compared");

    // Each kind arrived as its kind, with a value the load made.
    let kind_of = |name: &str| {
        last.kinds
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| *k)
            .unwrap_or_else(|| panic!("{name} is not in rotel's output"))
    };
    assert_eq!(kind_of("health_agent_http_requests_total"), Kind::Sum);
    assert_eq!(kind_of("health_agent_db_pool_max_size"), Kind::Gauge);
    assert_eq!(
        kind_of("health_agent_http_request_duration_seconds"),
        Kind::Histogram
    );
    let get_history = vec![
        ("method".to_owned(), "GET".to_owned()),
        (
            "route".to_owned(),
            "/api/v1/users/{user_id}/history".to_owned(),
        ),
    ];
    let mut with_status = get_history.clone();
    with_status.push(("status".to_owned(), "200".to_owned()));
    with_status.sort();
    assert_eq!(
        last.samples[&("health_agent_http_requests_total".to_owned(), with_status)],
        3.0
    );
    assert_eq!(
        last.samples[&(
            "health_agent_http_request_duration_seconds_count".to_owned(),
            get_history
        )],
        3.0
    );
    assert!(last.samples[&("health_agent_db_pool_max_size".to_owned(), Vec::new())] >= 1.0);
}
