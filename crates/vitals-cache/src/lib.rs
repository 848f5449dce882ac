//! A metered cache for Vitals: one interface, two backends, honest counters.
//!
//! [`MeteredCache`] wraps a [`CacheBackend`] and counts every hit, miss, set, delete and
//! error; as a [`Collector`](vitals_core::Collector) it fills the snapshot's `cache` section.
//! Two backends ship: [`RedisBackend`] (through `fred`, reconnecting on its own) and
//! [`MemoryBackend`] (in-process, through `moka`, bounded in bytes, with a TTL per entry).
//! [`Backend`] picks one at run time. Each backend is a cargo feature (`redis`, `memory`,
//! both on by default), so an application that needs only one compiles only its client.
//!
//! A cache is an optimisation, so its failures never reach the caller as errors: a failed
//! read is counted in `errors` and answers `None` (the caller goes to the database), a failed
//! write or delete is counted and answers `false`. The first failure of an outage is logged at
//! WARN and the recovery at INFO; the failures in between are only counted.
//!
//! A circuit breaker ([`BreakerConfig`]) keeps a hung backend from costing every call its
//! timeout: after consecutive failures calls are skipped (counted as `skipped`, state in
//! `circuit`) for a backoff window, then one probe decides whether to resume.
//!
//! Both backends take a key prefix (`RedisConfig::key_prefix`, `with_key_prefix` on either
//! backend), so that applications, environments or tenants sharing one Redis (or one
//! in-process store) never see each other's keys; see [`MemoryBackend`] and [`RedisBackend`].
//!
//! [`CacheAside`] is the read path to use in front of a database: cache keys carry a version
//! that the database keeps and bumps with every write, so no acknowledged write can be hidden
//! by a late cache fill or by an invalidation lost in an outage.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use vitals_cache::{MemoryBackend, MeteredCache};
//!
//! let cache = MeteredCache::new(MemoryBackend::new(1 << 20));
//! assert_eq!(cache.get("user:1").await, None);
//! assert!(cache.set("user:1", "hello", Duration::from_secs(60)).await);
//! assert_eq!(cache.get("user:1").await.as_deref(), Some(&b"hello"[..]));
//! let counts = cache.counts();
//! assert_eq!((counts.hits, counts.misses, counts.sets), (1, 1, 1));
//! # }
//! ```
//!
//! # Versions
//!
//! Built for **fred 10** (`>= 10.1, < 11`, feature `redis`) and **moka 0.12** (feature
//! `memory`). The crates whose types cross this API are re-exported: [`bytes`] (values),
//! [`fred`] (the client behind [`RedisBackend::client`]) and [`moka`], so an application can
//! name them through `vitals_cache::…` and never mix two versions by accident.

mod aside;
mod backend;
mod breaker;
#[cfg(all(feature = "memory", feature = "redis"))]
mod either;
#[cfg(feature = "memory")]
mod memory;
mod metered;
#[cfg(any(feature = "memory", feature = "redis"))]
mod prefix;
#[cfg(feature = "redis")]
mod redis;

/// The `bytes` crate this one hands values out in.
pub use bytes;
/// The `fred` crate (Redis client) this one is built against.
#[cfg(feature = "redis")]
pub use fred;
/// The `moka` crate (in-process cache) this one is built against.
#[cfg(feature = "memory")]
pub use moka;

pub use aside::CacheAside;
pub use backend::{BackendStats, CacheBackend, CacheError};
pub use breaker::BreakerConfig;
#[cfg(all(feature = "memory", feature = "redis"))]
pub use either::Backend;
#[cfg(feature = "memory")]
pub use memory::MemoryBackend;
pub use metered::{MeteredCache, SetHook};
#[cfg(feature = "redis")]
pub use redis::{RedisBackend, RedisConfig};

// The README's example, compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
