//! The in-process backend.

use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;

use crate::backend::{CacheBackend, CacheError};
use crate::prefix::KeyPrefix;

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
///
/// Clones share one store. [`with_key_prefix`](Self::with_key_prefix) gives a view of that
/// store whose keys all start with a prefix, so several parts of an application (or several
/// tenants) can share one bounded store without seeing each other's keys:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use vitals_cache::{CacheBackend, MemoryBackend};
///
/// let store = MemoryBackend::new(16 << 20);
/// let users = store.clone().with_key_prefix("users:");
/// let orders = store.with_key_prefix("orders:");
/// users.set("42", "Ada".into(), Duration::from_secs(60)).await.unwrap();
/// assert_eq!(users.get("42").await.unwrap().as_deref(), Some(&b"Ada"[..]));
/// assert_eq!(orders.get("42").await.unwrap(), None); // another prefix, another key
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    cache: moka::future::Cache<String, Entry>,
    prefix: KeyPrefix,
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
        Self {
            cache,
            prefix: KeyPrefix::default(),
        }
    }

    /// The same store, with `prefix` put in front of every key (`""` for none). The prefix
    /// counts towards the entry's size.
    pub fn with_key_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.prefix = KeyPrefix::new(prefix.as_ref());
        self
    }

    /// The prefix put in front of every key (`""` when none).
    pub fn key_prefix(&self) -> &str {
        self.prefix.as_str()
    }
}

impl CacheBackend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let key = self.prefix.apply(key);
        Ok(self.cache.get(key.as_ref()).await.map(|e| e.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        let key = self.prefix.apply(key).into_owned();
        self.cache.insert(key, Entry { value, ttl }).await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let key = self.prefix.apply(key);
        Ok(self.cache.remove(key.as_ref()).await.is_some())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
