//! `vitals profile` against a real vitals-server on loopback with profiling on: an SVG and a
//! pprof protobuf are written; a server without profiling, a missing token and a bad
//! `--seconds` fail with the documented exit codes; a profile longer than the server's request
//! deadline is not cut short.

mod common;

use common::{TestServer, closed_port, run, stderr, vitals};
use vitals_server::Settings;

#[test]
fn profile_writes_svg_and_pb_and_fails_clearly() {
    let server = TestServer::start_settings(Settings {
        pprof: true,
        metrics_token: Some("s3cret".to_owned()),
        // Shorter than the profile: the profile route has its own deadline.
        request_timeout_ms: 1000,
        ..Settings::default()
    });
    let url = server.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = dir.path().join("cpu.svg");
    let pb = dir.path().join("cpu.pb");

    let out = run(vitals()
        .args(["profile", "--host", &url, "--seconds", "2", "-o"])
        .arg(&svg)
        .args(["--token", "s3cret"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&svg).expect("SVG written");
    assert!(
        text.contains("<svg"),
        "an SVG: {}",
        &text[..text.len().min(300)]
    );

    let out = run(vitals()
        .args([
            "profile",
            "--host",
            &url,
            "--seconds",
            "1",
            "--format",
            "pb",
            "-o",
        ])
        .arg(&pb)
        .env("VITALS_METRICS_TOKEN", "s3cret"));
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&pb).expect("pb written");
    assert!(
        !bytes.is_empty() && !bytes.starts_with(b"<"),
        "a protobuf, not text"
    );

    // No token: 401 in words, exit 1, no file.
    let missing = dir.path().join("none.svg");
    let out = run(vitals()
        .args(["profile", "--host", &url, "--seconds", "1", "-o"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("401") && stderr(&out).contains("token"),
        "{}",
        stderr(&out)
    );
    assert!(!missing.exists());

    // Out of range: a usage error before any request.
    let out = run(vitals()
        .args(["profile", "--host", &url, "--seconds", "61", "-o"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Profiling off: 404 with the fix.
    let off = TestServer::start();
    let out = run(vitals()
        .args(["profile", "--host", &off.url(), "--seconds", "1", "-o"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--pprof true"), "{}", stderr(&out));

    // Nobody there.
    let out = run(vitals()
        .args(["profile", "--host", &closed_port(), "--seconds", "1", "-o"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
}
