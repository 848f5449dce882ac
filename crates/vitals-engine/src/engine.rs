//! [`Engine`]: the handle an application (or an adapter for its framework) keeps.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use vitals_core::catalogue::EXPORT_ERRORS;
use vitals_core::{Collector, ReadinessProbe, Snapshot};

use crate::access::{Access, Denied};
use crate::history::{Live, LiveSettings};
use crate::readiness::{self, Readiness};
use crate::registry::Registry;
use crate::requests::RequestMetrics;
use crate::scheduler::{Phase, Scheduled, Scheduler, Tick};
use crate::shutdown::Shutdown;
use crate::walk::{Visitor, walk};

/// Everything Vitals knows about one application: its collectors, its registry of series,
/// its request metrics, its readiness checks, its live side and its scheduler. Cloning is
/// cheap and shares everything; the scheduler's thread stops when the last clone is dropped.
///
/// ```
/// use vitals_engine::Engine;
///
/// let engine = Engine::builder().namespace("shop").build()?;
/// let snapshot = engine.snapshot();
/// assert_eq!(snapshot.http.map(|h| h.requests_total), Some(0));
/// assert!(engine.render_prometheus().contains("# TYPE shop_http_requests_in_flight gauge"));
/// # Ok::<(), vitals_engine::BuildError>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What the builder hands over.
pub(crate) struct Parts {
    pub(crate) registry: Arc<Registry>,
    pub(crate) collectors: Vec<Box<dyn Collector>>,
    pub(crate) requests: &'static RequestMetrics,
    pub(crate) probes: Vec<ReadinessProbe>,
    pub(crate) check_timeout: Duration,
    pub(crate) access: Access,
    pub(crate) app_section: bool,
    #[cfg(feature = "spans")]
    pub(crate) spans: Option<crate::spans::SpanTimings>,
    pub(crate) live: Option<LiveSettings>,
    pub(crate) slos: Option<crate::slo::Slos>,
}

struct Inner {
    registry: Arc<Registry>,
    collectors: Arc<[Box<dyn Collector>]>,
    requests: &'static RequestMetrics,
    probes: Vec<ReadinessProbe>,
    check_timeout: Duration,
    access: Access,
    app_section: bool,
    #[cfg(feature = "spans")]
    spans: Option<crate::spans::SpanTimings>,
    live: Option<Arc<Live>>,
    slos: Option<Arc<crate::slo::Slos>>,
    shutdown: Shutdown,
    /// The engine's own periodic work (samplers, the live ring); dropped before the
    /// scheduler, which then joins its thread.
    tasks: Mutex<Vec<Scheduled>>,
    scheduler: Scheduler,
}

