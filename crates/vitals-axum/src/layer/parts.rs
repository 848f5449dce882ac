//! The pieces every layer here is built from: the route a request matched, the header values
//! written from one buffer, and the log lines.

use std::time::Duration;

use axum::extract::MatchedPath;
use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request};

use vitals_core::text::escape_for_log;

use super::trace_context::TraceId;

/// The route label of a request: the matched template when axum routed it (the layer applied
/// with `Router::layer`), else nothing (`unmatched`); or the path itself where paths are
/// the routes (gRPC methods, say), see [`RouteFrom`].
pub(crate) fn route<B>(req: &Request<B>, from: RouteFrom) -> Option<&str> {
    match from {
        RouteFrom::MatchedPath => req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
        RouteFrom::Path => Some(req.uri().path()),
    }
}

/// Where the route label comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouteFrom {
    /// axum's matched route template (`/users/{id}`); requests that matched none are
    /// `unmatched`. The default.
    #[default]
    MatchedPath,
    /// The request path itself, for services whose paths are a fixed set (a tonic service's
    /// `/package.Service/Method`). The series cap still bounds what a client can add.
    Path,
}

/// Room for an id of up to 20 digits, `app;dur=` and up to 17 digits of milliseconds with
/// `.00ms`: 20 + 8 + 17 + 5.
const TEXTS: usize = 50;

/// The text of the three header values in one buffer: one allocation for all of them.
struct Texts {
    bytes: [u8; TEXTS],
    len: usize,
}

impl AsRef<[u8]> for Texts {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The timing headers' values and, for a numbered request, its id's:
/// `(X-Request-ID, X-Response-Time, Server-Timing)`. Milliseconds with two decimals, rounded
/// half up, written with integer arithmetic (float formatting costs more than the rest of
/// the layer).
pub(crate) fn header_values(
    id_digits: Option<&[u8]>,
    elapsed: Duration,
) -> (Option<HeaderValue>, HeaderValue, HeaderValue) {
    const PREFIX: &[u8] = b"app;dur=";
    let hundredths = vitals_core::math::nanos(elapsed).saturating_add(5_000) / 10_000;
    let (whole, fraction) = (hundredths / 100, hundredths % 100);
    let mut digits = itoa::Buffer::new();
    let whole = digits.format(whole).as_bytes();
    let fraction = u8::try_from(fraction).unwrap_or(0);
    let mut texts = Texts {
        bytes: [0; TEXTS],
        len: 0,
    };
    let mut put = |part: &[u8]| {
        texts.bytes[texts.len..texts.len + part.len()].copy_from_slice(part);
        texts.len += part.len();
    };
    let id_len = id_digits.map_or(0, <[u8]>::len);
    if let Some(id) = id_digits {
        put(id);
    }
    put(PREFIX);
    put(whole);
    put(&[b'.', b'0' + fraction / 10, b'0' + fraction % 10, b'm', b's']);
    let end = texts.len;
    let shared = Bytes::from_owner(texts);
    let value = |bytes: Bytes| {
        HeaderValue::from_maybe_shared(bytes).unwrap_or(HeaderValue::from_static("0"))
    };
    let figure = id_len + PREFIX.len();
    (
        id_digits.map(|_| value(shared.slice(..id_len))),
        value(shared.slice(figure..end)),
        value(shared.slice(id_len..end - 2)),
    )
}

/// What the log lines say of a request (its method is the series').
pub(crate) struct Seen {
    /// Only the path is ever logged; the rest of the URI is not kept.
    pub(crate) path: Option<PathAndQuery>,
    pub(crate) trace: Option<TraceId>,
}

impl Seen {
    pub(crate) fn of<B>(req: &Request<B>) -> Self {
        Self {
            path: req.uri().path_and_query().cloned(),
            trace: req
                .headers()
                .get(&super::trace_context::TRACEPARENT)
                .and_then(|v| TraceId::from_traceparent(v.as_bytes())),
        }
    }

    /// The WARN line of a slow request and the DEBUG line of every request.
    pub(crate) fn log(
        &self,
        id: &dyn std::fmt::Display,
        (method, route): (&str, &str),
        status: u16,
        elapsed: Duration,
        slow: Option<Duration>,
    ) {
        let trace_id = self.trace.as_ref().map(TraceId::as_str);
        if let Some(threshold) = slow {
            tracing::warn!(
                target: "vitals_axum::layer",
                request_id = %id,
                trace_id,
                route,
                status,
                "SLOW REQUEST: {} {} took {}ms (threshold: {}ms)",
                method,
                escape_for_log(self.path.as_ref().map_or("/", PathAndQuery::path)),
                elapsed.as_millis(),
                threshold.as_millis(),
            );
        }
        tracing::debug!(
            target: "vitals_axum::layer",
            request_id = %id,
            trace_id,
            method = %method,
            route,
            status,
            duration_ms = vitals_core::math::round_to(elapsed.as_secs_f64() * 1000.0, 3),
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_millis(elapsed: Duration) -> HeaderValue {
        let (id, response_time, server_timing) = header_values(Some(b"42"), elapsed);
        assert_eq!(id.expect("numbered"), "42");
        let figure = response_time
            .to_str()
            .expect("ascii")
            .trim_end_matches("ms");
        assert_eq!(server_timing, format!("app;dur={figure}").as_str());
        response_time
    }

    #[test]
    fn response_time_has_two_decimals_and_ms() {
        assert_eq!(format_millis(Duration::from_nanos(234_561_200)), "234.56ms");
        assert_eq!(format_millis(Duration::from_nanos(234_565_000)), "234.57ms");
        assert_eq!(format_millis(Duration::from_nanos(4_000)), "0.00ms");
        assert_eq!(format_millis(Duration::from_nanos(5_000)), "0.01ms");
        assert_eq!(format_millis(Duration::from_millis(3456)), "3456.00ms");
        assert_eq!(
            format_millis(Duration::from_nanos(999_995_000)),
            "1000.00ms"
        );
        let (id, rt, _) = header_values(None, Duration::from_millis(1));
        assert!(id.is_none());
        assert_eq!(rt, "1.00ms");
    }
}
