//! Exemplars and objectives end to end: the real `vitals-server` binary, scraped by a real
//! Prometheus (Debian's package, `--enable-feature=exemplar-storage`) over OpenMetrics.
//! Prometheus stores the ids of requests this test made as exemplars, the slow-request log
//! lines carry the same ids, the generated SLO rules load and record, and Prometheus fires the
//! same fast-burn alert the server's own JSON and alert board report.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, http_request, http_request_with_body, server_command};
use serde_json::Value;

/// A Prometheus of the test's own: its port, its data folder, its process.
struct Prometheus {
    addr: SocketAddr,
    child: Child,
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr, rules: &Path) -> Self {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: vitals\n    static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let addr: SocketAddr = format!("127.0.0.1:{}", common::free_port())
            .parse()
            .expect("address");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=exemplar-storage")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (.ci/setup installs Debian's prometheus package)");
        let p = Self { addr, child };
        wait_until("Prometheus ready", Duration::from_secs(30), || {
            std::net::TcpStream::connect(p.addr).is_ok()
                && http_request(p.addr, "GET", "/-/ready", &[]).status == 200
        });
        // Prometheus hands targets to its scrapers a few seconds after the start.
        wait_until("the first scrape", Duration::from_secs(30), || {
            p.api("targets", &[])["activeTargets"][0]["health"] == "up"
        });
        p
    }

    /// `GET /api/v1/<path>?<query>`'s `data`.
    fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let answer = http_request(
            self.addr,
            "GET",
            &format!("/api/v1/{path}?{}", query.join("&")),
            &[],
        );
        let doc = answer.json();
        assert_eq!(doc["status"], "success", "{path}: {doc}");
        doc["data"].clone()
    }

    /// The value of each series an instant query returns, by the value of `label`.
    fn query(&self, promql: &str, label: &str) -> Vec<(String, f64)> {
        self.api("query", &[("query", promql)])["result"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| {
                        let key = s["metric"][label].as_str().unwrap_or("").to_owned();
                        let v = s["value"][1].as_str().and_then(|v| v.parse().ok());
                        (key, v.unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < until, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Objectives this test can drive: chats take 120 ms (the agent's think time), over the
/// 100 ms of their latency objective, so it burns its whole budget; history reads succeed.
const OBJECTIVES: &str = r#"
[[slo]]
name = "chat-latency"
route = "/api/v1/chat"
method = "POST"
kind = "latency"
target_percent = 99.0
threshold_ms = 100

[[slo]]
name = "history-availability"
route = "/api/v1/users/*"
kind = "availability"
target_percent = 99.0
"#;

fn chat(server: &Server, headers: &[(&str, &str)], n: u32) {
    let answer = http_request_with_body(
        server.addr,
        "POST",
        "/api/v1/chat",
        &[headers, &[("Content-Type", "application/json")]].concat(),
        &format!("{{\"user_id\":\"exemplar-user\",\"message\":\"hello {n}\"}}"),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn prometheus_stores_the_exemplars_and_fires_the_fast_burn_alert() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vitals.toml");
    std::fs::write(&config, OBJECTIVES).expect("write config");
    let flags = [
        "--agent-latency-ms",
        "120",
        "--slow-request-ms",
        "110",
        "--log-format",
        "json",
        "--pool-min",
        "1",
        "--pool-max",
        "4",
    ];
    // The rules Prometheus loads are the ones the server prints for its objectives.
    let rules = server_command()
        .arg("--config")
        .arg(&config)
        .arg("--print-slo-rules")
        .output()
        .expect("vitals-server runs");
    assert!(rules.status.success(), "{rules:?}");
    let rules_path = dir.path().join("slo-rules.yml");
    std::fs::write(&rules_path, &rules.stdout).expect("write rules");

    let mut cmd = server_command();
    cmd.arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path());
    cmd.args(flags);
    let server = Server::start(cmd);
    let prometheus = Prometheus::start(dir.path(), server.addr, &rules_path);
    let from = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();

    // Chats with a W3C traceparent, then chats and history reads with an X-Request-ID only,
    // with scrapes in between so each kind is the newest of its bucket at some scrape.
    let mut traces = BTreeSet::new();
    for n in 0..4u32 {
        let trace = format!("{:032x}", 0x5107_0000_0000_0000_u128 + u128::from(n) * 7919);
        let parent = format!("00-{trace}-00f067aa0ba902b7-01");
        chat(&server, &[("traceparent", &parent)], n);
        traces.insert(trace);
    }
    std::thread::sleep(Duration::from_millis(2500));
    let mut request_ids = BTreeSet::new();
    for n in 0..4u32 {
        let chat_id = format!("chat-req-{n}");
        chat(&server, &[("X-Request-ID", &chat_id)], n);
        request_ids.insert(chat_id);
        let read_id = format!("history-req-{n}");
        let answer = http_request(
            server.addr,
            "GET",
            "/api/v1/users/exemplar-user/history",
            &[("X-Request-ID", &read_id)],
        );
        assert_eq!(answer.status, 200);
        request_ids.insert(read_id);
    }

    // Prometheus keeps the exemplars it scraped: every one is a request of this test, and both
    // kinds of id are among them.
    let mut stored = BTreeSet::new();
    wait_until(
        "exemplars of both kinds stored",
        Duration::from_secs(20),
        || {
            let now = (from + 600).to_string();
            let data = prometheus.api(
                "query_exemplars",
                &[
                    ("query", "health_agent_http_request_duration_seconds_bucket"),
                    ("start", &from.saturating_sub(60).to_string()),
                    ("end", &now),
                ],
            );
            stored = data
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
                .collect();
            stored.iter().any(|id| traces.contains(id))
                && stored.iter().any(|id| id.starts_with("chat-req-"))
                && stored.iter().any(|id| id.starts_with("history-req-"))
        },
    );
    for id in &stored {
        assert!(
            traces.contains(id) || request_ids.contains(id),
            "Prometheus stored {id:?}, which is no request of this test: {stored:?}"
        );
    }
    // The scrape went through Prometheus' OpenMetrics parser without an error.
    let targets = prometheus.api("targets", &[]);
    let target = &targets["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");

    // The slow-request log lines carry the ids Prometheus stored for the (slow) chats.
    let logs: Vec<Value> = server
        .output()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("SLOW REQUEST: POST /api/v1/chat took"))
        })
        .collect();
    assert_eq!(logs.len(), 8, "every chat is slow: {logs:?}");
    for id in stored.iter().filter(|id| !id.starts_with("history-req-")) {
        let field = if traces.contains(id) {
            "trace_id"
        } else {
            "request_id"
        };
        assert!(
            logs.iter().any(|l| l[field] == id.as_str()),
            "no slow-request line with {field}={id}: {logs:?}"
        );
    }

    // Both expositions: OpenMetrics with exemplars when asked, text 0.0.4 without.
    let om = server.request(
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    );
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"));
    assert!(
        om.body
            .contains("# TYPE health_agent_http_requests counter\n")
    );
    assert!(
        om.body
            .lines()
            .any(|l| l.contains("_bucket{") && l.contains("# {trace_id=\"history-req-")),
        "{}",
        om.body
    );
    let text = server.request("GET", "/metrics", &[]);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!text.body.contains("trace_id") && !text.body.contains("# EOF"));

    // The generated rules record on real series and the fast-burn alert fires for the
    // objective that burns, as on the server's own board; the other stays quiet.
    // History reads go on meanwhile: a window without answers has no ratio (0/0).
    let mut ratios = Vec::new();
    wait_until(
        "SLOFastBurn firing and both ratios recorded",
        Duration::from_secs(20),
        || {
            let read = http_request(
                server.addr,
                "GET",
                "/api/v1/users/exemplar-user/history",
                &[],
            );
            assert_eq!(read.status, 200);
            ratios = prometheus.query("slo:sli_error:ratio_rate5m", "slo");
            let fired = prometheus
                .query(
                    "ALERTS{alertname=\"SLOFastBurn\",alertstate=\"firing\"}",
                    "slo",
                )
                .iter()
                .any(|(slo, _)| slo == "chat-latency");
            fired && ratios.iter().filter(|(_, v)| v.is_finite()).count() == 2
        },
    );
    let firing = prometheus.query("ALERTS{alertname=\"SLOFastBurn\"}", "slo");
    assert_eq!(firing.len(), 1, "only chat-latency: {firing:?}");
    let ratio = |slo: &str| {
        ratios
            .iter()
            .find(|(s, _)| s == slo)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no ratio for {slo}: {ratios:?}"))
    };
    assert_eq!(ratio("chat-latency"), 1.0, "every chat is over 100 ms");
    assert_eq!(ratio("history-availability"), 0.0);
    let snapshot = server.request("GET", "/api/v1/metrics", &[]).json();
    let slos = snapshot["slos"].as_array().expect("slos section");
    assert_eq!(slos[0]["name"], "chat-latency");
    assert_eq!(
        (slos[0]["good"].as_u64(), slos[0]["total"].as_u64()),
        (Some(0), Some(8))
    );
    assert_eq!(
        slos[0]["burn_rate_5m"], 100.0,
        "all bad against a 1 % budget"
    );
    assert_eq!(slos[0]["burning"], serde_json::json!(["5m", "1h"]));
    assert_eq!(slos[1]["burn_rate_1h"], 0.0);
    assert!(slos[1]["total"].as_u64() > Some(4), "{}", slos[1]);
    assert_eq!(slos[1]["good"], slos[1]["total"]);
    let board = server.request("GET", "/api/v1/alerts", &[]).json();
    let burn = board["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["slo"] == "chat-latency"))
        .cloned()
        .expect("the objective's alert on the board");
    assert_eq!(
        (burn["name"].as_str(), burn["state"].as_str()),
        (Some("SLOFastBurn"), Some("firing"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
