//! The `vitals` binary against bad arguments, incomplete or hostile answers, and URLs that
//! carry credentials.

mod common;

use common::{
    AppServer, TestServer, closed_port, full_snapshot, read_csv, run, stderr, stdout, vitals,
};

#[test]
fn alerts_usage_errors_are_unknown() {
    for args in [
        vec!["alerts", "--host", "ftp://x"],
        vec!["alerts", "--host", ""],
        vec!["alerts", "--host", "http://"],
        vec!["alerts", "--host", "http://:8000"],
        vec!["alerts", "--host", "http://h:notaport"],
        vec!["alerts", "--watch", "--count", "0"],
        vec!["alerts", "--watch", "--interval", "0"],
        vec!["alerts", "--format", "xml"],
        vec!["alerts", "--no-such-flag"],
    ] {
        let out = run(vitals().args(&args));
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}

#[test]
fn bad_hosts_are_usage_errors_everywhere() {
    for cmd in ["snapshot", "monitor"] {
        for host in ["ftp://x", "", "http://", "http://h:0", "http://h x"] {
            let out = run(vitals().args(
                [cmd, "--host", host, "--count", "1"]
                    .iter()
                    .filter(|a| cmd == "monitor" || !["--count", "1"].contains(a)),
            ));
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} {host:?}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains("--host"), "{}", stderr(&out));
        }
    }
    let out = run(vitals().args(["monitor", "--count", "0"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_bare_document_is_unknown_not_ok() {
    let server =
        AppServer::answering(serde_json::json!({"timestamp": "2026-01-18T14:23:45.123456Z"}));
    let out = run(vitals().args(["alerts", "--host", &server.url()]));
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.starts_with("UNKNOWN - "), "{text}");
    assert!(
        text.contains("without the sections `system`, `database`, `cache`"),
        "{text}"
    );

    let out = run(vitals().args(["alerts", "--host", &server.url(), "--format", "json"]));
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(report["status"], "UNKNOWN");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("`system`")),
        "{report:#}"
    );

    let out = run(vitals().args(["snapshot", "--host", &server.url(), "--format", "text"]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).is_empty(),
        "no zeros printed: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("without the sections `system`, `database`, `cache`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_partial_document_names_the_missing_fields() {
    let mut doc = full_snapshot();
    doc["cache"]
        .as_object_mut()
        .expect("cache")
        .remove("errors");
    doc["system"]["cpu_percent"] = serde_json::Value::Null;
    let server = AppServer::answering(doc);
    let out = run(vitals().args(["alerts", "--host", &server.url()]));
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("`system.cpu_percent`, `cache.errors`"),
        "{}",
        stdout(&out)
    );
    // The complete document is fine.
    let server = AppServer::answering(full_snapshot());
    let out = run(vitals().args(["alerts", "--host", &server.url()]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

const HOSTILE: &str =
    "2026-01-18T14:23:45Z\u{1b}[2J\u{1b}]0;owned\u{7}\u{1b}[31mred\u{202e}\u{2028}\u{2066}end\r\n";

fn assert_clean(what: &str, text: &str) {
    for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\u{2028}', '\u{2066}', '\r'] {
        assert!(
            !text.contains(bad),
            "{what} holds U+{:04X}: {text:?}",
            u32::from(bad)
        );
    }
}

#[test]
fn monitor_strips_control_characters_from_server_text() {
    let mut doc = full_snapshot();
    doc["timestamp"] = HOSTILE.into();
    doc["database"]["backend"] = HOSTILE.into();
    let server = AppServer::answering(doc);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("m.csv");
    let out = run(vitals()
        .args([
            "monitor",
            "--host",
            &server.url(),
            "--interval",
            "0.2",
            "--count",
            "2",
            "--output",
        ])
        .arg(&csv));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("table", &stdout(&out));
    let file = std::fs::read_to_string(&csv).expect("CSV");
    assert_clean("CSV", &file);
    let (header, rows) = read_csv(&csv);
    let at = header
        .iter()
        .position(|h| h == "server_timestamp")
        .expect("server_timestamp column");
    assert_eq!(rows[0][at], "2026-01-18T14:23:45Zred end");

    let out = run(vitals().args(["snapshot", "--host", &server.url(), "--format", "text"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("snapshot summary", &stdout(&out));
    let out = run(vitals().args(["snapshot", "--host", &server.url(), "--field", "timestamp"]));
    assert_clean("snapshot --field", &stdout(&out));
}

#[test]
fn credentials_in_urls_are_never_printed() {
    let server = TestServer::start();
    let with_password = format!("http://user:s3cret@{}", server.addr);
    let shown = format!("http://user:***@{}", server.addr);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("m.csv");
    let mut outputs = vec![
        run(vitals().args(["snapshot", "--host", &with_password, "--format", "text"])),
        run(vitals().args(["alerts", "--host", &with_password])),
        run(vitals().args(["alerts", "--host", &with_password, "--format", "json"])),
        run(vitals()
            .args([
                "monitor",
                "--host",
                &with_password,
                "--host",
                &closed_port(),
            ])
            .args(["--interval", "0.2", "--count", "2", "--output"])
            .arg(&csv)),
    ];
    for out in &outputs {
        assert!(stdout(out).contains(&shown), "{}", stdout(out));
    }
    let (header, rows) = read_csv(&csv);
    let host = header
        .iter()
        .position(|h| h == "host")
        .expect("host column");
    assert!(rows.iter().any(|r| r[host] == shown), "{rows:?}");
    // Failures: an unreachable host, a bad scheme, a server that refuses the request.
    let closed = closed_port().replace("http://", "http://admin:s3cret@");
    outputs.push(run(vitals().args(["snapshot", "--host", &closed])));
    outputs.push(run(vitals().args(["alerts", "--host", &closed])));
    outputs.push(run(vitals().args([
        "snapshot",
        "--host",
        "ftp://admin:s3cret@h",
    ])));
    outputs.push(run(vitals().args([
        "alerts",
        "--host",
        "http://admin:s3cret@:80",
    ])));
    let guarded = TestServer::start_with(Some("tok"));
    let guarded_url = format!("http://admin:s3cret@{}", guarded.addr);
    outputs.push(run(vitals().args(["snapshot", "--host", &guarded_url])));
    outputs.push(run(vitals().args(["alerts", "--host", &guarded_url])));
    for out in &outputs {
        for text in [stdout(out), stderr(out)] {
            assert!(!text.contains("s3cret"), "password printed:\n{text}");
        }
    }
    assert!(std::fs::read_to_string(&csv).is_ok_and(|t| !t.contains("s3cret")));
    let last = outputs.last().expect("outputs");
    assert_eq!(last.status.code(), Some(3));
    assert!(stdout(last).contains("admin:***@"), "{}", stdout(last));
}
