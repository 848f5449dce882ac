//! The server on the real PostgreSQL with a Redis that is not there: it degrades instead of
//! failing.

mod common;

use std::time::Duration;

use common::{embedded, get, state};
use http::StatusCode;
use vitals_server::{Settings, app};

#[tokio::test]
async fn redis_down_leaves_the_service_ready_and_counts_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(format!("redis://127.0.0.1:{}", common::free_port())),
        ..embedded(&dir)
    };
    let state = state(&settings).await;
    let app = app(state.clone());

    let ready = get(&app, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.json);
    assert_eq!(ready.json["checks"]["cache"]["status"], "degraded");
    assert_eq!(ready.json["checks"]["database"]["status"], "ok");

    assert_eq!(state.cache().get("k").await, None);
    assert!(!state.cache().set("k", "v", Duration::from_secs(1)).await);
    let doc = get(&app, "/api/v1/metrics").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.json["cache"]["errors"], 2);
    assert_eq!(doc.json["cache"]["enabled"], true);
    assert_eq!(get(&app, "/health").await.status, StatusCode::OK);
}
