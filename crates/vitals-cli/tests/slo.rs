//! Objectives from the command line: `vitals slo rules` writes what the server prints for the
//! same file (and promtool loads it), `vitals alerts` fires the fast burn of an objective a
//! live server reports burning, and `vitals snapshot --routes` prints the routes of the JSON.

mod common;

use std::time::Duration;

use clap::Parser;
use common::{TestServer, http_get, run, stderr, stdout, vitals};
use vitals_core::slo::Objective;
use vitals_server::{Args, Settings};

const FILE: &str = r#"
metrics_namespace = "shop"

[[slo]]
name = "checkout"
route = "/api/v1/chat"
method = "POST"
kind = "availability"
target_percent = 99.5

[[slo]]
name = "reads"
route = "/api/v1/users/*"
kind = "latency"
target_percent = 99.0
threshold_ms = 250
"#;

#[test]
fn slo_rules_are_the_servers_and_promtool_loads_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vitals.toml");
    std::fs::write(&config, FILE).expect("write config");
    let config = config.to_str().expect("utf-8 path");
    let out = run(vitals().args(["slo", "rules", "--config", config]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let server = Settings::resolve(
        Args::try_parse_from(["vitals-server", "--config", config]).expect("arguments"),
    )
    .expect("valid settings");
    assert_eq!(
        stdout(&out),
        server.slo_rules(),
        "the CLI and the server agree"
    );
    assert!(stdout(&out).contains("shop_http_requests_total{route=\"/api/v1/chat\""));

    let rules = dir.path().join("slo.yml");
    let written = run(vitals().args([
        "slo",
        "rules",
        "--config",
        config,
        "--namespace",
        "other",
        "-o",
        rules.to_str().expect("utf-8"),
    ]));
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let check = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool is installed");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("SUCCESS: 16 rules found"), "{report}");

    // A threshold off the histogram's edges is refused, naming the objective and the fix.
    std::fs::write(
        dir.path().join("bad.toml"),
        FILE.replace("threshold_ms = 250", "threshold_ms = 300"),
    )
    .expect("write");
    let bad = run(vitals().args([
        "slo",
        "rules",
        "--config",
        dir.path().join("bad.toml").to_str().expect("utf-8"),
    ]));
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("\"reads\"") && stderr(&bad).contains("not an edge"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn alerts_fire_the_fast_burn_of_an_objective_and_snapshot_lists_routes() {
    // History reads never answer within 0.1 ms: the objective burns its whole budget.
    let server = TestServer::start_settings(Settings {
        slo: vec![
            Objective::latency(
                "history-instant",
                "/api/v1/users/{user_id}/history",
                99.9,
                Duration::from_micros(100),
            ),
            Objective::availability("history-up", "/api/v1/users/*", 99.0),
        ],
        ..Settings::default()
    });
    for _ in 0..5 {
        assert_eq!(http_get(server.addr, "/api/v1/users/cli-user/history"), 200);
    }
    let out = run(vitals().args(["alerts", "--host", &server.url(), "--format", "json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(out.status.code(), Some(2), "CRITICAL: {report:#}");
    let firing = report["firing"].as_array().expect("firing");
    assert!(
        firing
            .iter()
            .any(|f| f == "SLOFastBurn{slo=\"history-instant\"}"),
        "{report:#}"
    );
    let burn = |slo: &str| {
        report["rules"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["slo"] == slo))
            .cloned()
            .expect("the objective's alert")
    };
    assert_eq!(burn("history-instant")["state"], "firing");
    assert_eq!(
        burn("history-instant")["value"],
        1000.0,
        "all bad, budget 0.1 %"
    );
    assert_eq!(burn("history-up")["state"], "inactive");
    let text = run(vitals().args(["alerts", "--host", &server.url()]));
    assert!(
        stdout(&text).starts_with("CRITICAL - ")
            && stdout(&text).contains("SLOFastBurn{slo=\"history-instant\"} firing"),
        "{}",
        stdout(&text)
    );

    let table = run(vitals().args([
        "snapshot",
        "--routes",
        "--host",
        &server.url(),
        "--format",
        "text",
    ]));
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let lines: Vec<String> = stdout(&table).lines().map(str::to_owned).collect();
    assert!(
        lines[0].starts_with("Method") && lines[0].contains("p99 ms"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("GET     /api/v1/users/{user_id}/history"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(" ms ")
            && lines[1]
                .split_whitespace()
                .last()
                .is_some_and(|id| id.parse::<u64>().is_ok()),
        "the slowest read with its request id: {lines:?}"
    );
    let json = run(vitals().args([
        "snapshot",
        "--routes",
        "--host",
        &server.url(),
        "--format",
        "json",
    ]));
    let routes: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("JSON list");
    assert_eq!(routes[0]["route"], "/api/v1/users/{user_id}/history");
    assert_eq!(
        routes.as_array().map(Vec::len),
        Some(1),
        "Vitals' own routes are left out"
    );
}
