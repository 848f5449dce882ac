//! [`VitalsLayer`]: the request id, the timing headers and the request metrics in one service,
//! what [`Vitals::layer`](crate::Vitals::layer) gives.
//!
//! It does what [`RequestIdLayer`](super::RequestIdLayer), [`TimingLayer`](super::TimingLayer)
//! and [`MetricsLayer`](super::MetricsLayer) do stacked, from the same parts, in one pass:
//! one pair of clock reads, one allocation for the three header values, one slow decision.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use vitals_engine::{ExemplarId, InFlight, RequestMetrics, RouteSeries};

use super::parts::{RouteFrom, Seen, header_values, route};
use super::timing::{SERVER_TIMING, X_RESPONSE_TIME};
use crate::request_id::{self, CURRENT, Id, RequestId, X_REQUEST_ID};

/// Times every request, tags its response and records it into a `Vitals`' request metrics.
///
/// For each request it
/// - takes the caller's `X-Request-ID` when it is 1–64 characters of `A-Za-z0-9._-`, and
///   otherwise the next number of the `Vitals`' counter (starting at 1; an invalid inbound id
///   is dropped, never logged), and makes it available to handlers
///   ([`RequestId::current`]) and to error bodies;
/// - sets `X-Response-Time: 12.34ms`, `Server-Timing: app;dur=12.34` (the same figure) and
///   `X-Request-ID` on the response, whatever its status;
/// - counts it by method, matched route and status, in the duration histogram (keeping the
///   request's trace id, or its id, as the exemplar of its bucket), the in-flight gauge and
///   the slow counter — except requests to Vitals' own endpoints, unless the builder counts
///   them;
/// - logs `SLOW REQUEST: METHOD /path took Nms (threshold: Tms)` at WARN when it was slow
///   (path without query string; no headers or bodies), and one DEBUG line per request; both
///   carry `trace_id` when the request has a valid W3C `traceparent`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum::{Router, routing::get, body::Body};
/// use http::Request;
/// use tower::ServiceExt;
///
/// let vitals = vitals_axum::Vitals::builder().build().unwrap();
/// let app = Router::new()
///     .route("/hello", get(|| async { "hi" }))
///     .layer(vitals.layer());
/// let res = app.oneshot(Request::get("/hello").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(res.headers()["x-request-id"], "1");
/// assert!(res.headers()["x-response-time"].to_str().unwrap().ends_with("ms"));
/// assert!(res.headers()["server-timing"].to_str().unwrap().starts_with("app;dur="));
/// assert_eq!(vitals.snapshot().http.unwrap().requests_total, 1);
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct VitalsLayer {
    metrics: &'static RequestMetrics,
    route_from: RouteFrom,
}

impl std::fmt::Debug for VitalsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VitalsLayer")
            .field("route_from", &self.route_from)
            .finish_non_exhaustive()
    }
}

impl VitalsLayer {
    pub(crate) fn new(metrics: &'static RequestMetrics) -> Self {
        Self {
            metrics,
            route_from: RouteFrom::MatchedPath,
        }
    }

    /// The same layer, naming routes as `from` says (default: axum's matched template).
    #[must_use]
    pub fn route_from(mut self, from: RouteFrom) -> Self {
        self.route_from = from;
        self
    }
}

impl<S> Layer<S> for VitalsLayer {
    type Service = VitalsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VitalsService {
            inner,
            layer: *self,
        }
    }
}

/// The service of [`VitalsLayer`].
#[derive(Clone, Debug)]
pub struct VitalsService<S> {
    inner: S,
    layer: VitalsLayer,
}

impl<S, B, RB> Service<Request<B>> for VitalsService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = VitalsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let started = Instant::now();
        let metrics = self.layer.metrics;
        let id = match request_id::given(req.headers()) {
            Some(given) => Id::Given(given),
            None => Id::Number(metrics.next_request_id()),
        };
        let series = metrics.series(req.method(), route(&req, self.layer.route_from));
        let pending = Pending {
            in_flight: metrics.begin(),
            started,
            series,
            seen: Seen::of(&req),
        };
        let context = request_id::Context {
            id: RequestId::new(id),
            own: std::cell::Cell::new(false),
            metrics: std::cell::Cell::new(Some(metrics)),
        };
        VitalsFuture {
            inner: CURRENT.scope(context, self.inner.call(req)),
            pending: Some(pending),
        }
    }
}

struct Pending {
    started: Instant,
    series: &'static RouteSeries,
    seen: Seen,
    /// Counts the request as in flight until the answer, or until the client goes away and
    /// the future is dropped.
    in_flight: InFlight,
}

pin_project_lite::pin_project! {
    /// Response future of [`VitalsService`].
    pub struct VitalsFuture<F> {
        #[pin]
        inner: TaskLocalFuture<request_id::Context, F>,
        pending: Option<Pending>,
    }
}

impl<F, RB, E> Future for VitalsFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = std::task::ready!(this.inner.as_mut().poll(cx))?;
        if let (Some(p), Some(context)) = (this.pending.take(), this.inner.take_value()) {
            p.finish(&context, &mut response);
        }
        Poll::Ready(Ok(response))
    }
}

impl Pending {
    fn finish<RB>(self, context: &request_id::Context, response: &mut Response<RB>) {
        let elapsed = self.started.elapsed();
        let metrics = self.in_flight.metrics();
        let status = response.status().as_u16();
        let mut number = itoa::Buffer::new();
        let (id_text, id_digits): (&[u8], Option<&[u8]>) = match context.id.id() {
            Id::Given(value) => (value.as_bytes(), None),
            Id::Number(n) => {
                let digits = number.format(*n).as_bytes();
                (digits, Some(digits))
            }
        };
        let slow = if context.own.get() && !metrics.counts_own() {
            metrics.is_slow(status, elapsed)
        } else {
            let exemplar = match &self.seen.trace {
                Some(trace) => ExemplarId::Trace(trace.bytes()),
                None => ExemplarId::Request(id_text),
            };
            let at = self.started + elapsed;
            metrics
                .record(self.series, status, elapsed, at, Some(exemplar))
                .slow
        };
        self.seen.log(
            &context.id,
            (self.series.method(), self.series.route()),
            status,
            elapsed,
            slow.then(|| metrics.slow_threshold()),
        );
        let (id, response_time, server_timing) = header_values(id_digits, elapsed);
        let headers = response.headers_mut();
        headers.insert(X_RESPONSE_TIME.clone(), response_time);
        headers.insert(SERVER_TIMING.clone(), server_timing);
        let id = match (id, context.id.id()) {
            (Some(numbered), _) => numbered,
            (None, Id::Given(given)) => given.clone(),
            (None, Id::Number(_)) => return,
        };
        headers.insert(X_REQUEST_ID.clone(), id);
    }
}
