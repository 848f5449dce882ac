//! The Redis backend.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::interfaces::MetricsInterface;
use fred::prelude::{ClientLike, Config, EventInterface, KeysInterface, ReconnectPolicy};
use fred::types::Expiration;

use crate::backend::{BackendStats, CacheBackend, CacheError};
use crate::prefix::KeyPrefix;

/// How to reach Redis and how long to wait for it.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Longest wait for one command before it counts as an error.
    pub command_timeout: Duration,
    /// Longest wait for a TCP connection.
    pub connect_timeout: Duration,
    /// Pause between reconnection attempts while Redis is away.
    pub reconnect_delay: Duration,
    /// The window command latency is reported over: figures describe the last complete
    /// window (see [`RedisBackend::stats`](crate::CacheBackend::stats)).
    pub latency_window: Duration,
    /// Put in front of every key the backend reads, writes or deletes (`""`, the default:
    /// none), so that several applications or environments can share one Redis without
    /// seeing each other's keys. Commands sent through [`RedisBackend::client`] are not
    /// prefixed.
    pub key_prefix: String,
}

impl RedisConfig {
    /// Defaults suited to a cache on the same network: 250 ms per command, 1 s to connect,
    /// a reconnection attempt every 500 ms, latency reported over 10 s windows.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            command_timeout: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(1),
            reconnect_delay: Duration::from_millis(500),
            latency_window: Duration::from_secs(10),
            key_prefix: String::new(),
        }
    }

    /// The same settings with `prefix` put in front of every key.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }
}

/// Redis through `fred`, reconnecting forever in the background.
///
/// While the connection is down, operations fail at once with
/// [`CacheError::Disconnected`] instead of queueing, so an outage costs callers nothing but a
/// counted miss.
///
/// Keys can carry a prefix ([`RedisConfig::key_prefix`], or
/// [`with_key_prefix`](Self::with_key_prefix) for another prefix on the same connection):
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), vitals_cache::CacheError> {
/// use std::time::Duration;
/// use vitals_cache::{MeteredCache, RedisBackend, RedisConfig};
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379").with_key_prefix("shop:prod:");
/// let redis = RedisBackend::connect(&config)?;
/// let sessions = MeteredCache::new(redis.clone().with_key_prefix("shop:prod:sessions:"));
/// let cache = MeteredCache::new(redis);
/// cache.set("user:1", "Ada", Duration::from_secs(60)).await; // stored as shop:prod:user:1
/// sessions.set("abc", "1", Duration::from_secs(60)).await;   // shop:prod:sessions:abc
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    client: fred::prelude::Client,
    prefix: KeyPrefix,
    command_timeout: Duration,
    latency: Arc<Mutex<LatencyWindow>>,
    /// Why Redis refused the last connection attempt's credentials (`WRONGPASS`, `NOAUTH`),
    /// until a connection succeeds or fails for another reason.
    auth_refused: Arc<Mutex<Option<String>>>,
}

/// fred accumulates latency until it is taken; this turns that into fixed windows, so every
/// reader (the JSON endpoint, a scrape, the history) sees the same figures for a window
/// instead of each taking a share.
struct LatencyWindow {
    length: Duration,
    started: Instant,
    /// The last complete window, once there is one.
    last: Option<BackendStats>,
}

impl RedisBackend {
    /// Starts connecting to Redis and returns at once; the connection (and every later
    /// reconnection) happens in the background. Must be called within a Tokio runtime.
    pub fn connect(config: &RedisConfig) -> Result<Self, CacheError> {
        let mut fred_config =
            Config::from_url(&config.url).map_err(|e| CacheError::Config(e.to_string()))?;
        // Keep retrying the first connection too, instead of failing start-up.
        fred_config.fail_fast = false;
        let delay_ms = u32::try_from(config.reconnect_delay.as_millis()).unwrap_or(u32::MAX);
        let client = fred::types::Builder::from_config(fred_config)
            .with_connection_config(|c| {
                c.connection_timeout = config.connect_timeout;
                c.internal_command_timeout = config.connect_timeout;
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = config.command_timeout;
            })
            .set_policy(ReconnectPolicy::new_constant(0, delay_ms))
            .build()
            .map_err(|e| CacheError::Config(e.to_string()))?;
        let auth_refused = watch_authentication(&client);
        client.connect();
        Ok(Self {
            client,
            prefix: KeyPrefix::new(&config.key_prefix),
            auth_refused,
            command_timeout: config.command_timeout,
            latency: Arc::new(Mutex::new(LatencyWindow {
                length: config.latency_window,
                started: Instant::now(),
                last: None,
            })),
        })
    }

