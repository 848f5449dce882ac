//! Key prefixes on the backends themselves: against a redis-server of the test's own, the
//! keys land under the prefix, and two prefixes on one Redis (or one in-process store) do not
//! see each other's keys.

use std::time::Duration;

use vitals_cache::fred::prelude::ClientLike;
use vitals_cache::{CacheBackend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig, fred};
use vitals_core::CacheCounts;
use vitals_testkit::{OwnRedis, free_port};

const TTL: Duration = Duration::from_secs(60);

async fn connected(backend: RedisBackend) -> RedisBackend {
    assert!(
        backend.wait_connected(Duration::from_secs(5)).await,
        "the test's redis-server is reachable"
    );
    backend
}

/// Every key in the Redis, sorted.
async fn keys(backend: &RedisBackend) -> Vec<String> {
    let mut keys: Vec<String> = backend
        .client()
        .custom(fred::cmd!("KEYS"), vec!["*"])
        .await
        .expect("KEYS");
    keys.sort();
    keys
}

/// Two caches on one backend store, each under its own prefix, used the same way.
async fn two_prefixes_do_not_see_each_other<B: CacheBackend>(
    a: MeteredCache<B>,
    b: MeteredCache<B>,
) {
    assert!(a.set("user:1", "from a", TTL).await);
    assert_eq!(b.get("user:1").await, None, "b does not see a's key");
    assert!(b.set("user:1", "from b", TTL).await);
    assert_eq!(a.get("user:1").await.as_deref(), Some(&b"from a"[..]));
    assert_eq!(b.get("user:1").await.as_deref(), Some(&b"from b"[..]));
    assert!(a.set("only-a", "x", TTL).await);
    assert_eq!(b.get("only-a").await, None);
    // A delete through one prefix leaves the other's key alone.
    assert!(b.delete("user:1").await);
    assert_eq!(b.get("user:1").await, None);
    assert_eq!(a.get("user:1").await.as_deref(), Some(&b"from a"[..]));
    assert_eq!(
        a.counts(),
        CacheCounts {
            hits: 2,
            misses: 0,
            sets: 2,
            deletes: 0,
            errors: 0
        }
    );
    assert_eq!(
        b.counts(),
        CacheCounts {
            hits: 1,
            misses: 3,
            sets: 1,
            deletes: 1,
            errors: 0
        }
    );
}

#[tokio::test]
async fn redis_keys_land_under_the_prefix_and_prefixes_are_isolated() {
    let server = OwnRedis::start(free_port());
    let config = RedisConfig::new(server.url()).with_key_prefix("shop:prod:");
    let prod = connected(RedisBackend::connect(&config).expect("valid URL")).await;
    assert_eq!(prod.key_prefix(), "shop:prod:");
    // Another prefix on the same connection, and another connection with its own.
    let sessions = prod.clone().with_key_prefix("shop:prod:sessions:");
    let staging = connected(
        RedisBackend::connect(&RedisConfig::new(server.url()).with_key_prefix("shop:staging:"))
            .expect("valid URL"),
    )
    .await;
    let unprefixed =
        connected(RedisBackend::connect(&RedisConfig::new(server.url())).expect("valid URL")).await;
    assert_eq!(unprefixed.key_prefix(), "");

    two_prefixes_do_not_see_each_other(
        MeteredCache::new(prod.clone()),
        MeteredCache::new(staging.clone()),
    )
    .await;
    assert!(MeteredCache::new(sessions).set("abc", "1", TTL).await);
    assert!(
        MeteredCache::new(unprefixed.clone())
            .set("plain", "1", TTL)
            .await
    );

    assert_eq!(
        keys(&unprefixed).await,
        [
            "plain",
            "shop:prod:only-a",
            "shop:prod:sessions:abc",
            "shop:prod:user:1",
        ],
        "every key is where its prefix puts it (b's user:1 was deleted)"
    );
    // The TTL reaches the prefixed key.
    let ttl_ms: i64 = unprefixed
        .client()
        .custom(fred::cmd!("PTTL"), vec!["shop:prod:user:1"])
        .await
        .expect("PTTL");
    assert!((1..=60_000).contains(&ttl_ms), "{ttl_ms}");
    drop(server);
}

#[tokio::test]
async fn memory_prefixes_share_one_store_without_seeing_each_other() {
    let store = MemoryBackend::new(1 << 20);
    let a = store.clone().with_key_prefix("a:");
    let b = store.clone().with_key_prefix("b:");
    two_prefixes_do_not_see_each_other(MeteredCache::new(a), MeteredCache::new(b)).await;
    // The unprefixed view of the store finds the keys under their full names.
    assert_eq!(
        store
            .get("a:user:1")
            .await
            .expect("memory never fails")
            .as_deref(),
        Some(&b"from a"[..])
    );
    assert_eq!(store.get("user:1").await.expect("memory never fails"), None);
}
