//! What every handler shares: the pool, the cache, the sampler and a few settings.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vitals_cache::{Backend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_core::{Collector, Snapshot};
use vitals_system::SystemSampler;

use crate::Settings;
use crate::agent::{Agent, RuleAgent};
use crate::db::{Db, redact_url};
use crate::exporter::{Exporter, HttpMetrics};

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
    /// The schema could not be brought up to date.
    #[error("cannot migrate the database schema: {0}; check the database user may create tables")]
    Migrate(#[from] sqlx::migrate::MigrateError),
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
    system: SystemSampler,
    exporter: Arc<Exporter>,
    http: Arc<HttpMetrics>,
    agent: Arc<dyn Agent>,
    request_timeout: Duration,
    metrics_token: Option<String>,
    metrics_limit: Option<RateLimit>,
    check_timeout: Duration,
}

impl AppState {
    /// Opens the database, sets up the cache and starts the system sampler as `settings`
    /// say.
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
        let system = SystemSampler::start(Duration::from_millis(settings.sample_interval_ms))?;
        let db = Db::connect(settings).await?;
        db.migrate().await?;
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
        let slow = Duration::from_millis(settings.slow_request_ms);
        let exporter = Arc::new(Exporter::new(&settings.metrics_namespace, slow));
        db.record_waits_into(exporter.histogram(&vitals_core::catalogue::DB_POOL_ACQUIRE_SECONDS));
        let http = Arc::new(HttpMetrics::new(
            exporter.recorder(),
            &settings.metrics_namespace,
            slow,
        ));
        spawn_upkeep(Arc::downgrade(&exporter));
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                cache: MeteredCache::new(backend),
                system,
                exporter,
                http,
                agent,
                request_timeout: Duration::from_millis(settings.request_timeout_ms),
                metrics_token: settings.metrics_token.clone(),
                metrics_limit: (settings.metrics_rate_limit > 0)
                    .then(|| RateLimit::new(settings.metrics_rate_limit)),
                check_timeout: acquire.min(Duration::from_secs(2)),
            }),
        })
    }

    /// Assembles a snapshot from the collectors' latest figures; never waits.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::now();
        self.inner.system.collect(&mut snapshot);
        self.inner.db.collect(&mut snapshot);
        self.inner.cache.collect(&mut snapshot);
        self.inner.http.collect(&mut snapshot);
        snapshot
    }

    /// The agent answering chat messages.
    pub fn agent(&self) -> &dyn Agent {
        self.inner.agent.as_ref()
    }

    /// The deadline of every request.
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// The Prometheus exporter.
    pub fn exporter(&self) -> &Exporter {
        &self.inner.exporter
    }

    /// The HTTP request metrics the performance layer records into.
    pub fn http_metrics(&self) -> &Arc<HttpMetrics> {
        &self.inner.http
    }

    /// Takes one request from the metrics endpoints' rate limit; `false` when it is spent.
    pub fn take_metrics_permit(&self) -> bool {
        self.inner
            .metrics_limit
            .as_ref()
            .is_none_or(RateLimit::take)
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

    /// How long a readiness check waits for a dependency.
    pub fn check_timeout(&self) -> Duration {
        self.inner.check_timeout
    }
}

/// Drains the exporter's histograms every [`UPKEEP_INTERVAL`] while it lives, so their
/// memory stays bounded even when nothing scrapes.
fn spawn_upkeep(exporter: std::sync::Weak<Exporter>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::exporter::UPKEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match exporter.upgrade() {
                Some(e) => e.run_upkeep(),
                None => return,
            }
        }
    });
}

/// A token bucket: `per_second` permits a second, bursts up to `per_second`.
struct RateLimit {
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        Self {
            per_second,
            state: Mutex::new((per_second, Instant::now())),
        }
    }

    fn take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        let refill = now.duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.per_second);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
