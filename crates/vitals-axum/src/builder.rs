//! [`VitalsBuilder`]: the engine's settings, plus what only the web side needs.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use vitals_core::{Collector, Importance};
use vitals_engine::{BuildError, Engine, EngineBuilder};

use crate::layer::VitalsLayer;
use crate::vitals::{Vitals, Web};

/// Builds a [`Vitals`]: the namespace, the slow threshold, the collectors, the checks and
/// what to expose are given once, then [`build`](VitalsBuilder::build) validates them all.
///
/// ```
/// use std::time::Duration;
/// use vitals_axum::Vitals;
///
/// let vitals = Vitals::builder()
///     .namespace("shop")
///     .slow_threshold(Duration::from_millis(500))
///     .metrics_token("s3cret")
///     .build()
///     .expect("valid settings");
/// assert!(vitals.render_prometheus().contains("shop_http_requests_in_flight"));
/// ```
#[must_use = "a builder does nothing until build() is called"]
pub struct VitalsBuilder {
    engine: EngineBuilder,
    dashboard: bool,
    max_streams: usize,
    #[cfg(feature = "pprof")]
    pprof: bool,
}

impl Default for VitalsBuilder {
    fn default() -> Self {
        Self {
            engine: Engine::builder(),
            dashboard: false,
            max_streams: 16,
            #[cfg(feature = "pprof")]
            pprof: false,
        }
    }
}

impl Vitals {
    /// A builder with the defaults (see each setting).
    pub fn builder() -> VitalsBuilder {
        VitalsBuilder::default()
    }
}

impl VitalsBuilder {
    fn engine(mut self, f: impl FnOnce(EngineBuilder) -> EngineBuilder) -> Self {
        self.engine = f(self.engine);
        self
    }

    /// Prefix of Vitals' own Prometheus names, joined with `_` (`shop` gives
    /// `shop_http_requests_total`). None by default: `http_requests_total`. The standard
    /// `process_*` series and the application's own are never prefixed.
    pub fn namespace(self, namespace: impl Into<String>) -> Self {
        self.engine(|e| e.namespace(namespace))
    }

    /// Requests slower than this are logged at WARN and counted as slow; it is also an edge
    /// of the request-duration histogram (default 3 s).
    pub fn slow_threshold(self, threshold: Duration) -> Self {
        self.engine(|e| e.slow_threshold(threshold))
    }

    /// Adds a source of figures: a `SystemSampler`, a `MeteredPool`, a `MeteredCache`, or
    /// your own [`Collector`]. It registers its own series, readiness probe and sampling
    /// schedule, if it has any.
    pub fn collector(self, collector: impl Collector) -> Self {
        self.engine(|e| e.collector(collector))
    }

    /// Adds a readiness check of your own under `name`: a [`Importance::Required`] one that
    /// fails makes `/health/ready` answer 503, an [`Importance::Optional`] one only reports
    /// `degraded`.
    ///
    /// ```
    /// use vitals_axum::{Importance, Vitals};
    ///
    /// let vitals = Vitals::builder()
    ///     .check("payments", Importance::Required, || async { Ok(()) })
    ///     .build()
    ///     .unwrap();
    /// # drop(vitals);
    /// ```
    pub fn check<F, Fut>(self, name: impl Into<String>, importance: Importance, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.engine(|e| e.check(name, importance, probe))
    }

    /// The longest a readiness probe may take before it counts as failed (default 2 s).
    pub fn check_timeout(self, timeout: Duration) -> Self {
        self.engine(|e| e.check_timeout(timeout))
    }

    /// Requires `Authorization: Bearer <token>` on the endpoints that read figures
    /// (`/api/v1/metrics`, `/metrics`, the dashboard's data, pprof); `/health` and
    /// `/health/ready` stay open for probes.
    pub fn metrics_token(self, token: impl Into<String>) -> Self {
        self.engine(|e| e.metrics_token(token))
    }

    /// Requests per second those endpoints accept together (429 past it); 0 is no limit
    /// (the default).
    pub fn metrics_rate_limit(self, per_second: u32) -> Self {
        self.engine(|e| e.metrics_rate_limit(per_second))
    }

    /// Installs Vitals' recorder as the process-wide `metrics` recorder, so whatever the
    /// application records with `metrics::counter!`, `gauge!` and `histogram!` appears in
    /// `/metrics` (as named) and in the snapshot's `app` section. Without it the recorder
    /// stays private: several `Vitals` can live in one process (tests do).
    pub fn install_global_recorder(self) -> Self {
        self.engine(EngineBuilder::install_global_recorder)
    }

    /// Bucket edges for the histogram named `metric` (a full name, as the application writes
    /// it); histograms nobody configured get Prometheus' default edges, 5 ms to 10 s.
    pub fn buckets(self, metric: impl Into<String>, edges: &[f64]) -> Self {
        self.engine(|e| e.buckets(metric, edges))
    }

