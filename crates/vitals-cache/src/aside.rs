//! Cache-aside reads under versioned keys: a cache that can never hide an acknowledged write.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::CacheBackend;
use crate::metered::MeteredCache;

/// Cache-aside reads whose keys carry a version kept by the source of truth.
///
/// The usual cache-aside pattern (read the cache; on a miss load from the database and fill
/// the cache; on a write delete the key) has two holes. A read that misses and loads the old
/// value can store it *after* a concurrent write's delete, and that stale copy then hides the
/// write for the whole TTL. And a delete that fails (the cache is down, hung, or restarts
/// with its data) leaves the old copy in place for the same time.
///
/// Here nothing is ever invalidated. Each cached value lives under a key built from an id and
/// a *version* that the source of truth keeps next to the data:
///
/// - every write bumps the version **in the same transaction** as the data it changes;
/// - every read first reads the version (a cheap lookup by key), then calls
///   [`read`](CacheAside::read), which looks up `(id, version)` and, on a miss, loads the value
///   and stores it under that same key.
///
/// Why no acknowledged write can be hidden: a value stored under version `v` was loaded
/// *after* `v` was read, so it contains every write whose transaction produced a version up
/// to `v`. A read that starts after a write was acknowledged reads that write's version (or a
/// later one), so the only copies it can be served contain the write. A slow read that
/// stores an old value does so under the old version's key, which no later reader asks for;
/// a lost invalidation does not exist, since there is none to lose; a cache that comes back
/// with old data only holds keys of old versions. Superseded entries are garbage that the TTL
/// (or [`retire`](CacheAside::retire), as a courtesy) removes.
///
/// Versions must never be reused for an id: keep them in the database, not in memory, and if
/// a database can be recreated while the cache survives, put something unique to the
/// database (a token created with the schema) into the version.
///
/// The cost is one small read of the source of truth per cache read; what the cache saves is
/// the expensive part (the query that builds the value, its transfer and decoding).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use vitals_cache::{CacheAside, MemoryBackend, MeteredCache};
///
/// // The source of truth: a version and the data it versions, changed together.
/// let db = Mutex::new((0_u64, vec!["hello".to_owned()]));
/// let cache = MeteredCache::new(MemoryBackend::new(1 << 20));
/// let notes = CacheAside::new(cache.clone(), "notes", Duration::from_secs(60));
///
/// let read = || async {
///     let version = db.lock().unwrap().0; // 1. the version, from the source of truth
///     notes
///         .read("alice", version, || async {
///             Ok::<_, std::convert::Infallible>(db.lock().unwrap().1.clone()) // 2. on a miss
///         })
///         .await
///         .unwrap()
/// };
/// assert_eq!(read().await, ["hello"]); // a miss, loaded and cached
/// assert_eq!(read().await, ["hello"]); // a hit
///
/// // A write: data and version change together; the cache is not touched at all.
/// {
///     let mut row = db.lock().unwrap();
///     row.1.push("world".to_owned());
///     row.0 += 1;
/// }
/// assert_eq!(read().await, ["hello", "world"]); // the new version's key: a miss, then loaded
/// let counts = cache.counts();
/// assert_eq!((counts.hits, counts.misses), (1, 2));
/// # }
/// ```
pub struct CacheAside<B> {
    cache: MeteredCache<B>,
    prefix: Arc<str>,
    ttl: Duration,
}

impl<B> Clone for CacheAside<B> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            prefix: Arc::clone(&self.prefix),
            ttl: self.ttl,
        }
    }
}

impl<B: CacheBackend> CacheAside<B> {
    /// Versioned reads through `cache`, under keys starting with `prefix`, each copy kept
    /// for `ttl` (which bounds only how long superseded copies use memory).
    pub fn new(cache: MeteredCache<B>, prefix: impl Into<String>, ttl: Duration) -> Self {
        Self {
            cache,
            prefix: Arc::from(prefix.into()),
            ttl,
        }
    }

    /// The cache underneath.
    pub fn cache(&self) -> &MeteredCache<B> {
        &self.cache
    }

    /// The cache key of `id` at `version`: `prefix:<id length>:<id>:<version>`. The length
    /// makes every (id, version) pair a distinct key, whatever characters the id holds.
    pub fn key(&self, id: &str, version: impl Display) -> String {
        format!("{}:{}:{id}:{version}", self.prefix, id.len())
    }

    /// The value of `id` at `version`: from the cache when it holds that version, otherwise
    /// from `load`, then stored under that version.
    ///
    /// `version` must have been read from the source of truth *before* this call (so that
    /// `load` runs after it), and every write must change it in the same transaction as the
    /// data. A cache failure or an unreadable cached copy falls back to `load`; only `load`'s
    /// error is returned.
    pub async fn read<T, E, F, Fut>(&self, id: &str, version: impl Display, load: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = self.key(id, version);
        if let Some(bytes) = self.cache.get(&key).await {
            match serde_json::from_slice(&bytes) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    tracing::warn!(error = %e, "cached value unreadable; loading it again");
                }
            }
        }
        let value = load().await?;
        match serde_json::to_vec(&value) {
            Ok(bytes) => {
                self.cache.set(&key, bytes, self.ttl).await;
            }
            Err(e) => tracing::warn!(error = %e, "value not cacheable; served uncached"),
        }
        Ok(value)
    }

    /// As [`read`](CacheAside::read), reading the version with `version` first, so the order
    /// the mechanism needs (version, then value) is kept by construction. While the cache's
    /// circuit is open (every call would be skipped), neither the version nor the cache is
    /// consulted (the skipped lookup is counted in `skipped`): the value comes straight from
    /// `load`, so an outage of the cache costs no extra round trip to the source of truth.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use vitals_cache::{CacheAside, MemoryBackend, MeteredCache};
    ///
    /// let notes = CacheAside::new(MeteredCache::new(MemoryBackend::new(1 << 20)), "notes", Duration::from_secs(60));
    /// let value: String = notes
    ///     .read_versioned(
    ///         "alice",
    ///         || async { Ok::<_, ()>(7_u64) },          // e.g. SELECT version … WHERE id = $1
    ///         || async { Ok::<_, ()>("hello".to_owned()) }, // the expensive query
    ///     )
    ///     .await
    ///     .unwrap();
    /// assert_eq!(value, "hello");
    /// assert!(notes.cache().get(&notes.key("alice", 7)).await.is_some());
    /// # }
    /// ```
    pub async fn read_versioned<T, E, V, VF, VFut, F, Fut>(
        &self,
        id: &str,
        version: VF,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        V: Display,
        VF: FnOnce() -> VFut,
        VFut: Future<Output = Result<V, E>>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if self.cache.bypass() {
            return load().await;
        }
        let version = version().await?;
        self.read(id, version, load).await
    }

    /// Drops the copy of `id` at a superseded `version`, to free its memory before its TTL
    /// ends. Correctness never depends on it: `false` (a failed or skipped delete) is
    /// harmless.
    pub async fn retire(&self, id: &str, version: impl Display) -> bool {
        self.cache.delete(&self.key(id, version)).await
    }
}
