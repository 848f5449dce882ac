//! The handlers [`Vitals::routes`](crate::Vitals::routes) mounts, as plain functions: mount
//! any of them at a path of your choice, or on another listener, with the `Vitals` as state.
//!
//! ```
//! use axum::{Router, routing::get};
//! use vitals_axum::{Vitals, handlers};
//!
//! let vitals = Vitals::builder().build().unwrap();
//! // An admin router, served on a port of its own (say 127.0.0.1:9100).
//! let admin: Router = Router::new()
//!     .route("/internal/metrics", get(handlers::prometheus))
//!     .route("/internal/ready", get(handlers::ready))
//!     .with_state(vitals.clone());
//! # let _ = admin;
//! ```

mod live;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::request_id::own_request;
use crate::vitals::Vitals;

#[cfg(feature = "pprof")]
pub use crate::pprof::profile;
pub use live::{alerts, dashboard, history, stream};

/// `GET /api/v1/metrics`: the JSON snapshot. Reads only figures the collectors already hold,
/// so it answers in microseconds whatever the machine is doing.
pub async fn snapshot(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    let _own = own_request();
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let mut response = Json(vitals.snapshot()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /metrics`: the Prometheus text exposition (format 0.0.4), from the same snapshot; or,
/// when the `Accept` header asks for `application/openmetrics-text` (as Prometheus does),
/// OpenMetrics 1.0 with the request-duration buckets' exemplars.
pub async fn prometheus(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    let _own = own_request();
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(vitals_engine::accepts_openmetrics);
    let (content_type, body) = if openmetrics {
        (
            vitals_engine::OPENMETRICS_CONTENT_TYPE,
            vitals.engine().render_openmetrics(),
        )
    } else {
        (
            "text/plain; version=0.0.4; charset=utf-8",
            vitals.render_prometheus(),
        )
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::VARY, HeaderValue::from_static("accept")),
        ],
        body,
    )
        .into_response()
}

/// `GET /health`: liveness; answers while the process serves, touching nothing else.
pub async fn health() -> Json<Value> {
    let _own = own_request();
    Json(json!({"status": "ok"}))
}

/// `GET /health/ready`: 200 while every required dependency answers, 503 with reasons
/// otherwise.
pub async fn ready(State(vitals): State<Vitals>) -> (StatusCode, Json<vitals_engine::Readiness>) {
    let _own = own_request();
    let body = vitals.engine().readiness().await;
    let status = if body.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
