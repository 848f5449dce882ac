//! MeteredCache against the real Redis on this machine, a Redis that goes away, and the
//! in-process backend.
//!
//! Redis comes from `VITALS_TEST_REDIS_URL` (default: the local server on 6379).

use std::time::{Duration, Instant};

use vitals_cache::{Backend, CacheBackend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_core::{CacheCounts, Collector, Snapshot};
use vitals_testkit::{OwnRedis, free_port, redis_url, unique};

async fn redis(url: &str) -> MeteredCache<RedisBackend> {
    let backend = RedisBackend::connect(&RedisConfig::new(url)).expect("valid Redis URL");
    assert!(
        backend.wait_connected(Duration::from_secs(5)).await,
        "Redis at {url} is reachable"
    );
    MeteredCache::new(backend)
}

/// Every counter moves by exactly what was done.
async fn counts_exactly<B: CacheBackend>(cache: &MeteredCache<B>, p: &str) {
    let ttl = Duration::from_secs(60);
    let a = format!("{p}:a");
    let b = format!("{p}:b");
    assert_eq!(cache.get(&a).await, None);
    assert!(cache.set(&a, "one", ttl).await);
    assert!(cache.set(&b, "two", ttl).await);
    assert_eq!(cache.get(&a).await.as_deref(), Some(&b"one"[..]));
    assert_eq!(cache.get(&b).await.as_deref(), Some(&b"two"[..]));
    assert!(cache.set(&a, "uno", ttl).await);
    assert_eq!(cache.get(&a).await.as_deref(), Some(&b"uno"[..]));
    assert!(cache.delete(&a).await);
    assert!(
        cache.delete(&a).await,
        "deleting an absent key still succeeds"
    );
    assert_eq!(cache.get(&a).await, None);
    assert!(cache.delete(&b).await);
    assert_eq!(
        cache.counts(),
        CacheCounts {
            hits: 3,
            misses: 2,
            sets: 3,
            deletes: 3,
            errors: 0
        }
    );
    let mut snapshot = Snapshot::now();
    cache.collect(&mut snapshot);
    assert_eq!(
        snapshot.cache.as_ref().expect("cache section").total_reads,
        5
    );
    assert_eq!(
        snapshot
            .cache
            .as_ref()
            .expect("cache section")
            .hit_rate_percent,
        60.0
    );
    assert!(snapshot.cache.as_ref().expect("cache section").enabled);
}

async fn entries_expire<B: CacheBackend>(cache: &MeteredCache<B>, p: &str) {
    let key = format!("{p}:ttl");
    assert!(cache.set(&key, "short", Duration::from_millis(100)).await);
    assert!(cache.get(&key).await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get(&key).await, None, "expired after its TTL");
}

#[tokio::test]
async fn redis_counts_exactly() {
    let cache = redis(&redis_url()).await;
    assert_eq!(cache.backend_name(), "redis");
    counts_exactly(&cache, &unique("vitals-test:counts")).await;
}

#[tokio::test]
async fn redis_entries_expire() {
    entries_expire(&redis(&redis_url()).await, &unique("vitals-test:ttl")).await;
}

#[tokio::test]
async fn memory_counts_exactly() {
    let cache = MeteredCache::new(MemoryBackend::new(1 << 20));
    assert_eq!(cache.backend_name(), "memory");
    counts_exactly(&cache, "k").await;
}

#[tokio::test]
async fn memory_entries_expire() {
    entries_expire(&MeteredCache::new(MemoryBackend::new(1 << 20)), "k").await;
}

#[tokio::test]
async fn memory_is_bounded_in_bytes() {
    let cache = MeteredCache::new(MemoryBackend::new(64 * 1024));
    let value = vec![b'x'; 1024];
    for i in 0..1_000 {
        cache
            .set(&format!("k{i}"), value.clone(), Duration::from_secs(60))
            .await;
    }
    let mut present = 0;
    for i in 0..1_000 {
        if cache.get(&format!("k{i}")).await.is_some() {
            present += 1;
        }
    }
    assert!(
        present <= 64,
        "at most 64 KiB of 1 KiB values stay: {present}"
    );
}

#[tokio::test]
async fn closed_port_counts_errors_and_calls_return() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let backend = RedisBackend::connect(&RedisConfig::new(url)).expect("valid URL");
    let cache: MeteredCache<Backend> = MeteredCache::new(Backend::from(backend));
    let started = Instant::now();
    assert_eq!(cache.get("k").await, None);
    assert!(!cache.set("k", "v", Duration::from_secs(1)).await);
    assert!(!cache.delete("k").await);
    assert_eq!(cache.get("k").await, None);
    assert!(cache.ping().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a dead backend does not hold callers: {:?}",
        started.elapsed()
    );
    assert_eq!(
        cache.counts(),
        CacheCounts {
            errors: 4,
            ..CacheCounts::default()
        }
    );
}

