//! [`Backend`]: one of the shipped backends, chosen at run time.

use std::time::Duration;

use bytes::Bytes;

use crate::backend::{BackendStats, CacheBackend, CacheError};
use crate::memory::MemoryBackend;
use crate::redis::RedisBackend;

/// One of the shipped backends, chosen at run time (with the `memory` and `redis` features).
pub enum Backend {
    /// In-process.
    Memory(MemoryBackend),
    /// Redis.
    Redis(RedisBackend),
}

impl Backend {
    /// The same backend with `prefix` put in front of every key (see
    /// [`MemoryBackend::with_key_prefix`](crate::MemoryBackend::with_key_prefix) and
    /// [`RedisBackend::with_key_prefix`](crate::RedisBackend::with_key_prefix)).
    pub fn with_key_prefix(self, prefix: impl AsRef<str>) -> Self {
        match self {
            Self::Memory(b) => Self::Memory(b.with_key_prefix(prefix)),
            Self::Redis(b) => Self::Redis(b.with_key_prefix(prefix)),
        }
    }

    /// The prefix put in front of every key (`""` when none).
    pub fn key_prefix(&self) -> &str {
        match self {
            Self::Memory(b) => b.key_prefix(),
            Self::Redis(b) => b.key_prefix(),
        }
    }
}

impl From<MemoryBackend> for Backend {
    fn from(b: MemoryBackend) -> Self {
        Self::Memory(b)
    }
}

impl From<RedisBackend> for Backend {
    fn from(b: RedisBackend) -> Self {
        Self::Redis(b)
    }
}

impl CacheBackend for Backend {
    fn name(&self) -> &'static str {
        match self {
            Self::Memory(b) => b.name(),
            Self::Redis(b) => b.name(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        match self {
            Self::Memory(b) => b.get(key).await,
            Self::Redis(b) => b.get(key).await,
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        match self {
            Self::Memory(b) => b.set(key, value, ttl).await,
            Self::Redis(b) => b.set(key, value, ttl).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        match self {
            Self::Memory(b) => b.delete(key).await,
            Self::Redis(b) => b.delete(key).await,
        }
    }

    async fn ping(&self) -> Result<(), CacheError> {
        match self {
            Self::Memory(b) => b.ping().await,
            Self::Redis(b) => b.ping().await,
        }
    }

    fn stats(&self) -> Option<BackendStats> {
        match self {
            Self::Memory(b) => b.stats(),
            Self::Redis(b) => b.stats(),
        }
    }
}
