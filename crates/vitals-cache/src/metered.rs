//! Counting wrapper around a backend.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use vitals_core::math::round_to;
use vitals_core::{
    CacheCounts, CacheSection, Collector, Importance, ReadinessProbe, Slot, Snapshot,
};

use crate::backend::{CacheBackend, CacheError};
use crate::breaker::BreakerConfig;
use crate::breaker::{Admission, Breaker};

/// A function run before a set reaches the backend; see [`MeteredCache::before_set`].
pub type SetHook = Arc<dyn Fn(&str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A cache that counts what happens to it. Cloning shares the backend and the counters.
///
/// As a [`Collector`] it fills the snapshot's `cache` section, or `caches[name]` when given
/// a name with [`MeteredCache::named`], and offers a readiness probe (the backend's ping)
/// whose failure reports the service `degraded`, never unready: it works without a cache.
///
/// A circuit breaker ([`BreakerConfig`]) sits in front of the backend: after consecutive
/// failures calls are skipped for a while (counted in `skipped`, state in `circuit`), so a
/// hung backend costs the callers a few timeouts, not one per call for the whole outage.
pub struct MeteredCache<B> {
    inner: Arc<Inner<B>>,
    name: Option<Arc<str>>,
}

impl<B> Clone for MeteredCache<B> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
        }
    }
}

struct Inner<B> {
    backend: B,
    /// Hits and misses of the last minute, for `hit_rate_recent_percent`.
    recent: recent::Window,
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
    errors: AtomicU64,
    /// Set during an outage, so that it is logged once rather than per operation.
    failing: AtomicBool,
    breaker: Breaker,
    /// Whether `set_hook` holds a hook (read first, so the normal path takes no lock).
    hooked: AtomicBool,
    set_hook: Mutex<Option<SetHook>>,
}

/// Reopens the circuit for an immediate new probe if a probe's caller gives up (drops the
/// future) before the backend answered, so the circuit cannot stay half-open forever.
struct ProbeGuard<'a> {
    breaker: &'a Breaker,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.breaker.abandoned();
        }
    }
}

/// The recent window: a ring of [`SLICES`](recent::SLICES) time slices of
/// [`SLICE`](recent::SLICE) each, every one holding the hits and misses counted in it.
///
/// A read costs two relaxed atomics (the slice's epoch, then one `fetch_add` on a word that
/// packs hits in its high half and misses in its low half); the first read of a new slice
/// reclaims the oldest slot. The sum covers the current slice and the ones before it, so it
/// counts the reads of the last 55 to 60 seconds, never older ones. When several threads cross
/// a slice boundary at once, a read counted between the reclaim and the reset of the slot can be
/// lost; since-start counters are exact regardless.
mod recent {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::time::{Duration, Instant};

    /// Length of one slice.
    pub const SLICE: Duration = Duration::from_secs(5);
    /// Slices in the window: 12 × 5 s = 60 s.
    pub const SLICES: usize = 12;

    const HIT: u64 = 1 << 32;
    const MISS: u64 = 1;
    const LOW: u64 = u32::MAX as u64;

    #[derive(Default)]
    struct Slot {
        /// Which slice the counts belong to (slice number + 1; 0: never used).
        epoch: AtomicU64,
        /// Hits in the high 32 bits, misses in the low 32 (4 billion reads per 5 s slice).
        counts: AtomicU64,
    }

    pub struct Window {
        origin: Instant,
        slots: [Slot; SLICES],
    }

    impl Window {
        pub fn new(origin: Instant) -> Self {
            Self {
                origin,
                slots: Default::default(),
            }
        }

        fn epoch(&self, now: Instant) -> u64 {
            let since = now.saturating_duration_since(self.origin);
            (since.as_nanos() / SLICE.as_nanos()) as u64 + 1
        }

