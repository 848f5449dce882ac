//! The handlers [`Vitals::routes`](crate::Vitals::routes) mounts: the JSON snapshot, the
//! Prometheus exposition, liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::{ApiError, Vitals};

/// `GET /api/v1/metrics`. Reads only figures the collectors already hold, so it answers in
/// microseconds whatever the machine is doing.
pub(crate) async fn snapshot(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let mut response = Json(vitals.snapshot()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /metrics`: the Prometheus text exposition (format 0.0.4), from the same snapshot.
pub(crate) async fn prometheus(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        vitals.render_prometheus(),
    )
        .into_response()
}

/// `GET /health`: answers while the process serves, touching nothing else.
pub(crate) async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /health/ready`.
pub(crate) async fn ready(State(vitals): State<Vitals>) -> (StatusCode, Json<crate::Readiness>) {
    let (status, body) = vitals.readiness().await;
    (status, Json(body))
}

/// Compares without stopping at the first difference, so response time does not reveal how
/// much of a guessed token was right. (The length is not secret.)
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token of an `Authorization` header (scheme matched without regard to case).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// 429 with a hint of when to come back.
pub(crate) fn rate_limited() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "the metrics endpoints' rate limit is spent; poll less often or raise the limit",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert_eq!(bearer(&h), Some("s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert_eq!(bearer(&h), None);
    }
}
