//! The backend interface and the run-time choice between the shipped backends.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

/// Why a backend operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// The backend is not connected (it keeps reconnecting in the background).
    #[error("cache backend is not connected")]
    Disconnected,
    /// The backend did not answer in time.
    #[error("cache backend did not answer within {0:?}")]
    Timeout(Duration),
    /// The backend answered with an error.
    #[error("cache backend error: {0}")]
    Backend(String),
    /// The backend's configuration is unusable.
    #[error("invalid cache configuration: {0}")]
    Config(String),
}

/// A place to keep bytes under string keys for a while.
///
/// Implementations report failures as [`CacheError`]; [`MeteredCache`](crate::MeteredCache)
/// turns them into counted misses and no-ops.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use bytes::Bytes;
/// use vitals_cache::{CacheBackend, CacheError, MeteredCache};
///
/// /// A map without expiry: enough to show the interface.
/// #[derive(Default)]
/// struct MapBackend(Mutex<HashMap<String, Bytes>>);
///
/// impl CacheBackend for MapBackend {
///     fn name(&self) -> &'static str { "map" }
///     async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
///         Ok(self.0.lock().unwrap().get(key).cloned())
///     }
///     async fn set(&self, key: &str, value: Bytes, _ttl: Duration) -> Result<(), CacheError> {
///         self.0.lock().unwrap().insert(key.to_owned(), value);
///         Ok(())
///     }
///     async fn delete(&self, key: &str) -> Result<bool, CacheError> {
///         Ok(self.0.lock().unwrap().remove(key).is_some())
///     }
///     async fn ping(&self) -> Result<(), CacheError> { Ok(()) }
/// }
///
/// let cache = MeteredCache::new(MapBackend::default());
/// cache.set("k", "v", Duration::from_secs(1)).await;
/// assert!(cache.get("k").await.is_some());
/// assert_eq!(cache.counts().hits, 1);
/// # }
/// ```
pub trait CacheBackend: Send + Sync + 'static {
    /// Short name shown as `cache.backend`.
    fn name(&self) -> &'static str;
    /// The value under `key`, if present and not expired.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, CacheError>> + Send;
    /// Stores `value` under `key` for `ttl`.
    fn set(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), CacheError>> + Send;
    /// Removes `key`; `true` when something was removed.
    fn delete(&self, key: &str) -> impl Future<Output = Result<bool, CacheError>> + Send;
    /// Checks that the backend answers.
    fn ping(&self) -> impl Future<Output = Result<(), CacheError>> + Send;

    /// What the backend's client measures about itself (command latency, queued commands),
    /// for backends that measure it; `None` (the default) for the others. Called on the
    /// snapshot path: it must only read figures at hand.
    fn stats(&self) -> Option<BackendStats> {
        None
    }
}

/// A client's own view of its backend: latency over its last latency window and commands
/// waiting to be sent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BackendStats {
    /// Mean command latency over the window, milliseconds (0 when no command completed).
    pub command_latency_avg_ms: f64,
    /// Slowest command over the window, milliseconds (0 when no command completed).
    pub command_latency_max_ms: f64,
    /// Commands queued in the client, not yet written to the server.
    pub queue_len: u64,
}
