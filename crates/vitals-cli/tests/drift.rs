//! `vitals monitor` and `vitals analyze` against a server that leaks memory on purpose.
//!
//! The server is a small axum app in this test process: its `/api/v1/metrics` reports the
//! process's real resident memory (VmRSS of /proc/self/status) and `/leak` keeps a few more
//! megabytes each call (at most 200 MB in all). An idle run must say "no drift", a run while
//! `/leak` is called ten times a second must say "drift". The whole test stays on loopback and
//! takes about ten seconds. It is the only test of this binary, so no other test's memory
//! moves the figure.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use common::{AppServer, full_snapshot, http_get, run, stderr, stdout, vitals};

/// What `/leak` keeps, never freed.
static KEPT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const CHUNK_MB: usize = 2;
const LIMIT_MB: usize = 200;

/// This process's resident memory in MB (1 decimal), as the server's `process.rss_mb`.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    (kb / 1024.0 * 10.0).round() / 10.0
}

fn app() -> axum::Router {
    axum::Router::new()
        .route(
            "/api/v1/metrics",
            get(|| async {
                let mut doc = full_snapshot();
                doc["process"] = serde_json::json!({
                    "pid": std::process::id(),
                    "cpu_percent": 0.0,
                    "rss_mb": rss_mb(),
                    "threads": 1,
                    "uptime_seconds": 1
                });
                axum::Json(doc)
            }),
        )
        .route(
            "/leak",
            get(|| async {
                let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() * CHUNK_MB >= LIMIT_MB {
                    return StatusCode::INSUFFICIENT_STORAGE;
                }
                // Filled with a non-zero byte, so every page is touched and resident.
                kept.push(vec![0xa5; CHUNK_MB << 20]);
                StatusCode::OK
            }),
        )
}

/// Records 20 polls 0.2 s apart and returns the analysis as JSON and as text.
fn record_and_analyze(url: &str, dir: &std::path::Path, name: &str) -> (serde_json::Value, String) {
    let csv = dir.join(format!("{name}.csv"));
    let out = run(vitals()
        .args([
            "monitor",
            "--host",
            url,
            "--interval",
            "0.2",
            "--count",
            "20",
            "--output",
        ])
        .arg(&csv));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(vitals().arg("analyze").arg(&csv).args(["--format", "json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    let out = run(vitals()
        .arg("analyze")
        .arg(&csv)
        .arg("--out")
        .arg(dir.join(name)));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join(name).join("process_rss.png").is_file());
    (json, stdout(&out))
}

#[test]
fn a_leaking_server_drifts_and_an_idle_one_does_not() {
    let server = AppServer::start(app);
    let dir = tempfile::tempdir().expect("temp dir");
    // Warm the server up, so its first allocations are not taken for drift.
    for _ in 0..20 {
        assert_eq!(http_get(server.addr, "/api/v1/metrics"), 200);
    }

    let (idle, text) = record_and_analyze(&server.url(), dir.path(), "idle");
    let drift = &idle["hosts"][0]["memory_drift"];
    assert_eq!(drift["verdict"], "no_drift", "{drift:#}\n{text}");
    assert!(text.contains("Memory drift   no drift: "), "{text}");

    let stop = AtomicBool::new(false);
    let (leak, text) = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                http_get(server.addr, "/leak");
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let result = record_and_analyze(&server.url(), dir.path(), "leak");
        stop.store(true, Ordering::Relaxed);
        result
    });
    let drift = &leak["hosts"][0]["memory_drift"];
    assert_eq!(drift["verdict"], "drift", "{drift:#}\n{text}");
    let slope = drift["slope_mb_per_min"].as_f64().expect("slope");
    // About 2 MB every 100 ms: hundreds of MB a minute, far above the 1 MB/min threshold.
    assert!(slope > 100.0, "{drift:#}");
    assert!(text.contains("Memory drift   drift: +"), "{text}");
    let kept = KEPT.lock().map(|k| k.len() * CHUNK_MB).unwrap_or_default();
    assert!(kept <= LIMIT_MB, "kept {kept} MB");

    if let Some(keep) = std::env::var_os("VITALS_KEEP_TEST_OUTPUT") {
        let target = std::path::PathBuf::from(keep);
        let _ = std::fs::create_dir_all(&target);
        for name in ["idle", "leak"] {
            let _ = std::fs::copy(
                dir.path().join(name).join("process_rss.png"),
                target.join(format!("{name}_process_rss.png")),
            );
            let _ = std::fs::copy(
                dir.path().join(format!("{name}.csv")),
                target.join(format!("{name}.csv")),
            );
        }
    }
}
