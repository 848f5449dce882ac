//! The dashboard in a real headless Chromium (over chromedriver), against the real
//! `vitals-server` binary on loopback: no console errors, every chart drawn, a figure equal to
//! the JSON of the same moment, a rule that fires shown firing, and the token prompt.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them it skips with a message,
//! except in CI (`CI=true`), where it fails.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Server, http_request, server_command};
use serde_json::Value;
use vitals_testkit::browser::{self, Browser};

fn chromium() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    match browser::installed() {
        Some(found) => Some(found),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "chromium and chromium-driver are required in CI (apt-get install -y chromium chromium-driver)"
            )
        }
        None => {
            eprintln!(
                "SKIPPED: the browser test needs chromium and chromedriver (apt-get install -y chromium chromium-driver)"
            );
            None
        }
    }
}

fn start_server(dir: &tempfile::TempDir, extra: &[&str]) -> Server {
    let mut cmd = server_command();
    cmd.arg("--data-dir").arg(dir.path());
    cmd.args(["--pool-min", "1", "--pool-max", "4"]);
    cmd.args(extra);
    Server::start(cmd)
}

/// Requests in the background (reads, a 404, a bad chat request) until dropped; bounded.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(addr: std::net::SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for i in 0..2000u32 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let path = match i % 4 {
                    0 => "/api/v1/users/browser-user/history",
                    1 => "/health",
                    2 => "/no/such/page",
                    _ => "/api/v1/users/browser-user/history",
                };
                http_request(addr, "GET", path, &[]);
                std::thread::sleep(Duration::from_millis(40));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Console entries that are errors, leaving out the ones `allowed` accepts.
fn errors(entries: &[Value], allowed: impl Fn(&str) -> bool) -> Vec<Value> {
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .filter(|e| !allowed(e["message"].as_str().unwrap_or("")))
        .cloned()
        .collect()
}

const ALL_CHARTS_DRAWN: &str = "const cards = [...document.querySelectorAll('section.card')];
    return cards.length >= 15 && cards.every(c => !c.hidden && Number(c.querySelector('canvas').dataset.points) > 0);";

const OBJECTIVES: &str = r#"
[[slo]]
name = "history-instant"
route = "/api/v1/users/{user_id}/history"
method = "GET"
kind = "latency"
target_percent = 99.9
threshold_ms = 0.1

[[slo]]
name = "users-available"
route = "/api/v1/users/*"
kind = "availability"
target_percent = 99.0
"#;

/// The objectives' panel: each objective with its promise, its burn as in the JSON, and the
/// fast-burn state of the alert board.
fn objectives_on_the_page(b: &Browser, server: &Server) {
    b.wait_for(
        "the burning objective shown firing, the other ok",
        "const row = n => document.querySelector(`#slos tr[data-slo=\"${n}\"]`);
         return !!row('history-instant') && row('history-instant').dataset.state === 'firing'
             && !!row('users-available') && row('users-available').dataset.state === 'ok'
             && !document.getElementById('slo-section').hidden;",
        Duration::from_secs(15),
    )
    .expect("objectives panel");
    let shown = b
        .eval(
            "return [...document.querySelectorAll('#slos tr')].map(r => [r.dataset.slo, r.cells[2].textContent, Number(r.cells[5].dataset.value), r.cells[5].className]);",
        )
        .expect("rows");
    let rows = shown.as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{shown}");
    assert_eq!(rows[0][1], "99.9 % within 0.1 ms", "{shown}");
    assert_eq!(rows[1][1], "99 % not 5xx", "{shown}");
    // The 1 h burn shown is one the JSON reports: every read is over 0.1 ms, so the whole
    // budget burns a thousand times too fast (1 / 0.001) in both.
    let json = http_request(server.addr, "GET", "/api/v1/metrics", &[]).json();
    let slo = |name: &str| {
        json["slos"]
            .as_array()
            .and_then(|l| l.iter().find(|o| o["name"] == name))
            .cloned()
            .expect("objective in the JSON")
    };
    assert_eq!(slo("history-instant")["burn_rate_1h"], 1000.0, "{json}");
    assert_eq!(rows[0][2], 1000.0, "{shown}");
    assert!(
        rows[0][3].as_str().is_some_and(|c| c.contains("hot")),
        "{shown}"
    );
    assert_eq!(slo("users-available")["burn_rate_1h"], 0.0);
    assert_eq!(rows[1][2], 0.0, "{shown}");
    b.wait_for(
        "the objective's alert in the alerts table",
        "const r = document.querySelector('#alerts tr[data-alert=\"SLOFastBurn\"][data-slo=\"history-instant\"]'); return !!r && r.dataset.state === 'firing';",
        Duration::from_secs(5),
    )
    .expect("SLOFastBurn listed");
}

