//! Readiness probes are Vitals' own traffic: they leave the application's cache counters,
//! its circuit breaker and its skipped calls alone, whether the cache answers or not.

use std::time::Duration;

use vitals_cache::{MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_core::{CacheCounts, CircuitState, Collector, Importance};
use vitals_testkit::{OwnRedis, free_port};

#[tokio::test]
async fn probes_of_a_dead_redis_are_not_counted_as_the_applications_errors() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let cache =
        MeteredCache::new(RedisBackend::connect(&RedisConfig::new(url)).expect("valid URL"))
            .named("sessions");
    let probe = cache.readiness().expect("a probe");
    assert_eq!(probe.name, "cache:sessions");
    assert_eq!(probe.importance, Importance::Optional);
    for _ in 0..4 {
        assert!((probe.probe)().await.is_err(), "nothing listens there");
    }
    assert_eq!(cache.counts(), CacheCounts::default());
    assert_eq!(cache.skipped(), 0);
    assert_eq!(cache.circuit(), CircuitState::Closed);
    // The application's own calls are still counted.
    assert_eq!(cache.get("k").await, None);
    assert_eq!(cache.counts().errors, 1);
}

#[tokio::test]
async fn probes_of_a_live_cache_are_not_counted_either() {
    let server = OwnRedis::start(free_port());
    let redis = RedisBackend::connect(&RedisConfig::new(server.url())).expect("valid URL");
    assert!(redis.wait_connected(Duration::from_secs(5)).await);
    for cache in [
        MeteredCache::new(vitals_cache::Backend::from(redis)),
        MeteredCache::new(vitals_cache::Backend::from(MemoryBackend::new(1 << 20))),
    ] {
        let probe = cache.readiness().expect("a probe");
        for _ in 0..4 {
            assert_eq!((probe.probe)().await, Ok(()));
        }
        assert_eq!(cache.counts(), CacheCounts::default());
    }
}
