//! Remote write (`--remote-write-url`) from the real binary into the real engines, each
//! started by the test on a port and a data folder of its own:
//!
//! - Prometheus (Debian's `prometheus`, `--web.enable-remote-write-receiver`) and
//!   VictoriaMetrics (Debian's `victoria-metrics`, `/api/v1/write`): once the load stopped,
//!   PromQL (`/api/v1/query`) reads back every series `/metrics` shows, with the same
//!   value, under the `job` and `instance` labels the server adds;
//! - Prometheus stopped: each failed push is counted in
//!   `health_agent_export_errors_total{exporter="remote_write"}`, `/health` stays fast, one
//!   WARN per interval at most; Prometheus back on the same port: pushes resume, one INFO;
//! - both engines refuse a gzip body (they read every body as snappy), which is why remote
//!   write stays on snappy (docs/export.md, "Remote write and gzip");
//! - a bad URL stops the start with exit code 2 before the database is touched, and its
//!   password shows nowhere.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const INTERVAL_MS: u64 = 1000;

/// A receiving engine the test started; killed when dropped.
struct Receiver {
    addr: SocketAddr,
    child: Child,
}

impl Receiver {
    /// Prometheus with its remote-write receiver, on `port`, storing in `dir`.
    fn prometheus(port: u16, dir: &Path) -> Self {
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").expect("config");
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver");
        Self::start(
            cmd,
            port,
            "/-/ready",
            "prometheus (Debian package prometheus)",
        )
    }

    /// VictoriaMetrics single node on `port`, storing in `dir`, answering queries with the
    /// newest samples at once (no latency offset, no cache).
    fn victoria_metrics(port: u16, dir: &Path) -> Self {
        let mut cmd = Command::new("victoria-metrics");
        cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", dir.display()))
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache");
        Self::start(
            cmd,
            port,
            "/health",
            "victoria-metrics (Debian package victoria-metrics)",
        )
    }

