//! The settings' external behaviour: defaults, precedence, file keys, one-line errors,
//! secrets hidden in `--print-config`.

use std::path::PathBuf;

use clap::Parser;
use vitals_pool::PoolSizing;

use super::*;

fn args(list: &[&str]) -> Args {
    Args::try_parse_from(std::iter::once("vitals-server").chain(list.iter().copied()))
        .expect("arguments parse")
}

#[test]
fn defaults_follow_the_contract() {
    let s = Settings::resolve(Args::default()).expect("defaults are valid");
    assert_eq!(s.listen.to_string(), "127.0.0.1:8000");
    assert_eq!(s.slow_request_ms, 3000);
    assert_eq!(s.sample_interval_ms, 1000);
    assert_eq!(s.metrics_namespace, "health_agent");
    assert_eq!(s.data_dir, PathBuf::from("./data"));
    let sizing = PoolSizing::detect();
    assert_eq!((s.pool_min, s.pool_max), (sizing.min, sizing.max));
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vitals.toml");
    std::fs::write(
        &path,
        "slow_request_ms = 10\npool_max = 4\nlog_format = \"json\"\n",
    )
    .expect("write config");
    let s = Settings::resolve(args(&[
        "--config",
        path.to_str().expect("utf-8 path"),
        "--slow-request-ms",
        "20",
    ]))
    .expect("valid");
    assert_eq!(s.slow_request_ms, 20, "flag wins over file");
    assert_eq!(s.pool_max, 4, "file wins over default");
    assert_eq!(s.log_format, LogFormat::Json);
}

#[test]
fn unknown_file_keys_are_refused_with_their_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vitals.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:1\"\nslow_ms = 5\n").expect("write config");
    let e = Settings::resolve(args(&["--config", path.to_str().expect("utf-8")]))
        .expect_err("unknown key");
    let text = e.to_string();
    assert!(
        text.contains("slow_ms") && text.contains("line 2"),
        "{text}"
    );
}