#[tokio::test]
async fn redis_outage_is_counted_and_recovers_by_itself() {
    let server = OwnRedis::start(free_port());
    let port = server.port;
    let cache = redis(&format!("redis://127.0.0.1:{port}")).await;
    let ttl = Duration::from_secs(60);
    assert!(cache.set("k", "before", ttl).await);
    assert!(cache.get("k").await.is_some());

    server.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.get("k").await.is_some() {
        assert!(Instant::now() < deadline, "reads fail once Redis is gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let errors_during = cache.counts().errors;
    assert!(errors_during >= 1);
    assert!(!cache.set("k", "during", ttl).await);
    assert_eq!(cache.counts().errors, errors_during + 1);

    let _server = OwnRedis::start(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cache.set("k", "after", ttl).await {
        assert!(Instant::now() < deadline, "the client reconnects by itself");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = cache.counts().hits;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"after"[..]));
    assert_eq!(
        cache.counts().hits,
        hits + 1,
        "hits resume after the restart"
    );
}

/// A wrong or missing password says so (before: "not connected", the reason only at DEBUG),
/// and the reason goes once Redis accepts the credentials.
#[tokio::test]
async fn refused_credentials_are_named_until_redis_accepts_them() {
    let server = OwnRedis::start_with(free_port(), &["--requirepass", "right-pw"]);
    let port = server.port;
    for url in [
        format!("redis://:wrong-pw@127.0.0.1:{port}"),
        format!("redis://127.0.0.1:{port}"),
    ] {
        let backend = RedisBackend::connect(&RedisConfig::new(url)).expect("valid URL");
        let deadline = Instant::now() + Duration::from_secs(5);
        let reason = loop {
            let reason = backend.ping().await.expect_err("refused").to_string();
            if reason.contains("authentication") || Instant::now() > deadline {
                break reason;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(reason.contains("authentication failed"), "{reason}");
        assert!(
            !reason.contains("wrong-pw") && !reason.contains("right-pw"),
            "{reason}"
        );
    }
    // The same client, once the server takes its password: connected, no reason left.
    let backend = RedisBackend::connect(&RedisConfig::new(format!(
        "redis://:later-pw@127.0.0.1:{port}"
    )))
    .expect("valid URL");
    assert!(!backend.wait_connected(Duration::from_millis(800)).await);
    let status = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "-a",
            "right-pw",
            "--no-auth-warning",
        ])
        .args(["CONFIG", "SET", "requirepass", "later-pw"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("redis-cli runs");
    assert!(status.success());
    assert!(
        backend.wait_connected(Duration::from_secs(5)).await,
        "reconnects"
    );
    assert_eq!(backend.ping().await.map_err(|e| e.to_string()), Ok(()));
}

#[test]
fn backend_enum_names() {
    let b: Backend = MemoryBackend::new(1024).into();
    let cache: MeteredCache<Backend> = MeteredCache::new(b);
    assert_eq!(cache.backend_name(), "memory");
}
