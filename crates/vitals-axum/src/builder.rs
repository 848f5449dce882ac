//! [`VitalsBuilder`]: everything about a [`Vitals`] is said once, here.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use vitals_core::catalogue::{self, MetricDef};
use vitals_core::{Collector, Importance, LATENCY_BUCKETS_SECONDS, ProbeFuture, ReadinessProbe};

use crate::http::{HttpMetrics, duration_buckets};
use crate::registry::Registry;
use crate::vitals::{Inner, RateLimit, Vitals};

/// Why [`VitalsBuilder::build`] refused.
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
    /// The span timings already record into another `Vitals`.
    #[error(
        "these span timings already record into another Vitals; make one SpanTimings per Vitals"
    )]
    SpanTimingsTaken,
    /// The dashboard's settings are unusable, or its sampler thread could not start.
    #[error("dashboard: {0}")]
    Dashboard(String),
}

/// Builds a [`Vitals`]: the namespace, the slow threshold, the collectors and the checks
/// are given once, then [`build`](VitalsBuilder::build) validates them all.
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
/// assert!(vitals.render_prometheus().contains("shop_cpu_percent"));
/// ```
#[must_use = "a builder does nothing until build() is called"]
pub struct VitalsBuilder {
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
    dashboard: bool,
    history: Duration,
    sample_interval: Duration,
    max_streams: usize,
    #[cfg(feature = "pprof")]
    pprof: bool,
}

impl Default for VitalsBuilder {
    fn default() -> Self {
        Self {
            namespace: "health_agent".to_owned(),
            slow: Duration::from_millis(3000),
            collectors: Vec::new(),
            checks: Vec::new(),
            check_timeout: Duration::from_secs(2),
            token: None,
            rate_limit: 0,
            global: false,
            buckets: Vec::new(),
            max_series: crate::MAX_SERIES,
            #[cfg(feature = "spans")]
            spans: None,
            dashboard: true,
            history: Duration::from_secs(15 * 60),
            sample_interval: Duration::from_secs(1),
            max_streams: 16,
            #[cfg(feature = "pprof")]
            pprof: false,
        }
    }
}

impl VitalsBuilder {
    /// Prefix of Vitals' Prometheus names (default `health_agent`; empty for none).
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
    /// your own [`Collector`]. It registers its own series and readiness probe, if it has any.
    pub fn collector(mut self, collector: impl Collector) -> Self {
        self.collectors.push(Box::new(collector));
        self
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

    /// Requires `Authorization: Bearer <token>` on the metrics endpoints (`/api/v1/metrics`,
    /// `/metrics`); `/health` and `/health/ready` stay open for probes.
    pub fn metrics_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Requests per second the metrics endpoints accept together (429 past it); 0 is no
    /// limit (the default).
    pub fn metrics_rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = per_second;
        self
    }

    /// Installs Vitals' recorder as the process-wide `metrics` recorder, so whatever the
    /// application records with `metrics::counter!`, `gauge!` and `histogram!` appears in
    /// `/metrics` (as named) and in the snapshot's `app` section. Without it the recorder
    /// stays private: several `Vitals` can live in one process (tests do).
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
    /// [`MAX_SERIES`](crate::MAX_SERIES)); past it requests share one `overflow` series, so
    /// nothing a client sends can grow the exposition without bound.
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// Records `tracing` span timings into this `Vitals`: `<ns>_span_duration_seconds{span}`
    /// and the JSON `spans` section. Install [`SpanTimings::layer`](crate::spans::SpanTimings::layer)
    /// in your subscriber too. (Feature `spans`.)
    #[cfg(feature = "spans")]
    pub fn span_timings(mut self, timings: &crate::spans::SpanTimings) -> Self {
        self.spans = Some(timings.clone());
        self
    }

    /// Serves the dashboard (`GET /dashboard`) and its live endpoints (history, stream,
    /// alerts), fed by a background thread that samples a snapshot every
    /// [`sample_interval`](Self::sample_interval) (default on). `false` mounts none of them
    /// and starts no thread.
    ///
    /// ```
    /// let vitals = vitals_axum::Vitals::builder().dashboard(false).build().unwrap();
    /// assert_eq!(vitals.history_bytes(), 0);
    /// ```
    pub fn dashboard(mut self, on: bool) -> Self {
        self.dashboard = on;
        self
    }

    /// How much recent history the ring keeps for `GET /api/v1/metrics/history` and the
    /// dashboard's charts (default 15 minutes; 1 second to 24 hours). The ring holds
    /// `history / sample_interval` rows of fixed size, allocated as it fills.
    pub fn history(mut self, history: Duration) -> Self {
        self.history = history;
        self
    }

