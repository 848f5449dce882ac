//! `GET /api/v1/metrics` (JSON) and `GET /metrics` (Prometheus text).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::{ApiError, AppState};

/// The JSON snapshot. Reads only figures the collectors already hold, so it answers in
/// microseconds whatever the machine is doing.
pub async fn snapshot(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&state, &headers) {
        return e.into_response();
    }
    let mut response = Json(state.snapshot()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The Prometheus text exposition (format 0.0.4), from the same snapshot as the JSON.
pub async fn prometheus(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&state, &headers) {
        return e.into_response();
    }
    let body = state.exporter().render(&state.snapshot());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The checks both metrics endpoints share: the bearer token, then the rate limit (so
/// unauthenticated callers cannot spend the permits).
fn guard(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    authorize(state, headers)?;
    if state.take_metrics_permit() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "the metrics endpoints' rate limit is spent; poll less often or raise --metrics-rate-limit",
        ))
    }
}

/// Checks the bearer token when one is configured.
pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.metrics_token() else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// Compares without stopping at the first difference, so response time does not reveal how
/// much of a guessed token was right. (The length is not secret.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
