//! [`EngineBuilder`]: everything about an [`Engine`] is said once, here, and checked in
//! [`build`](EngineBuilder::build).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use vitals_core::catalogue::{self, MetricDef};
use vitals_core::slo::Objective;
use vitals_core::{Collector, Importance, LATENCY_BUCKETS_SECONDS, ProbeFuture, ReadinessProbe};

use crate::access::Access;
use crate::engine::{Engine, Parts};
use crate::history::LiveSettings;
use crate::registry::Registry;
use crate::requests::{MAX_EDGES, MAX_SERIES, RequestMetrics, duration_buckets};

/// Why [`EngineBuilder::build`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The namespace is not a valid Prometheus name prefix.
    #[error(
        "invalid metrics namespace {0:?}: use letters, digits and underscores, not starting with a digit"
    )]
    Namespace(String),
    /// Two collectors would write the same snapshot section.
    #[error(
        "two collectors fill the same section ({0}); give all but one a name (e.g. MeteredPool::named(\"replica\"))"
    )]
    DuplicateCollector(String),
    /// A histogram's bucket list is unusable.
    #[error("invalid buckets for {metric}: {problem}")]
    Buckets {
        /// The metric name.
        metric: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The metrics token would never match a header.
    #[error("invalid metrics token: {0}")]
    Token(&'static str),
    /// Another global `metrics` recorder is installed.
    #[error(
        "a global metrics recorder is already installed in this process (by another library or another Vitals); build without install_global_recorder() or remove the other one"
    )]
    GlobalRecorderTaken,
    /// The span timings already record into another engine.
    #[error(
        "these span timings already record into another Vitals; make one SpanTimings per Vitals"
    )]
    SpanTimingsTaken,
    /// The live side's settings are unusable.
    #[error("dashboard: {0}")]
    Live(String),
    /// A service-level objective cannot be used.
    #[error("{0}")]
    Slo(#[from] vitals_core::slo::SloError),
    /// The scheduler's thread could not start.
    #[error("cannot start the scheduler thread: {0}")]
    Scheduler(#[source] std::io::Error),
}

/// Builds an [`Engine`]: the namespace, the slow threshold, the collectors and the checks are
/// given once, then [`build`](EngineBuilder::build) validates them all.
///
/// ```
/// use std::time::Duration;
/// use vitals_engine::Engine;
///
/// let engine = Engine::builder()
///     .namespace("shop")
///     .slow_threshold(Duration::from_millis(500))
///     .build()
///     .expect("valid settings");
/// assert!(engine.render_prometheus().contains("shop_http_requests_in_flight"));
/// ```
#[must_use = "a builder does nothing until build() is called"]
pub struct EngineBuilder {
    namespace: String,
    slow: Duration,
    collectors: Vec<Box<dyn Collector>>,
    checks: Vec<ReadinessProbe>,
    check_timeout: Duration,
    token: Option<String>,
    rate_limit: u32,
    global: bool,
    buckets: Vec<(String, Vec<f64>)>,
    max_series: usize,
    #[cfg(feature = "spans")]
    spans: Option<crate::spans::SpanTimings>,
    live: bool,
    history: Duration,
    sample_interval: Duration,
    count_own: bool,
    slos: Vec<Objective>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            namespace: String::new(),
            slow: Duration::from_millis(3000),
            collectors: Vec::new(),
            checks: Vec::new(),
            check_timeout: Duration::from_secs(2),
            token: None,
            rate_limit: 0,
            global: false,
            buckets: Vec::new(),
            max_series: MAX_SERIES,
            #[cfg(feature = "spans")]
            spans: None,
            live: false,
            history: Duration::from_secs(15 * 60),
            sample_interval: Duration::from_secs(1),
            count_own: false,
            slos: Vec::new(),
        }
    }
}

impl Engine {
    /// A builder with the defaults (see each setting).
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }
}

