//! CloudWatch Embedded Metric Format lines (`--emf-output`): valid against the published EMF
//! schema (tests/fixtures/emf-schema.json, checked by Python's `jsonschema`), values equal to
//! the snapshot's, write failures counted.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use common::*;
use http::{Request, StatusCode};
use vitals_server::{Settings, app};

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[tokio::test]
async fn lines_validate_against_the_emf_schema_and_carry_the_snapshot_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("emf.log");
    let settings = Settings {
        emf_output: Some(out.display().to_string()),
        emf_namespace: "HealthAgentTest".to_owned(),
        export_interval_ms: 100,
        // One system reading for the whole test, so CPU and memory hold still.
        sample_interval_ms: 60_000,
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    for i in 0..2 {
        let body = serde_json::json!({"user_id": "emf-user", "message": format!("hi {i}")});
        let answer = send(
            &app,
            Request::post("/api/v1/chat")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // Wait (bounded) for two lines written after the requests.
    let written = lines(&out).len();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines(&out).len() < written + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let docs = lines(&out);
    assert!(docs.len() >= written + 2, "{} lines", docs.len());
    let snapshot = get(&app, "/api/v1/metrics").await.json;
    let last = docs.last().expect("a line");
    assert_eq!(
        last["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "HealthAgentTest"
    );
    assert_eq!(last["CPUUtilization"], snapshot["system"]["cpu_percent"]);
    assert_eq!(last["MemoryUsage"], snapshot["system"]["memory_mb"]);
    assert_eq!(
        last["DatabasePoolUtilization"],
        snapshot["database"]["pool_utilization_percent"]
    );
    assert_eq!(last["CacheHitRate"], snapshot["cache"]["hit_rate_percent"]);
    let requests: f64 = docs.iter().filter_map(|d| d["Requests"].as_f64()).sum();
    assert_eq!(requests, 2.0, "per-interval counts add up to the two chats");
    let units: Vec<(String, String)> = last["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| {
            (
                m["Name"].as_str().unwrap_or("").to_owned(),
                m["Unit"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (name, unit) in [
        ("CPUUtilization", "Percent"),
        ("MemoryUsage", "Megabytes"),
        ("DatabasePoolUtilization", "Percent"),
        ("CacheHitRate", "Percent"),
    ] {
        assert!(
            units.contains(&(name.to_owned(), unit.to_owned())),
            "{units:?}"
        );
    }

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let run = Command::new("python3")
        .arg(fixtures.join("validate_emf.py"))
        .arg(fixtures.join("emf-schema.json"))
        .arg(&out)
        .output()
        .expect("python3 runs (with the jsonschema package, installed by .ci/setup)");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(report.contains(", 0 problems"), "{report}");

    // The validator itself rejects a line that breaks the schema (an unknown unit).
    let broken = dir.path().join("broken.log");
    let mut bad = last.clone();
    bad["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Furlongs".into();
    std::fs::write(&broken, format!("{bad}\n")).expect("write");
    let run = Command::new("python3")
        .arg(fixtures.join("validate_emf.py"))
        .arg(fixtures.join("emf-schema.json"))
        .arg(&broken)
        .output()
        .expect("python3 runs");
    assert!(!run.status.success(), "an invalid line fails validation");
}

#[tokio::test]
async fn failed_writes_are_counted_and_requests_still_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        // Every write to /dev/full fails with "no space left on device".
        emf_output: Some("/dev/full".to_owned()),
        export_interval_ms: 100,
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let deadline = Instant::now() + Duration::from_secs(10);
    let errors = loop {
        let (_, _, body) = send_raw(
            &app,
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        let text = String::from_utf8_lossy(&body).into_owned();
        let n = text
            .lines()
            .find(|l| l.starts_with("health_agent_export_errors_total{exporter=\"emf\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if n >= 2 || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(errors >= 2, "export errors counted: {errors}");
    assert_eq!(get(&app, "/health").await.status, StatusCode::OK);
}

#[test]
fn export_settings_resolve_and_bad_ones_name_the_flag() {
    use clap::Parser;
    let parse = |flags: &[&str]| {
        let args = vitals_server::Args::try_parse_from(
            std::iter::once("vitals-server").chain(flags.iter().copied()),
        )
        .expect("flags parse");
        Settings::resolve(args)
    };
    let s = parse(&[]).expect("defaults");
    assert_eq!(
        (
            s.export_interval_ms,
            s.emf_output.as_deref(),
            s.emf_namespace.as_str()
        ),
        (10_000, None, "HealthAgent")
    );
    let s = parse(&["--emf-output", "stdout", "--export-interval-ms", "500"]).expect("valid");
    assert_eq!(
        (s.emf_output.as_deref(), s.export_interval_ms),
        (Some("stdout"), 500)
    );
    let e = parse(&["--export-interval-ms", "5"]).expect_err("too short");
    assert!(e.to_string().contains("--export-interval-ms"), "{e}");
    let e = parse(&["--emf-namespace", " "]).expect_err("blank");
    assert!(e.to_string().contains("--emf-namespace"), "{e}");
}
