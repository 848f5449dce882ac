//! Span timings: how long the application spends inside its `tracing` spans.
//!
//! [`SpanTimings`] is a handle; its [`layer`](SpanTimings::layer) goes into the application's
//! `tracing_subscriber` stack, and [`EngineBuilder::span_timings`](crate::EngineBuilder::span_timings)
//! connects it to an [`Engine`](crate::Engine). Each closed span adds its **busy time** (the
//! time it was entered — for an instrumented `async fn`, the time its future was being polled,
//! not the time it waited on I/O) to `<ns>_span_duration_seconds{span="NAME"}` and to a
//! one-minute window that feeds the JSON `spans` section.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use vitals_engine::{Engine, spans::SpanTimings};
//!
//! let timings = SpanTimings::builder().allow_target("my_app").build();
//! let subscriber = tracing_subscriber::registry().with(timings.layer());
//! let vitals = Engine::builder().span_timings(&timings).build().unwrap();
//! tracing::subscriber::with_default(subscriber, || {
//!     let _span = tracing::info_span!(target: "my_app", "checkout").entered();
//! });
//! assert!(vitals.render_prometheus().contains("span_duration_seconds_count{span=\"checkout\"} 1"));
//! assert_eq!(vitals.snapshot().spans.unwrap()[0].name, "checkout");
//! ```

use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use tracing::span::{Attributes, Id};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use vitals_core::catalogue::SPAN_DURATION;
use vitals_core::{LATENCY_BUCKETS_SECONDS, SpanStat, Window, math::round_to};

use crate::registry::{BucketHistogram, Registry};

/// The `span` label of the series that absorbs span names past the cap.
pub const SPAN_OVERFLOW: &str = "overflow";

/// Distinct span names kept by default; later names share the overflow series.
pub const DEFAULT_MAX_SPANS: usize = 200;

/// How many span names the JSON `spans` section lists by default.
pub const DEFAULT_TOP: usize = 20;

/// Settings of [`SpanTimings`].
#[derive(Clone, Debug)]
#[must_use = "call build() to make the SpanTimings"]
pub struct SpanTimingsBuilder {
    max_spans: usize,
    top: usize,
    allow: Vec<String>,
    deny: Vec<String>,
}

impl SpanTimingsBuilder {
    /// The most distinct span names recorded (default [`DEFAULT_MAX_SPANS`]); spans with
    /// names past it are recorded under `span="overflow"`.
    pub fn max_spans(mut self, max: usize) -> Self {
        self.max_spans = max;
        self
    }

    /// How many span names the JSON `spans` section lists (default [`DEFAULT_TOP`]).
    pub fn top(mut self, top: usize) -> Self {
        self.top = top;
        self
    }

    /// Records only spans whose target (module path, or `target:` given to the macro) is
    /// `prefix` or starts with `prefix::`. Several calls allow several prefixes; none allows
    /// every target.
    pub fn allow_target(mut self, prefix: impl Into<String>) -> Self {
        self.allow.push(prefix.into());
        self
    }

    /// Never records spans whose target is `prefix` or starts with `prefix::` (checked after
    /// the allow list), e.g. a chatty dependency's.
    pub fn deny_target(mut self, prefix: impl Into<String>) -> Self {
        self.deny.push(prefix.into());
        self
    }

    /// The handle.
    pub fn build(self) -> SpanTimings {
        SpanTimings {
            shared: Arc::new(Shared {
                settings: self,
                registry: OnceLock::new(),
                by_name: RwLock::new(HashMap::new()),
                overflow: OnceLock::new(),
            }),
        }
    }
}

/// Span timings: the `tracing` layer and what it recorded. Cloning shares everything.
#[derive(Clone)]
pub struct SpanTimings {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SpanTimings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanTimings")
            .field("settings", &self.shared.settings)
            .field("attached", &self.shared.registry.get().is_some())
            .finish()
    }
}

struct Shared {
    settings: SpanTimingsBuilder,
    registry: OnceLock<Arc<Registry>>,
    by_name: RwLock<HashMap<&'static str, Arc<SpanSeries>>>,
    overflow: OnceLock<Arc<SpanSeries>>,
}