        /// Counts one read at `now`.
        pub fn record(&self, now: Instant, hit: bool) {
            let epoch = self.epoch(now);
            let slot = &self.slots[(epoch % SLICES as u64) as usize];
            let seen = slot.epoch.load(Relaxed);
            if seen < epoch
                && slot
                    .epoch
                    .compare_exchange(seen, epoch, Relaxed, Relaxed)
                    .is_ok()
            {
                slot.counts.store(0, Relaxed);
            }
            slot.counts.fetch_add(if hit { HIT } else { MISS }, Relaxed);
        }

        /// Hits and misses of the window that ends at `now`.
        pub fn sum(&self, now: Instant) -> (u64, u64) {
            let current = self.epoch(now);
            let oldest = current.saturating_sub(SLICES as u64 - 1).max(1);
            self.slots
                .iter()
                .filter(|s| (oldest..=current).contains(&s.epoch.load(Relaxed)))
                .map(|s| s.counts.load(Relaxed))
                .fold((0, 0), |(h, m), c| (h + (c >> 32), m + (c & LOW)))
        }
    }

    #[cfg(test)]
    mod tests {
        use std::time::{Duration, Instant};

        use vitals_core::{Collector, Snapshot};

        use super::{SLICE, SLICES, Window};
        use crate::{MemoryBackend, MeteredCache};

        fn at(origin: Instant, secs: f64) -> Instant {
            origin + Duration::from_secs_f64(secs)
        }

        #[test]
        fn a_known_sequence_gives_the_exact_recent_counts() {
            let t0 = Instant::now();
            let w = Window::new(t0);
            assert_eq!(w.sum(t0), (0, 0));
            // 30 s of reads, one per second: hits on even seconds and on every multiple of 3.
            for s in 0..30 {
                w.record(at(t0, f64::from(s) + 0.5), s % 2 == 0 || s % 3 == 0);
            }
            // Of 0..30: 15 even, plus 5 odd multiples of 3 → 20 hits, 10 misses.
            assert_eq!(w.sum(at(t0, 30.0)), (20, 10));
            // 58 s later the first slice (0–5 s: hits at 0, 2, 3, 4; miss at 1) has left the window.
            assert_eq!(w.sum(at(t0, 60.0)), (16, 9));
            // At 84.9 s the window is 25–84.9 s: only the 25–30 s slice (25 ✗ 26 ✓ 27 ✓ 28 ✓ 29 ✗).
            assert_eq!(w.sum(at(t0, 84.9)), (3, 2));
            assert_eq!(
                w.sum(at(t0, 85.0)),
                (0, 0),
                "every read is older than the window"
            );
        }

        #[test]
        fn a_reused_slot_starts_from_zero() {
            let t0 = Instant::now();
            let w = Window::new(t0);
            w.record(at(t0, 1.0), true);
            w.record(at(t0, 1.0), true);
            // Same slot, one lap of the ring later.
            let lap = SLICE.as_secs_f64() * SLICES as f64;
            w.record(at(t0, 1.0 + lap), false);
            assert_eq!(w.sum(at(t0, 1.0 + lap)), (0, 1));
        }

        #[tokio::test]
        async fn the_section_reports_the_recent_rate_beside_the_since_start_one() {
            let cache = MeteredCache::new(MemoryBackend::new(1 << 20));
            let ttl = Duration::from_secs(60);
            assert!(cache.set("k", "v", ttl).await);
            for _ in 0..3 {
                assert!(cache.get("k").await.is_some());
            }
            assert!(cache.get("absent").await.is_none());
            let now = Instant::now();
            let section = cache.section_at(now);
            assert_eq!(section.hit_rate_percent, 75.0);
            assert_eq!(section.hit_rate_recent_percent, 75.0);
            assert_eq!(section.total_reads_recent, 4);
            // A minute on, nothing was read: the recent rate is 0, the since-start one unchanged.
            let later = cache.section_at(now + Duration::from_secs(61));
            assert_eq!(later.hit_rate_percent, 75.0);
            assert_eq!(later.hit_rate_recent_percent, 0.0);
            assert_eq!(later.total_reads_recent, 0);
            let mut snapshot = Snapshot::now();
            cache.collect(&mut snapshot);
            let cache = snapshot.cache.as_ref().expect("filled");
            assert_eq!(cache.hit_rate_recent_percent, 75.0);
        }
    }
}

