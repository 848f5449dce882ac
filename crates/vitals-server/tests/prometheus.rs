//! `GET /metrics`: valid exposition (checked by the real `promtool`), agreement with the JSON
//! snapshot, bounded label sets, protection, and the output's shape.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use common::{embedded, get, send, state};
use http::{Request, StatusCode};
use vitals_server::{AppState, Settings, app};

async fn scrape(app: &Router) -> String {
    let request = Request::get("/metrics")
        .body(Body::empty())
        .expect("request");
    let (status, headers, bytes) = common::send_raw(app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The value of the series whose name and labels are exactly `series`.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("series {series} missing from:\n{text}"))
}

#[tokio::test]
async fn promtool_finds_nothing_after_mixed_traffic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = state(&embedded(&dir)).await;
    let app = app(state.clone());
    for path in [
        "/health",
        "/api/v1/users/u1/history",
        "/no/such",
        "/health/ready",
    ] {
        get(&app, path).await;
    }
    scrape(&app).await;
    send(
        &app,
        Request::post("/health")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    state.db().close().await;
    assert_eq!(
        get(&app, "/api/v1/users/u1/history").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let text = scrape(&app).await;
    // Vitals' own endpoints (probes, scrapes) are not the application's traffic.
    for own in [
        "route=\"/health\",status=\"200\"",
        "route=\"/metrics\"",
        "route=\"/health/ready\"",
    ] {
        assert!(!text.contains(own), "{own} is left out: {text}");
    }
    for status in ["200", "404", "405", "503"] {
        assert!(
            text.contains(&format!("status=\"{status}\"")),
            "a {status} series: {text}"
        );
    }
    assert!(text.contains("health_agent_http_request_duration_seconds_bucket{"));
    assert!(
        text.contains("le=\"3\"") || text.contains("le=\"3.0\""),
        "slow threshold is an edge"
    );
    vitals_testkit::assert_promtool_clean(&text);
}

#[tokio::test]
async fn json_and_prometheus_agree_in_one_scrape() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A long sampling interval: both reads see the same system sample.
    let settings = Settings {
        sample_interval_ms: 60_000,
        ..embedded(&dir)
    };
    let state = state(&settings).await;
    tokio::time::sleep(Duration::from_millis(400)).await; // the first CPU window
    let app = app(state.clone());
    let cache = state.cache();
    for i in 0..5 {
        cache
            .set(&format!("k{i}"), "v", Duration::from_secs(60))
            .await;
    }
    for i in 0..8 {
        cache.get(&format!("k{i}")).await;
    }
    cache.delete("k0").await;
    let ready = state.vitals().engine().readiness().await;
    assert!(ready.is_ready(), "the database answers");

    let json = get(&app, "/api/v1/metrics").await.json;
    let text = scrape(&app).await;
    let mb = 1_048_576.0;
    let pairs = [
        (
            "health_agent_cpu_percent",
            json["system"]["cpu_percent"].as_f64(),
        ),
        (
            "health_agent_memory_percent",
            json["system"]["memory_percent"].as_f64(),
        ),
        (
            "health_agent_memory_used_bytes",
            json["system"]["memory_mb"].as_f64().map(|v| v * mb),
        ),
        (
            "health_agent_memory_available_bytes",
            json["system"]["memory_available_mb"]
                .as_f64()
                .map(|v| v * mb),
        ),
        (
            "health_agent_disk_read_bytes_total",
            json["system"]["disk_read_mb"].as_f64().map(|v| v * mb),
        ),
        (
            "health_agent_db_pool_size",
            json["database"]["pool_size"].as_f64(),
        ),
        (
            "health_agent_db_pool_available",
            json["database"]["pool_available"].as_f64(),
        ),
        (
            "health_agent_db_pool_active",
            json["database"]["pool_active"].as_f64(),
        ),
        (
            "health_agent_db_pool_min_size",
            json["database"]["pool_min_size"].as_f64(),
        ),
        (
            "health_agent_db_pool_max_size",
            json["database"]["pool_max_size"].as_f64(),
        ),
        (
            "health_agent_db_pool_utilization_percent",
            json["database"]["pool_utilization_percent"].as_f64(),
        ),
        (
            "health_agent_cache_hits_total",
            json["cache"]["hits"].as_f64(),
        ),
        (
            "health_agent_cache_misses_total",
            json["cache"]["misses"].as_f64(),
        ),
        (
            "health_agent_cache_sets_total",
            json["cache"]["sets"].as_f64(),
        ),
        (
            "health_agent_cache_deletes_total",
            json["cache"]["deletes"].as_f64(),
        ),
        (
            "health_agent_cache_errors_total",
            json["cache"]["errors"].as_f64(),
        ),
        (
            "health_agent_cache_hit_rate_percent",
            json["cache"]["hit_rate_percent"].as_f64(),
        ),
        ("health_agent_cache_enabled", Some(1.0)),
    ];
    for (series, expected) in pairs {
        let expected = expected.expect("JSON figure");
        let got = value(&text, series);
        // Byte series are exported exactly; the JSON rounds megabytes to one decimal.
        let tolerance = if series.ends_with("bytes") || series.ends_with("bytes_total") {
            assert_eq!(
                got.fract(),
                0.0,
                "{series} is a whole number of bytes: {got}"
            );
            0.05 * mb
        } else {
            1e-6 * expected.abs().max(1.0)
        };
        assert!(
            (got - expected).abs() <= tolerance,
            "{series}: Prometheus {got} vs JSON {expected}"
        );
    }
    assert_eq!(value(&text, "health_agent_cache_hits_total"), 5.0);
    assert_eq!(value(&text, "health_agent_cache_misses_total"), 3.0);
    assert_eq!(
        value(&text, "health_agent_db_pool_acquire_duration_seconds_count"),
        0.0,
        "the readiness probe above is not the application's acquire"
    );
}

