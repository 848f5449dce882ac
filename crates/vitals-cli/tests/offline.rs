//! The `vitals` binary without a server: help, version, analyze on committed fixtures.

mod common;

use common::{fixture, run, stderr, stdout, vitals};

#[test]
fn help_of_every_command() {
    for (name, args) in [
        ("help_vitals", vec!["--help"]),
        ("help_snapshot", vec!["snapshot", "--help"]),
        ("help_monitor", vec!["monitor", "--help"]),
        ("help_analyze", vec!["analyze", "--help"]),
        ("help_alerts", vec!["alerts", "--help"]),
        ("help_profile", vec!["profile", "--help"]),
        ("help_slo_rules", vec!["slo", "rules", "--help"]),
    ] {
        let out = run(vitals().args(&args));
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        insta::assert_snapshot!(name, stdout(&out));
    }
}

#[test]
fn version_everywhere() {
    for args in [vec!["--version"], vec!["monitor", "--version"]] {
        let out = run(vitals().args(&args));
        assert!(out.status.success());
        assert!(
            stdout(&out).contains(env!("CARGO_PKG_VERSION")),
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = run(vitals().args(["monitor", "--interval", "0"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(vitals().args(["monitor", "--count", "3", "--duration", "1m"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // For alerts, 2 means CRITICAL: a usage error is UNKNOWN there.
    let out = run(vitals().args(["--token", "x", "alerts", "--interval", "5"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("--watch"), "{}", stderr(&out));
    let out = run(vitals().args(["alerts", "--help"]));
    assert_eq!(out.status.code(), Some(0));
}

fn analyze(file: &str, extra: &[&str]) -> std::process::Output {
    run(vitals()
        .current_dir(fixture(""))
        .args(["analyze", file])
        .args(extra))
}

#[test]
fn analyze_steady_run() {
    let out = analyze("steady.csv", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("analyze_steady_text", stdout(&out));
    let out = analyze("steady.csv", &["--format", "markdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("analyze_steady_markdown", stdout(&out));
}

#[test]
fn analyze_two_hosts() {
    let out = analyze("two_hosts.csv", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("analyze_two_hosts_text", stdout(&out));
    let out = analyze("two_hosts.csv", &["--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    insta::assert_json_snapshot!("analyze_two_hosts_json", doc);
}

#[test]
fn analyze_draws_charts_of_the_right_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = analyze("two_hosts.csv", &["--out"]);
    assert_eq!(out.status.code(), Some(2), "--out needs a value");
    let out = run(vitals()
        .arg("analyze")
        .arg(fixture("steady.csv"))
        .arg("--out")
        .arg(dir.path().join("charts")));
    assert!(out.status.success(), "{}", stderr(&out));
    for name in [
        "cpu.png",
        "memory.png",
        "db_pool_utilization.png",
        "cache_hit_rate.png",
        "api_latency.png",
        "process_rss.png",
    ] {
        let path = dir.path().join("charts").join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(bytes.len() > 10_000, "{name} is only {} bytes", bytes.len());
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().expect("a PNG");
        let info = reader.info();
        assert_eq!((info.width, info.height), (1200, 600), "{name}");
        assert!(stderr(&out).contains(name), "{}", stderr(&out));
    }
}

#[test]
fn malformed_csv_names_line_and_column() {
    for (file, expected) in [
        (
            "bad_number.csv",
            "line 4, column `cpu_percent`: `12,5%` is not a number",
        ),
        (
            "missing_columns.csv",
            "line 1: missing column(s) api_ms, memory_percent",
        ),
        ("empty.csv", "line 1: the file is empty"),
        ("no_such_file.csv", "cannot read no_such_file.csv"),
    ] {
        let out = analyze(file, &[]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{file}: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
        assert!(stdout(&out).is_empty(), "{file}");
    }
}

/// `1e308` overflowed the averages to infinity (reported "max inf%" and PASS), `NaN` passed as
/// an empty cell: both, and every other non-finite number, stop the analysis at their cell.
#[test]
fn analyze_rejects_non_finite_numbers_with_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let steady = std::fs::read_to_string(fixture("steady.csv")).expect("fixture");
    let mut lines: Vec<String> = steady.lines().map(str::to_owned).collect();
    let header: Vec<String> = lines[0].split(',').map(str::to_owned).collect();
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    let cases = [
        (3, "cpu_percent", "1e308", "`1e308` is out of range"),
        (4, "cpu_percent", "1e309", "`1e309` is not a finite number"),
        (5, "timestamp", "NaN", "`NaN` is not a finite number"),
        (6, "memory_mb", "inf", "`inf` is not a finite number"),
        (
            7,
            "process_rss_mb",
            "-Infinity",
            "`-Infinity` is not a finite number",
        ),
        (8, "cache_hits", "nan", "`nan` is not a finite number"),
    ];
    let original = lines.clone();
    for (line, name, value, message) in cases {
        lines.clone_from(&original);
        let mut cells: Vec<String> = lines[line - 1].split(',').map(str::to_owned).collect();
        cells[column(name)] = value.to_owned();
        lines[line - 1] = cells.join(",");
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        let out = run(vitals().arg("analyze").arg(&path));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}={value}: {}",
            stdout(&out)
        );
        let expected = format!("line {line}, column `{name}`: {message}");
        assert!(
            stderr(&out).contains(&expected),
            "{expected}\n{}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
}
