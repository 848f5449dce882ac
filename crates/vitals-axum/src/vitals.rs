//! [`Vitals`]: the handle an application keeps, and what it hands to its router.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use http::{HeaderMap, StatusCode};
use vitals_core::{Collector, ReadinessProbe, Snapshot};

use crate::http::HttpMetrics;
use crate::layer::PerfLayer;
use crate::readiness::{self, Readiness};
use crate::registry::Registry;
use crate::routes::{self, bearer, constant_time_eq};
use crate::{ApiError, VitalsBuilder};

/// Vitals for one application: its collectors, its registry of series, its layer and its
/// routes. Cloning is cheap and shares everything.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, routing::get};
/// use vitals_axum::Vitals;
///
/// let vitals = Vitals::builder().namespace("shop").build()?;
/// let app: Router = Router::new()
///     .route("/orders", get(|| async { "[]" }))
///     .merge(vitals.routes())
///     .layer(vitals.layer());
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Vitals {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) registry: Arc<Registry>,
    pub(crate) collectors: Vec<Box<dyn Collector>>,
    pub(crate) http: Arc<HttpMetrics>,
    pub(crate) layer: PerfLayer,
    pub(crate) probes: Vec<ReadinessProbe>,
    pub(crate) check_timeout: Duration,
    pub(crate) token: Option<String>,
    pub(crate) limit: Option<RateLimit>,
    pub(crate) app_section: bool,
    #[cfg(feature = "spans")]
    pub(crate) spans: Option<crate::spans::SpanTimings>,
    pub(crate) live: Option<crate::live::Live>,
    #[cfg(feature = "pprof")]
    pub(crate) pprof: bool,
}

impl Vitals {
    /// A builder with the defaults: namespace `health_agent`, slow threshold 3 s, no
    /// collectors, no token, no rate limit, a private recorder.
    pub fn builder() -> VitalsBuilder {
        VitalsBuilder::default()
    }

    /// Assembles a snapshot from the collectors' latest figures; never waits.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::now();
        for c in &self.inner.collectors {
            c.collect(&mut snapshot);
        }
        self.inner.http.collect(&mut snapshot);
        if self.inner.app_section {
            snapshot.app = Some(self.inner.registry.app_section());
        }
        #[cfg(feature = "spans")]
        if let Some(spans) = &self.inner.spans {
            snapshot.spans = Some(spans.section(Instant::now()));
        }
        snapshot
    }

    /// The Prometheus text exposition of a fresh snapshot and every recorded series.
    pub fn render_prometheus(&self) -> String {
        self.render_snapshot(&self.snapshot())
    }

    /// The Prometheus text exposition of `snapshot` and every recorded series.
    pub fn render_snapshot(&self, snapshot: &Snapshot) -> String {
        crate::registry::render::render(&self.inner.registry, snapshot)
    }

    /// The performance layer recording into this `Vitals`: apply it with `Router::layer`
    /// after your routes, so it sees each matched route template.
    pub fn layer(&self) -> PerfLayer {
        self.inner.layer.clone()
    }

    /// `GET /api/v1/metrics`, `GET /metrics`, `GET /health` and `GET /health/ready`, as a
    /// router for any state type of yours: `merge` it into your own. With the dashboard on
    /// (the default, see [`VitalsBuilder::dashboard`]) also `GET /dashboard`,
    /// `GET /api/v1/metrics/history`, `GET /api/v1/metrics/stream` and `GET /api/v1/alerts`; with
    /// profiling on (feature `pprof`), `GET /debug/pprof/profile`.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mut router = Router::new()
            .route("/api/v1/metrics", get(routes::snapshot))
            .route("/metrics", get(routes::prometheus))
            .route("/health", get(routes::live))
            .route("/health/ready", get(routes::ready));
        if self.inner.live.is_some() {
            router = router
                .route("/api/v1/metrics/history", get(crate::live::routes::history))
                .route("/api/v1/metrics/stream", get(crate::live::routes::stream))
                .route("/api/v1/alerts", get(crate::live::routes::alerts))
                .route("/dashboard", get(crate::live::routes::page));
        }
        #[cfg(feature = "pprof")]
        if crate::pprof::enabled(self) {
            router = router.route("/debug/pprof/profile", get(crate::pprof::profile));
        }
        router.with_state(self.clone())
    }

    /// Live streams (`GET /api/v1/metrics/stream`) open now.
    pub fn open_streams(&self) -> usize {
        crate::live::routes::open_streams(self)
    }

    /// The most bytes the history ring takes (its capacity × the size of one row); 0 with
    /// the dashboard off. Documented in docs/dashboard.md.
    pub fn history_bytes(&self) -> usize {
        self.inner
            .live
            .as_ref()
            .map_or(0, |l| crate::live::ring_bytes(l.capacity))
    }

    /// Runs every readiness probe now (what `GET /health/ready` answers).
    pub async fn readiness(&self) -> (StatusCode, Readiness) {
        readiness::run(&self.inner.probes, self.inner.check_timeout).await
    }

    /// The recorder behind this `Vitals`, for `metrics::with_local_recorder` in tests of your
    /// own instrumentation when it is not installed globally.
    pub fn recorder(&self) -> impl metrics::Recorder + 'static {
        crate::registry::Shared(Arc::clone(&self.inner.registry))
    }

    /// The request metrics the layer records (totals, the recent latency window, series).
    pub fn http_metrics(&self) -> &HttpMetrics {
        &self.inner.http
    }

    /// The checks the metrics endpoints share: the bearer token, then the rate limit (so
    /// callers without the token cannot spend the permits).
    pub(crate) fn guard(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(expected) = &self.inner.token {
            let given = bearer(headers).unwrap_or("");
            if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                return Err(ApiError::unauthorized());
            }
        }
        match &self.inner.limit {
            Some(limit) if !limit.take() => Err(routes::rate_limited()),
            _ => Ok(()),
        }
    }
}

/// A token bucket: `per_second` permits a second, bursts up to `per_second`.
pub(crate) struct RateLimit {
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        Self {
            per_second,
            state: Mutex::new((per_second, Instant::now())),
        }
    }

    fn take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        let refill = now.duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.per_second);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
