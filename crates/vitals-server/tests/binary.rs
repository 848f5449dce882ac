//! The real `vitals-server` binary: settings precedence, start-up errors, HTTP over loopback
//! and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Server, server_command};

fn print_config(configure: impl FnOnce(&mut std::process::Command)) -> String {
    let mut cmd = server_command();
    configure(&mut cmd);
    let out = cmd.arg("--print-config").output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("vitals.toml");
    std::fs::write(
        &file,
        "slow_request_ms = 111\npool_max = 7\nsample_interval_ms = 500\nmetrics_namespace = \"from_file\"\n",
    )
    .expect("config file");
    let text = print_config(|cmd| {
        cmd.arg("--config")
            .arg(&file)
            .env("VITALS_SLOW_REQUEST_MS", "222")
            .env("VITALS_POOL_MAX", "8")
            .env("VITALS_SAMPLE_INTERVAL_MS", "600")
            .args(["--slow-request-ms", "333"]);
    });
    assert!(
        text.contains("slow_request_ms = 333\n"),
        "flag wins: {text}"
    );
    assert!(text.contains("pool_max = 8\n"), "env beats file: {text}");
    assert!(
        text.contains("sample_interval_ms = 600\n"),
        "env beats file: {text}"
    );
    assert!(
        text.contains("metrics_namespace = \"from_file\"\n"),
        "file beats default: {text}"
    );
    assert!(
        text.contains("listen = \"127.0.0.1:8000\"\n"),
        "default: {text}"
    );
    assert!(
        !text.contains("database_url"),
        "embedded by default: {text}"
    );
}

#[test]
fn invalid_settings_stop_the_start_with_one_clear_line() {
    for (args, env, needle) in [
        (
            vec!["--pool-min", "10", "--pool-max", "2"],
            None,
            "--pool-min",
        ),
        (
            vec![],
            Some(("VITALS_SAMPLE_INTERVAL_MS", "10")),
            "--sample-interval-ms",
        ),
        (
            vec![],
            Some(("DATABASE_URL", "mysql://nope")),
            "--database-url",
        ),
        (vec!["--listen", "not-an-address"], None, "--listen"),
    ] {
        let mut cmd = server_command();
        cmd.args(&args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(needle), "names the setting: {stderr}");
    }
}

#[test]
fn unreachable_database_stops_the_start_with_the_fix() {
    let port = common::free_port();
    let out = server_command()
        .args([
            "--database-url",
            &format!("postgres://app:pw@127.0.0.1:{port}/x"),
        ])
        .args(["--acquire-timeout-ms", "500", "--listen", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(stderr.contains("app:***@"), "password hidden: {stderr}");
    assert!(!stderr.contains("pw@"), "password hidden: {stderr}");
}

#[test]
fn serves_metrics_over_loopback_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("nested/data");
    let mut cmd = server_command();
    cmd.arg("--data-dir").arg(&data);
    let mut server = Server::start(cmd);
    assert!(
        data.join("vitals.db").exists(),
        "the data folder is created"
    );

    let answer = server.request("GET", "/api/v1/metrics", &[]);
    assert_eq!(answer.status, 200);
    let doc = answer.json();
    for section in ["system", "database", "cache"] {
        assert!(doc[section].is_object(), "{section}");
    }
    assert_eq!(doc["database"]["backend"], "sqlite");
    let took: f64 = answer
        .header("x-response-time")
        .and_then(|v| v.strip_suffix("ms"))
        .and_then(|v| v.parse().ok())
        .expect("X-Response-Time");
    assert!(took >= 0.0);
    assert_eq!(answer.header("x-request-id"), Some("1"));
    assert_eq!(server.request("GET", "/health", &[]).json()["status"], "ok");
    assert_eq!(server.request("GET", "/health/ready", &[]).status, 200);

    let started = Instant::now();
    let status = server
        .terminate(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let output = server.output().join("\n");
    assert!(output.contains("SIGTERM received"), "{output}");
    assert!(output.contains("vitals-server stopped"), "{output}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = server_command();
    cmd.arg("--data-dir")
        .arg(dir.path())
        .args(["--log-format", "json", "--slow-request-ms", "0"]);
    let mut server = Server::start(cmd);
    server.request("GET", "/health?token=abc", &[("X-Request-ID", "json-1")]);
    server.terminate(Duration::from_secs(10));
    let lines = server.output();
    let slow: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON"))
        .filter(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("SLOW REQUEST"))
        })
        .collect();
    assert_eq!(slow.len(), 1, "{lines:?}");
    assert_eq!(slow[0]["level"], "WARN");
    assert_eq!(slow[0]["request_id"], "json-1");
    assert!(
        slow[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("GET /health took") && !m.contains("token")),
        "{}",
        slow[0]
    );
}