#[test]
fn invalid_values_name_the_setting_and_the_fix() {
    for (list, setting) in [
        (vec!["--pool-min", "9", "--pool-max", "3"], "--pool-min"),
        (vec!["--pool-max", "0"], "--pool-max"),
        (vec!["--sample-interval-ms", "50"], "--sample-interval-ms"),
        (vec!["--database-url", "mysql://x"], "--database-url"),
        (vec!["--redis-url", "http://x"], "--redis-url"),
        (vec!["--metrics-namespace", "9bad"], "--metrics-namespace"),
        (vec!["--metrics-token", " "], "--metrics-token"),
        (vec!["--acquire-timeout-ms", "0"], "--acquire-timeout-ms"),
        (vec!["--log", "==="], "--log"),
        (vec!["--history-minutes", "0"], "--history-minutes"),
        (vec!["--history-minutes", "1441"], "--history-minutes"),
        (vec!["--max-streams", "0"], "--max-streams"),
        (vec!["--otlp-endpoint", "collector:4318"], "--otlp-endpoint"),
        (
            vec!["--otlp-endpoint", "grpc://collector:4317"],
            "--otlp-endpoint",
        ),
        (
            vec!["--remote-write-url", "127.0.0.1:9090/api/v1/write"],
            "--remote-write-url",
        ),
        (
            vec!["--remote-write-url", "http://vm:99999/api/v1/write"],
            "--remote-write-url",
        ),
        (
            vec!["--export-ca-file", "/nonexistent/ca.pem"],
            "--export-ca-file",
        ),
        (
            vec!["--otlp-endpoint", "http:///v1/metrics"],
            "--otlp-endpoint",
        ),
    ] {
        let e = Settings::resolve(args(&list)).expect_err("invalid");
        assert_eq!(e.setting, setting, "{e}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
}

#[test]
fn dashboard_settings_take_a_value_and_default_on() {
    let d = Settings::resolve(args(&[])).expect("valid");
    assert!(d.dashboard);
    assert_eq!(d.history_minutes, 15);
    let off = Settings::resolve(args(&["--dashboard", "false", "--history-minutes", "5"]))
        .expect("valid");
    assert!(!off.dashboard);
    assert_eq!(off.history_minutes, 5);
    assert!(Args::try_parse_from(["vitals-server", "--dashboard", "maybe"]).is_err());
}

#[test]
fn max_streams_defaults_to_16_and_reaches_the_builder() {
    assert_eq!(Settings::resolve(args(&[])).expect("valid").max_streams, 16);
    let s = Settings::resolve(args(&["--max-streams", "3"])).expect("valid");
    assert_eq!(s.max_streams, 3);
    assert!(s.to_toml().contains("max_streams = 3"));
}

#[test]
fn pprof_takes_a_value_and_is_off_by_default() {
    assert!(!Settings::resolve(Args::default()).expect("valid").pprof);
    assert!(
        Settings::resolve(args(&["--pprof", "true"]))
            .expect("valid")
            .pprof
    );
    assert!(
        !Settings::resolve(args(&["--pprof", "false"]))
            .expect("valid")
            .pprof
    );
    assert!(Args::try_parse_from(["vitals-server", "--pprof", "maybe"]).is_err());
}

#[test]
fn otlp_endpoint_resolves_and_its_password_never_prints() {
    assert_eq!(
        Settings::resolve(Args::default())
            .expect("valid")
            .otlp_endpoint,
        None
    );
    let s = Settings::resolve(args(&[
        "--otlp-endpoint",
        "http://otel:s3cret@127.0.0.1:4318/v1/metrics",
    ]))
    .expect("valid");
    assert_eq!(
        s.otlp_endpoint.as_deref(),
        Some("http://otel:s3cret@127.0.0.1:4318/v1/metrics")
    );
    let text = s.to_toml();
    assert!(
        text.contains("otlp_endpoint = \"http://otel:***@127.0.0.1:4318/v1/metrics\""),
        "{text}"
    );
    assert!(!text.contains("s3cret"));
    let e = Settings::resolve(args(&[
        "--otlp-endpoint",
        "otel:s3cret@collector:4318/v1/metrics",
    ]))
    .expect_err("no scheme");
    assert!(!e.to_string().contains("s3cret"), "{e}");
    assert!(e.to_string().contains("http://"), "{e}");
    // https:// is taken: the server is built with TLS.
    let s = Settings::resolve(args(&[
        "--otlp-endpoint",
        "https://otel:s3cret@collector:4318/v1/metrics",
    ]))
    .expect("https is valid");
    assert!(s.to_toml().contains("https://otel:***@collector:4318"));
}

#[test]
fn export_settings_default_to_gzip_and_no_remote_write() {
    let s = Settings::resolve(Args::default()).expect("valid");
    assert!(s.otlp_gzip);
    assert_eq!(s.remote_write_url, None);
    assert_eq!(s.remote_write_job, "health-agent");
    assert_eq!(s.remote_write_instance, None);
    assert_eq!(s.export_ca_file, None);
    let s = Settings::resolve(args(&[
        "--otlp-gzip",
        "false",
        "--remote-write-instance",
        "a:1",
    ]))
    .expect("valid");
    assert!(!s.otlp_gzip);
    assert_eq!(s.remote_write_instance.as_deref(), Some("a:1"));
    assert!(Args::try_parse_from(["vitals-server", "--otlp-gzip", "maybe"]).is_err());
}

#[test]
fn remote_write_url_comes_from_the_file_and_its_secrets_never_print() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vitals.toml");
    std::fs::write(
        &path,
        "remote_write_url = \"http://vm:s3cret@127.0.0.1:8428/api/v1/write?tenant=a&api_key=k3y\"\n",
    )
    .expect("write config");
    let s = Settings::resolve(args(&["--config", path.to_str().expect("utf-8")])).expect("valid");
    assert_eq!(
        s.remote_write_url.as_deref(),
        Some("http://vm:s3cret@127.0.0.1:8428/api/v1/write?tenant=a&api_key=k3y")
    );
    let text = s.to_toml();
    assert!(
        text.contains(
            "remote_write_url = \"http://vm:***@127.0.0.1:8428/api/v1/write?tenant=a&api_key=***\""
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret") && !text.contains("k3y"), "{text}");
    let e = Settings::resolve(args(&["--remote-write-url", "vm:s3cret@127.0.0.1:8428"]))
        .expect_err("no scheme");
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[test]
fn the_export_ca_file_must_hold_a_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ca.pem");
    std::fs::write(
        &path,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let e = Settings::resolve(args(&["--export-ca-file", path.to_str().expect("utf-8")]))
        .expect_err("no certificate");
    assert_eq!(e.setting, "--export-ca-file");
    assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");
}

#[test]
fn printed_config_hides_the_token() {
    let s = Settings::resolve(args(&["--metrics-token", "s3cret"])).expect("valid");
    let text = s.to_toml();
    assert!(text.contains("metrics_token = \"<hidden>\""), "{text}");
    assert!(!text.contains("s3cret"));
}

#[test]
fn objectives_come_from_slo_tables_and_are_checked() {
    let defaults = Settings::resolve(Args::default()).expect("defaults are valid");
    let names: Vec<&str> = defaults.slo.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["chat-availability", "history-latency"]);
    assert_eq!(defaults.slo[1].route, "/api/v1/users/{user_id}/history");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vitals.toml");
    let resolve = |text: &str| {
        std::fs::write(&path, text).expect("write config");
        Settings::resolve(args(&["--config", path.to_str().expect("utf-8")]))
    };
    let s = resolve(
        "slow_request_ms = 300\n[[slo]]\nname = \"api\"\nroute = \"/api/v1/*\"\nkind = \"latency\"\ntarget_percent = 95\nthreshold_ms = 300\n",
    )
    .expect("300 ms is an edge once it is the slow threshold");
    assert_eq!(s.slo.len(), 1, "the file's tables replace the defaults");
    assert!(s.slo_rules().contains("route=~\"/api/v1/.*\""));
    assert!(resolve("slo = []\n").expect("none").slo.is_empty());
    let e = resolve(
        "[[slo]]\nname = \"api\"\nroute = \"/api\"\nkind = \"latency\"\ntarget_percent = 99\nthreshold_ms = 300\n",
    )
    .expect_err("300 ms is not an edge by default")
    .to_string();
    assert!(
        e.contains("[[slo]]") && e.contains("\"api\"") && e.contains("not an edge"),
        "{e}"
    );
    let e = resolve(
        "[[slo]]\nname = \"api\"\nroute = \"/api\"\nkind = \"speed\"\ntarget_percent = 99\n",
    )
    .expect_err("unknown kind")
    .to_string();
    assert!(e.contains("speed") && e.contains("line"), "{e}");
}
