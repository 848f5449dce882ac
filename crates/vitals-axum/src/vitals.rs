//! [`Vitals`]: the handle an application keeps, and what it hands to its router.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::HeaderMap;
use vitals_core::Snapshot;
use vitals_engine::{Denied, Engine};

use crate::error::ApiError;
use crate::layer::{MetricsLayer, VitalsLayer};

/// Vitals for one application: the [`Engine`] (collectors, series, readiness, live side)
/// and what puts it on an axum app: its layer and its routes. Cloning is cheap and shares
/// everything.
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
    engine: Engine,
    web: Arc<Web>,
}

/// What only the web side needs.
pub(crate) struct Web {
    pub(crate) layer: VitalsLayer,
    pub(crate) dashboard: bool,
    #[cfg(feature = "pprof")]
    pub(crate) pprof: bool,
    pub(crate) max_streams: usize,
    pub(crate) open_streams: AtomicUsize,
}

impl Vitals {
    pub(crate) fn new(engine: Engine, web: Web) -> Self {
        Self {
            engine,
            web: Arc::new(web),
        }
    }

    pub(crate) fn web(&self) -> &Web {
        &self.web
    }

    /// The engine behind this `Vitals`: snapshots, the walk over every series, the
    /// scheduler. Exporters (`vitals-export`) take it.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Assembles a snapshot from the collectors' latest figures; never waits.
    pub fn snapshot(&self) -> Snapshot {
        self.engine.snapshot()
    }

    /// The Prometheus text exposition of a fresh snapshot and every recorded series.
    pub fn render_prometheus(&self) -> String {
        self.engine.render_prometheus()
    }

    /// The layer recording into this `Vitals` (request id, timing headers, request metrics,
    /// slow log): apply it with `Router::layer` after your routes, so it sees each matched
    /// route template.
    pub fn layer(&self) -> VitalsLayer {
        self.web.layer
    }

    /// The request metrics alone, for a stack of your own (with
    /// [`RequestIdLayer`](crate::layer::RequestIdLayer) and
    /// [`TimingLayer`](crate::layer::TimingLayer), or without).
    pub fn metrics_layer(&self) -> MetricsLayer {
        MetricsLayer::new(self.engine.requests())
    }

    /// A shutdown signal for `axum::serve(..).with_graceful_shutdown(..)`: it completes when
    /// `signal` does, after telling Vitals' own long requests (live streams, a running CPU
    /// profile) to end at once, so the graceful shutdown waits only for the application's
    /// own requests.
    ///
    /// ```no_run
    /// # async fn run(vitals: vitals_axum::Vitals, app: axum::Router) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// axum::serve(listener, app)
    ///     .with_graceful_shutdown(vitals.graceful_shutdown(async {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///     }))
    ///     .await
    /// # }
    /// ```
    pub fn graceful_shutdown<F>(&self, signal: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let engine = self.engine.clone();
        async move {
            signal.await;
            engine.begin_shutdown();
        }
    }

    /// Completes once Vitals' shutdown has begun (at once if it has): the signal for a second
    /// server, such as an admin listener serving [`routes`](Self::routes), to stop with the
    /// first.
    pub fn shutdown_begun(&self) -> impl Future<Output = ()> + Send + 'static {
        self.engine.shutdown_begun()
    }

    /// Tells Vitals' own long requests to end now (what
    /// [`graceful_shutdown`](Self::graceful_shutdown) does when its signal fires), for an
    /// application that drives its shutdown itself.
    pub fn begin_shutdown(&self) {
        self.engine.begin_shutdown();
    }

    /// Live streams (`GET /api/v1/metrics/stream`) open now.
    pub fn open_streams(&self) -> usize {
        self.web.open_streams.load(Ordering::Acquire)
    }

    /// The most bytes the history ring takes (its capacity × the size of one row); 0 with
    /// the dashboard off. Documented in docs/dashboard.md.
    pub fn history_bytes(&self) -> usize {
        self.engine.live().map_or(0, vitals_engine::Live::bytes)
    }

    /// The checks every figure-reading endpoint shares: the bearer token, then the rate limit.
    pub(crate) fn guard(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .map(http::HeaderValue::as_bytes);
        self.engine
            .authorize(authorization)
            .map_err(|denied| match denied {
                Denied::Unauthorized => ApiError::unauthorized(),
                Denied::RateLimited => ApiError::new(
                    http::StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    denied.reason(),
                ),
            })
    }
}

impl std::fmt::Debug for Vitals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vitals")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}