/// The routes table: the routes of the JSON's `http.routes`, sortable by any column, and the
/// slowest requests' ids under the latency chart.
fn routes_on_the_page(b: &Browser, server: &Server) {
    let expected = ["GET /api/v1/users/{user_id}/history", "GET unmatched"];
    let json = http_request(server.addr, "GET", "/api/v1/metrics", &[]).json();
    let mut listed: Vec<String> = json["http"]["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or(""),
                r["route"].as_str().unwrap_or("")
            )
        })
        .collect();
    listed.sort();
    assert_eq!(listed, expected, "Vitals' own /health is left out");
    b.wait_for(
        "both routes in the table",
        "return document.querySelectorAll('#routes tr').length === 2;",
        Duration::from_secs(5),
    )
    .expect("routes table");
    let mut shown: Vec<String> = b
        .eval("return [...document.querySelectorAll('#routes tr')].map(r => r.dataset.route);")
        .expect("rows")
        .as_array()
        .expect("rows")
        .iter()
        .map(|v| v.as_str().unwrap_or("").to_owned())
        .collect();
    shown.sort();
    assert_eq!(shown, expected);
    // Sorted by p99, slowest first, then the other way round, by clicks on the heading.
    let column =
        "return [document.querySelector('th[data-sort=\"p99_ms\"]').getAttribute('aria-sort'),
        [...document.querySelectorAll('#routes tr')].map(r => Number(r.cells[6].dataset.value))];";
    for order in ["descending", "ascending"] {
        b.click("th[data-sort=\"p99_ms\"]")
            .expect("click the p99 heading");
        let got = b.eval(column).expect("sorted");
        assert_eq!(got[0], order, "{got}");
        let values: Vec<f64> = got[1]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect();
        let sorted = values.windows(2).all(|w| {
            if order == "descending" {
                w[0] >= w[1]
            } else {
                w[0] <= w[1]
            }
        });
        assert!(sorted, "{order}: {values:?}");
    }
    // The slowest requests carry ids (the traffic's sequential request ids), as in the table.
    b.wait_for(
        "slowest requests listed with their ids",
        "const ids = [...document.querySelectorAll('#slowest li')].map(li => li.dataset.id);
         return ids.length > 0 && ids.every(id => /^[0-9]+$/.test(id))
             && !!document.querySelector('#routes td[data-id]');",
        Duration::from_secs(5),
    )
    .expect("slowest list");
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let Some((chromium, driver)) = chromium() else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    // Objectives: one no history read can keep (answers within 0.1 ms), so its budget burns
    // and its fast-burn alert fires; one that holds.
    let config = dir.path().join("vitals.toml");
    std::fs::write(&config, OBJECTIVES).expect("write config");
    let config = config.to_str().expect("utf-8 path");
    // Slow threshold 0: every request is slow, so SlowRequests fires.
    let server = start_server(&dir, &["--slow-request-ms", "0", "--config", config]);
    let traffic = Traffic::start(server.addr);
    let b = Browser::start(&chromium, &driver, 1280, 1600).expect("browser starts");
    b.goto(&format!("http://{}/dashboard", server.addr))
        .expect("page opens");

    // Every chart gets points after a few seconds of traffic.
    b.wait_for("every chart drawn", ALL_CHARTS_DRAWN, Duration::from_secs(15))
        .unwrap_or_else(|e| {
            let state = b.eval("return [...document.querySelectorAll('section.card')].map(c => c.id + ':' + c.hidden + ':' + c.querySelector('canvas').dataset.points)");
            panic!("{e}: {state:?}")
        });

    // A figure on the page equals the JSON snapshot of the same moment (within one interval):
    // the page's CPU figure is one the JSON endpoint served during the last interval.
    let mut matched = false;
    for _ in 0..5 {
        let mut seen = Vec::new();
        let until = Instant::now() + Duration::from_millis(1200);
        while Instant::now() < until {
            let json = http_request(server.addr, "GET", "/api/v1/metrics", &[]).json();
            seen.push(json["system"]["cpu_percent"].as_f64().expect("cpu_percent"));
            std::thread::sleep(Duration::from_millis(50));
        }
        let shown = b
            .eval("const f = document.getElementById('fig-cpu_percent'); return [f.dataset.value, f.textContent];")
            .expect("figure");
        let value: f64 = shown[0]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a number");
        let text = shown[1].as_str().unwrap_or("");
        assert!(text.ends_with(" %"), "CPU shown with its unit: {text:?}");
        if seen.contains(&value) {
            matched = true;
            break;
        }
    }
    assert!(
        matched,
        "the page's CPU figure never matched the JSON endpoint's"
    );

    // The rule forced to fire shows firing on the page, and the same in JSON.
    b.wait_for(
        "SlowRequests firing on the page",
        "const r = document.querySelector('tr[data-alert=\"SlowRequests\"]'); return !!r && r.dataset.state === 'firing';",
        Duration::from_secs(5),
    )
    .expect("SlowRequests shown firing");
    let alerts = http_request(server.addr, "GET", "/api/v1/alerts", &[]).json();
    let slow = alerts["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "SlowRequests"))
        .cloned()
        .expect("listed");
    assert_eq!(slow["state"], "firing", "{alerts}");

    objectives_on_the_page(&b, &server);
    routes_on_the_page(&b, &server);

    let console = b.console().expect("console log");
    let bad = errors(&console, |_| false);
    assert!(bad.is_empty(), "console errors: {bad:?}");
    drop(traffic);
    drop(b);
    drop(server);

    // With a token: the page asks once, refuses a wrong one with a message, keeps the right
    // one for the session and sends it as a header.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start_server(&dir, &["--metrics-token", "tok-123"]);
    let traffic = Traffic::start(server.addr);
    let b = Browser::start(&chromium, &driver, 1280, 1600).expect("browser starts");
    b.goto(&format!("http://{}/dashboard", server.addr))
        .expect("page opens");
    b.wait_for(
        "token prompt",
        "return !document.getElementById('login').hidden && document.getElementById('main').hidden;",
        Duration::from_secs(10),
    )
    .expect("prompt shown");
    b.type_into("#token-input", "wrong").expect("type");
    b.click("#login button").expect("submit");
    b.wait_for(
        "wrong token refused with a message",
        "return document.getElementById('token-error').textContent.includes('refused') && document.getElementById('main').hidden;",
        Duration::from_secs(10),
    )
    .expect("error shown");
    b.type_into("#token-input", "tok-123").expect("type");
    b.click("#login button").expect("submit");
    b.wait_for(
        "charts with the token",
        ALL_CHARTS_DRAWN,
        Duration::from_secs(15),
    )
    .expect("dashboard shown");
    let stored = b
        .eval("return sessionStorage.getItem('vitals-metrics-token');")
        .expect("storage");
    assert_eq!(stored, "tok-123");
    // A reload does not ask again.
    b.goto(&format!("http://{}/dashboard", server.addr))
        .expect("reload");
    b.wait_for(
        "no prompt after reload",
        ALL_CHARTS_DRAWN,
        Duration::from_secs(15),
    )
    .expect("dashboard without a prompt");
    assert_eq!(
        b.eval("return document.getElementById('login').hidden;")
            .expect("eval"),
        true
    );
    // The refused requests show as 401 network entries; nothing else may be an error.
    let console = b.console().expect("console log");
    // The two refusals (wrong token, then no token at first) are logged: the log is read.
    assert!(
        errors(&console, |_| false).len() >= 2,
        "the refused requests appear in the console: {console:?}"
    );
    let bad = errors(&console, |m| m.contains("401"));
    assert!(bad.is_empty(), "console errors: {bad:?}");
    drop(traffic);
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "the browser test took {:?}",
        started.elapsed()
    );
}
