//! The performance layer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::MatchedPath;
use http::header::HeaderName;
use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, Response};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use crate::request_id::{CURRENT, RequestId, X_REQUEST_ID, is_valid_request_id};
use super::trace_context::{TRACEPARENT, TraceId};
use vitals_engine::{InFlight, RequestMetrics};

/// `X-Response-Time`.
pub static X_RESPONSE_TIME: HeaderName = HeaderName::from_static("x-response-time");

/// `Server-Timing`, which browsers' developer tools show beside each request.
pub static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The route name logged and labelled for requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Times every request and tags its response.
///
/// For each request it
/// - takes the caller's `X-Request-ID` when it is 1–64 characters of `A-Za-z0-9._-`, and
///   otherwise the next number of a counter starting at 1 that all clones of this layer share
///   (one counter per [`Vitals`](crate::Vitals); an invalid inbound id is dropped, never
///   logged);
/// - makes that id available to handlers ([`RequestId::current`]) and to error bodies;
/// - sets `X-Response-Time: 12.34ms`, `Server-Timing: app;dur=12.34` (the same figure) and
///   `X-Request-ID` on the response, whatever its status;
/// - logs `SLOW REQUEST: METHOD /path took Nms (threshold: Tms)` at WARN when the request took
///   longer than the threshold (path without query string; no headers or bodies), and one
///   DEBUG line per request with method, route, status, duration and id;
/// - adds `trace_id` to both lines when the request carries a valid W3C `traceparent`
///   header (a malformed one is ignored and never logged).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use axum::{Router, routing::get, body::Body};
/// use http::Request;
/// use tower::ServiceExt;
/// use vitals_axum::layer::PerfLayer;
///
/// let app = Router::new()
///     .route("/hello", get(|| async { "hi" }))
///     .layer(PerfLayer::new(Duration::from_millis(3000)));
/// let res = app.oneshot(Request::get("/hello").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(res.headers()["x-request-id"], "1");
/// assert!(res.headers()["x-response-time"].to_str().unwrap().ends_with("ms"));
/// assert!(res.headers()["server-timing"].to_str().unwrap().starts_with("app;dur="));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PerfLayer {
    shared: Arc<Shared>,
}

struct Shared {
    next_id: AtomicU64,
    slow: Duration,
    metrics: Option<Arc<RequestMetrics>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("slow", &self.slow)
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl PerfLayer {
    /// A layer logging requests slower than `slow` as slow requests.
    pub fn new(slow: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                next_id: AtomicU64::new(1),
                slow,
                metrics: None,
            }),
        }
    }

    /// A layer that also records every request into `metrics` (counts by method, route and
    /// status, duration histogram, in-flight gauge, slow counter), with its slow threshold.
    pub fn with_metrics(metrics: Arc<RequestMetrics>) -> Self {
        Self {
            shared: Arc::new(Shared {
                next_id: AtomicU64::new(1),
                slow: metrics.slow_threshold(),
                metrics: Some(metrics),
            }),
        }
    }
}

impl<S> Layer<S> for PerfLayer {
    type Service = Perf<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Perf {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service of [`PerfLayer`].
#[derive(Clone, Debug)]
pub struct Perf<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, B, RB> Service<Request<B>> for Perf<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = PerfFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let started = Instant::now();
        let sequence = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let id = match req.headers().get(&X_REQUEST_ID) {
            Some(inbound) if is_valid_request_id(inbound.as_bytes()) => inbound.clone(),
            _ => HeaderValue::from(sequence),
        };
        // Applied with `Router::layer`, this layer wraps each route after routing, so the
        // matched template is already known (404s from the fallback have none).
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        // Only the path is ever logged; the rest of the URI is not kept.
        let path = req.uri().path_and_query().cloned();
        let trace = req
            .headers()
            .get(&TRACEPARENT)
            .and_then(|v| TraceId::from_traceparent(v.as_bytes()));
        let in_flight = self.shared.metrics.as_ref().map(RequestMetrics::start);
        PerfFuture {
            inner: CURRENT.scope(RequestId(id), self.inner.call(req)),
            state: Some(Pending {
                in_flight,
                started,
                route,
                method,
                path,
                trace,
                slow: self.shared.slow,
            }),
        }
    }
}

struct Pending {
    started: Instant,
    route: Option<MatchedPath>,
    method: Method,
    path: Option<PathAndQuery>,
    trace: Option<TraceId>,
    slow: Duration,
    /// Counts the request as in flight until the answer (or until the client goes away and
    /// the future is dropped); it also holds the metrics the answer is recorded into.
    in_flight: Option<InFlight>,
}

