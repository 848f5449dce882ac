//! Span timings of the server's own parts: `#[tracing::instrument]` spans recorded by the
//! library's span layer into `/metrics` and the JSON `spans` section. (One test in this binary:
//! the span timings are per process.)

mod common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode};
use tracing_subscriber::layer::SubscriberExt;
use vitals_server::{Settings, app, telemetry};

#[tokio::test]
async fn chat_requests_show_where_their_time_goes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        agent_latency_ms: 30,
        ..embedded(&dir)
    };
    let subscriber = tracing_subscriber::registry().with(telemetry::span_layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = app(state(&settings).await);
    let chats = 3;
    for i in 0..chats {
        let body = serde_json::json!({"user_id": "spans-user", "message": format!("hello {i}")});
        let answer = send(
            &app,
            Request::post("/api/v1/chat")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    }
    let json = get(&app, "/api/v1/metrics").await.json;
    let spans = json["spans"].as_array().expect("spans section").clone();
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {spans:?}"))
            .clone()
    };
    for name in [
        "agent.reply",
        "store.read",
        "store.write",
        "cache.get",
        "cache.set",
    ] {
        let s = find(name);
        for field in ["count", "p50_ms", "p95_ms", "p99_ms", "total_ms"] {
            assert!(s[field].as_f64().is_some(), "{name}.{field}: {s}");
        }
    }
    assert_eq!(find("agent.reply")["count"], chats);
    // A span closes when its last handle drops; the SQLite driver's worker thread can keep a
    // handle to the latest one until its next command, so the newest store span may still be open.
    for name in ["store.read", "store.write"] {
        let n = find(name)["count"].as_u64().expect("count");
        assert!((1..=chats).contains(&n), "{name}: {n}");
    }
    assert_eq!(find("cache.get")["count"], chats, "{spans:?}");
    // The agent thinks for 30 ms on a timer: waiting is not busy time.
    let agent_total = find("agent.reply")["total_ms"].as_f64().expect("number");
    assert!(
        agent_total < 30.0 * chats as f64,
        "busy, not wall time: {agent_total}"
    );
    // Sorted by total time, largest first.
    let totals: Vec<f64> = spans
        .iter()
        .filter_map(|s| s["total_ms"].as_f64())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");

    let (_, _, body) = send_raw(
        &app,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("# TYPE health_agent_span_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "health_agent_span_duration_seconds_count{{span=\"agent.reply\"}} {chats}"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "health_agent_span_duration_seconds_bucket{span=\"store.write\",le=\"0.0001\"}"
        ),
        "same buckets as the acquire-wait histogram"
    );
}
