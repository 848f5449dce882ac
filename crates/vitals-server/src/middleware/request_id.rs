//! Request ids: sequential per process, or the caller's own when it is safe to echo.

use std::cell::Cell;

use axum::extract::MatchedPath;
use http::HeaderValue;
use http::header::HeaderName;

/// `X-Request-ID`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served. [`RequestId::current`] gives it to handlers, and
/// [`ApiError`](crate::ApiError) quotes it in error bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id of the request this task is serving, when the performance layer is in front.
    pub fn current() -> Option<Self> {
        current()
    }

    /// The id as text (ids are ASCII by construction).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an inbound id may be echoed: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
///
/// ```
/// use vitals_server::middleware::is_valid_request_id;
/// assert!(is_valid_request_id(b"req-42.a_b"));
/// assert!(!is_valid_request_id(b""));
/// assert!(!is_valid_request_id(b"has space"));
/// ```
pub fn is_valid_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What the layers learn about a request while it is served, kept in a task-local for the
/// lifetime of its future: no allocation in the request's or the response's extensions.
pub(crate) struct RequestContext {
    pub(crate) id: RequestId,
    /// The matched route template, set from inside the router by `RouteTag`.
    pub(crate) route: Cell<Option<MatchedPath>>,
}

tokio::task_local! {
    /// The request whose future is being polled.
    pub(crate) static CURRENT: RequestContext;
}

/// The id of the request being served on this task, if any.
pub(crate) fn current() -> Option<RequestId> {
    CURRENT.try_with(|c| c.id.clone()).ok()
}

/// Records the matched route of the request being served on this task (no-op outside the
/// performance layer).
pub(crate) fn set_route(route: MatchedPath) {
    let _ = CURRENT.try_with(|c| c.route.set(Some(route)));
}