impl EngineBuilder {
    /// Prefix of Vitals' own Prometheus names, joined with `_` (`shop` gives
    /// `shop_http_requests_total`). None by default: `http_requests_total`. The standard
    /// `process_*` series and the application's own are never prefixed.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Requests slower than this are logged at WARN and counted as slow; it is also an edge
    /// of the request-duration histogram (default 3 s).
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.slow = threshold;
        self
    }

    /// Adds a source of figures: a `SystemSampler`, a `MeteredPool`, a `MeteredCache`, or
    /// your own [`Collector`]. It registers its own series, readiness probe and sampling
    /// schedule, if it has any.
    pub fn collector(mut self, collector: impl Collector) -> Self {
        self.collectors.push(Box::new(collector));
        self
    }

    /// Adds a readiness check of your own under `name`: a [`Importance::Required`] one that
    /// fails makes the service unready, an [`Importance::Optional`] one only `degraded`.
    ///
    /// ```
    /// use vitals_engine::{Engine, Importance};
    ///
    /// let engine = Engine::builder()
    ///     .check("payments", Importance::Required, || async { Ok(()) })
    ///     .build()
    ///     .unwrap();
    /// # drop(engine);
    /// ```
    pub fn check<F, Fut>(
        mut self,
        name: impl Into<String>,
        importance: Importance,
        probe: F,
    ) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push(ReadinessProbe {
            name: name.into(),
            backend: "custom".to_owned(),
            importance,
            probe: Box::new(move || -> ProbeFuture { Box::pin(probe()) }),
        });
        self
    }

    /// The longest a readiness probe may take before it counts as failed (default 2 s).
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// Requires `Authorization: Bearer <token>` to read figures (see [`Engine::authorize`]).
    pub fn metrics_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Reads of figures allowed per second, together (0, the default, is no limit).
    pub fn metrics_rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = per_second;
        self
    }

    /// Installs the engine's recorder as the process-wide `metrics` recorder, so whatever
    /// the application records with `metrics::counter!`, `gauge!` and `histogram!` is
    /// exported too (as named) and fills the snapshot's `app` section. Without it the
    /// recorder stays private: several engines can live in one process (tests do).
    pub fn install_global_recorder(mut self) -> Self {
        self.global = true;
        self
    }

    /// Bucket edges for the histogram named `metric` (a full name, as the application writes
    /// it); histograms nobody configured get Prometheus' default edges, 5 ms to 10 s.
    pub fn buckets(mut self, metric: impl Into<String>, edges: &[f64]) -> Self {
        self.buckets.push((metric.into(), edges.to_vec()));
        self
    }

    /// The most `(method, route, status)` label sets the request metrics keep (default
    /// [`MAX_SERIES`]); past it requests share one `overflow` series, so nothing a client
    /// sends can grow the exposition without bound.
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// Records `tracing` span timings into this engine: `<ns>_span_duration_seconds{span}`
    /// and the JSON `spans` section. Install [`SpanTimings::layer`](crate::spans::SpanTimings::layer)
    /// in your subscriber too. (Feature `spans`.)
    #[cfg(feature = "spans")]
    pub fn span_timings(mut self, timings: &crate::spans::SpanTimings) -> Self {
        self.spans = Some(timings.clone());
        self
    }

    /// Keeps the live side: a history ring of recent snapshots and the alert rules evaluated
    /// on them, fed every [`sample_interval`](Self::sample_interval) by the scheduler
    /// (default off).
    pub fn live(mut self, on: bool) -> Self {
        self.live = on;
        self
    }

    /// How much recent history the ring keeps (default 15 minutes; 1 second to 24 hours).
    /// The ring holds `history / sample_interval` rows of fixed size, allocated as it fills.
    pub fn history(mut self, history: Duration) -> Self {
        self.history = history;
        self
    }

    /// How often the live side takes a snapshot and evaluates the alert rules (default 1 s;
    /// 100 ms to 1 hour). Use the system sampler's interval: sampling faster only repeats its
    /// figures.
    pub fn sample_interval(mut self, interval: Duration) -> Self {
        self.sample_interval = interval;
        self
    }

    /// Counts requests to Vitals' own endpoints (scrapes, probes, dashboard polls) in the
    /// request figures and series like the application's (default off: they are left out,
    /// so a scrape never shows up in what it scrapes).
    pub fn count_own_requests(mut self, on: bool) -> Self {
        self.count_own = on;
        self
    }

    /// Adds a service-level objective on the request series: an availability one (the share
    /// of answers that are not 5xx) or a latency one (the share no slower than a threshold,
    /// which must be an edge of the request-duration histogram; [`build`](Self::build) says
    /// so otherwise). Its good and total answers and its error budget's burn rate over the
    /// last 5 minutes and hour fill the snapshot's `slos` section; see docs/slo.md for the
    /// Prometheus rules that alert on it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vitals_engine::Engine;
    /// use vitals_core::slo::Objective;
    ///
    /// let engine = Engine::builder()
    ///     .slo(Objective::availability("checkout", "/checkout", 99.9).method("POST"))
    ///     .slo(Objective::latency("search", "/search", 99.0, Duration::from_millis(250)))
    ///     .build()?;
    /// let slos = engine.snapshot().slos.expect("objectives declared");
    /// assert_eq!(slos[1].threshold_ms, Some(250.0));
    ///
    /// let refused = Engine::builder()
    ///     .slo(Objective::latency("search", "/search", 99.0, Duration::from_millis(300)))
    ///     .build();
    /// assert!(refused.unwrap_err().to_string().contains("not an edge"));
    /// # Ok::<(), vitals_engine::BuildError>(())
    /// ```
    pub fn slo(mut self, objective: Objective) -> Self {
        self.slos.push(objective);
        self
    }

    fn live_settings(&self) -> Result<Option<LiveSettings>, BuildError> {
        if !self.live {
            return Ok(None);
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&self.sample_interval)
        {
            return Err(BuildError::Live(format!(
                "sample interval {:?} is out of range; use 100 ms to 1 hour",
                self.sample_interval
            )));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&self.history) {
            return Err(BuildError::Live(format!(
                "history {:?} is out of range; use 1 second to 24 hours",
                self.history
            )));
        }
        Ok(Some(LiveSettings {
            interval: self.sample_interval,
            history: self.history,
        }))
    }

    fn bucket_table(&self) -> Result<BTreeMap<String, Arc<[f64]>>, BuildError> {
        let full = |m: &MetricDef| catalogue::full_name(&self.namespace, m);
        let mut buckets: BTreeMap<String, Arc<[f64]>> = BTreeMap::new();
        let requests = full(&catalogue::HTTP_REQUEST_DURATION);
        for def in [
            &catalogue::DB_POOL_ACQUIRE_SECONDS,
            &catalogue::SPAN_DURATION,
        ] {
            buckets.insert(full(def), Arc::from(LATENCY_BUCKETS_SECONDS));
        }
        for (metric, edges) in &self.buckets {
            let problem = if edges.is_empty() {
                Some("the list is empty")
            } else if edges.iter().any(|e| !e.is_finite()) {
                Some("every edge must be a finite number (+Inf is added by itself)")
            } else if edges.windows(2).any(|w| w[0] >= w[1]) {
                Some("edges must be strictly ascending")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(BuildError::Buckets {
                    metric: metric.clone(),
                    problem,
                });
            }
            buckets.insert(metric.clone(), Arc::from(edges.as_slice()));
        }
        // Request durations: the given edges (or the latency ones) with the slow threshold
        // among them, so "slower than the threshold" reads off the histogram exactly.
        let base = buckets.get(&requests).map(|e| e.to_vec());
        let edges = duration_buckets(self.slow, base.as_deref());
        if edges.len() > MAX_EDGES {
            return Err(BuildError::Buckets {
                metric: requests,
                problem: "the request histogram takes at most 31 edges (the slow threshold included)",
            });
        }
        buckets.insert(requests, Arc::from(edges));
        Ok(buckets)
    }

    /// Validates everything and makes the [`Engine`]. Installs the global recorder when
    /// asked, and starts the scheduler's thread when something needs periodic work.
    pub fn build(self) -> Result<Engine, BuildError> {
        if !catalogue::is_valid_namespace(&self.namespace) {
            return Err(BuildError::Namespace(self.namespace));
        }
        let access = Access::new(self.token.clone(), self.rate_limit).map_err(BuildError::Token)?;
        let live = self.live_settings()?;
        let mut seen = HashSet::new();
        for c in &self.collectors {
            if let Some(slot) = c.slot()
                && !seen.insert(slot.clone())
            {
                return Err(BuildError::DuplicateCollector(format!("{slot:?}")));
            }
        }
        let buckets = self.bucket_table()?;
        let full = |m: &MetricDef| catalogue::full_name(&self.namespace, m);
        let request_edges = buckets
            .get(&full(&catalogue::HTTP_REQUEST_DURATION))
            .map(|e| e.to_vec())
            .unwrap_or_default();
        vitals_core::slo::check_all(&self.slos, &request_edges)?;
        let registry = Arc::new(Registry::new(&self.namespace, buckets));
        #[cfg(feature = "spans")]
        if let Some(spans) = &self.spans
            && !spans.attach(&registry)
        {
            return Err(BuildError::SpanTimingsTaken);
        }
        if self.global && !registry.install_globally() {
            return Err(BuildError::GlobalRecorderTaken);
        }
        let mut probes = Vec::new();
        for c in &self.collectors {
            c.attach(registry.as_ref());
            probes.extend(c.readiness());
        }
        probes.extend(self.checks);
        let requests =
            RequestMetrics::leak(&request_edges, self.slow, self.max_series, self.count_own);
        Engine::assemble(Parts {
            registry,
            collectors: self.collectors,
            requests,
            probes,
            check_timeout: self.check_timeout,
            access,
            app_section: self.global,
            #[cfg(feature = "spans")]
            spans: self.spans,
            live,
            slos: (!self.slos.is_empty()).then(|| {
                crate::slo::Slos::new(self.slos, &request_edges, std::time::Instant::now())
            }),
        })
        .map_err(BuildError::Scheduler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_fail_loudly() {
        let err = |b: EngineBuilder| b.build().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(EngineBuilder::default().namespace("9lives")).contains("namespace"));
        assert!(err(EngineBuilder::default().metrics_token("a b")).contains("whitespace"));
        assert!(err(EngineBuilder::default().buckets("x", &[1.0, 0.5])).contains("ascending"));
        assert!(err(EngineBuilder::default().buckets("x", &[])).contains("empty"));
        assert!(
            err(EngineBuilder::default()
                .live(true)
                .sample_interval(Duration::from_millis(5)))
            .contains("sample interval")
        );
    }
}
