//! What every handler shares: the Vitals handle, the pool, the cache and the agent.
//!
//! Everything Vitals does here goes through its public builder, exactly as in any other
//! application: the settings the library cares about become a [`vitals_axum::VitalsBuilder`]
//! ([`Settings::vitals_builder`]), the demo's own (agent latency, data folder, cache size)
//! stay here.

use std::sync::Arc;
use std::time::Duration;

use vitals_axum::{RuntimeCollector, SystemSampler, Vitals};
use vitals_cache::{Backend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig};

use crate::brain::{Agent, RuleAgent};
use crate::db::Db;
use crate::error::StartupError;
use crate::exporters::{Exporters, Targets};
use crate::redact::redact_url;
use crate::settings::Settings;
use crate::telemetry;

/// Waits up to 2 s for Redis; says why at WARN when it is not usable yet ("authentication
/// failed (…)" when it refuses the credentials).
async fn warn_unless_connected(redis: &RedisBackend, url: &str) {
    if redis.wait_connected(Duration::from_secs(2)).await {
        return;
    }
    let reason = vitals_cache::CacheBackend::ping(redis)
        .await
        .err()
        .map(|e| e.to_string());
    tracing::warn!(
        redis = %redact_url(url),
        reason = reason.as_deref().unwrap_or("not connected"),
        "Redis is not usable yet; serving without the cache while reconnecting"
    );
}

/// The request deadline less a tenth of it (at least 10 ms, at most 1 s), for the answer.
fn answer_within(request_timeout: Duration) -> Duration {
    let margin = (request_timeout / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
    request_timeout
        .saturating_sub(margin)
        .max(request_timeout / 2)
}

/// Shared state of the server; cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Stop when the state is dropped.
    _exporters: Exporters,
    vitals: Vitals,
    db: Db,
    cache: MeteredCache<Backend>,
    agent: Arc<dyn Agent>,
    request_timeout: Duration,
    body_timeout: Duration,
    answer_within: Duration,
}

impl AppState {
    /// Opens the database, sets up the cache and Vitals as `settings` say.
    ///
    /// An unreachable Redis does not stop the start: the cache counts errors and reconnects
    /// in the background. An unreachable database does, with a message naming the fix.
    pub async fn from_settings(settings: &Settings) -> Result<Self, StartupError> {
        let agent = RuleAgent::new(Duration::from_millis(settings.agent_latency_ms));
        Self::with_agent(settings, Arc::new(agent)).await
    }

    /// As [`AppState::from_settings`], with your own [`Agent`] (a model client) answering
    /// chat messages instead of the built-in rules.
    pub async fn with_agent(
        settings: &Settings,
        agent: Arc<dyn Agent>,
    ) -> Result<Self, StartupError> {
        // Everything that can be refused without touching a dependency is checked first.
        let builder = settings.vitals_builder();
        let targets = Targets::from_settings(settings)?;
        let backend = match &settings.redis_url {
            Some(url) => Backend::Redis(RedisBackend::connect(&RedisConfig::new(url.as_str()))?),
            None => Backend::Memory(MemoryBackend::new(
                settings.cache_capacity_mb.saturating_mul(1024 * 1024),
            )),
        };
        let interval = Duration::from_millis(settings.sample_interval_ms);
        let system = SystemSampler::new(interval)?;
        let runtime = RuntimeCollector::current(interval)?;
        let db = Db::connect(settings).await?;
        db.migrate().await?;
        if let (Backend::Redis(redis), Some(url)) = (&backend, &settings.redis_url) {
            warn_unless_connected(redis, url).await;
        }
        let cache = MeteredCache::new(backend);
        let builder = match telemetry::span_timings() {
            Some(spans) => builder.span_timings(spans),
            None => builder,
        };
        let builder = builder
            .collector(system)
            .collector(runtime)
            .collector(cache.clone());
        let vitals = match &db {
            Db::Postgres(pool) => builder.collector(pool.clone()),
            Db::Sqlite(pool) => builder.collector(pool.clone()),
        }
        .build()?;
        let exporters = Exporters::start(&vitals, settings, targets)?;
        Ok(Self {
            inner: Arc::new(Inner {
                _exporters: exporters,
                vitals,
                db,
                cache,
                agent,
                request_timeout: Duration::from_millis(settings.request_timeout_ms),
                // The body must arrive within the header-read timeout and well before the
                // request deadline, so a slow upload is answered 408 (the client's doing),
                // never 504.
                body_timeout: Duration::from_millis(settings.header_read_timeout_ms)
                    .min(Duration::from_millis(settings.request_timeout_ms) * 9 / 10),
                answer_within: answer_within(settings.request_timeout()),
            }),
        })
    }

    /// The Vitals handle: snapshot, layer, routes.
    pub fn vitals(&self) -> &Vitals {
        &self.inner.vitals
    }

    /// The agent answering chat messages.
    pub fn agent(&self) -> &dyn Agent {
        self.inner.agent.as_ref()
    }

    /// The deadline of every request.
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// How long a request body may take to arrive before the answer is 408.
    pub fn body_timeout(&self) -> Duration {
        self.inner.body_timeout
    }

    /// How long a chat may work before it answers by itself: a little less than the request
    /// deadline, so that a write still running is reported by the handler, which knows
    /// whether its commit was sent (docs/health-agent.md, "What each status means").
    pub fn answer_within(&self) -> Duration {
        self.inner.answer_within
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The cache.
    pub fn cache(&self) -> &MeteredCache<Backend> {
        &self.inner.cache
    }
}
