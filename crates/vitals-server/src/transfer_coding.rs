//! Transfer codings (RFC 9112 §7): the server implements `chunked` only, which hyper decodes.
//! A request declaring another coding (`Transfer-Encoding: gzip, chunked`) would otherwise
//! have its body read as if it were not encoded; RFC 9112 §6.1 asks for 501 instead.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::TRANSFER_ENCODING;

use vitals_axum::ApiError;

/// The code of the refusal.
pub const UNSUPPORTED: &str = "unsupported_transfer_coding";

/// Answers 501 `unsupported_transfer_coding` to a request declaring a transfer coding other
/// than `chunked`; passes every other request on.
pub async fn refuse_unimplemented(request: Request, next: Next) -> Response {
    match unimplemented_coding(request.headers()) {
        Some(coding) => ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            UNSUPPORTED,
            format!(
                "the transfer coding {coding:?} is not implemented (only chunked is); send the body as it is, with Content-Length or Transfer-Encoding: chunked"
            ),
        )
        .into_response(),
        None => next.run(request).await,
    }
}

/// The first coding named in `Transfer-Encoding` other than `chunked`, if any (at most 20
/// characters of it, for the message).
fn unimplemented_coding(headers: &http::HeaderMap) -> Option<String> {
    headers.get_all(TRANSFER_ENCODING).iter().find_map(|value| {
        let Ok(text) = value.to_str() else {
            return Some("(not readable)".to_owned());
        };
        text.split(',')
            .map(|c| c.split(';').next().unwrap_or_default().trim())
            .find(|c| !c.is_empty() && !c.eq_ignore_ascii_case("chunked"))
            .map(|c| c.chars().take(20).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::unimplemented_coding;

    #[test]
    fn only_chunked_passes() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(unimplemented_coding(&headers), None);
        headers.insert("transfer-encoding", "Chunked".parse().expect("value"));
        assert_eq!(unimplemented_coding(&headers), None);
        headers.insert("transfer-encoding", "gzip, chunked".parse().expect("value"));
        assert_eq!(unimplemented_coding(&headers).as_deref(), Some("gzip"));
        headers.insert(
            "transfer-encoding",
            "x-custom;q=1 , chunked".parse().expect("value"),
        );
        assert_eq!(unimplemented_coding(&headers).as_deref(), Some("x-custom"));
    }
}
