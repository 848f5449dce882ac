//! Credentials in export URLs: a query-string key never shows in `--print-config`, in the
//! exporter's log lines or in errors.

use std::time::{Duration, Instant};

use crate::common::{Server, free_port, server_command};

const KEY: &str = "K3yS3cret";

/// Before: `--otlp-endpoint 'http://…?api_key=X'` printed the key in `--print-config` and in
/// every export WARN line.
#[test]
fn query_string_credentials_of_the_export_url_never_show() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().to_str().expect("utf-8");
    let endpoint = format!(
        "http://127.0.0.1:{}/v1/metrics?tenant=t1&api_key={KEY}&token={KEY}",
        free_port()
    );
    let out = server_command()
        .args([
            "--data-dir",
            data,
            "--otlp-endpoint",
            &endpoint,
            "--print-config",
        ])
        .output()
        .expect("runs");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{printed}");
    assert!(!printed.contains(KEY), "{printed}");
    assert!(
        printed.contains("tenant=t1&api_key=***&token=***"),
        "{printed}"
    );

    // A URL the exporter refuses: the error must not repeat the key either.
    let refused = endpoint.replacen("http://", "ftp://", 1);
    let out = server_command()
        .args(["--data-dir", data, "--otlp-endpoint", &refused])
        .output()
        .expect("runs");
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        error.contains("--otlp-endpoint") && !error.contains(KEY),
        "{error}"
    );

    let mut cmd = server_command();
    cmd.args([
        "--data-dir",
        data,
        "--otlp-endpoint",
        &endpoint,
        "--export-interval-ms",
        "100",
    ]);
    let mut server = Server::start(cmd);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .output()
        .iter()
        .any(|l| l.contains("OTLP export failed"))
    {
        assert!(Instant::now() < deadline, "{:?}", server.output());
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = server.output().join("\n");
    assert!(!logs.contains(KEY), "{logs}");
    assert!(logs.contains("api_key=***"), "{logs}");
    assert!(server.terminate(Duration::from_secs(10)).is_some());
}
