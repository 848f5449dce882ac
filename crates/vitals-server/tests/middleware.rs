//! The performance layer over the real router: headers on every kind of response, request
//! ids, and the slow-request and per-request log lines.

mod common;

use axum::body::Body;
use common::{Logs, embedded, get, send, state};
use http::{Request, StatusCode};
use vitals_server::{Settings, app};

fn with_id(uri: &str, id: &str) -> Request<Body> {
    Request::get(uri)
        .header("x-request-id", id)
        .body(Body::empty())
        .expect("request")
}

fn assert_response_time(value: &str) {
    let number = value
        .strip_suffix("ms")
        .unwrap_or_else(|| panic!("ends in ms: {value}"));
    let (_, decimals) = number
        .split_once('.')
        .unwrap_or_else(|| panic!("has decimals: {value}"));
    assert_eq!(decimals.len(), 2, "two decimals: {value}");
    assert!(number.parse::<f64>().is_ok_and(|n| n >= 0.0), "{value}");
}

#[tokio::test]
async fn headers_on_success_not_found_method_and_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        metrics_token: Some("t0k3n".into()),
        ..embedded(&dir)
    };
    let state = state(&settings).await;
    let app = app(state.clone());

    let ok = get(&app, "/health").await;
    let not_found = get(&app, "/no/such/route?x=1").await;
    let wrong_method = send(
        &app,
        Request::delete("/health")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let unauthorized = get(&app, "/api/v1/metrics").await;
    // A database that is gone: readiness answers 503.
    state.db().close().await;
    let unavailable = get(&app, "/health/ready").await;

    for (answer, status) in [
        (&ok, StatusCode::OK),
        (&not_found, StatusCode::NOT_FOUND),
        (&wrong_method, StatusCode::METHOD_NOT_ALLOWED),
        (&unauthorized, StatusCode::UNAUTHORIZED),
        (&unavailable, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        assert_eq!(answer.status, status);
        assert_response_time(answer.header("x-response-time"));
        assert!(answer.header("x-request-id").parse::<u64>().is_ok());
    }
    for error in [&not_found, &wrong_method, &unauthorized] {
        assert_eq!(
            error.json["error"]["request_id"].as_str(),
            Some(error.header("x-request-id")),
            "error bodies quote the request id"
        );
        assert!(error.json["error"]["message"].is_string());
    }
    assert_eq!(not_found.json["error"]["code"], "not_found");
    assert_eq!(unavailable.json["status"], "unready");
    assert_eq!(unavailable.json["checks"]["database"]["status"], "down");
    assert!(
        unavailable.json["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("database:"))
    );
}

#[tokio::test]
async fn sequential_ids_increase_from_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(state(&embedded(&dir)).await);
    let mut ids = Vec::new();
    for path in ["/health", "/nope", "/api/v1/metrics", "/health"] {
        ids.push(
            get(&app, path)
                .await
                .header("x-request-id")
                .parse::<u64>()
                .expect("number"),
        );
    }
    assert_eq!(ids, vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn valid_inbound_ids_are_echoed_and_invalid_ones_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (logs, _guard) = Logs::capture();
    let app = app(state(&embedded(&dir)).await);
    let max = "a".repeat(64);
    for valid in ["abc", "req-42.x_Y", max.as_str(), "7"] {
        let answer = send(&app, with_id("/health", valid)).await;
        assert_eq!(answer.header("x-request-id"), valid);
    }
    let too_long = "a".repeat(65);
    for invalid in [
        too_long.as_str(),
        "has space",
        "semi;colon",
        "ünï",
        "",
        "<script>",
    ] {
        let request = Request::get("/health")
            .header(
                "x-request-id",
                http::HeaderValue::from_bytes(invalid.as_bytes()).expect("header"),
            )
            .body(Body::empty())
            .expect("request");
        let answer = send(&app, request).await;
        let id = answer.header("x-request-id");
        assert_ne!(id, invalid);
        assert!(
            id.parse::<u64>().is_ok(),
            "replaced by a sequential id: {id}"
        );
    }
    let text = logs.text();
    assert!(
        !text.contains("has space") && !text.contains("<script>"),
        "never logged raw"
    );
}

#[tokio::test]
async fn slow_requests_are_logged_with_id_and_without_query() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        slow_request_ms: 0,
        ..embedded(&dir)
    };
    let (logs, _guard) = Logs::capture();
    let app = app(state(&settings).await);
    let answer = send(&app, with_id("/health?secret=hunter2", "trace-me")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let slow = logs.lines_with("SLOW REQUEST");
    assert_eq!(slow.len(), 1, "{slow:?}");
    let line = &slow[0];
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("SLOW REQUEST: GET /health took "), "{line}");
    assert!(line.contains("ms (threshold: 0ms)"), "{line}");
    assert!(line.contains("request_id=trace-me"), "{line}");
    assert!(
        !logs.text().contains("hunter2"),
        "the query string is never logged"
    );
}

#[tokio::test]
async fn fast_requests_are_not_logged_as_slow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (logs, _guard) = Logs::capture();
    let app = app(state(&embedded(&dir)).await);
    get(&app, "/health").await;
    assert!(logs.lines_with("SLOW REQUEST").is_empty());
}

#[tokio::test]
async fn every_request_logs_a_debug_line_with_the_route_template() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (logs, _guard) = Logs::capture();
    let app = app(state(&embedded(&dir)).await);
    get(&app, "/api/v1/metrics").await;
    get(&app, "/random/path/123").await;
    send(
        &app,
        Request::post("/health")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let lines = logs.lines_with("vitals_axum::layer: request");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].contains("DEBUG") && lines[0].contains("route=\"/api/v1/metrics\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("status=200") && lines[0].contains("request_id=1"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("method=GET") && lines[0].contains("duration_ms="),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("route=\"unmatched\"") && lines[1].contains("status=404"),
        "{}",
        lines[1]
    );
    assert!(
        !logs.text().contains("/random/path/123"),
        "raw paths stay out of the request line"
    );
    assert!(
        lines[2].contains("route=\"/health\"") && lines[2].contains("status=405"),
        "{}",
        lines[2]
    );
}

#[tokio::test]
async fn a_valid_traceparent_puts_its_trace_id_in_both_log_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        slow_request_ms: 0,
        ..embedded(&dir)
    };
    let (logs, _guard) = Logs::capture();
    let app = app(state(&settings).await);
    let request = Request::get("/health")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&app, request).await.status, StatusCode::OK);
    let slow = logs.lines_with("SLOW REQUEST");
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert!(
        slow[0].contains("trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\""),
        "{}",
        slow[0]
    );
    let debug = logs.lines_with("vitals_axum::layer: request");
    assert_eq!(debug.len(), 1, "{debug:?}");
    assert!(
        debug[0].contains("trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\""),
        "{}",
        debug[0]
    );
}

#[tokio::test]
async fn malformed_traceparent_is_ignored_and_never_logged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        slow_request_ms: 0,
        ..embedded(&dir)
    };
    let (logs, _guard) = Logs::capture();
    let app = app(state(&settings).await);
    for bad in [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "zz-injected<script>-x",
    ] {
        let request = Request::get("/health")
            .header("traceparent", bad)
            .body(Body::empty())
            .expect("request");
        assert_eq!(send(&app, request).await.status, StatusCode::OK);
    }
    let text = logs.text();
    assert_eq!(logs.lines_with("SLOW REQUEST").len(), 3, "{text}");
    assert!(!text.contains("trace_id"), "{text}");
    assert!(
        !text.to_lowercase().contains("4bf92f35") && !text.contains("<script>"),
        "{text}"
    );
}