impl<B: CacheBackend> MeteredCache<B> {
    /// Wraps `backend` with zeroed counters and the default circuit breaker
    /// ([`BreakerConfig::default`]).
    pub fn new(backend: B) -> Self {
        Self::with_breaker(backend, BreakerConfig::default())
    }

    /// Wraps `backend` with zeroed counters and a circuit breaker configured by `breaker`
    /// ([`BreakerConfig::disabled`] for none).
    pub fn with_breaker(backend: B, breaker: BreakerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                recent: recent::Window::new(Instant::now()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                sets: AtomicU64::new(0),
                deletes: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                failing: AtomicBool::new(false),
                breaker: Breaker::new(breaker),
                hooked: AtomicBool::new(false),
                set_hook: Mutex::new(None),
            }),
            name: None,
        }
    }

    /// The same cache under `name`: it fills `caches[name]` instead of `cache`, and its
    /// Prometheus series carry `cache="name"`.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The name given with [`MeteredCache::named`].
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// The value under `key`: a hit, a miss, or (when the backend fails) a counted error
    /// answered as `None`.
    #[tracing::instrument(name = "cache.get", skip_all)]
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        match self.call(self.inner.backend.get(key)).await? {
            Ok(Some(value)) => {
                self.succeeded(&self.inner.hits);
                self.inner.recent.record(Instant::now(), true);
                Some(value)
            }
            Ok(None) => {
                self.succeeded(&self.inner.misses);
                self.inner.recent.record(Instant::now(), false);
                None
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// Stores `value` under `key` for `ttl`; `false` when the backend failed.
    #[tracing::instrument(name = "cache.set", skip_all)]
    pub async fn set(&self, key: &str, value: impl Into<Bytes>, ttl: Duration) -> bool {
        let value = value.into();
        if self.inner.hooked.load(Ordering::Acquire) {
            let hook = self
                .inner
                .set_hook
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(hook) = hook {
                hook(key).await;
            }
        }
        let Some(outcome) = self.call(self.inner.backend.set(key, value, ttl)).await else {
            return false;
        };
        match outcome {
            Ok(()) => {
                self.succeeded(&self.inner.sets);
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    /// Removes `key`; `false` when the backend failed. A delete of an absent key succeeds
    /// and is counted: the caller's intent (the key must not be served) holds either way.
    pub async fn delete(&self, key: &str) -> bool {
        let Some(outcome) = self.call(self.inner.backend.delete(key)).await else {
            return false;
        };
        match outcome {
            Ok(_) => {
                self.succeeded(&self.inner.deletes);
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    /// Runs `hook` before every [`set`](MeteredCache::set) reaches the backend (on every
    /// clone of this cache); `None` removes it.
    ///
    /// A seam for tests: a hook that waits on a barrier holds a cache fill back, which
    /// reproduces at will the race between a read that fills the cache and a write that
    /// invalidates it. It costs one relaxed load per set while unused.
    pub fn before_set(&self, hook: Option<SetHook>) {
        let mut slot = self
            .inner
            .set_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner.hooked.store(hook.is_some(), Ordering::Release);
        *slot = hook;
    }

    /// The circuit breaker's state right now.
    pub fn circuit(&self) -> vitals_core::CircuitState {
        self.inner.breaker.state()
    }

    /// Whether a call made now would be skipped by the open circuit; when it would, the call
    /// the caller is about to skip is counted in `skipped` (as [`get`](MeteredCache::get)
    /// would have counted it). Lets a caller avoid work that only serves the cache, such as
    /// reading a version for a key it cannot look up.
    pub fn bypass(&self) -> bool {
        self.inner.breaker.skip_if_open()
    }

    /// Calls not sent to the backend because the circuit was open, since start.
    pub fn skipped(&self) -> u64 {
        self.inner.breaker.skipped()
    }

    /// Runs one backend call through the breaker: `None` when it was skipped.
    async fn call<T>(
        &self,
        op: impl Future<Output = Result<T, CacheError>>,
    ) -> Option<Result<T, CacheError>> {
        let breaker = &self.inner.breaker;
        let probe = match breaker.admit() {
            Admission::Skip => return None,
            Admission::Probe => true,
            Admission::Normal => false,
        };
        let mut guard = ProbeGuard {
            breaker,
            armed: probe,
        };
        let outcome = op.await;
        guard.armed = false;
        match &outcome {
            Ok(_) => {
                if breaker.succeeded() {
                    tracing::info!(
                        backend = self.backend_name(),
                        "cache circuit closed: the backend answers again"
                    );
                }
            }
            Err(e) => {
                if breaker.failed(probe) {
                    tracing::warn!(
                        backend = self.backend_name(),
                        error = %e,
                        "cache circuit open: skipping the cache until a probe succeeds"
                    );
                }
            }
        }
        Some(outcome)
    }

    /// Checks the backend answers, without touching the counters or the breaker.
    pub async fn ping(&self) -> Result<(), CacheError> {
        self.inner.backend.ping().await
    }

    /// The counters right now.
    pub fn counts(&self) -> CacheCounts {
        let i = &self.inner;
        CacheCounts {
            hits: i.hits.load(Ordering::Relaxed),
            misses: i.misses.load(Ordering::Relaxed),
            sets: i.sets.load(Ordering::Relaxed),
            deletes: i.deletes.load(Ordering::Relaxed),
            errors: i.errors.load(Ordering::Relaxed),
        }
    }

    /// The `cache` section as of `now` (the recent window ends at `now`).
    fn section_at(&self, now: Instant) -> CacheSection {
        let (hits, misses) = self.inner.recent.sum(now);
        let mut section =
            CacheSection::from_counts(self.backend_name(), self.counts()).with_recent(hits, misses);
        section.circuit = self.circuit();
        section.skipped = self.skipped();
        section
    }

    fn succeeded(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        // Read before writing, so the healthy path never dirties the shared flag.
        if self.inner.failing.load(Ordering::Relaxed)
            && self.inner.failing.swap(false, Ordering::Relaxed)
        {
            tracing::info!(backend = self.backend_name(), "cache backend recovered");
        }
    }

    fn failed(&self, error: &CacheError) {
        self.inner.errors.fetch_add(1, Ordering::Relaxed);
        if !self.inner.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                backend = self.backend_name(),
                %error,
                "cache backend failing; serving without the cache until it recovers"
            );
        }
    }
}

impl<B: CacheBackend> Collector for MeteredCache<B> {
    fn collect(&self, snapshot: &mut Snapshot) {
        let mut section = self.section_at(Instant::now());
        if let Some(stats) = self.inner.backend.stats() {
            section.command_latency_avg_ms = Some(round_to(stats.command_latency_avg_ms, 2));
            section.command_latency_max_ms = Some(round_to(stats.command_latency_max_ms, 2));
            section.queue_len = Some(stats.queue_len);
        }
        match &self.name {
            None => snapshot.cache = Some(section),
            Some(name) => {
                snapshot.caches.insert(name.to_string(), section);
            }
        }
    }

    fn slot(&self) -> Option<Slot> {
        Some(Slot::Cache(self.name.as_deref().map(str::to_owned)))
    }

    fn readiness(&self) -> Option<ReadinessProbe> {
        let cache = self.clone();
        Some(ReadinessProbe {
            name: self
                .name
                .as_deref()
                .map_or_else(|| "cache".to_owned(), |n| format!("cache:{n}")),
            backend: self.backend_name().to_owned(),
            importance: Importance::Optional,
            probe: Box::new(move || {
                let cache = cache.clone();
                Box::pin(async move { cache.ping().await.map_err(|e| e.to_string()) })
            }),
        })
    }
}
