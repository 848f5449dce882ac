//! The Prometheus text exposition, byte for byte: request counters with their status label
//! (the overflow series included), request and application histograms with `le` and `+Inf`,
//! escaped label values and help text, NaN and infinite gauges, integers and shortest
//! round-trip floats, and a snapshot-fed family with a `pool` label. The expected text is
//! in `exposition.txt` beside this file; `promtool check metrics` must accept it too.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use http::Method;
use vitals_core::{DatabaseSection, Snapshot};
use vitals_engine::Engine;

fn engine() -> Engine {
    Engine::builder()
        .namespace("shop")
        .slow_threshold(Duration::from_millis(250))
        .max_series(4)
        .buckets("app_wait_seconds", &[0.1, 0.5, 2.5])
        .build()
        .expect("valid settings")
}

/// Requests into four label sets (not in the order they are listed), then one more that the
/// cap sends to the overflow series.
fn traffic(engine: &Engine) {
    let http = engine.requests();
    let now = Instant::now();
    let escaped = "/say/\"hi\"\\there\nnow";
    for (method, route, status, ms) in [
        // The 500 first: answer counters still list in status order.
        (Method::GET, Some("/a"), 500, 4_000),
        (Method::GET, Some("/a"), 200, 1),
        (Method::GET, Some("/a"), 200, 300),
        (Method::POST, Some(escaped), 201, 20),
        (Method::from_bytes(b"BREW").expect("method"), None, 404, 0),
        (Method::GET, Some("/b"), 200, 7),
    ] {
        let series = http.series(&method, route);
        http.record(series, status, Duration::from_millis(ms), now, None);
    }
}

fn application(engine: &Engine) {
    let recorder = engine.recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("app_jobs_total", "Jobs done \\ with a\nsecond line");
        metrics::counter!("app_jobs_total", "queue" => "a\"b\\c\nd").increment(3);
        metrics::counter!("app_jobs_total", "queue" => "plain").increment(12_345_678_901);
        metrics::counter!("app_plain_total").increment(1);
        for (name, value) in [
            ("app_nan", f64::NAN),
            ("app_up", f64::INFINITY),
            ("app_down", f64::NEG_INFINITY),
            ("app_inexact", 0.1 + 0.2),
            ("app_big", 1e21),
            ("app_edge", 1e15),
            ("app_whole", 123_456_789_012.0),
            ("app_negative", -2.5),
            ("app_tiny", 5e-324),
        ] {
            metrics::gauge!(name).set(value);
        }
        let wait = metrics::histogram!("app_wait_seconds", "step" => "x");
        for v in [0.1, 0.2, 0.7, 9.0] {
            wait.record(v);
        }
    });
}

fn snapshot() -> Snapshot {
    let main = DatabaseSection {
        pool_size: 5,
        pool_available: 2,
        pool_active: 3,
        pool_utilization_percent: 60.0,
        ..DatabaseSection::default()
    };
    let replica = DatabaseSection {
        pool_size: 1,
        pool_utilization_percent: 33.333_333_333_333_336,
        ..DatabaseSection::default()
    };
    Snapshot {
        database: Some(main.clone()),
        databases: BTreeMap::from([
            ("main".to_owned(), main),
            ("re\"pl\\ica".to_owned(), replica),
        ]),
        ..Snapshot::default()
    }
}

#[test]
fn the_exposition_is_exactly_the_pinned_text() {
    let engine = engine();
    traffic(&engine);
    application(&engine);
    let text = engine.render_snapshot(&snapshot());
    if let Ok(path) = std::env::var("VITALS_WRITE_EXPOSITION") {
        std::fs::write(path, &text).expect("write the exposition");
    }
    let expected = include_str!("exposition.txt");
    for (i, (got, want)) in text.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {} differs", i + 1);
    }
    assert_eq!(text, expected);
    // A second render of unchanged figures says the same.
    assert_eq!(engine.render_snapshot(&snapshot()), expected);
    vitals_testkit::assert_promtool_clean(&text);
}
