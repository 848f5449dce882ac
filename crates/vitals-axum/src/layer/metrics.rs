//! [`MetricsLayer`]: every request counted into a `Vitals`' request metrics.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower::{Layer, Service};
use vitals_engine::{ExemplarId, InFlight, RequestMetrics, RouteSeries};

use super::parts::{RouteFrom, Seen, route};
use crate::request_id::CURRENT;

/// Counts every request by method, matched route and status, in the duration histogram, the
/// in-flight gauge and the slow counter of a `Vitals` ([`Vitals::metrics_layer`](crate::Vitals::metrics_layer)),
/// and logs slow requests at WARN and every request at DEBUG. With a
/// [`RequestIdLayer`](super::RequestIdLayer) outside it, requests to Vitals' own endpoints are
/// left out (unless the builder counts them) and each bucket keeps the id of a recent request
/// as its exemplar.
///
/// Part of [`Vitals::layer`](crate::Vitals::layer), which does the same in one pass.
#[derive(Clone, Copy)]
pub struct MetricsLayer {
    metrics: &'static RequestMetrics,
    route_from: RouteFrom,
}

impl std::fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("route_from", &self.route_from)
            .finish_non_exhaustive()
    }
}

impl MetricsLayer {
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

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            layer: *self,
        }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    layer: MetricsLayer,
}

impl<S, B, RB> Service<Request<B>> for MetricsService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let metrics = self.layer.metrics;
        MetricsFuture {
            started: Instant::now(),
            series: metrics.series(req.method(), route(&req, self.layer.route_from)),
            seen: Some(Seen::of(&req)),
            in_flight: metrics.begin(),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`MetricsService`].
    pub struct MetricsFuture<F> {
        started: Instant,
        series: &'static RouteSeries,
        seen: Option<Seen>,
        in_flight: InFlight,
        #[pin]
        inner: F,
    }
}

impl<F, RB, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let metrics = this.in_flight.metrics();
        // Let Vitals' own handlers find these metrics (to leave the in-flight figure).
        let _ = CURRENT.try_with(|c| {
            if c.metrics.get().is_none() {
                c.metrics.set(Some(metrics));
            }
        });
        let response = std::task::ready!(this.inner.poll(cx))?;
        let elapsed = this.started.elapsed();
        let status = response.status().as_u16();
        let (own, id) = CURRENT
            .try_with(|c| (c.own.get(), Some(c.id.to_string())))
            .unwrap_or((false, None));
        let seen = this.seen.take();
        let slow = if own && !metrics.counts_own() {
            metrics.is_slow(status, elapsed)
        } else {
            let exemplar = match (seen.as_ref().and_then(|s| s.trace), &id) {
                (Some(trace), _) => Some(ExemplarId::Trace(trace.bytes())),
                (None, Some(id)) => Some(ExemplarId::Request(id.as_bytes())),
                (None, None) => None,
            };
            let at = *this.started + elapsed;
            metrics
                .record(this.series, status, elapsed, at, exemplar)
                .slow
        };
        if let Some(seen) = seen {
            let id: &dyn std::fmt::Display = match &id {
                Some(id) => id,
                None => &"-",
            };
            let threshold = slow.then(|| metrics.slow_threshold());
            let labels = (this.series.method(), this.series.route());
            seen.log(id, labels, status, elapsed, threshold);
        }
        Poll::Ready(Ok(response))
    }
}
