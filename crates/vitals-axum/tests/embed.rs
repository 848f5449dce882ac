//! The `embed` example's router against the real PostgreSQL and Redis: its requests, its
//! pool, its cache and its own metrics show on both endpoints, and the exposition passes
//! `promtool check metrics`. Alone in its binary: the example installs the global recorder.

#[path = "../examples/embed.rs"]
mod embed;

use axum::Router;
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vitals_axum::{BuildError, Vitals};
use vitals_testkit::{OwnDatabase, OwnRedis, assert_promtool_clean, free_port};

async fn call(app: &Router, request: Request<Body>) -> (u16, String) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_example_shows_its_requests_pool_cache_and_own_metrics() {
    let db = OwnDatabase::create();
    let redis = OwnRedis::start(free_port());
    let dir = tempfile::tempdir().expect("temp dir");
    let (app, _vitals) = embed::app(Some(db.url()), Some(redis.url()), dir.path())
        .await
        .expect("the example builds");

    const ORDERS: u64 = 7;
    for i in 0..ORDERS {
        let request = Request::post("/orders")
            .body(Body::from(format!("{{\"sku\": \"tea-{i}\"}}")))
            .expect("request");
        let (status, body) = call(&app, request).await;
        assert_eq!(status, 201, "{body}");
    }

    let (status, body) = call(
        &app,
        Request::get("/api/v1/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["http"]["requests_total"], ORDERS);
    assert_eq!(doc["database"]["backend"], "postgresql");
    assert!(doc["database"]["pool_size"].as_u64().expect("size") >= 1);
    assert_eq!(doc["database"]["acquires_total"], ORDERS);
    assert_eq!(doc["cache"]["backend"], "redis");
    assert_eq!(doc["cache"]["enabled"], true);
    assert_eq!(doc["cache"]["sets"], ORDERS);
    assert_eq!(doc["cache"]["hits"], ORDERS);
    let counters = doc["app"]["counters"].as_array().expect("app counters");
    let orders = counters
        .iter()
        .find(|c| c["name"] == "orders_created_total")
        .expect("the app's own counter");
    assert_eq!(orders["value"], ORDERS);
    let histogram = doc["app"]["histograms"]
        .as_array()
        .expect("app histograms")
        .iter()
        .find(|h| h["name"] == "order_seconds")
        .expect("the app's own histogram");
    assert_eq!(histogram["count"], ORDERS);
    assert!(histogram["sum"].as_f64().expect("sum") > 0.0);
    assert!(histogram["p99"].as_f64().expect("p99") >= histogram["p50"].as_f64().expect("p50"));

    let (status, text) = call(
        &app,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(series(&text, "orders_created_total"), ORDERS as f64);
    assert_eq!(series(&text, "order_seconds_count"), ORDERS as f64);
    assert_eq!(
        series(
            &text,
            "shop_http_requests_total{method=\"POST\",route=\"/orders\",status=\"201\"}"
        ),
        ORDERS as f64
    );
    assert_eq!(series(&text, "shop_cache_sets_total"), ORDERS as f64);
    assert_eq!(
        series(&text, "shop_db_pool_acquire_duration_seconds_count"),
        ORDERS as f64
    );
    assert_promtool_clean(&text);

    // The recorder is taken now: a second install is refused, clearly.
    let second = Vitals::builder().install_global_recorder().build();
    let err = second.expect_err("a second global install fails");
    assert!(matches!(err, BuildError::GlobalRecorderTaken), "{err}");
    assert!(err.to_string().contains("already installed"), "{err}");
}
