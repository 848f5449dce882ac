//! The one error type every route answers with.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::request_id::RequestId;

/// An error answer: `{"error": {"code", "message", "request_id"}}` with a 4xx or 5xx status.
///
/// The message is written for the caller; internal details (SQL, connection strings, panic
/// payloads) never go in it: log them, then answer with a plain message. The request id comes
/// from the performance layer, so the caller can quote it and operators can find the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 404: no route for this path.
    pub fn not_found(path: &str) -> Self {
        // Echo at most 100 characters of the path: enough to spot a typo, not a mirror for
        // whatever a client sends.
        const SHOWN: usize = 100;
        let shown = match path.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}…", &path[..cut]),
            None => path.to_owned(),
        };
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {shown}; see the README for the API"),
        )
    }

    /// 401: a protected endpoint without the right bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs an Authorization: Bearer <token> header with the metrics token",
        )
    }

    /// 503: a dependency is unavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500: something failed that the caller cannot fix.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to answer this request; quote the request id when reporting it",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = RequestId::current().map(|id| id.to_string());
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "request_id": request_id,
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            // Limits here refill every second.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
