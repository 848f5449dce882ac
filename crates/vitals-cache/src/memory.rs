//! The in-process backend.

use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;

use crate::{CacheBackend, CacheError};

#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// An in-process cache bounded by the bytes of its keys and values, each entry with its own
/// time to live. It never fails.
#[derive(Clone)]
pub struct MemoryBackend {
    cache: moka::future::Cache<String, Entry>,
}

impl MemoryBackend {
    /// A cache holding at most about `capacity_bytes` of keys and values; the least useful
    /// entries are evicted past that.
    pub fn new(capacity_bytes: u64) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self { cache }
    }
}

impl CacheBackend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        Ok(self.cache.get(key).await.map(|e| e.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.cache
            .insert(key.to_owned(), Entry { value, ttl })
            .await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        Ok(self.cache.remove(key).await.is_some())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