impl Engine {
    pub(crate) fn assemble(parts: Parts) -> std::io::Result<Self> {
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                registry: parts.registry,
                collectors: Arc::from(parts.collectors),
                requests: parts.requests,
                probes: parts.probes,
                check_timeout: parts.check_timeout,
                access: parts.access,
                app_section: parts.app_section,
                #[cfg(feature = "spans")]
                spans: parts.spans,
                live: parts.live.as_ref().map(|s| Arc::new(Live::new(s))),
                slos: parts.slos.map(Arc::new),
                shutdown: Shutdown::new(),
                tasks: Mutex::new(Vec::new()),
                scheduler: Scheduler::new("vitals-scheduler", move || {
                    weak.upgrade().map(|inner| Engine { inner }.snapshot())
                }),
            }
        });
        let engine = Self { inner };
        engine.schedule_own_work(parts.live.as_ref())?;
        Ok(engine)
    }

    /// Schedules what the engine does by itself: the copies behind the recent request
    /// window, each sampling collector, and the live ring.
    fn schedule_own_work(&self, live: Option<&LiveSettings>) -> std::io::Result<()> {
        let requests = self.inner.requests;
        let slos = self.inner.slos.clone();
        let mut tasks = vec![self.inner.scheduler.every(
            Phase::Sample,
            crate::requests::STEP,
            crate::requests::STEP,
            move |_| {
                let now = std::time::Instant::now();
                requests.keep_recent(now);
                if let Some(slos) = &slos {
                    slos.keep(now, requests);
                }
            },
        )?];
        for (i, c) in self.inner.collectors.iter().enumerate() {
            if let Some(schedule) = c.schedule() {
                let collectors = Arc::clone(&self.inner.collectors);
                tasks.push(self.inner.scheduler.every(
                    Phase::Sample,
                    schedule.every,
                    schedule.first_after,
                    move |_| collectors[i].sample(),
                )?);
            }
        }
        if let (Some(settings), Some(ring)) = (live, &self.inner.live) {
            let ring = Arc::clone(ring);
            tasks.push(self.inner.scheduler.every(
                Phase::Publish,
                settings.interval,
                settings.interval,
                move |tick| {
                    if let Some(snapshot) = tick.snapshot() {
                        ring.record(&snapshot, tick.at, tick.elapsed);
                    }
                },
            )?);
        }
        *self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = tasks;
        Ok(())
    }

    /// Assembles a snapshot from the collectors' latest figures; never waits.
    pub fn snapshot(&self) -> Snapshot {
        let inner = &self.inner;
        let mut snapshot = Snapshot::now();
        for c in inner.collectors.iter() {
            c.collect(&mut snapshot);
        }
        snapshot.http = Some(inner.requests.section());
        if let Some(slos) = &inner.slos {
            snapshot.slos = Some(slos.section(std::time::Instant::now(), inner.requests));
        }
        // With the global recorder the section is always there; with a private one, once
        // something was recorded into it (`Engine::recorder`).
        let app = inner.registry.app_section();
        if inner.app_section || !app.is_empty() {
            snapshot.app = Some(app);
        }
        #[cfg(feature = "spans")]
        if let Some(spans) = &inner.spans {
            snapshot.spans = Some(spans.section(std::time::Instant::now()));
        }
        snapshot
    }

    /// The Prometheus text exposition (format 0.0.4) of a fresh snapshot and every recorded
    /// series.
    pub fn render_prometheus(&self) -> String {
        self.render_snapshot(&self.snapshot())
    }

    /// The Prometheus text exposition of `snapshot` and every recorded series.
    pub fn render_snapshot(&self, snapshot: &Snapshot) -> String {
        crate::prometheus::render(&self.inner.registry, self.inner.requests, snapshot)
    }

    /// The OpenMetrics 1.0 exposition of a fresh snapshot and every recorded series: the
    /// same series as [`render_prometheus`](Self::render_prometheus), with exemplars (the
    /// trace or request id of a recent request) on the request-duration buckets, ending with
    /// `# EOF`. Serve it with [`OPENMETRICS_CONTENT_TYPE`](crate::OPENMETRICS_CONTENT_TYPE)
    /// to a scraper whose `Accept` asks for it ([`accepts_openmetrics`](crate::accepts_openmetrics)).
    pub fn render_openmetrics(&self) -> String {
        crate::openmetrics::render(&self.inner.registry, self.inner.requests, &self.snapshot())
    }

    /// Walks every series `/metrics` shows, `snapshot`'s figures included: the interface
    /// push exporters read.
    pub fn walk<V: Visitor + ?Sized>(&self, snapshot: &Snapshot, visitor: &mut V) {
        walk(&self.inner.registry, self.inner.requests, snapshot, visitor);
    }

    /// The request metrics a timing layer records into.
    pub fn requests(&self) -> &'static RequestMetrics {
        self.inner.requests
    }

    /// Runs every readiness probe now, concurrently, each bounded by the check timeout.
    pub async fn readiness(&self) -> Readiness {
        readiness::run(&self.inner.probes, self.inner.check_timeout).await
    }

    /// Checks a request for figures: its `Authorization` header's value against the token,
    /// then the rate limit.
    pub fn authorize(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        self.inner.access.check(authorization)
    }

    /// Whether reading figures needs a token.
    pub fn has_token(&self) -> bool {
        self.inner.access.has_token()
    }

    /// The live side (history ring, alert board), when it is on.
    pub fn live(&self) -> Option<&Live> {
        self.inner.live.as_deref()
    }

    /// Runs `run` on the engine's scheduler every `every` (the first time one interval from
    /// now) until the returned handle is dropped; each run can read the tick's snapshot,
    /// shared with whatever else runs at that moment.
    pub fn every(
        &self,
        every: Duration,
        run: impl FnMut(&Tick<'_>) + Send + 'static,
    ) -> std::io::Result<Scheduled> {
        self.inner
            .scheduler
            .every(Phase::Publish, every, every, run)
    }

    /// Like [`every`](Self::every), with the first run at once.
    pub fn every_from_now(
        &self,
        every: Duration,
        run: impl FnMut(&Tick<'_>) + Send + 'static,
    ) -> std::io::Result<Scheduled> {
        self.inner
            .scheduler
            .every(Phase::Publish, every, Duration::ZERO, run)
    }

    /// Tells everything Vitals keeps open by itself (live streams, a running CPU profile)
    /// that the application is shutting down: streams send a last event and end, a profile
    /// stops sampling, so a graceful shutdown never waits on them. Call it when your own
    /// graceful shutdown begins (vitals-axum's `Vitals::graceful_shutdown` does).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.begin();
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.has_begun()
    }

    /// Completes once shutdown has begun (at once if it has).
    pub fn shutdown_begun(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.shutdown.begun()
    }

    /// Blocks for at most `timeout`, returning early with `true` once shutdown has begun (for
    /// work on a blocking thread).
    pub fn wait_for_shutdown(&self, timeout: Duration) -> bool {
        self.inner.shutdown.wait(timeout)
    }

    /// The failure counter of `exporter` (`<ns>_export_errors_total{exporter="…"}`),
    /// registered on first use.
    pub fn export_errors(&self, exporter: &'static str) -> Arc<AtomicU64> {
        let registry = &self.inner.registry;
        registry.own_counter(&registry.key(&EXPORT_ERRORS, &[("exporter", exporter.to_owned())]))
    }

    /// The namespace of Vitals' own series.
    pub fn namespace(&self) -> &str {
        self.inner.registry.namespace()
    }

    /// When the engine was made: the start of every cumulative count it holds.
    pub fn started(&self) -> std::time::SystemTime {
        self.inner.registry.started()
    }

    /// The recorder behind this engine, for `metrics::with_local_recorder` in tests of your
    /// own instrumentation when it is not installed globally.
    pub fn recorder(&self) -> impl metrics::Recorder + 'static {
        crate::registry::Shared(Arc::clone(&self.inner.registry))
    }

    /// Whether the scheduler's thread runs (something needs periodic work).
    pub fn scheduler_running(&self) -> bool {
        self.inner.scheduler.running()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("namespace", &self.namespace())
            .finish_non_exhaustive()
    }
}

impl Denied {
    /// A short reason, for error bodies.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Unauthorized => "a valid bearer token is required",
            Denied::RateLimited => {
                "the metrics endpoints' rate limit is spent; poll less often or raise the limit"
            }
        }
    }
}