#[tokio::test]
async fn random_unknown_paths_add_one_route_label() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = state(&embedded(&dir)).await;
    let app = app(state.clone());
    for i in 0..2_000u32 {
        let path = format!("/scan/{i:x}/{}", i.wrapping_mul(2_654_435_761));
        assert_eq!(get(&app, &path).await.status, StatusCode::NOT_FOUND);
    }
    let text = scrape(&app).await;
    let routes: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("health_agent_http_requests_total{"))
        .filter_map(|l| l.split("route=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        routes.into_iter().collect::<Vec<_>>(),
        vec!["unmatched"],
        "2,000 scanner paths share one route label (a scrape counts once it has answered)"
    );
    assert_eq!(
        value(
            &text,
            "health_agent_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        2_000.0
    );
    assert!(!text.contains("/scan/"));
}

#[tokio::test]
async fn label_sets_have_a_hard_cap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state: AppState = state(&embedded(&dir)).await;
    let metrics = state.vitals().engine().requests();
    let now = std::time::Instant::now();
    for i in 0..(vitals_engine::MAX_SERIES + 300) {
        let route = format!("/route/{i}");
        let series = metrics.series(&http::Method::GET, Some(&route));
        metrics.record(series, 200, Duration::from_millis(1), now, None);
    }
    assert_eq!(metrics.series_count(), vitals_engine::MAX_SERIES);
    let text = state.vitals().render_prometheus();
    let lines = text
        .lines()
        .filter(|l| l.starts_with("health_agent_http_requests_total{"))
        .count();
    assert_eq!(
        lines,
        vitals_engine::MAX_SERIES + 1,
        "the cap, then one overflow series"
    );
    assert_eq!(
        value(
            &text,
            "health_agent_http_requests_total{method=\"overflow\",route=\"overflow\",status=\"overflow\"}"
        ),
        300.0,
    );
}

#[tokio::test]
async fn token_and_rate_limit_protect_the_endpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        metrics_token: Some("sesame".into()),
        metrics_rate_limit: 3,
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let with = |token: Option<&str>| {
        let mut r = Request::get("/metrics");
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Body::empty()).expect("request")
    };
    let missing = send(&app, with(None)).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json["error"]["code"], "unauthorized");
    assert_eq!(
        send(&app, with(Some("wrong"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Failed logins did not spend the permits: three pass, the fourth is limited.
    for _ in 0..3 {
        let (status, _, _) = common::send_raw(&app, with(Some("sesame"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let limited = send(&app, with(Some("sesame"))).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json["error"]["code"], "rate_limited");
    // The JSON endpoint shares the limit.
    let json = send(
        &app,
        Request::get("/api/v1/metrics")
            .header("authorization", "Bearer sesame")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(json.status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _, _) = common::send_raw(&app, with(Some("sesame"))).await;
    assert_eq!(status, StatusCode::OK, "permits refill over time");
}

/// Names, types and label names of every series, values left out.
fn shape(text: &str) -> String {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            if l.starts_with('#') {
                return l.to_owned();
            }
            let series = l.rsplit_once(' ').map_or(l, |(s, _)| s);
            match series.split_once('{') {
                Some((name, labels)) => {
                    let keys: Vec<String> = labels
                        .trim_end_matches('}')
                        .split("\",")
                        .filter_map(|kv| {
                            let (k, v) = kv.split_once('=')?;
                            // Keep le and method/status values; they are part of the shape.
                            Some(if matches!(k, "le" | "status" | "method" | "route") {
                                format!("{k}={}", v.trim_end_matches('"').trim_start_matches('"'))
                            } else {
                                k.to_owned()
                            })
                        })
                        .collect();
                    format!("{name}{{{}}}", keys.join(","))
                }
                None => series.to_owned(),
            }
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines.join("\n")
}

#[tokio::test]
async fn exposition_shape_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = state(&embedded(&dir)).await;
    let ready = state.vitals().engine().readiness().await;
    assert!(ready.is_ready(), "the database answers");
    let app = app(state);
    get(&app, "/health").await;
    get(&app, "/api/v1/users/u1/history").await;
    get(&app, "/nope").await;
    let text = scrape(&app).await;
    insta::assert_snapshot!("prometheus_shape", shape(&text));
}
