//! The size, idle and active figures read the pool itself: they match what PostgreSQL shows
//! (`pg_stat_activity`, by `application_name`) while the application queries through a plain
//! `PgPool`, connections still being opened during an outage are never shown as open or in
//! use, and readiness probes leave the application's counters alone.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use vitals_core::{Collector, PoolFigures};
use vitals_pool::MeteredPool;
use vitals_testkit::{Gate, OwnDatabase, free_port, postgres_url, unique};

/// Backends PostgreSQL shows for `app`: all of them, and those running a statement.
async fn backends(observer: &mut PgConnection, app: &str) -> (u32, u32) {
    let (total, running): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE state = 'active') \
         FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(app)
    .fetch_one(observer)
    .await
    .expect("pg_stat_activity");
    (
        u32::try_from(total).expect("count"),
        u32::try_from(running).expect("count"),
    )
}

fn options(url: &str, app: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url)
        .expect("a valid URL")
        .application_name(app)
}

async fn observer() -> PgConnection {
    PgConnection::connect_with(&options(&postgres_url(), &unique("observer")))
        .await
        .expect("observer connection")
}

/// Waits for `done` (polled every 20 ms) or panics after `limit`.
async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sixteen writers through the plain `&PgPool` keep all eight connections busy; the metered
/// view of the same pool reports what PostgreSQL sees, although none of those queries went
/// through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_match_pg_stat_activity_under_a_write_load_through_the_plain_pool() {
    const MAX: u32 = 8;
    let db = OwnDatabase::create();
    let app = unique("vitals-pool-load");
    let pool: PgPool = PgPoolOptions::new()
        .min_connections(0)
        .max_connections(MAX)
        .connect_with(options(&db.url(), &app))
        .await
        .expect("connect");
    let metered = MeteredPool::new(pool.clone());
    sqlx::query("CREATE TABLE writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL)")
        .execute(&pool)
        .await
        .expect("table");

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..16_u32)
        .map(|i| {
            let (pool, stop) = (pool.clone(), Arc::clone(&stop));
            // Staggered starts and unequal lengths (100–180 ms), so that the writers do not
            // all change hands at the same moment.
            let hold = 0.10 + f64::from(i % 5) * 0.02;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(u64::from(i) * 13)).await;
                let mut written = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    sqlx::query("INSERT INTO writes (at) SELECT now() FROM pg_sleep($1)")
                        .bind(hold)
                        .execute(&pool)
                        .await
                        .expect("write");
                    written += 1;
                }
                written
            })
        })
        .collect();
    wait_until(
        "the pool to reach its maximum",
        Duration::from_secs(10),
        || pool.size() == MAX,
    )
    .await;

    let mut observer = observer().await;
    let mut exact = 0;
    let mut samples = Vec::new();
    for _ in 0..10 {
        let before = metered.figures();
        let (open, running) = backends(&mut observer, &app).await;
        let after = metered.figures();
        samples.push((before.size, active(&before), open, running, active(&after)));
        assert_eq!(before.size, open, "pool_size = backends: {samples:?}");
        assert_eq!(after.size, open, "pool_size = backends: {samples:?}");
        // A statement running implies a connection handed out: the pool never shows fewer.
        // (It may show more for a moment: a connection between two writes is handed out, or
        // on its way back, without running a statement.)
        assert!(
            active(&before).max(active(&after)) >= running,
            "pool_active covers every backend running a statement: {samples:?}"
        );
        if active(&before) == running && running == MAX {
            exact += 1;
        }
        assert_eq!(metered.connecting(), 0, "nothing is being opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("samples (size, active, backends, running, active after): {samples:?}");
    assert!(
        exact >= 7,
        "most samples show all {MAX} connections busy, exactly as PostgreSQL does: {samples:?}"
    );
    assert_eq!(
        metered.figures().acquires,
        0,
        "the writes did not go through the metered pool"
    );

    stop.store(true, Ordering::Relaxed);
    let mut written = 0;
    for w in writers {
        written += w.await.expect("writer");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM writes")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(
        u64::try_from(rows).expect("count"),
        written,
        "every write landed"
    );

    // Once the load stops, every connection is idle, as PostgreSQL says too.
    wait_until(
        "the connections to come back",
        Duration::from_secs(5),
        || metered.figures().idle == MAX,
    )
    .await;
    let (open, running) = backends(&mut observer, &app).await;
    let idle = metered.figures();
    assert_eq!((idle.size, active(&idle)), (open, running));
    assert_eq!((open, running), (MAX, 0));
    pool.close().await;
}

fn active(f: &PoolFigures) -> u32 {
    f.size - f.idle
}

/// PostgreSQL refuses connections (a gate in front of it closes its port and cuts the open
/// connections) while callers wait, some through the plain pool, some through the metered
/// one: sqlx counts their connection attempts in its size, the figures do not show them as
/// open or active, and PostgreSQL shows no backend either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_being_opened_during_an_outage_are_not_open_or_active() {
    let db = OwnDatabase::create();
    let app = unique("vitals-pool-outage");
    let gate = Gate::start("127.0.0.1:5432".parse().expect("addr")).await;
    let url = db
        .url()
        .replacen("127.0.0.1:5432", &gate.addr.to_string(), 1);
    assert_ne!(url, db.url(), "the pool goes through the gate");
    let pool: PgPool = PgPoolOptions::new()
        .min_connections(0)
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options(&url, &app))
        .await
        .expect("connect");
    let metered = MeteredPool::new(pool.clone());
    // Four connections open and idle.
    let held: Vec<_> = futures_util::future::join_all((0..4).map(|_| pool.acquire()))
        .await
        .into_iter()
        .map(|c| c.expect("acquire"))
        .collect();
    drop(held);
    wait_until("four idle connections", Duration::from_secs(5), || {
        metered.figures().idle == 4
    })
    .await;
    let mut observer = observer().await;
    assert_eq!(backends(&mut observer, &app).await.0, 4);

    gate.refuse();
    let mut callers = Vec::new();
    for i in 0..6 {
        let (plain, metered) = (pool.clone(), metered.clone());
        callers.push(tokio::spawn(async move {
            if i % 2 == 0 {
                sqlx::query("SELECT 1").execute(&plain).await.map(drop)
            } else {
                sqlx::query("SELECT 1").execute(&metered).await.map(drop)
            }
        }));
    }
    wait_until(
        "sqlx to count the connection attempts in its size",
        Duration::from_secs(2),
        || pool.size() == 4 && pool.num_idle() == 0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = metered.figures();
    assert_eq!(pool.size(), 4, "sqlx's own size counts the attempts");
    assert_eq!(
        (during.size, during.idle, active(&during)),
        (0, 0, 0),
        "nothing is open or in use"
    );
    assert_eq!(metered.connecting(), 4);
    assert_eq!(
        backends(&mut observer, &app).await.0,
        0,
        "PostgreSQL agrees: no backend for the pool"
    );
    let mut snapshot = vitals_core::Snapshot::now();
    metered.collect(&mut snapshot);
    let database = snapshot.database.expect("the pool fills `database`");
    assert_eq!(database.pool_utilization_percent, 0.0);

    // Every caller fails after the acquire timeout; those that went through the metered
    // pool are its acquires and errors.
    for c in callers {
        assert!(c.await.expect("caller").is_err(), "no database, no answer");
    }
    let after = metered.figures();
    assert_eq!(
        (after.acquires, after.acquire_errors, after.acquire_timeouts),
        (3, 3, 3)
    );

    // Back: queries succeed again and the figures follow.
    gate.open().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sqlx::query("SELECT 1").execute(&metered).await.is_err() {
        assert!(Instant::now() < deadline, "the pool recovers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back = metered.figures();
    assert!(back.size >= 1, "{back:?}");
    assert_eq!(metered.connecting(), 0);
    assert_eq!(backends(&mut observer, &app).await.0, back.size);
    pool.close().await;
}

/// Readiness probes are Vitals' traffic: four probes of a dead database leave the
/// application's acquires, errors and waits where they were, and so do probes of a live one.
#[tokio::test]
async fn readiness_probes_do_not_count_as_acquires() {
    let dead: MeteredPool<Postgres> = MeteredPool::new(
        PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(500))
            .connect_lazy(&format!("postgres://postgres@127.0.0.1:{}/x", free_port()))
            .expect("a valid URL"),
    )
    .named("replica");
    let probe = dead.readiness().expect("a probe");
    assert_eq!(probe.name, "database:replica");
    for _ in 0..4 {
        assert!(
            (probe.probe)().await.is_err(),
            "a dead database is not ready"
        );
    }
    let f = dead.figures();
    assert_eq!(
        (f.acquires, f.acquire_errors, f.acquire_timeouts),
        (0, 0, 0)
    );
    assert_eq!(dead.acquire_wait().count, 0);

    let live: MeteredPool<Postgres> = MeteredPool::new(
        PgPoolOptions::new()
            .connect(&postgres_url())
            .await
            .expect("connect"),
    );
    let probe = live.readiness().expect("a probe");
    for _ in 0..4 {
        assert_eq!((probe.probe)().await, Ok(()));
    }
    assert_eq!(live.figures().acquires, 0);
    assert_eq!(live.acquire_wait().count, 0);
    // The application's own acquires still count.
    drop(live.acquire().await.expect("acquire"));
    assert_eq!(live.figures().acquires, 1);
}