struct SpanSeries {
    name: &'static str,
    total: Arc<BucketHistogram>,
    recent: Window,
}

impl SpanTimings {
    /// Settings, starting from the defaults (every target, [`DEFAULT_MAX_SPANS`] names).
    pub fn builder() -> SpanTimingsBuilder {
        SpanTimingsBuilder {
            max_spans: DEFAULT_MAX_SPANS,
            top: DEFAULT_TOP,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }

    /// The `tracing_subscriber` layer that records into this handle. Spans closed before the
    /// handle is given to an [`Engine`](crate::Engine) are not recorded.
    pub fn layer(&self) -> SpanLayer {
        SpanLayer {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Connects to `registry`; `false` when already connected to another one.
    pub(crate) fn attach(&self, registry: &Arc<Registry>) -> bool {
        let current = self.shared.registry.get_or_init(|| Arc::clone(registry));
        Arc::ptr_eq(current, registry)
    }

    /// The JSON `spans` section at `now`: the top names by total busy time in the window.
    pub fn section(&self, now: Instant) -> Vec<SpanStat> {
        let mut all: Vec<Arc<SpanSeries>> = crate::registry::read(&self.shared.by_name)
            .values()
            .cloned()
            .collect();
        all.extend(self.shared.overflow.get().cloned());
        let ms = |seconds: f64| round_to(finite(seconds) * 1000.0, 3);
        let mut stats: Vec<SpanStat> = all
            .iter()
            .map(|s| {
                let h = s.recent.snapshot(now);
                SpanStat {
                    name: s.name.to_owned(),
                    count: h.count,
                    p50_ms: ms(h.quantile(0.5)),
                    p95_ms: ms(h.quantile(0.95)),
                    p99_ms: ms(h.quantile(0.99)),
                    total_ms: ms(h.sum_seconds),
                }
            })
            .filter(|s| s.count > 0)
            .collect();
        stats.sort_by(|a, b| {
            b.total_ms
                .total_cmp(&a.total_ms)
                .then_with(|| a.name.cmp(&b.name))
        });
        stats.truncate(self.shared.settings.top);
        stats
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

impl Shared {
    fn wanted(&self, target: &str) -> bool {
        let matches = |prefix: &String| {
            target
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        };
        (self.settings.allow.is_empty() || self.settings.allow.iter().any(matches))
            && !self.settings.deny.iter().any(matches)
    }

    fn new_series(registry: &Registry, name: &'static str) -> Arc<SpanSeries> {
        let key = registry.key(&SPAN_DURATION, &[("span", name.to_owned())]);
        Arc::new(SpanSeries {
            name,
            total: registry.own_histogram(&key),
            recent: Window::new(Duration::from_secs(10), 6, LATENCY_BUCKETS_SECONDS),
        })
    }

    /// The series of spans named `name`, made on first sight (or the overflow one).
    fn series(&self, name: &'static str) -> Option<Arc<SpanSeries>> {
        let registry = self.registry.get()?;
        if let Some(s) = crate::registry::read(&self.by_name).get(name) {
            return Some(Arc::clone(s));
        }
        let mut by_name = crate::registry::write(&self.by_name);
        if let Some(s) = by_name.get(name) {
            return Some(Arc::clone(s));
        }
        if by_name.len() >= self.settings.max_spans {
            return Some(Arc::clone(
                self.overflow
                    .get_or_init(|| Self::new_series(registry, SPAN_OVERFLOW)),
            ));
        }
        let series = Self::new_series(registry, name);
        by_name.insert(name, Arc::clone(&series));
        Some(series)
    }
}

/// The `tracing_subscriber::Layer` of [`SpanTimings`] (made by [`SpanTimings::layer`]).
#[derive(Clone)]
pub struct SpanLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SpanLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanLayer").finish_non_exhaustive()
    }
}

/// What one live span carries in its extensions.
struct Timing {
    series: Arc<SpanSeries>,
    busy: Duration,
    /// When the outermost enter began, while entered.
    entered: Option<Instant>,
    /// When it was last exited: the closing time the window needs, without reading the
    /// clock again (a span usually closes right after its last exit).
    exited: Option<Instant>,
    depth: u32,
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta: &'static Metadata<'static> = attrs.metadata();
        if !self.shared.wanted(meta.target()) {
            return;
        }
        let (Some(series), Some(span)) = (self.shared.series(meta.name()), ctx.span(id)) else {
            return;
        };
        span.extensions_mut().insert(Timing {
            series,
            busy: Duration::ZERO,
            entered: None,
            exited: None,
            depth: 0,
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(t) = span.extensions_mut().get_mut::<Timing>()
        {
            if t.depth == 0 {
                t.entered = Some(Instant::now());
            }
            t.depth += 1;
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(t) = span.extensions_mut().get_mut::<Timing>()
        {
            t.depth = t.depth.saturating_sub(1);
            if t.depth == 0
                && let Some(entered) = t.entered.take()
            {
                let now = Instant::now();
                t.busy += now.saturating_duration_since(entered);
                t.exited = Some(now);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(t) = span.extensions_mut().remove::<Timing>()
        {
            let (busy, at) = match (t.entered, t.exited) {
                (Some(entered), _) => {
                    let now = Instant::now();
                    (t.busy + now.saturating_duration_since(entered), now)
                }
                (None, Some(exited)) => (t.busy, exited),
                (None, None) => (t.busy, Instant::now()),
            };
            t.series.total.observe(busy.as_secs_f64());
            t.series.recent.record(at, busy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tracing_subscriber::layer::SubscriberExt;

    fn registry() -> Arc<Registry> {
        let mut buckets = BTreeMap::new();
        buckets.insert(
            "t_span_duration_seconds".to_owned(),
            Arc::from(LATENCY_BUCKETS_SECONDS),
        );
        Arc::new(Registry::new("t", buckets))
    }

    #[test]
    fn busy_time_excludes_time_outside_the_span() {
        let timings = SpanTimings::builder().build();
        assert!(timings.attach(&registry()));
        let subscriber = tracing_subscriber::registry().with(timings.layer());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("work");
            for _ in 0..2 {
                let _entered = span.enter();
                std::thread::sleep(Duration::from_millis(20));
            }
            // Idle: not entered.
            std::thread::sleep(Duration::from_millis(100));
        });
        let stats = timings.section(Instant::now());
        assert_eq!(stats.len(), 1, "{stats:?}");
        assert_eq!((stats[0].name.as_str(), stats[0].count), ("work", 1));
        assert!(
            (40.0..135.0).contains(&stats[0].total_ms),
            "busy time only: {stats:?}"
        );
    }

    #[test]
    fn names_past_the_cap_share_the_overflow_series_and_filters_apply() {
        let timings = SpanTimings::builder()
            .max_spans(2)
            .allow_target("spans_test")
            .deny_target("spans_test::noisy")
            .build();
        assert!(timings.attach(&registry()));
        assert!(!timings.attach(&registry()), "one registry per handle");
        let subscriber = tracing_subscriber::registry().with(timings.layer());
        tracing::subscriber::with_default(subscriber, || {
            drop(tracing::info_span!(target: "spans_test", "a").entered());
            drop(tracing::info_span!(target: "spans_test::inner", "b").entered());
            drop(tracing::info_span!(target: "spans_test", "c").entered());
            drop(tracing::info_span!(target: "spans_test", "d").entered());
            drop(tracing::info_span!(target: "spans_test::noisy", "e").entered());
            drop(tracing::info_span!(target: "spans_testing", "f").entered());
            drop(tracing::info_span!(target: "other", "g").entered());
        });
        let mut names: Vec<(String, u64)> = timings
            .section(Instant::now())
            .into_iter()
            .map(|s| (s.name, s.count))
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![("a".into(), 1), ("b".into(), 1), ("overflow".into(), 2)]
        );
    }
}
