//! The dashboard page and its live endpoints: history, stream, alerts.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::ApiError;
use crate::request_id::own_request;
use crate::vitals::Vitals;

/// The page: HTML, CSS and script in one document, embedded in the binary.
const PAGE: &str = include_str!("../assets/dashboard.html");

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/v1/metrics/history`.
pub async fn history(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    let _own = own_request();
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let Some(live) = vitals.engine().live() else {
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
pub async fn alerts(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    let _own = own_request();
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let Some(live) = vitals.engine().live() else {
        return ApiError::not_found("/api/v1/alerts").into_response();
    };
    no_store(axum::Json(live.alerts_json()).into_response())
}

/// `GET /api/v1/metrics/stream`: Server-Sent Events, one `sample` event per interval. The
/// token and rate limit are checked once, when the stream opens; the number of open streams
/// is capped (429 past it) and a stream's slot is freed when its client goes away. When the
/// application starts shutting down ([`Vitals::graceful_shutdown`]) every stream sends a last
/// `shutdown` event and ends, so it never holds the shutdown up.
pub async fn stream(State(vitals): State<Vitals>, headers: HeaderMap) -> Response {
    let _own = own_request();
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let Some(live) = vitals.engine().live() else {
        return ApiError::not_found("/api/v1/metrics/stream").into_response();
    };
    if vitals.engine().is_shutting_down() {
        return ApiError::unavailable("the server is shutting down; reconnect to another instance")
            .into_response();
    }
    let Some(slot) = StreamSlot::try_take(&vitals) else {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!(
                "{} live streams are open, the most this server allows; close one (e.g. another dashboard tab) and retry",
                vitals.web().max_streams
            ),
        )
        .into_response();
    };
    let retry_ms = live.interval().as_millis().clamp(1000, 30_000);
    let events = Events {
        ticks: live.subscribe(),
        shutdown: Box::pin(vitals.engine().shutdown_begun()),
        // The first event goes out at once (the latest row), then one per new sample.
        pending: Some(format!("retry: {retry_ms}\n\n")),
        fresh: true,
        ended: false,
        slot,
    };
    let body = futures_util::stream::unfold(events, |mut events| async move {
        let text = events.next().await?;
        Some((Ok::<_, std::convert::Infallible>(text), events))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// One live stream: what it sends next.
struct Events {
    ticks: tokio::sync::watch::Receiver<u64>,
    shutdown: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    pending: Option<String>,
    fresh: bool,
    ended: bool,
    slot: StreamSlot,
}

impl Events {
    /// The next event's text; `None` ends the stream.
    async fn next(&mut self) -> Option<String> {
        if let Some(text) = self.pending.take() {
            return Some(text);
        }
        if self.ended {
            return None;
        }
        if !self.fresh {
            tokio::select! {
                changed = self.ticks.changed() => changed.ok()?,
                () = &mut self.shutdown => {
                    self.ended = true;
                    return Some("event: shutdown\ndata: {}\n\n".to_owned());
                }
            }
        }
        self.fresh = false;
        self.ticks.mark_unchanged();
        let live = self.slot.0.engine().live()?;
        Some(match live.event_json() {
            Some(data) => format!("event: sample\ndata: {data}\n\n"),
            // Nothing sampled yet: a comment keeps the connection (and its check) alive.
            None => ": waiting for the first sample\n\n".to_owned(),
        })
    }
}

/// `GET /dashboard`: open, like any static page; the data it loads is what is protected.
pub async fn dashboard(State(vitals): State<Vitals>) -> Response {
    let _own = own_request();
    match vitals.engine().live() {
        Some(_) => no_store(Html(PAGE).into_response()),
        _ => ApiError::not_found("/dashboard").into_response(),
    }
}

/// Keeps one stream slot; frees it when dropped (the client went away or the server stops).
struct StreamSlot(Vitals);

impl StreamSlot {
    fn try_take(vitals: &Vitals) -> Option<Self> {
        let web = vitals.web();
        web.open_streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < web.max_streams).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(vitals.clone()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.web().open_streams.fetch_sub(1, Ordering::AcqRel);
    }
}
