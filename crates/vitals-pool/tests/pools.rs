//! MeteredPool against the real PostgreSQL on this machine and a real SQLite file.

use std::time::{Duration, Instant};

use sqlx::pool::PoolOptions;
use sqlx::{Database, Postgres, Sqlite};
use vitals_core::{Collector, DatabaseSection, Snapshot};
use vitals_pool::{MeteredPool, PoolSizing};
use vitals_testkit::postgres_url;

fn section<DB: Database>(pool: &MeteredPool<DB>) -> DatabaseSection {
    let mut snapshot = Snapshot::now();
    pool.collect(&mut snapshot);
    snapshot
        .database
        .expect("the unnamed pool fills `database`")
}

/// Waits until released connections are back in the pool (sqlx returns them from a task;
/// a released connection stops counting as active at once, and counts as idle once back).
async fn settle<DB: Database>(pool: &MeteredPool<DB>, active: u32, idle: u32) -> DatabaseSection {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = section(pool);
        if (s.pool_active == active && s.pool_available == idle) || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn size_and_active_follow_open_connections<DB: Database>(pool: MeteredPool<DB>) {
    let empty = section(&pool);
    assert_eq!((empty.pool_size, empty.pool_active), (0, 0));
    assert_eq!(empty.pool_utilization_percent, 0.0);

    let mut held = Vec::new();
    for n in 1..=4u32 {
        held.push(pool.acquire().await.expect("acquire"));
        let s = section(&pool);
        assert_eq!((s.pool_size, s.pool_active, s.pool_available), (n, n, 0));
        assert_eq!(s.pool_utilization_percent, 100.0);
    }
    held.truncate(1);
    let s = settle(&pool, 1, 3).await;
    assert_eq!((s.pool_size, s.pool_active, s.pool_available), (4, 1, 3));
    assert_eq!(s.pool_utilization_percent, 25.0);
    assert_eq!(s.pool_max_size, 6);
    assert_eq!(s.acquires_total, 4);
    assert_eq!(pool.acquire_wait().count, 4, "every acquire is timed");
}

async fn timeouts_are_counted<DB: Database>(pool: MeteredPool<DB>) {
    let held = pool.acquire().await.expect("first acquire");
    let started = Instant::now();
    let second = pool.acquire().await;
    assert!(
        matches!(second, Err(sqlx::Error::PoolTimedOut)),
        "{second:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    let s = section(&pool);
    assert_eq!(
        (
            s.acquires_total,
            s.acquire_errors_total,
            s.acquire_timeouts_total
        ),
        (2, 1, 1)
    );
    assert!(
        s.acquire_wait_p99_ms >= 100.0,
        "the timed-out wait is recorded: {}",
        s.acquire_wait_p99_ms
    );
    drop(held);
}

fn options<DB: Database>(max: u32, timeout: Duration) -> PoolOptions<DB> {
    PoolOptions::<DB>::new()
        .min_connections(0)
        .max_connections(max)
        .acquire_timeout(timeout)
}

async fn postgres(max: u32, timeout: Duration) -> MeteredPool<Postgres> {
    let pool = options::<Postgres>(max, timeout)
        .connect_lazy(&postgres_url())
        .expect("a valid PostgreSQL URL");
    MeteredPool::new(pool)
}

async fn sqlite(dir: &tempfile::TempDir, max: u32, timeout: Duration) -> MeteredPool<Sqlite> {
    let path = dir.path().join("pool.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    MeteredPool::new(options::<Sqlite>(max, timeout).connect_lazy_with(opts))
}

#[tokio::test]
async fn postgres_size_and_active_follow_open_connections() {
    let pool = postgres(6, Duration::from_secs(5)).await;
    assert_eq!(pool.backend(), "postgresql");
    size_and_active_follow_open_connections(pool).await;
}

#[tokio::test]
async fn sqlite_size_and_active_follow_open_connections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = sqlite(&dir, 6, Duration::from_secs(5)).await;
    assert_eq!(pool.backend(), "sqlite");
    size_and_active_follow_open_connections(pool).await;
}

#[tokio::test]
async fn postgres_timeouts_are_counted() {
    timeouts_are_counted(postgres(1, Duration::from_millis(200)).await).await;
}

#[tokio::test]
async fn sqlite_timeouts_are_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    timeouts_are_counted(sqlite(&dir, 1, Duration::from_millis(200)).await).await;
}

#[tokio::test]
async fn sizing_reaches_the_pool_options() {
    let sizing = PoolSizing::for_cores(3);
    let pool = MeteredPool::new(
        sizing
            .apply(PoolOptions::<Postgres>::new())
            .connect_lazy(&postgres_url())
            .expect("a valid PostgreSQL URL"),
    );
    let s = section(&pool);
    assert_eq!((s.pool_min_size, s.pool_max_size), (3, 11));
}

/// The acquire-wait percentiles describe the recent window: a burst of slow acquires raises
/// p99, and once the burst has left the window p99 falls back to the fast acquires' figure.
#[tokio::test]
async fn acquire_wait_percentiles_rise_and_fall_back_within_the_window() {
    let pool = MeteredPool::new(
        PoolOptions::<Postgres>::new()
            .max_connections(1)
            .connect(&postgres_url())
            .await
            .expect("connect"),
    )
    .with_wait_window(Duration::from_millis(500), 4);
    assert_eq!(pool.figures().acquire_wait_window_seconds, 2);
    // Quiet: fast acquires only.
    for _ in 0..20 {
        drop(pool.acquire().await.expect("acquire"));
    }
    let quiet = section(&pool).acquire_wait_p99_ms;
    assert!(quiet < 50.0, "fast acquires: p99 {quiet} ms");

    // A burst: the only connection is held for 300 ms while five callers wait for it.
    let held = pool.acquire().await.expect("hold");
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { drop(pool.acquire().await.expect("waited")) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(held);
    for w in waiters {
        w.await.expect("waiter");
    }
    let burst = section(&pool).acquire_wait_p99_ms;
    assert!(burst >= 250.0, "p99 during the burst: {burst} ms");

    // The window is 2 s: 2.5 s later, with fast acquires meanwhile, the burst is gone.
    let deadline = Instant::now() + Duration::from_millis(2_500);
    while Instant::now() < deadline {
        drop(pool.acquire().await.expect("acquire"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = section(&pool).acquire_wait_p99_ms;
    assert!(
        after < 50.0,
        "p99 once the burst left the window: {after} ms"
    );
    assert!(section(&pool).acquires_total >= 26);
}