    fn start(mut cmd: Command, port: u16, ready: &str, what: &str) -> Self {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} (run .ci/setup): {e}"));
        let receiver = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        };
        wait_until(
            &format!("{what} to be ready"),
            Duration::from_secs(30),
            || matches!(receiver.call("GET", ready, &[], &[]), Some((200, _))),
        );
        receiver
    }

    /// One HTTP/1.0 exchange (so the answer is never chunked); `None` when it cannot
    /// connect.
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).ok()?;
        stream.write_all(body).ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        let raw = String::from_utf8_lossy(&raw);
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    /// The series of an instant PromQL query, as the JSON API gives them.
    fn results(&self, promql: &str) -> Vec<serde_json::Value> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = self.call("GET", &path, &[], &[]).expect("query answered");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        json["data"]["result"].as_array().expect("a vector").clone()
    }

    /// The `instance` labels of an instant query's series.
    fn instances(&self, promql: &str) -> Vec<String> {
        self.results(promql)
            .iter()
            .filter_map(|s| s["metric"]["instance"].as_str().map(str::to_owned))
            .collect()
    }

    /// The result of an instant PromQL query, as samples (`job` and `instance` left out of
    /// the labels, the rest sorted).
    fn query(&self, promql: &str) -> Samples {
        let mut out = Samples::new();
        for series in &self.results(promql) {
            let mut name = String::new();
            let mut labels = Vec::new();
            for (k, v) in series["metric"].as_object().expect("labels") {
                let v = v.as_str().expect("a label value").to_owned();
                match k.as_str() {
                    "__name__" => name = v,
                    "job" | "instance" => {}
                    _ => labels.push((k.clone(), v)),
                }
            }
            labels.sort();
            let value = series["value"][1].as_str().expect("a value");
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                v => v.parse().expect("a number"),
            };
            out.insert((name, labels), value);
        }
        out
    }

    /// The same (empty) `WriteRequest` once in snappy, once in gzip: the first taken, the
    /// second refused.
    fn refuses_gzip(&self) -> String {
        let headers = |encoding| {
            [
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", encoding),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ]
        };
        // An empty message is zero bytes; snappy's block format writes it as one byte (its
        // length, 0).
        let snappy = snap::raw::Encoder::new().compress_vec(&[]).expect("snappy");
        let (status, body) = self
            .call("POST", "/api/v1/write", &headers("snappy"), &snappy)
            .expect("an answer");
        assert!(
            (200..300).contains(&status),
            "snappy refused: {status} {body}"
        );
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&[]).expect("gzip");
        let gzip = gzip.finish().expect("gzip");
        let (status, body) = self
            .call("POST", "/api/v1/write", &headers("gzip"), &gzip)
            .expect("an answer");
        assert_eq!(status, 400, "gzip was taken: {body}");
        body.trim().to_owned()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn errors(server: &Server) -> u64 {
    server
        .request("GET", "/metrics", &[])
        .body
        .lines()
        .find_map(|l| {
            l.strip_prefix("health_agent_export_errors_total{exporter=\"remote_write\"} ")
        })
        .map_or(0, |v| v.parse().expect("a count"))
}

/// Starts the server pushing to `url` every second; a few routes, statuses and methods of
/// load; then waits for the engine to hold exactly what `/metrics` shows (the request
/// reading `/metrics` is in flight while it renders, so that gauge is left out).
fn server_with_load(dir: &tempfile::TempDir, url: &str, extra: &[&str]) -> Server {
    let mut cmd = server_command();
    cmd.args(["--data-dir", dir.path().to_str().expect("utf-8")])
        .args(["--export-interval-ms", &INTERVAL_MS.to_string()])
        // One system and runtime reading for the whole test, so those gauges hold still.
        .args(["--sample-interval-ms", "600000"])
        .args(extra)
        .env("VITALS_REMOTE_WRITE_URL", url)
        .env("VITALS_LOG", "info,vitals_export=debug");
    let server = Server::start(cmd);
    for path in [
        "/health",
        "/api/v1/metrics",
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
    server
}

/// `/metrics` as the engine should hold it: labels with an empty value are no labels there.
fn exposition(server: &Server) -> Samples {
    parse_exposition(&server.request("GET", "/metrics", &[]).body)
        .into_iter()
        .filter(|((name, _), _)| name != "health_agent_http_requests_in_flight")
        .map(|((name, mut labels), v)| {
            labels.retain(|(_, v)| !v.is_empty());
            ((name, labels), v)
        })
        .collect()
}

/// Polls `promql` until it reads back `/metrics` (values still: the load stopped), each
/// value equal within `relative` (0: exactly); gives how many samples matched.
fn reads_back_metrics(receiver: &Receiver, promql: &str, server: &Server, relative: f64) -> usize {
    let equal = |a: f64, b: f64| {
        a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= relative * a.abs().max(b.abs())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let expected = exposition(server);
        let mut stored = receiver.query(promql);
        stored.remove(&("health_agent_http_requests_in_flight".to_owned(), vec![]));
        let same = expected.len() == stored.len()
            && expected
                .iter()
                .all(|(k, v)| stored.get(k).is_some_and(|s| equal(*s, *v)));
        if same {
            return expected.len();
        }
        if Instant::now() > deadline {
            let differ: Vec<String> = expected
                .iter()
                .filter(|(k, v)| stored.get(*k).is_none_or(|s| !equal(*s, **v)))
                .take(20)
                .map(|(k, v)| format!("{k:?}: /metrics {v}, engine {:?}", stored.get(k)))
                .collect();
            let extra: Vec<&(String, Vec<(String, String)>)> = stored
                .keys()
                .filter(|k| !expected.contains_key(*k))
                .take(20)
                .collect();
            panic!(
                "{promql} never read back /metrics ({} vs {} samples); differing: {differ:#?}; only in the engine: {extra:#?}",
                stored.len(),
                expected.len()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The sizes of the last payload the server logged: `(bytes, uncompressed bytes)`.
fn payload_sizes(server: &Server) -> (u64, u64) {
    let line = server
        .output()
        .into_iter()
        .rev()
        .find(|l| l.contains("payload encoded") && l.contains("remote_write"))
        .expect("a DEBUG line per payload");
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    (field("bytes"), field("uncompressed_bytes"))
}

/// `/health` round trips while the receiver is away stay well below the push timeout (nine
/// tenths of the interval), which a request waiting on a push would reach.
fn health_stays_fast(server: &Server, for_how_long: Duration) {
    let until = Instant::now() + for_how_long;
    while Instant::now() < until {
        let started = Instant::now();
        assert_eq!(server.request("GET", "/health", &[]).status, 200);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(INTERVAL_MS * 9 / 10 / 2),
            "/health took {took:?} while the receiver was away"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn prometheus_reads_back_metrics_and_pushes_survive_its_restart() {
    let store = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let prometheus = Receiver::prometheus(port, store.path());
    let refusal = prometheus.refuses_gzip();
    assert!(refusal.contains("snappy"), "{refusal}");

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("http://vitals:s3cret@127.0.0.1:{port}/api/v1/write");
    let server = server_with_load(&dir, &url, &["--remote-write-instance", "test-1"]);
    let matched = reads_back_metrics(
        &prometheus,
        "{job=\"health-agent\",instance=\"test-1\"}",
        &server,
        0.0,
    );
    assert!(matched > 100, "only {matched} samples");
    let (bytes, uncompressed) = payload_sizes(&server);
    assert!(bytes < uncompressed, "{bytes} of {uncompressed}");
    eprintln!(
        "remote write of the reference server: {matched} series, {uncompressed} bytes of protobuf, {bytes} bytes in snappy per push"
    );
    assert_eq!(errors(&server), 0);

    // Prometheus goes away: failed pushes are counted, requests stay fast.
    drop(prometheus);
    let outage = Instant::now();
    health_stays_fast(&server, Duration::from_millis(2500));
    let failed = errors(&server);
    assert!(failed >= 2, "failed pushes counted: {failed}");

    // Back on the same port and data: pushes resume (the engine reads the error count the
    // server has now), and errors stop rising.
    let prometheus = Receiver::prometheus(port, store.path());
    let intervals = outage.elapsed().as_millis() as usize / INTERVAL_MS as usize + 1;
    let query = "health_agent_export_errors_total{exporter=\"remote_write\",instance=\"test-1\"}";
    wait_until("pushes to resume", Duration::from_secs(20), || {
        let now = errors(&server) as f64;
        prometheus
            .query(query)
            .values()
            .any(|v| *v == now && now > 0.0)
    });
    let settled = errors(&server);
    std::thread::sleep(Duration::from_millis(2 * INTERVAL_MS));
    assert_eq!(errors(&server), settled, "no failures once it is back");

    let output = server.output();
    let warnings = output
        .iter()
        .filter(|l| l.contains("remote write export failed"))
        .count();
    assert!(
        (1..=intervals + 1).contains(&warnings),
        "{warnings} warnings over {intervals} intervals"
    );
    let recovered = output
        .iter()
        .filter(|l| l.contains("remote write export recovered"))
        .count();
    assert_eq!(recovered, 1, "{output:#?}");
    assert!(
        output.iter().any(
            |l| l.contains("pushing metrics over Prometheus remote write")
                && l.contains("vitals:***@127.0.0.1")
        ),
        "{output:#?}"
    );
    assert!(
        !output.iter().any(|l| l.contains("s3cret")),
        "the password shows in the log"
    );
}

#[test]
fn victoria_metrics_reads_back_metrics() {
    let store = tempfile::tempdir().expect("temp dir");
    let victoria = Receiver::victoria_metrics(free_port(), store.path());
    let refusal = victoria.refuses_gzip();
    assert!(refusal.contains("snappy"), "{refusal}");

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("http://127.0.0.1:{}/api/v1/write", victoria.addr.port());
    let server = server_with_load(&dir, &url, &[]);
    // VictoriaMetrics keeps a value as a decimal of at most 15 or so significant digits
    // (0.0059352369999999995 reads back as 0.005935237): equal within 1e-12.
    let matched = reads_back_metrics(&victoria, "{job=\"health-agent\"}", &server, 1e-12);
    assert!(matched > 100, "only {matched} samples");
    // The default instance: HOSTNAME:PID of the server.
    let instances = victoria.instances("health_agent_export_errors_total{job=\"health-agent\"}");
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert!(
        instances[0].ends_with(&format!(":{}", server.child.id())),
        "{instances:?}"
    );
    assert_eq!(errors(&server), 0);
}

#[test]
fn bad_urls_stop_the_start_before_the_database_and_hide_the_password() {
    for (url, needle) in [
        ("vm:s3cret@127.0.0.1:8428/api/v1/write", "http://"),
        ("http://vm:s3cret@/api/v1/write", "host"),
        ("http://vm:s3cret@127.0.0.1:99999/api/v1/write", "port"),
    ] {
        refused_before_the_database("--remote-write-url", url, needle, "s3cret");
    }
    let output = server_command()
        .args([
            "--remote-write-url",
            "http://vm:s3cret@127.0.0.1:8428/api/v1/write?api_key=k3y",
        ])
        .arg("--print-config")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        text.contains(
            "remote_write_url = \"http://vm:***@127.0.0.1:8428/api/v1/write?api_key=***\""
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret") && !text.contains("k3y"), "{text}");
}