    /// How often the dashboard's sampler takes a snapshot, evaluates the alert rules and
    /// feeds the streams (default 1 s; 100 ms to 1 hour). Use the system sampler's interval:
    /// sampling faster only repeats its figures.
    pub fn sample_interval(mut self, interval: Duration) -> Self {
        self.sample_interval = interval;
        self
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
        if !catalogue::is_valid_namespace(&self.namespace) {
            return Err(BuildError::Namespace(self.namespace));
        }
        if let Some(token) = &self.token {
            if token.is_empty() {
                return Err(BuildError::Token("it is empty; set a token or none"));
            }
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(BuildError::Token(
                    "it contains whitespace or control characters, which no Authorization header carries intact",
                ));
            }
        }
        let live = if self.dashboard {
            if !(Duration::from_millis(100)..=Duration::from_secs(3600))
                .contains(&self.sample_interval)
            {
                return Err(BuildError::Dashboard(format!(
                    "sample interval {:?} is out of range; use 100 ms to 1 hour",
                    self.sample_interval
                )));
            }
            if !(Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&self.history) {
                return Err(BuildError::Dashboard(format!(
                    "history {:?} is out of range; use 1 second to 24 hours",
                    self.history
                )));
            }
            Some(crate::live::Live::new(&crate::live::LiveSettings {
                interval: self.sample_interval,
                history: self.history,
                max_streams: self.max_streams,
            }))
        } else {
            None
        };
        let mut seen = HashSet::new();
        for c in &self.collectors {
            if let Some(slot) = c.slot()
                && !seen.insert(slot.clone())
            {
                return Err(BuildError::DuplicateCollector(format!("{slot:?}")));
            }
        }
        let full = |m: &MetricDef| catalogue::full_name(&self.namespace, m);
        let mut buckets: BTreeMap<String, Arc<[f64]>> = BTreeMap::new();
        buckets.insert(
            full(&catalogue::HTTP_REQUEST_DURATION),
            Arc::from(duration_buckets(self.slow)),
        );
        buckets.insert(
            full(&catalogue::DB_POOL_ACQUIRE_SECONDS),
            Arc::from(LATENCY_BUCKETS_SECONDS),
        );
        buckets.insert(
            full(&catalogue::SPAN_DURATION),
            Arc::from(LATENCY_BUCKETS_SECONDS),
        );
        for (metric, edges) in self.buckets {
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
                return Err(BuildError::Buckets { metric, problem });
            }
            buckets.insert(metric, Arc::from(edges));
        }
        let registry = Arc::new(Registry::new(&self.namespace, buckets));
        #[cfg(feature = "spans")]
        if let Some(spans) = &self.spans
            && !spans.attach(&registry)
        {
            return Err(BuildError::SpanTimingsTaken);
        }
        if self.global
            && metrics::set_global_recorder(crate::registry::Shared(Arc::clone(&registry))).is_err()
        {
            return Err(BuildError::GlobalRecorderTaken);
        }
        let mut probes = Vec::new();
        for c in &self.collectors {
            c.attach(registry.as_ref());
            probes.extend(c.readiness());
        }
        probes.extend(self.checks);
        let http = Arc::new(HttpMetrics::new(
            Arc::clone(&registry),
            self.slow,
            self.max_series,
        ));
        let layer = crate::layer::PerfLayer::with_metrics(Arc::clone(&http));
        let vitals = Vitals {
            inner: Arc::new(Inner {
                registry,
                collectors: self.collectors,
                http,
                layer,
                probes,
                check_timeout: self.check_timeout,
                token: self.token,
                limit: (self.rate_limit > 0).then(|| RateLimit::new(self.rate_limit)),
                app_section: self.global,
                #[cfg(feature = "spans")]
                spans: self.spans,
                live,
                #[cfg(feature = "pprof")]
                pprof: self.pprof,
            }),
        };
        if vitals.inner.live.is_some() {
            crate::live::spawn(Arc::downgrade(&vitals.inner), self.sample_interval)
                .map_err(|e| BuildError::Dashboard(format!("cannot start the sampler: {e}")))?;
        }
        Ok(vitals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_fail_loudly() {
        let err = |b: VitalsBuilder| b.build().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(VitalsBuilder::default().namespace("9lives")).contains("namespace"));
        assert!(err(VitalsBuilder::default().metrics_token("a b")).contains("whitespace"));
        assert!(err(VitalsBuilder::default().buckets("x", &[1.0, 0.5])).contains("ascending"));
        assert!(err(VitalsBuilder::default().buckets("x", &[])).contains("empty"));
    }
}
