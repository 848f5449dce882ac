//! The Redis backend.

use std::time::Duration;

use bytes::Bytes;
use fred::prelude::{ClientLike, Config, KeysInterface, ReconnectPolicy};
use fred::types::Expiration;

use crate::{CacheBackend, CacheError};

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
}

impl RedisConfig {
    /// Defaults suited to a cache on the same network: 250 ms per command, 1 s to connect,
    /// a reconnection attempt every 500 ms.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            command_timeout: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(1),
            reconnect_delay: Duration::from_millis(500),
        }
    }
}

/// Redis through `fred`, reconnecting forever in the background.
///
/// While the connection is down, operations fail at once with
/// [`CacheError::Disconnected`] instead of queueing, so an outage costs callers nothing but a
/// counted miss.
#[derive(Clone)]
pub struct RedisBackend {
    client: fred::prelude::Client,
    command_timeout: Duration,
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
        client.connect();
        Ok(Self {
            client,
            command_timeout: config.command_timeout,
        })
    }

    /// Waits up to `timeout` for the connection; `true` once connected.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.client.wait_for_connect())
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn ready(&self) -> Result<(), CacheError> {
        if self.client.is_connected() {
            Ok(())
        } else {
            Err(CacheError::Disconnected)
        }
    }

    fn map_err(&self, e: fred::error::Error) -> CacheError {
        if *e.kind() == fred::error::ErrorKind::Timeout {
            CacheError::Timeout(self.command_timeout)
        } else {
            CacheError::Backend(e.to_string())
        }
    }
}

impl CacheBackend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.ready()?;
        self.client
            .get::<Option<Bytes>, _>(key)
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.ready()?;
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.client
            .set::<(), _, _>(key, value, Some(Expiration::PX(ms)), None, false)
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        self.ready()?;
        self.client
            .del::<i64, _>(key)
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
}
