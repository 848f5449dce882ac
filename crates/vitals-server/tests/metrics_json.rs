//! `GET /api/v1/metrics` over the real router, on the embedded default and on PostgreSQL +
//! Redis.

mod common;

use std::time::Duration;

use axum::body::Body;
use common::{embedded, get, send, state};
use http::{Request, StatusCode};
use serde_json::Value;
use vitals_server::{Settings, app};

/// The fields docs/metrics-endpoint.md fixes, and their JSON types.
const SEED: &[(&str, &[(&str, &str)])] = &[
    (
        "system",
        &[
            ("cpu_percent", "number"),
            ("memory_mb", "number"),
            ("memory_percent", "number"),
            ("memory_available_mb", "number"),
            ("disk_read_mb", "number"),
            ("disk_write_mb", "number"),
        ],
    ),
    (
        "database",
        &[
            ("pool_size", "integer"),
            ("pool_available", "integer"),
            ("pool_active", "integer"),
            ("pool_min_size", "integer"),
            ("pool_max_size", "integer"),
            ("pool_utilization_percent", "number"),
        ],
    ),
    (
        "cache",
        &[
            ("enabled", "boolean"),
            ("hits", "integer"),
            ("misses", "integer"),
            ("sets", "integer"),
            ("deletes", "integer"),
            ("errors", "integer"),
            ("total_reads", "integer"),
            ("hit_rate_percent", "number"),
        ],
    ),
];

fn assert_seed_fields(doc: &Value) {
    let ts = doc["timestamp"].as_str().expect("timestamp is a string");
    // 2026-01-18T14:23:45.123456Z
    assert_eq!(ts.len(), 27, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
    for (section, fields) in SEED {
        for (field, kind) in *fields {
            let value = &doc[section][field];
            let ok = match *kind {
                "number" => value.as_f64().is_some_and(f64::is_finite),
                "integer" => value.as_u64().is_some(),
                "boolean" => value.is_boolean(),
                _ => false,
            };
            assert!(ok, "{section}.{field} should be a {kind}: {value}");
        }
    }
    // Those fields come first in each section, in the documented order.
    for (section, fields) in SEED {
        let keys: Vec<&str> = doc[section]
            .as_object()
            .expect("section object")
            .keys()
            .map(String::as_str)
            .take(fields.len())
            .collect();
        let expected: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
        assert_eq!(keys, expected, "order of {section}");
    }
}

#[tokio::test]
async fn embedded_default_serves_every_seed_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(state(&embedded(&dir)).await);
    let answer = get(&app, "/api/v1/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_seed_fields(&answer.json);
    assert_eq!(answer.json["database"]["backend"], "sqlite");
    assert_eq!(answer.json["cache"]["backend"], "memory");
    assert_eq!(answer.json["cache"]["enabled"], true);
    assert!(answer.json["system"]["memory_mb"].as_f64() > Some(0.0));
    assert!(answer.json["process"]["rss_mb"].as_f64() > Some(0.0));
}

/// Replaces each measured value of `section` by its JSON type, keeping keys and order.
fn measured(doc: &mut Value, section: &str) {
    if let Some(fields) = doc[section].as_object_mut() {
        for value in fields.values_mut() {
            let kind = match value {
                Value::Number(n) if n.is_u64() => "<integer>",
                Value::Number(_) => "<number>",
                Value::String(_) => "<string>",
                _ => "<other>",
            };
            *value = Value::from(kind);
        }
    }
}

#[tokio::test]
async fn json_shape_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(state(&embedded(&dir)).await);
    let mut doc = get(&app, "/api/v1/metrics").await.json;
    measured(&mut doc, "system");
    measured(&mut doc, "http");
    measured(&mut doc, "process");
    insta::assert_json_snapshot!("metrics_json_shape", doc, {
        ".timestamp" => "[timestamp]",
        ".database.pool_size" => "[varies]",
        ".database.pool_available" => "[varies]",
        ".database.pool_active" => "[varies]",
        ".database.pool_utilization_percent" => "[varies]",
        ".database.acquires_total" => "[varies]",
        ".database.acquire_wait_p50_ms" => "[varies]",
        ".database.acquire_wait_p99_ms" => "[varies]",
    });
}

#[tokio::test]
async fn cache_and_pool_figures_follow_real_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = state(&embedded(&dir)).await;
    let app = app(state.clone());
    let cache = state.cache();
    let ttl = Duration::from_secs(60);
    cache.get("a").await;
    cache.set("a", "1", ttl).await;
    cache.get("a").await;
    cache.get("a").await;
    cache.delete("a").await;
    let doc = get(&app, "/api/v1/metrics").await.json;
    let c = &doc["cache"];
    assert_eq!(
        (
            c["hits"].as_u64(),
            c["misses"].as_u64(),
            c["sets"].as_u64(),
            c["deletes"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(1))
    );
    assert_eq!(c["total_reads"], 3);
    assert_eq!(c["hit_rate_percent"], 66.67);

    // Readiness pings are Vitals' own traffic: they are not the application's acquires.
    let before = doc["database"]["acquires_total"].as_u64().expect("count");
    assert_eq!(get(&app, "/health/ready").await.status, StatusCode::OK);
    let after = get(&app, "/api/v1/metrics").await.json;
    assert_eq!(after["database"]["acquires_total"].as_u64(), Some(before));
    assert_eq!(after["database"]["pool_max_size"], 3);
    assert_eq!(after["database"]["pool_min_size"], 1);
}

#[tokio::test]
async fn postgres_and_redis_serve_every_seed_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(common::redis_url()),
        ..embedded(&dir)
    };
    let state = state(&settings).await;
    let app = app(state.clone());
    let doc = get(&app, "/api/v1/metrics").await.json;
    assert_seed_fields(&doc);
    assert_eq!(doc["database"]["backend"], "postgresql");
    assert_eq!(doc["cache"]["backend"], "redis");
    assert!(doc["database"]["pool_size"].as_u64() >= Some(1));

    let key = format!("vitals-test:server:{}", std::process::id());
    assert!(state.cache().set(&key, "v", Duration::from_secs(30)).await);
    assert!(state.cache().get(&key).await.is_some());
    let doc = get(&app, "/api/v1/metrics").await.json;
    assert_eq!(
        (doc["cache"]["sets"].as_u64(), doc["cache"]["hits"].as_u64()),
        (Some(1), Some(1))
    );
    state.cache().delete(&key).await;
}

#[tokio::test]
async fn token_protects_the_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        metrics_token: Some("letmein".into()),
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let denied = get(&app, "/api/v1/metrics").await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert_eq!(denied.json["error"]["code"], "unauthorized");
    assert_eq!(denied.header("www-authenticate"), "Bearer");
    let wrong = send(
        &app,
        Request::get("/api/v1/metrics")
            .header("authorization", "Bearer letmeout")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let allowed = send(
        &app,
        Request::get("/api/v1/metrics")
            .header("authorization", "Bearer letmein")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK);
    // Health stays open: balancers probe it without credentials.
    assert_eq!(get(&app, "/health").await.status, StatusCode::OK);
}
