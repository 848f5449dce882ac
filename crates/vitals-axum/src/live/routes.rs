//! Handlers of the live endpoints and the dashboard page.

use axum::body::Body;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::StreamSlot;
use crate::{ApiError, Vitals};

/// The page: HTML, CSS and script in one document, embedded in the binary.
pub(crate) const PAGE: &str = include_str!("dashboard.html");

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/v1/metrics/history`.
pub(crate) async fn history(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let Some(live) = &vitals.inner.live else {
        return ApiError::not_found("/api/v1/metrics/history").into_response();
    };
    no_store(
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            live.history_json(),
        )
            .into_response(),
    )
}

/// `GET /api/v1/alerts`.
pub(crate) async fn alerts(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let Some(live) = &vitals.inner.live else {
        return ApiError::not_found("/api/v1/alerts").into_response();
    };
    no_store(axum::Json(live.alerts_json()).into_response())
}

/// `GET /api/v1/metrics/stream`: Server-Sent Events, one `sample` event per interval. The
/// token and rate limit are checked once, when the stream opens; the number of open streams
/// is capped (429 past it) and a stream's slot is freed when its client goes away.
pub(crate) async fn stream(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let Some(live) = &vitals.inner.live else {
        return ApiError::not_found("/api/v1/metrics/stream").into_response();
    };
    let Some(slot) = StreamSlot::try_take(&vitals.inner) else {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!(
                "{} live streams are open, the most this server allows; close one (e.g. another dashboard tab) and retry",
                live.max_streams
            ),
        )
        .into_response();
    };
    let rx = live.tick.subscribe();
    let retry_ms = live.interval.as_millis().clamp(1000, 30_000);
    // The first event goes out at once (the latest row), then one per new sample.
    let first = format!("retry: {retry_ms}\n\n");
    let state = (slot, rx, Some(first), true);
    let body =
        futures_util::stream::unfold(state, |(slot, mut rx, pending, mut fresh)| async move {
            if let Some(text) = pending {
                return Some((
                    Ok::<_, std::convert::Infallible>(text),
                    (slot, rx, None, fresh),
                ));
            }
            if !fresh && rx.changed().await.is_err() {
                return None;
            }
            fresh = false;
            rx.mark_unchanged();
            let live = slot.0.live.as_ref()?;
            let text = match live.event_json() {
                Some(data) => format!("event: sample\ndata: {data}\n\n"),
                // Nothing sampled yet: a comment keeps the connection (and its check) alive.
                None => ": waiting for the first sample\n\n".to_owned(),
            };
            Some((Ok(text), (slot, rx, None, fresh)))
        });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `GET /dashboard`: open, like any static page; the data it loads is what is protected.
pub(crate) async fn page(State(vitals): State<Vitals>) -> Response {
    match &vitals.inner.live {
        Some(_) => no_store(Html(PAGE).into_response()),
        _ => ApiError::not_found("/dashboard").into_response(),
    }
}

/// The number of live streams open now (for tests and the docs' measurements).
pub(crate) fn open_streams(vitals: &Vitals) -> usize {
    vitals.inner.live.as_ref().map_or(0, |l| {
        l.open_streams.load(std::sync::atomic::Ordering::Acquire)
    })
}
