//! No acknowledged chat is ever hidden by the history cache: not by a history read whose
//! cache fill lands after the chat (the read/invalidate race, reproduced at will by holding
//! the fill at a barrier), not after a Redis outage that lost the invalidation (a Redis of
//! the test's own, frozen with SIGSTOP or killed and restarted with its data).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use common::{OwnRedis, chat, embedded, free_port, get, state, unique};
use http::StatusCode;
use tokio::sync::Notify;
use vitals_server::{AppState, Settings, app};

/// The contents of the user's history, oldest first.
async fn history(app: &Router, user: &str) -> Vec<String> {
    let answer = get(app, &format!("/api/v1/users/{user}/history")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect()
}

async fn counter(app: &Router, field: &str) -> u64 {
    get(app, "/api/v1/metrics").await.json["cache"][field]
        .as_u64()
        .expect("counter")
}

/// Holds the first cache fill back until released; `reached` fires when it arrives.
struct Gate {
    reached: Arc<Notify>,
    release: Arc<Notify>,
}

fn gate_first_fill(state: &AppState) -> Gate {
    let reached = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let armed = Arc::new(Mutex::new(true));
    let (r, l) = (Arc::clone(&reached), Arc::clone(&release));
    state.cache().before_set(Some(Arc::new(move |_key: &str| {
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
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 10 s"))
}

/// A history read misses, loads the history without the chat, and is held just before its
/// fill; the chat is then written and acknowledged; the fill lands. The next read must show
/// the chat.
async fn race(settings: Settings) {
    let state = state(&settings).await;
    let app = app(state.clone());
    let user = unique("race");
    assert_eq!(chat(&app, &user, "first").await.status, StatusCode::OK);

    let gate = gate_first_fill(&state);
    let reader = tokio::spawn({
        let (app, user) = (app.clone(), user.clone());
        async move { history(&app, &user).await }
    });
    within("the reader's fill", gate.reached.notified()).await;
    let acked = chat(&app, &user, "acknowledged").await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.json);
    gate.release.notify_one();
    let raced = within("the reader", reader).await.expect("reader");
    assert!(
        !raced.contains(&"acknowledged".to_owned()),
        "the racing read loaded the history before the chat: {raced:?}"
    );

    let next = history(&app, &user).await;
    assert!(
        next.contains(&"acknowledged".to_owned()),
        "the read after an acknowledged chat shows it: {next:?}"
    );
    let hits = counter(&app, "hits").await;
    assert_eq!(history(&app, &user).await, next);
    assert_eq!(
        counter(&app, "hits").await,
        hits + 1,
        "and the fresh history is served from the cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_fill_never_hides_a_chat_in_memory_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    race(embedded(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_fill_never_hides_a_chat_in_redis_on_postgres() {
    let redis = OwnRedis::start(free_port());
    let dir = tempfile::tempdir().expect("temp dir");
    race(Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(redis.url()),
        ..embedded(&dir)
    })
    .await;
}

/// Reads the history for up to 5 s after Redis is back: every read must show `expected`, and
/// the reads must be served from the cache again before the end (otherwise the test proved
/// nothing about the cache). Returns how long the first cache hit took.
async fn fresh_until_cached(app: &Router, user: &str, expected: &str) -> Duration {
    let back = Instant::now();
    let hits = counter(app, "hits").await;
    let mut reads = 0;
    loop {
        let seen = history(app, user).await;
        reads += 1;
        assert!(
            seen.contains(&expected.to_owned()),
            "read {reads}, {:?} after Redis came back, hides the acknowledged chat: {seen:?}",
            back.elapsed()
        );
        if counter(app, "hits").await > hits {
            return back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the cache is in use again within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fills the user's cached history and checks a read hits it.
async fn cached_history(app: &Router, user: &str) {
    history(app, user).await;
    let hits = counter(app, "hits").await;
    history(app, user).await;
    assert_eq!(counter(app, "hits").await, hits + 1, "history is cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_during_a_hung_redis_is_visible_once_it_answers_again() {
    let redis = OwnRedis::start(free_port());
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(redis.url()),
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let user = unique("hung");
    assert_eq!(chat(&app, &user, "before").await.status, StatusCode::OK);
    cached_history(&app, &user).await;

    redis.pause();
    let answer = chat(&app, &user, "while hung").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    redis.resume();
    let took = fresh_until_cached(&app, &user, "while hung").await;
    println!("hung Redis: cache hit again {took:?} after SIGCONT, every read fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_while_redis_is_down_is_visible_after_it_restarts_with_its_data() {
    let port = free_port();
    let data = tempfile::tempdir().expect("redis data dir");
    let redis = OwnRedis::start_persistent(port, data.path());
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(redis.url()),
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let user = unique("restart");
    assert_eq!(chat(&app, &user, "before").await.status, StatusCode::OK);
    cached_history(&app, &user).await;

    redis.stop(); // SIGKILL: the cached history survives in the append-only file
    let answer = chat(&app, &user, "while down").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    let _redis = OwnRedis::start_persistent(port, data.path());
    let took = fresh_until_cached(&app, &user, "while down").await;
    println!("restarted Redis: cache hit again {took:?} after the restart, every read fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_during_a_network_partition_is_visible_once_redis_is_reachable() {
    let redis = OwnRedis::start(free_port());
    let proxy = common::Proxy::start(([127, 0, 0, 1], redis.port).into()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(format!("redis://{}", proxy.addr)),
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let user = unique("partition");
    assert_eq!(chat(&app, &user, "before").await.status, StatusCode::OK);
    cached_history(&app, &user).await;

    proxy.cut(); // Redis keeps its data; the server cannot reach it
    let answer = chat(&app, &user, "while cut off").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    proxy.restore();
    let took = fresh_until_cached(&app, &user, "while cut off").await;
    println!("partitioned Redis: cache hit again {took:?} after the restore, every read fresh");
}
