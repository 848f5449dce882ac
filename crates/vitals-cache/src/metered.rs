//! Counting wrapper around a backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use vitals_core::math::round_to;
use vitals_core::{
    CacheCounts, CacheSection, Collector, Importance, ReadinessProbe, Slot, Snapshot,
};

use crate::{CacheBackend, CacheError};

/// A cache that counts what happens to it. Cloning shares the backend and the counters.
///
/// As a [`Collector`] it fills the snapshot's `cache` section, or `caches[name]` when given
/// a name with [`MeteredCache::named`], and offers a readiness probe (the backend's ping)
/// whose failure reports the service `degraded`, never unready: it works without a cache.
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
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
    errors: AtomicU64,
    /// Set during an outage, so that it is logged once rather than per operation.
    failing: AtomicBool,
}

impl<B: CacheBackend> MeteredCache<B> {
    /// Wraps `backend` with zeroed counters.
    pub fn new(backend: B) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                sets: AtomicU64::new(0),
                deletes: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                failing: AtomicBool::new(false),
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
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        match self.inner.backend.get(key).await {
            Ok(Some(value)) => {
                self.succeeded(&self.inner.hits);
                Some(value)
            }
            Ok(None) => {
                self.succeeded(&self.inner.misses);
                None
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// Stores `value` under `key` for `ttl`; `false` when the backend failed.
    pub async fn set(&self, key: &str, value: impl Into<Bytes>, ttl: Duration) -> bool {
        match self.inner.backend.set(key, value.into(), ttl).await {
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
        match self.inner.backend.delete(key).await {
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

    /// Checks the backend answers, without touching the counters.
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
        let mut section = CacheSection::from_counts(self.backend_name(), self.counts());
        if let Some(stats) = self.inner.backend.stats() {
            section.command_latency_avg_ms = Some(round_to(stats.command_latency_avg_ms, 2));
            section.command_latency_max_ms = Some(round_to(stats.command_latency_max_ms, 2));
            section.queue_len = Some(stats.queue_len);
        }
        match &self.name {
            None => snapshot.cache = section,
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
