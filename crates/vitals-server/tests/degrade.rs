//! Dependencies that go away and come back while the server keeps running: a Redis of the
//! test's own, killed and restarted; PostgreSQL behind a proxy the test cuts and restores.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use common::{OwnRedis, Proxy, chat, embedded, free_port, get, state, unique};
use http::StatusCode;
use vitals_server::{Settings, app};

async fn counter(app: &Router, section: &str, field: &str) -> u64 {
    get(app, "/api/v1/metrics").await.json[section][field]
        .as_u64()
        .expect("counter")
}

#[tokio::test]
async fn redis_outage_keeps_chat_working_and_caching_resumes() {
    let redis = OwnRedis::start(free_port());
    let port = redis.port;
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(redis.url()),
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let user = unique("redis-outage");
    let history = format!("/api/v1/users/{user}/history");

    assert_eq!(chat(&app, &user, "hello").await.status, StatusCode::OK);
    get(&app, &history).await;
    get(&app, &history).await;
    assert_eq!(counter(&app, "cache", "hits").await, 1);
    assert_eq!(counter(&app, "cache", "errors").await, 0);

    redis.stop();
    for i in 0..5 {
        let answer = chat(&app, &user, &format!("during outage {i}")).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "chat works without the cache: {}",
            answer.json
        );
        assert_eq!(answer.json["history_len"], 4 + 2 * i);
    }
    let during = get(&app, &history).await;
    assert_eq!(during.status, StatusCode::OK);
    assert_eq!(
        during.json["messages"].as_array().map(Vec::len),
        Some(12),
        "served from the database"
    );
    // Each call either failed (counted in errors) or, once the circuit breaker opened after
    // five consecutive failures, was skipped without trying (counted in skipped).
    let errors = counter(&app, "cache", "errors").await;
    let skipped = counter(&app, "cache", "skipped").await;
    assert!(
        errors >= 5,
        "failures up to the breaker's threshold: {errors}"
    );
    assert!(
        errors + skipped >= 11,
        "every cache call is counted as failed or skipped: {errors} + {skipped}"
    );
    let ready = get(&app, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json["checks"]["cache"]["status"], "degraded");

    let _redis = OwnRedis::start(port);
    let hits_before = counter(&app, "cache", "hits").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        get(&app, &history).await;
        if counter(&app, "cache", "hits").await > hits_before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "caching resumes without a restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = get(&app, &history).await;
    assert_eq!(
        fresh.json["messages"].as_array().map(Vec::len),
        Some(12),
        "no stale history after the outage"
    );
}

fn postgres_addr() -> SocketAddr {
    let url = common::postgres_url();
    let host_port = url
        .split('@')
        .next_back()
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432");
    host_port
        .parse()
        .expect("VITALS_TEST_DATABASE_URL names host:port as an IP address")
}

#[tokio::test]
async fn database_outage_answers_503_quickly_and_recovers() {
    let proxy = Proxy::start(postgres_addr()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(format!("postgres://postgres@{}/test", proxy.addr)),
        acquire_timeout_ms: 1_000,
        pool_min: 1,
        pool_max: 3,
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let user = unique("db-outage");
    assert_eq!(chat(&app, &user, "before").await.status, StatusCode::OK);

    proxy.cut();
    let started = Instant::now();
    let answer = chat(&app, &user, "during").await;
    let took = started.elapsed();
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.json
    );
    assert_eq!(answer.json["error"]["code"], "database_unavailable");
    assert!(
        !answer.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("5432"),
        "no internals in the message"
    );
    assert!(
        took < Duration::from_secs(3),
        "answered within the acquire timeout: {took:?}"
    );
    let ready = get(&app, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json["checks"]["database"]["status"], "down");
    assert_eq!(get(&app, "/health").await.status, StatusCode::OK);
    let metrics = get(&app, "/api/v1/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK, "metrics keep answering");
    assert!(
        metrics.json["database"]["acquire_errors_total"].as_u64() >= Some(1),
        "the outage is counted: {}",
        metrics.json["database"]
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = chat(&app, &user, "after").await;
        if answer.status == StatusCode::OK {
            assert_eq!(
                answer.json["history_len"], 4,
                "the failed exchange stored nothing"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "recovers without a restart: {}",
            answer.json
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&app, "/health/ready").await.status, StatusCode::OK);
}
