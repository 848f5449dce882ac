//! The read/invalidate race, reproduced on purpose with a fill held back at a barrier, on the
//! in-process cache and on a real Redis of the test's own: plain cache-aside (delete on write)
//! serves the stale copy, [`CacheAside`] never does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use vitals_cache::{Backend, CacheAside, MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_testkit::{OwnRedis, free_port};

const TTL: Duration = Duration::from_secs(60);

/// The source of truth of these tests: one user's messages and their version, always
/// changed together (as a database transaction would).
#[derive(Default)]
struct Table {
    version: u64,
    messages: Vec<String>,
}

type Db = Arc<Mutex<Table>>;

fn write(db: &Db, message: &str) {
    let mut t = db.lock().expect("table");
    t.messages.push(message.to_owned());
    t.version += 1;
}

fn messages(db: &Db) -> Vec<String> {
    db.lock().expect("table").messages.clone()
}

/// Holds the next set back until released: `reached` is notified when a set arrives.
struct Gate {
    reached: Arc<Notify>,
    release: Arc<Notify>,
}

fn gate(cache: &MeteredCache<Backend>) -> Gate {
    let reached = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let armed = Arc::new(Mutex::new(true));
    let (r, l) = (Arc::clone(&reached), Arc::clone(&release));
    cache.before_set(Some(Arc::new(move |_key: &str| {
        let hold = std::mem::replace(&mut *armed.lock().expect("flag"), false);
        let (r, l) = (Arc::clone(&r), Arc::clone(&l));
        Box::pin(async move {
            if hold {
                r.notify_one();
                l.notified().await;
            }
        })
    })));
    Gate { reached, release }
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 5 s"))
}

/// Plain cache-aside: read the cache, on a miss load and fill; a write deletes the key.
async fn plain_race(cache: MeteredCache<Backend>, key: &str) -> Vec<String> {
    let db: Db = Arc::default();
    write(&db, "before");
    let gate = gate(&cache);
    let reader = {
        let (cache, db, key) = (cache.clone(), Arc::clone(&db), key.to_owned());
        tokio::spawn(async move {
            if cache.get(&key).await.is_none() {
                let loaded = messages(&db);
                let bytes = serde_json::to_vec(&loaded).expect("json");
                cache.set(&key, bytes, TTL).await;
            }
        })
    };
    within("the fill", gate.reached.notified()).await;
    // The write commits and invalidates while the reader's fill is in flight.
    write(&db, "acknowledged");
    assert!(cache.delete(key).await);
    gate.release.notify_one();
    within("the reader", reader).await.expect("reader");
    let cached = cache
        .get(key)
        .await
        .expect("the stale fill landed after the delete");
    serde_json::from_slice(&cached).expect("json")
}

/// The same interleaving through [`CacheAside`]: the version is read before the load.
async fn versioned_race(cache: MeteredCache<Backend>, prefix: &str) -> Vec<String> {
    let db: Db = Arc::default();
    write(&db, "before");
    let aside = CacheAside::new(cache.clone(), prefix, TTL);
    let read = |aside: CacheAside<Backend>, db: Db| async move {
        let version = db.lock().expect("table").version;
        aside
            .read("u1", version, || async {
                Ok::<_, std::convert::Infallible>(messages(&db))
            })
            .await
            .expect("infallible")
    };
    let gate = gate(&cache);
    let reader = tokio::spawn(read(aside.clone(), Arc::clone(&db)));
    within("the fill", gate.reached.notified()).await;
    write(&db, "acknowledged");
    gate.release.notify_one();
    let raced = within("the reader", reader).await.expect("reader");
    assert_eq!(
        raced,
        ["before"],
        "the racing read itself began before the write"
    );
    // The very next read after the acknowledged write.
    let next = read(aside.clone(), Arc::clone(&db)).await;
    // And once more, now from the cache.
    let hits = cache.counts().hits;
    assert_eq!(read(aside, db).await, next);
    assert_eq!(
        cache.counts().hits,
        hits + 1,
        "the new version is served from the cache"
    );
    next
}

fn memory() -> MeteredCache<Backend> {
    MeteredCache::new(Backend::Memory(MemoryBackend::new(1 << 20)))
}

async fn redis(server: &OwnRedis) -> MeteredCache<Backend> {
    let backend = RedisBackend::connect(&RedisConfig::new(server.url())).expect("config");
    assert!(backend.wait_connected(Duration::from_secs(5)).await);
    MeteredCache::new(Backend::Redis(backend))
}

#[tokio::test]
async fn plain_cache_aside_hides_the_write_in_memory_and_versioned_keys_do_not() {
    // The control: the barrier really reproduces the race.
    assert_eq!(plain_race(memory(), "history:u1").await, ["before"]);
    assert_eq!(
        versioned_race(memory(), "history").await,
        ["before", "acknowledged"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_cache_aside_hides_the_write_in_redis_and_versioned_keys_do_not() {
    let server = OwnRedis::start(free_port());
    assert_eq!(
        plain_race(redis(&server).await, "history:u1").await,
        ["before"]
    );
    assert_eq!(
        versioned_race(redis(&server).await, "history").await,
        ["before", "acknowledged"]
    );
}

#[tokio::test]
async fn keys_of_different_ids_and_versions_never_collide() {
    let aside = CacheAside::new(memory(), "p", TTL);
    assert_ne!(aside.key("a:1", 2), aside.key("a", "1:2"));
    assert_ne!(aside.key("a", 12), aside.key("a", 1));
    assert_eq!(aside.key("a", 1), "p:1:a:1");
}

#[tokio::test]
async fn retire_drops_a_superseded_copy() {
    let cache = memory();
    let aside = CacheAside::new(cache.clone(), "p", TTL);
    let value: Vec<u8> = aside
        .read("id", 1, || async { Ok::<_, ()>(vec![1, 2]) })
        .await
        .expect("load");
    assert_eq!(value, [1, 2]);
    assert!(cache.get(&aside.key("id", 1)).await.is_some());
    assert!(aside.retire("id", 1).await);
    assert!(cache.get(&aside.key("id", 1)).await.is_none());
}