    /// The same connection with `prefix` put in front of every key instead (`""` for none);
    /// it shares the client and its latency figures with `self`.
    pub fn with_key_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.prefix = KeyPrefix::new(prefix.as_ref());
        self
    }

    /// The prefix put in front of every key (`""` when none).
    pub fn key_prefix(&self) -> &str {
        self.prefix.as_str()
    }

    /// The `fred` client underneath, for commands the cache interface does not offer. What
    /// it runs is not counted in the cache's hits and misses, but is in its command latency;
    /// its keys are not prefixed.
    pub fn client(&self) -> &fred::prelude::Client {
        &self.client
    }

    /// Waits up to `timeout` for the connection; `true` once connected.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.client.wait_for_connect())
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn ready(&self) -> Result<(), CacheError> {
        if self.client.is_connected() {
            return Ok(());
        }
        let refused = self
            .auth_refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Err(match refused.as_deref() {
            Some(detail) => CacheError::Backend(format!(
                "authentication failed ({detail}); check the user and password in the Redis URL"
            )),
            None => CacheError::Disconnected,
        })
    }

    fn map_err(&self, e: fred::error::Error) -> CacheError {
        if *e.kind() == fred::error::ErrorKind::Timeout {
            CacheError::Timeout(self.command_timeout)
        } else {
            CacheError::Backend(e.to_string())
        }
    }
}

/// Follows the client's connection attempts: an authentication refusal is remembered (and
/// logged at WARN when it starts) until a connection succeeds or fails for another reason.
fn watch_authentication(client: &fred::prelude::Client) -> Arc<Mutex<Option<String>>> {
    let refused: Arc<Mutex<Option<String>>> = Arc::default();
    let slot = Arc::clone(&refused);
    drop(client.on_error(move |(error, _)| {
        let detail = (*error.kind() == fred::error::ErrorKind::Auth)
            .then(|| error.details().to_owned());
        let mut current = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(detail), None) = (&detail, current.as_ref()) {
            tracing::warn!(
                %detail,
                "Redis refused authentication; check the user and password in the Redis URL (serving without the cache until it accepts them)"
            );
        }
        *current = detail;
        async { Ok(()) }
    }));
    let slot = Arc::clone(&refused);
    drop(client.on_reconnect(move |_| {
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        async { Ok(()) }
    }));
    refused
}

impl CacheBackend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.ready()?;
        self.client
            .get::<Option<Bytes>, _>(self.prefix.apply(key).as_ref())
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.ready()?;
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.client
            .set::<(), _, _>(
                self.prefix.apply(key).as_ref(),
                value,
                Some(Expiration::PX(ms)),
                None,
                false,
            )
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        self.ready()?;
        self.client
            .del::<i64, _>(self.prefix.apply(key).as_ref())
            .await
            .map(|n| n > 0)
            .map_err(|e| self.map_err(e))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.ready()?;
        self.client
            .ping::<String>(None)
            .await
            .map(drop)
            .map_err(|e| self.map_err(e))
    }

    /// Latency as fred measures it for each command (from the call until the answer, so
    /// queueing and reconnection time count, in whole milliseconds), over the last complete
    /// [`latency_window`](RedisConfig::latency_window); during the first window, over the
    /// time since the connection started. `queue_len` is read now.
    fn stats(&self) -> Option<BackendStats> {
        let mut window = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        let queue_len = self.client.command_queue_len() as u64;
        if window.started.elapsed() >= window.length {
            let taken = self.client.take_latency_metrics();
            window.last = Some(BackendStats {
                command_latency_avg_ms: if taken.samples == 0 { 0.0 } else { taken.avg },
                command_latency_max_ms: taken.max as f64,
                queue_len,
            });
            window.started = Instant::now();
        }
        let mut stats = window.last.unwrap_or_else(|| {
            let running = self.client.read_latency_metrics();
            BackendStats {
                command_latency_avg_ms: if running.samples == 0 {
                    0.0
                } else {
                    running.avg
                },
                command_latency_max_ms: running.max as f64,
                queue_len,
            }
        });
        stats.queue_len = queue_len;
        Some(stats)
    }
}