    /// The most `(method, route, status)` label sets the request metrics keep (default
    /// [`MAX_SERIES`](vitals_engine::MAX_SERIES)); past it requests share one `overflow`
    /// series, so nothing a client sends can grow the exposition without bound.
    pub fn max_series(self, max: usize) -> Self {
        self.engine(|e| e.max_series(max))
    }

    /// Records `tracing` span timings into this `Vitals`: `<ns>_span_duration_seconds{span}`
    /// and the JSON `spans` section. Install
    /// [`SpanTimings::layer`](vitals_engine::spans::SpanTimings::layer) in your subscriber too.
    /// (Feature `spans`.)
    #[cfg(feature = "spans")]
    pub fn span_timings(self, timings: &vitals_engine::spans::SpanTimings) -> Self {
        self.engine(|e| e.span_timings(timings))
    }

    /// Serves the dashboard (`GET /dashboard`) and its live endpoints (history, stream,
    /// alerts) in [`routes`](Vitals::routes), fed by the scheduler, which samples a snapshot
    /// every [`sample_interval`](Self::sample_interval). Off by default: they show every
    /// figure to whoever can reach them, so turn them on by name (and protect them with
    /// [`metrics_token`](Self::metrics_token), or serve them on an admin listener).
    ///
    /// ```
    /// let vitals = vitals_axum::Vitals::builder().build().unwrap();
    /// assert_eq!(vitals.history_bytes(), 0, "off by default");
    /// let vitals = vitals_axum::Vitals::builder().dashboard(true).build().unwrap();
    /// assert!(vitals.history_bytes() > 0);
    /// ```
    pub fn dashboard(mut self, on: bool) -> Self {
        self.dashboard = on;
        self
    }

    /// How much recent history the ring keeps for `GET /api/v1/metrics/history` and the
    /// dashboard's charts (default 15 minutes; 1 second to 24 hours).
    pub fn history(self, history: Duration) -> Self {
        self.engine(|e| e.history(history))
    }

    /// How often the dashboard's ring takes a snapshot and evaluates the alert rules
    /// (default 1 s; 100 ms to 1 hour).
    pub fn sample_interval(self, interval: Duration) -> Self {
        self.engine(|e| e.sample_interval(interval))
    }

    /// Counts requests to Vitals' own endpoints (scrapes, probes, dashboard polls) in the
    /// request figures and series like the application's (default off: they are left out,
    /// so a scrape never shows up in what it scrapes).
    pub fn count_own_requests(self, on: bool) -> Self {
        self.engine(|e| e.count_own_requests(on))
    }

    /// Adds a service-level objective on the request series: availability (the share of
    /// answers that are not 5xx) or latency (the share no slower than a threshold, which must
    /// be an edge of the request-duration histogram; [`build`](Self::build) says so
    /// otherwise), for one route or a group of routes (`/api/v1/*`). It fills the snapshot's
    /// `slos` section, gets a fast-burn alert on the dashboard, and `vitals slo rules` writes
    /// its Prometheus rules (docs/slo.md).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vitals_axum::{Objective, Vitals};
    ///
    /// let vitals = Vitals::builder()
    ///     .slo(Objective::availability("orders", "/orders", 99.9).method("POST"))
    ///     .slo(Objective::latency("catalog", "/catalog/*", 99.0, Duration::from_millis(250)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(vitals.snapshot().slos.map(|s| s.len()), Some(2));
    /// ```
    pub fn slo(self, objective: crate::Objective) -> Self {
        self.engine(|e| e.slo(objective))
    }

    /// The most live streams (`GET /api/v1/metrics/stream`) open at once; one more gets 429
    /// (default 16).
    pub fn max_streams(mut self, max: usize) -> Self {
        self.max_streams = max;
        self
    }

    /// Mounts `GET /debug/pprof/profile?seconds=N&format=svg|pb` in
    /// [`routes`](Vitals::routes): a CPU profile of the process on demand, protected by the
    /// metrics token, one at a time (default off). (Feature `pprof`.)
    #[cfg(feature = "pprof")]
    pub fn pprof(mut self, enabled: bool) -> Self {
        self.pprof = enabled;
        self
    }

    /// Validates everything and makes the [`Vitals`]. Installs the global recorder when asked.
    pub fn build(self) -> Result<Vitals, BuildError> {
        let engine = self.engine.live(self.dashboard).build()?;
        let layer = VitalsLayer::new(engine.requests());
        Ok(Vitals::new(
            engine,
            Web {
                layer,
                dashboard: self.dashboard,
                #[cfg(feature = "pprof")]
                pprof: self.pprof,
                max_streams: self.max_streams,
                open_streams: AtomicUsize::new(0),
            },
        ))
    }
}