pin_project_lite::pin_project! {
    /// Response future of [`Perf`].
    pub struct PerfFuture<F> {
        #[pin]
        inner: TaskLocalFuture<RequestId, F>,
        state: Option<Pending>,
    }
}

impl<F, RB, E> Future for PerfFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = std::task::ready!(this.inner.as_mut().poll(cx))?;
        if let (Some(p), Some(id)) = (this.state.take(), this.inner.take_value()) {
            p.finish(id, &mut response);
        }
        Poll::Ready(Ok(response))
    }
}

impl Pending {
    fn finish<RB>(self, id: RequestId, response: &mut Response<RB>) {
        let elapsed = self.started.elapsed();
        let route = self
            .route
            .as_ref()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        let status = response.status().as_u16();
        let trace_id = self.trace.as_ref().map(TraceId::as_str);
        if let Some(metrics) = self.in_flight.as_ref().map(InFlight::metrics) {
            metrics.observe(&self.method, route, status, elapsed, self.started + elapsed);
        }
        // 408: the client was slow to send, which says nothing of our speed.
        if elapsed > self.slow && status != 408 {
            tracing::warn!(
                request_id = %id,
                trace_id,
                route,
                status,
                "SLOW REQUEST: {} {} took {}ms (threshold: {}ms)",
                self.method,
                escape_for_log(self.path.as_ref().map_or("/", PathAndQuery::path)),
                elapsed.as_millis(),
                self.slow.as_millis(),
            );
        }
        tracing::debug!(
            request_id = %id,
            trace_id,
            method = %self.method,
            route,
            status,
            duration_ms = vitals_core::math::round_to(elapsed.as_secs_f64() * 1000.0, 3),
            "request"
        );
        let (response_time, server_timing) = timing_headers(elapsed);
        let headers = response.headers_mut();
        headers.insert(X_RESPONSE_TIME.clone(), response_time);
        headers.insert(SERVER_TIMING.clone(), server_timing);
        headers.insert(X_REQUEST_ID.clone(), id.0);
    }
}

/// The text with control characters and Unicode bidi/line-separator characters written as
/// `\u{…}` escapes, so that a client cannot forge or reorder log lines.
pub fn escape_for_log(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
            )
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `12.34ms` and `app;dur=12.34`: milliseconds with two decimals, rounded half up, formatted
/// with integer arithmetic (float formatting costs more than the rest of this layer). Both
/// values are slices of one buffer: one allocation for the two headers.
fn timing_headers(elapsed: Duration) -> (HeaderValue, HeaderValue) {
    const PREFIX: &[u8] = b"app;dur=";
    let hundredths = (elapsed.as_nanos() + 5_000) / 10_000;
    let (whole, fraction) = (hundredths / 100, hundredths % 100);
    let mut digits = itoa::Buffer::new();
    let whole = digits.format(whole).as_bytes();
    let fraction = u8::try_from(fraction).unwrap_or(0);
    // `app;dur=` + the figure + `ms` (a u128 has at most 39 digits).
    let mut text = TimingText {
        bytes: [0; 56],
        len: 0,
    };
    let start = PREFIX.len();
    text.bytes[..start].copy_from_slice(PREFIX);
    let mut n = start + whole.len();
    text.bytes[start..n].copy_from_slice(whole);
    text.bytes[n..n + 5].copy_from_slice(&[
        b'.',
        b'0' + fraction / 10,
        b'0' + fraction % 10,
        b'm',
        b's',
    ]);
    n += 5;
    text.len = n;
    let shared = bytes::Bytes::from_owner(text);
    let value = |bytes: bytes::Bytes| {
        HeaderValue::from_maybe_shared(bytes).unwrap_or(HeaderValue::from_static("0"))
    };
    (value(shared.slice(start..n)), value(shared.slice(..n - 2)))
}

/// The text behind both timing headers.
struct TimingText {
    bytes: [u8; 56],
    len: usize,
}

impl AsRef<[u8]> for TimingText {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_millis(elapsed: Duration) -> HeaderValue {
        let (response_time, server_timing) = timing_headers(elapsed);
        let figure = response_time
            .to_str()
            .expect("ascii")
            .trim_end_matches("ms");
        assert_eq!(server_timing, format!("app;dur={figure}").as_str());
        response_time
    }

    #[test]
    fn log_escape_hides_controls_and_bidi() {
        assert_eq!(escape_for_log("/plain/path"), "/plain/path");
        assert_eq!(escape_for_log("/a\u{2028}b"), "/a\\u{2028}b");
        assert_eq!(escape_for_log("/x\u{202e}y\n"), "/x\\u{202e}y\\u{a}");
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
    }
}
