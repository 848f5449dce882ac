//! Answers for what no handler answers: unknown paths, wrong methods, panics — in the same
//! JSON error shape as everything else.

use std::any::Any;

use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, Uri};

use crate::error::ApiError;

/// 404 for every path no route matches.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path())
}

/// 405 for a known path with a method it does not serve.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not served on {}", uri.path()),
    )
}

/// 500 for a handler that panicked; the panic message goes to the log, not to the caller.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic payload");
    tracing::error!(panic = detail, "handler panicked");
    ApiError::internal().into_response()
}
