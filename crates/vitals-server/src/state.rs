//! What every handler shares: the pool, the cache, the sampler and a few settings.

use std::sync::Arc;
use std::time::Duration;

use vitals_cache::{Backend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_core::{Collector, Snapshot};
use vitals_system::SystemSampler;

use crate::Settings;
use crate::db::{Db, redact_url};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened.
    #[error(
        "cannot open the database at {target}: {source}; check --database-url and that the database is up"
    )]
    Database {
        /// Where (password hidden).
        target: String,
        /// What sqlx said.
        source: sqlx::Error,
    },
    /// The data folder could not be created.
    #[error("cannot create the data folder {path}: {source}; choose another --data-dir")]
    DataDir {
        /// The folder.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The system sampler could not start.
    #[error("cannot start the system sampler: {0}")]
    Sampler(#[from] vitals_system::SamplerError),
    /// The cache could not be configured.
    #[error("cannot set up the cache: {0}; check --redis-url")]
    Cache(#[from] vitals_cache::CacheError),
    /// The listen address is unusable.
    #[error("cannot listen on {addr}: {source}; choose another --listen")]
    Listen {
        /// The address.
        addr: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl StartupError {
    pub(crate) fn database(target: &str, source: sqlx::Error) -> Self {
        Self::Database {
            target: target.to_owned(),
            source,
        }
    }
}

/// Shared state of the server; cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    cache: MeteredCache,
    system: Option<SystemSampler>,
    metrics_token: Option<String>,
    slow_request: Duration,
    check_timeout: Duration,
}

impl AppState {
    /// Opens the database, sets up the cache and starts the system sampler as `settings`
    /// say.
    ///
    /// An unreachable Redis does not stop the start: the cache counts errors and reconnects
    /// in the background. An unreachable database does, with a message naming the fix.
    pub async fn from_settings(settings: &Settings) -> Result<Self, StartupError> {
        let system = SystemSampler::start(Duration::from_millis(settings.sample_interval_ms))?;
        let db = Db::connect(settings).await?;
        let backend = match &settings.redis_url {
            Some(url) => {
                let redis = RedisBackend::connect(&RedisConfig::new(url.as_str()))?;
                if !redis.wait_connected(Duration::from_secs(2)).await {
                    tracing::warn!(
                        redis = %redact_url(url),
                        "Redis is not reachable yet; serving without the cache while reconnecting"
                    );
                }
                Backend::Redis(redis)
            }
            None => Backend::Memory(MemoryBackend::new(
                settings.cache_capacity_mb.saturating_mul(1024 * 1024),
            )),
        };
        let acquire = Duration::from_millis(settings.acquire_timeout_ms);
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                cache: MeteredCache::new(backend),
                system: Some(system),
                metrics_token: settings.metrics_token.clone(),
                slow_request: Duration::from_millis(settings.slow_request_ms),
                check_timeout: acquire.min(Duration::from_secs(2)),
            }),
        })
    }

    /// Assembles a snapshot from the collectors' latest figures; never waits.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::now();
        if let Some(system) = &self.inner.system {
            system.collect(&mut snapshot);
        }
        self.inner.db.collect(&mut snapshot);
        self.inner.cache.collect(&mut snapshot);
        snapshot
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The cache.
    pub fn cache(&self) -> &MeteredCache {
        &self.inner.cache
    }

    /// The bearer token the metrics endpoints require, if any.
    pub fn metrics_token(&self) -> Option<&str> {
        self.inner.metrics_token.as_deref()
    }

    /// The slow-request threshold.
    pub fn slow_request(&self) -> Duration {
        self.inner.slow_request
    }

    /// How long a readiness check waits for a dependency.
    pub fn check_timeout(&self) -> Duration {
        self.inner.check_timeout
    }
}
