//! The real `vitals` binary against a real vitals-server on loopback.

mod common;

use std::time::Duration;

use common::{
    AppServer, CONTRACT_COLUMNS, CONTRACT_EXTRA_COLUMNS, TestServer, closed_port, full_snapshot,
    read_csv, run, silent_server, stderr, stdout, vitals,
};

#[test]
fn snapshot_summary_json_and_field() {
    let server = TestServer::start();
    let url = server.url();

    let out = run(vitals().args(["snapshot", "--host", &url, "--format", "text"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "Vitals snapshot of",
        "System",
        "CPU",
        "Database",
        "pool",
        "Cache",
    ] {
        assert!(text.contains(needle), "`{needle}` missing in:\n{text}");
    }

    // Piped output defaults to JSON.
    let out = run(vitals().args(["snapshot", "--host", &url]));
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON output");
    assert!(doc["system"]["cpu_percent"].is_number(), "{doc}");
    assert!(doc["database"]["pool_size"].is_number(), "{doc}");
    let explicit = run(vitals().args(["snapshot", "--host", &url, "--format", "json"]));
    assert!(explicit.status.success());

    let out = run(vitals().args([
        "snapshot",
        "--host",
        &url,
        "--field",
        "database.pool_max_size",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "3");

    let out = run(vitals().args(["snapshot", "--host", &url, "--field", "database.pool_actve"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pool_active"), "{}", stderr(&out));
}

/// Before: the summary showed the cache's figures only; a Redis refusing the server's
/// password looked like any other outage.
#[test]
fn snapshot_repeats_what_readiness_says_about_the_cache() {
    let redis = vitals_testkit::OwnRedis::start_with(
        vitals_testkit::free_port(),
        &["--requirepass", "right-pw"],
    );
    let server = TestServer::start_settings(vitals_server::Settings {
        redis_url: Some(format!("redis://:wrong-pw@127.0.0.1:{}", redis.port)),
        ..vitals_server::Settings::default()
    });
    let out = run(vitals().args(["snapshot", "--host", &server.url(), "--format", "text"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.contains("warning:")
            && l.contains("cache degraded")
            && l.contains("authentication failed")),
        "{text}"
    );
    assert!(!text.contains("wrong-pw"), "{text}");
}

#[test]
fn snapshot_of_a_closed_port_fails_with_a_hint() {
    let out = run(vitals().args(["snapshot", "--host", &closed_port()]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("connection refused"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn token_is_sent_as_bearer() {
    let server = TestServer::start_with(Some("s3cret"));
    let url = server.url();
    let out = run(vitals().args(["snapshot", "--host", &url]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--token"), "{}", stderr(&out));

    let out = run(vitals().args(["snapshot", "--host", &url, "--token", "s3cret"]));
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(vitals()
        .args(["snapshot", "--host", &url, "--field", "cache.enabled"])
        .env("VITALS_METRICS_TOKEN", "s3cret"));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn monitor_writes_the_contract_csv() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("metrics.csv");
    let out = run(vitals()
        .args([
            "monitor",
            "--host",
            &server.url(),
            "--interval",
            "0.3",
            "--count",
            "3",
            "--output",
        ])
        .arg(&csv));
    assert!(out.status.success(), "{}", stderr(&out));

    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0]
            == "Time       | CPU%   | Mem%   | Mem(MB)  | API(ms) | DB Pool  | Redis Hit% | Status",
        "{table}"
    );
    assert_eq!(lines.len(), 2 + 3, "header, rule, three rows:\n{table}");
    assert!(lines[2..].iter().all(|l| l.ends_with("✓ 200")), "{table}");
    assert!(stderr(&out).contains("3 polls"), "{}", stderr(&out));

    let (header, rows) = read_csv(&csv);
    assert_eq!(header[..11], CONTRACT_COLUMNS);
    assert_eq!(header[11..14], CONTRACT_EXTRA_COLUMNS);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert_eq!(row[1], server.url());
        assert_eq!(row[2], "200");
        for (i, name) in CONTRACT_COLUMNS
            .iter()
            .chain(&CONTRACT_EXTRA_COLUMNS)
            .enumerate()
        {
            if *name != "host" {
                row[i]
                    .parse::<f64>()
                    .unwrap_or_else(|e| panic!("{name} = {:?}: {e}", row[i]));
            }
        }
        let size: f64 = row[8].parse().expect("pool size");
        assert!((1.0..=3.0).contains(&size), "pool size {size}");
        let rss: f64 = row[12].parse().expect("process_rss_mb");
        assert!(
            rss > 1.0,
            "the server process has some resident memory: {rss}"
        );
    }
    // The file analyses cleanly.
    let out = run(vitals().arg("analyze").arg(&csv));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// One host answers, one refuses connections and one accepts but never answers: every host
/// still gets a row at every tick, on schedule.
#[test]
fn monitor_keeps_its_schedule_when_hosts_are_down_or_slow() {
    let server = TestServer::start();
    let down = closed_port();
    let (_silent, slow) = silent_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("m.csv");
    let interval = 0.5;
    let out = run(vitals()
        .args([
            "monitor",
            "--host",
            &server.url(),
            "--host",
            &down,
            "--host",
            &slow,
        ])
        .args(["--interval", "0.5", "--count", "4", "--output"])
        .arg(&csv));
    assert!(out.status.success(), "{}", stderr(&out));

    let (_, rows) = read_csv(&csv);
    assert_eq!(rows.len(), 12, "3 hosts × 4 ticks: {rows:?}");
    for (host, status) in [
        (server.url(), "200"),
        (down.clone(), "0"),
        (slow.clone(), "0"),
    ] {
        let times: Vec<f64> = rows
            .iter()
            .filter(|r| r[1] == host)
            .inspect(|r| assert_eq!(r[2], status, "{host}: {r:?}"))
            .map(|r| r[0].parse().expect("timestamp"))
            .collect();
        assert_eq!(times.len(), 4, "{host}");
        // Each poll is due at start + k × interval: check against the first poll, so drift
        // would show, with room for thread start-up on a busy machine.
        for (k, t) in times.iter().enumerate() {
            let late = t - times[0] - k as f64 * interval;
            assert!(
                late.abs() < 0.2,
                "{host}: poll {k} is {late:.3}s off schedule: {times:?}"
            );
        }
    }
    // Hosts of one tick are polled together, not one after another.
    let first: Vec<f64> = rows[..3]
        .iter()
        .map(|r| r[0].parse().expect("timestamp"))
        .collect();
    let spread = first.iter().cloned().fold(f64::MIN, f64::max)
        - first.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread < 0.1, "tick 0 spread {spread:.3}s");
    let table = stdout(&out);
    assert!(
        table.contains("Host"),
        "several hosts get a Host column:\n{table}"
    );
    assert!(table.contains("connection refused"), "{table}");
    assert!(table.contains("timed out"), "{table}");
}

#[test]
fn alerts_ok_on_an_idle_server() {
    let server = TestServer::start();
    let out = run(vitals().args(["alerts", "--host", &server.url(), "--format", "json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    let firing: Vec<&str> = report["firing"]
        .as_array()
        .expect("firing list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    // The machine is shared: CPU or memory rules may legitimately fire under outside load.
    // Nothing about the idle server itself (pool, cache, counters) may.
    let outside_load = [
        "HighCPUUsage",
        "CriticalCPUUsage",
        "HighMemoryUsage",
        "CriticalMemoryUsage",
    ];
    assert!(
        firing.iter().all(|n| outside_load.contains(n)),
        "{report:#}"
    );
    if firing.is_empty() {
        assert_eq!(out.status.code(), Some(0), "{report:#}");
        assert_eq!(report["status"], "OK");
    } else {
        eprintln!("machine under load, firing: {firing:?}");
        assert!(matches!(out.status.code(), Some(1 | 2)), "{report:#}");
    }
    let rules = report["rules"].as_array().expect("rules");
    // Every rule, then the fast-burn alert of each of the server's two default objectives.
    assert_eq!(rules.len(), vitals_core::alerts::RULES.len() + 2);
    for burn in &rules[vitals_core::alerts::RULES.len()..] {
        assert_eq!(burn["name"], "SLOFastBurn", "{report:#}");
        assert_eq!(burn["state"], "inactive", "an idle server burns no budget");
    }
    let slow = rules
        .iter()
        .find(|r| r["name"] == "SlowRequests")
        .expect("SlowRequests");
    assert_eq!(slow["state"], "not_evaluable");

    let text = run(vitals().args(["alerts", "--host", &server.url()]));
    assert!(
        stdout(&text).contains("LowCacheHitRate"),
        "{}",
        stdout(&text)
    );
}

/// vitals-server registers the Tokio runtime collector, so RuntimeSaturated is evaluated on its
/// `runtime` section: a busy ratio read from the server, not "n/a".
#[test]
fn alerts_evaluate_runtime_saturated_on_a_server_with_a_runtime_section() {
    let server = TestServer::start();
    let snapshot = run(vitals().args(["snapshot", "--host", &server.url(), "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&snapshot)).expect("JSON");
    assert!(
        doc["runtime"]["busy_ratio"].is_number(),
        "the server reports its runtime: {doc:#}"
    );

    let out = run(vitals().args(["alerts", "--host", &server.url(), "--format", "json"]));
    assert!(matches!(out.status.code(), Some(0..=2)), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    let rule = report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == "RuntimeSaturated")
        .expect("RuntimeSaturated is among the rules")
        .clone();
    assert_eq!(rule["severity"], "warning", "{rule:#}");
    assert_eq!(rule["condition"], "runtime.busy_ratio > 0.9", "{rule:#}");
    assert_eq!(rule["for_seconds"], 300, "{rule:#}");
    let busy = rule["value"].as_f64().expect("a busy ratio was read");
    assert!((0.0..=1.0).contains(&busy), "{rule:#}");
    // An idle server's two workers are far from saturated; a one-shot check fires at once
    // when the ratio is above 0.9, so firing here would be a wrong reading.
    assert_eq!(rule["state"], "inactive", "{rule:#}");

    let text = stdout(&run(vitals().args(["alerts", "--host", &server.url()])));
    let line = text
        .lines()
        .find(|l| l.contains("RuntimeSaturated"))
        .unwrap_or_else(|| panic!("no RuntimeSaturated line:\n{text}"));
    assert!(line.trim_start().starts_with("ok "), "{text}");
    assert!(line.contains("runtime.busy_ratio > 0.9 for 5m"), "{text}");
    assert!(!text.contains("not evaluable on this server"), "{text}");
}

/// Tasks that block the server's workers (1 ms blocking sleeps, yielding in between, as a
/// handler calling a synchronous client would): the one-shot check reads a busy ratio above 0.9
/// and fires RuntimeSaturated at once (WARNING, or CRITICAL if the shared machine's CPU is
/// too). The load stops after 15 s at the latest.
#[test]
fn alerts_fire_runtime_saturated_on_a_saturated_server() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    let server = TestServer::start();
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(15);
    for _ in 0..4 {
        let stop = Arc::clone(&stop);
        server.runtime.spawn(async move {
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
                tokio::task::yield_now().await;
            }
        });
    }
    // A few of the server's 200 ms sampling intervals under load, then up to five checks.
    std::thread::sleep(Duration::from_millis(800));
    let mut seen = Vec::new();
    let mut fired = None;
    for _ in 0..5 {
        let out = run(vitals().args(["alerts", "--host", &server.url(), "--format", "json"]));
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
        let rule = report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["name"] == "RuntimeSaturated")
            .expect("RuntimeSaturated")
            .clone();
        seen.push(rule["value"].clone());
        if rule["state"] == "firing" {
            fired = Some((out.status.code(), report, rule));
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    let (code, report, rule) =
        fired.unwrap_or_else(|| panic!("RuntimeSaturated never fired; busy ratios read: {seen:?}"));
    assert!(rule["value"].as_f64().is_some_and(|v| v > 0.9), "{rule:#}");
    assert!(matches!(code, Some(1 | 2)), "{report:#}");
    assert!(
        report["firing"]
            .as_array()
            .is_some_and(|f| f.iter().any(|n| n == "RuntimeSaturated")),
        "{report:#}"
    );
}

/// A server without a `runtime` section (one from before the runtime collector, or an app that
/// registers none) is not UNKNOWN: RuntimeSaturated alone is n/a and the other rules run.
#[test]
fn alerts_on_a_server_without_a_runtime_section() {
    let server = AppServer::answering(full_snapshot());
    let out = run(vitals().args(["alerts", "--host", &server.url(), "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(report["status"], "OK", "{report:#}");
    let state = |name: &str| {
        report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["state"].clone())
    };
    assert_eq!(state("RuntimeSaturated"), Some("not_evaluable".into()));
    assert_eq!(state("HighCPUUsage"), Some("inactive".into()));
    assert_eq!(state("DatabasePoolHigh"), Some("inactive".into()));

    let out = run(vitals().args(["alerts", "--host", &server.url()]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("RuntimeSaturated"))
        .unwrap_or_else(|| panic!("no RuntimeSaturated line:\n{text}"));
    assert!(line.trim_start().starts_with("n/a "), "{text}");
    assert!(
        text.contains("RuntimeSaturated (no `runtime` section)"),
        "the report says why:\n{text}"
    );
}

/// Nothing answers: InstanceDown holds. A one-shot check fires it at once (CRITICAL, exit 2)
/// and still says why; watching, the rule pends for its minute and the poll is UNKNOWN (exit
/// 3), since no figure was read.
#[test]
fn alerts_on_a_closed_port_fire_instance_down() {
    let out = run(vitals().args(["alerts", "--host", &closed_port()]));
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("CRITICAL - InstanceDown firing on http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("cannot reach"), "{text}");

    let out = run(vitals().args(["alerts", "--host", &closed_port(), "--format", "json"]));
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(report["status"], "CRITICAL");
    assert_eq!(report["firing"], serde_json::json!(["InstanceDown"]));
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach")),
        "{report:#}"
    );

    let out = run(vitals().args([
        "alerts",
        "--host",
        &closed_port(),
        "--watch",
        "--interval",
        "0.2",
        "--count",
        "2",
        "--format",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    for line in stdout(&out).lines() {
        let poll: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert_eq!(poll["status"], "UNKNOWN", "{poll:#}");
        let down = poll["rules"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "InstanceDown"))
            .expect("InstanceDown is reported");
        assert_eq!(down["state"], "pending", "{poll:#}");
        assert_eq!(down["value"], 0.0);
    }
}

#[test]
fn alerts_watch_polls_on_schedule() {
    let server = TestServer::start();
    let started = std::time::Instant::now();
    let out = run(vitals().args([
        "alerts",
        "--host",
        &server.url(),
        "--watch",
        "--interval",
        "0.3",
        "--count",
        "3",
        "--format",
        "json",
    ]));
    assert!(matches!(out.status.code(), Some(0..=2)), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["mode"] == "watch"));
    // Counter rules become evaluable from the second poll on.
    let cache_errors = |l: &serde_json::Value| {
        l["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["name"] == "CacheErrors")
            .map(|r| r["state"].clone())
    };
    assert_eq!(cache_errors(&lines[0]), Some("not_evaluable".into()));
    assert_eq!(cache_errors(&lines[1]), Some("inactive".into()));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Ctrl-C ends an open-ended run cleanly: rows so far are in the CSV, a summary is printed.
#[cfg(unix)]
#[test]
fn monitor_stops_cleanly_on_ctrl_c() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("m.csv");
    let mut child = vitals()
        .args([
            "monitor",
            "--host",
            &server.url(),
            "--interval",
            "0.2",
            "--output",
        ])
        .arg(&csv)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("monitor starts");
    std::thread::sleep(Duration::from_millis(1100));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "monitor ignored SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "{:?} {}", out.status, stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("vitals monitor stopped:"), "{err}");
    let (header, rows) = read_csv(&csv);
    assert_eq!(header[..11], CONTRACT_COLUMNS);
    assert!(rows.len() >= 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.len() == header.len() && r[2] == "200"),
        "{rows:?}"
    );
    assert!(
        err.contains(&format!("{} polls", rows.len())),
        "{err} vs {} rows",
        rows.len()
    );
}
