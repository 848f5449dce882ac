//! Request ids: sequential per process, or the caller's own when it is safe to echo.

use http::HeaderValue;
use http::header::HeaderName;

/// `X-Request-ID`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served. [`RequestId::current`] gives it to handlers, and
/// [`ApiError`](crate::ApiError) quotes it in error bodies.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum::{Router, body::Body, routing::get};
/// use tower::ServiceExt;
/// use vitals_axum::layer::{PerfLayer, RequestId};
///
/// let app = Router::new()
///     .route("/", get(|| async { RequestId::current().map(|id| id.to_string()).unwrap_or_default() }))
///     .layer(PerfLayer::new(std::time::Duration::from_secs(3)));
/// let request = http::Request::get("/").header("x-request-id", "abc-1").body(Body::empty()).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(&body[..], b"abc-1");
/// # }
/// ```
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
/// use vitals_axum::layer::is_valid_request_id;
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

tokio::task_local! {
    /// The id of the request whose future is being polled.
    pub(crate) static CURRENT: RequestId;
}

/// The id of the request being served on this task, if any.
pub(crate) fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}
