//! The Redis client's own latency figures against a command made slow on purpose
//! (`DEBUG SLEEP` on a redis-server the test owns), cross-checked with the server's slow log;
//! the in-process cache reports none.

use std::time::{Duration, Instant};

use fred::prelude::ClientLike;
use fred::types::{ClusterHash, CustomCommand, Value};
use vitals_cache::{Backend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_core::{CacheSection, Collector, Snapshot};
use vitals_testkit::{OwnRedis, free_port};

const WINDOW: Duration = Duration::from_millis(1_500);

fn section<B: vitals_cache::CacheBackend>(cache: &MeteredCache<B>) -> CacheSection {
    let mut snapshot = Snapshot::now();
    cache.collect(&mut snapshot);
    snapshot.cache.expect("the cache fills `cache`")
}

async fn command(backend: &RedisBackend, name: &'static str, args: Vec<&str>) -> Value {
    backend
        .client()
        .custom::<Value, _>(
            CustomCommand::new_static(name, ClusterHash::FirstKey, false),
            args,
        )
        .await
        .unwrap_or_else(|e| panic!("{name} answers: {e}"))
}

#[tokio::test]
async fn a_slow_redis_command_shows_in_the_latency_of_its_window() {
    let server = OwnRedis::start_with(free_port(), &["--enable-debug-command", "local"]);
    let mut config = RedisConfig::new(server.url());
    config.command_timeout = Duration::from_secs(2);
    config.latency_window = WINDOW;
    let backend = RedisBackend::connect(&config).expect("valid URL");
    assert!(backend.wait_connected(Duration::from_secs(5)).await);
    let cache = MeteredCache::new(Backend::from(backend.clone()));

    // A window of fast commands only.
    for i in 0..20 {
        let key = format!("latency:{i}");
        assert!(cache.set(&key, "v", Duration::from_secs(60)).await);
        assert!(cache.get(&key).await.is_some());
    }
    command(&backend, "SLOWLOG", vec!["RESET"]).await;
    tokio::time::sleep(WINDOW).await;
    let fast = section(&cache);
    eprintln!("fast window: {fast:?}");
    let fast_max = fast.command_latency_max_ms.expect("Redis reports latency");
    assert!(fast_max < 100.0, "loopback commands are fast: {fast_max}");
    assert_eq!(fast.queue_len, Some(0));

    // The next window holds one command the server makes take 200 ms.
    let started = Instant::now();
    command(&backend, "DEBUG", vec!["SLEEP", "0.2"]).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(cache.get("latency:0").await.is_some());
    let meanwhile = section(&cache);
    if started.elapsed() < WINDOW - Duration::from_millis(200) {
        assert_eq!(
            meanwhile.command_latency_max_ms,
            Some(fast_max),
            "until the window closes, the last complete window is reported"
        );
    }
    tokio::time::sleep(WINDOW).await;
    let slow = section(&cache);
    eprintln!("slow window: {slow:?}, the call took {took:?}");
    let max = slow.command_latency_max_ms.expect("Redis reports latency");
    let avg = slow.command_latency_avg_ms.expect("Redis reports latency");
    assert!(max >= 199.0, "DEBUG SLEEP 0.2 shows: {max}");
    assert!(
        max <= took.as_secs_f64() * 1000.0 + 1.0,
        "no longer than the caller waited: {max} vs {took:?}"
    );
    assert!(avg > 0.0 && avg <= max, "{avg} within (0, {max}]");
    assert_eq!(slow.queue_len, Some(0));

    // The server's own slow log agrees: it ran DEBUG for at least 200 ms.
    let Value::Array(entries) = command(&backend, "SLOWLOG", vec!["GET", "10"]).await else {
        panic!("SLOWLOG GET answers an array");
    };
    let debug_usec = entries
        .iter()
        .filter_map(|e| match e {
            Value::Array(fields) => {
                let is_debug = matches!(fields.get(3), Some(Value::Array(args))
                    if args.first().and_then(|a| a.as_str()).is_some_and(|s| s.eq_ignore_ascii_case("debug")));
                is_debug.then(|| fields.get(2)?.as_i64()).flatten()
            }
            _ => None,
        })
        .max()
        .expect("the slow log holds the DEBUG SLEEP");
    assert!(debug_usec >= 200_000, "server-side {debug_usec} µs");
    assert!(
        max >= (debug_usec / 1000) as f64,
        "the client waited at least as long as the server slept: {max} ms vs {debug_usec} µs"
    );

    // A window without commands reports nothing slow.
    tokio::time::sleep(WINDOW).await;
    let quiet = section(&cache);
    assert!(
        quiet.command_latency_max_ms.is_some_and(|m| m < 100.0),
        "the slow command has left the window: {quiet:?}"
    );

    // The JSON shape: present for Redis.
    let json = serde_json::to_value(&slow).expect("serializes");
    for key in [
        "command_latency_avg_ms",
        "command_latency_max_ms",
        "queue_len",
    ] {
        assert!(json[key].is_number(), "{key}");
    }
}

#[tokio::test]
async fn the_in_process_cache_reports_no_client_latency() {
    let cache = MeteredCache::new(Backend::from(MemoryBackend::new(1 << 20)));
    assert!(cache.set("k", "v", Duration::from_secs(60)).await);
    assert!(cache.get("k").await.is_some());
    let s = section(&cache);
    assert_eq!(
        (
            s.command_latency_avg_ms,
            s.command_latency_max_ms,
            s.queue_len
        ),
        (None, None, None)
    );
    let json = serde_json::to_value(&s).expect("serializes");
    for key in [
        "command_latency_avg_ms",
        "command_latency_max_ms",
        "queue_len",
    ] {
        assert!(
            json.get(key).is_none(),
            "{key} absent for the in-process cache"
        );
    }
    let direct = MeteredCache::new(MemoryBackend::new(1 << 20));
    assert_eq!(section(&direct).command_latency_max_ms, None);
}
