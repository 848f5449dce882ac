//! Request ids: sequential per process, or the caller's own when it is safe to echo; and the
//! per-request context the layers keep in a task-local while the request is served.

use std::cell::Cell;

use http::HeaderValue;
use http::header::HeaderName;
use vitals_engine::{OwnRequest, RequestMetrics};

/// `X-Request-ID`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served. [`RequestId::current`] gives it to handlers, and
/// [`ApiError`](crate::ApiError) quotes it in error bodies.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum::{Router, body::Body, routing::get};
/// use tower::ServiceExt;
/// use vitals_axum::layer::{RequestId, RequestIdLayer};
///
/// let app = Router::new()
///     .route("/", get(|| async { RequestId::current().map(|id| id.to_string()).unwrap_or_default() }))
///     .layer(RequestIdLayer::new());
/// let request = http::Request::get("/").header("x-request-id", "abc-1").body(Body::empty()).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(&body[..], b"abc-1");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Id);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Id {
    /// The caller's own, echoed.
    Given(HeaderValue),
    /// The next number of the layer's counter.
    Number(u64),
}

impl RequestId {
    /// The id of the request this task is serving, when a request-id layer is in front.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|ctx| ctx.id.clone()).ok()
    }

    pub(crate) fn new(id: Id) -> Self {
        Self(id)
    }

    pub(crate) fn id(&self) -> &Id {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            // Checked to be ASCII when taken.
            Id::Given(value) => f.write_str(value.to_str().unwrap_or_default()),
            Id::Number(n) => write!(f, "{n}"),
        }
    }
}

/// The caller's id when it may be echoed (1 to 64 characters of `A-Z a-z 0-9 . _ -`).
pub(crate) fn given(headers: &http::HeaderMap) -> Option<HeaderValue> {
    headers
        .get(&X_REQUEST_ID)
        .filter(|v| is_valid(v.as_bytes()))
        .cloned()
}

fn is_valid(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What the layers know of the request being served, kept in a task-local.
pub(crate) struct Context {
    pub(crate) id: RequestId,
    /// Set by Vitals' own handlers: the answer is not the application's traffic.
    pub(crate) own: Cell<bool>,
    /// The metrics the request is counted in, once a metrics layer has seen it.
    pub(crate) metrics: Cell<Option<&'static RequestMetrics>>,
}

tokio::task_local! {
    /// The request whose future is being polled.
    pub(crate) static CURRENT: Context;
}

/// Marks the request being served as one of Vitals' own (a scrape, a probe, a dashboard
/// poll): it leaves the in-flight figure while the guard lives, and its answer is not counted
/// unless the builder says to count them.
pub(crate) fn own_request() -> Option<OwnRequest> {
    CURRENT
        .try_with(|ctx| {
            ctx.own.set(true);
            ctx.metrics.get().map(RequestMetrics::own)
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_ids_are_echoed() {
        assert!(is_valid(b"req-42.a_b"));
        assert!(!is_valid(b""));
        assert!(!is_valid(b"has space"));
        assert!(!is_valid(&[b'a'; 65]));
    }
}
