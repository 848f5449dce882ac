//! A hung Redis (SIGSTOP: connected, silent) under concurrent history reads: after the first
//! second the cache's circuit breaker is open, calls are skipped and counted, and requests are
//! fast again; after SIGCONT the circuit closes and the cache serves hits again.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use common::{OwnRedis, embedded, free_port, get, send, state, unique};
use http::{Request, StatusCode};
use serde_json::json;
use vitals_server::{Settings, app};

const WORKERS: usize = 8;

/// One completed request: when it ended (since the phase began) and how long it took.
type Sample = (Duration, Duration);

/// `WORKERS` tasks reading their user's history for `length`; every answer must be 200.
async fn phase(app: &Router, users: &[String], length: Duration) -> Vec<Sample> {
    let start = Instant::now();
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let (app, path) = (app.clone(), format!("/api/v1/users/{user}/history"));
            tokio::spawn(async move {
                let mut samples = Vec::new();
                // Bounded in time, and in count as a safety net.
                while start.elapsed() < length && samples.len() < 200_000 {
                    let began = Instant::now();
                    let answer = get(&app, &path).await;
                    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
                    samples.push((start.elapsed(), began.elapsed()));
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("worker"));
    }
    all
}

/// Requests per second and p99 latency of the samples that ended in `[from, to)`.
fn figures(samples: &[Sample], from: Duration, to: Duration) -> (f64, Duration) {
    let mut latencies: Vec<Duration> = samples
        .iter()
        .filter(|(end, _)| *end >= from && *end < to)
        .map(|(_, took)| *took)
        .collect();
    latencies.sort();
    let rate = latencies.len() as f64 / (to - from).as_secs_f64();
    let p99 = latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    (rate, p99)
}

async fn cache_field(app: &Router, field: &str) -> serde_json::Value {
    get(app, "/api/v1/metrics").await.json["cache"][field].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_is_skipped_after_the_first_second_and_rejoined_after_sigcont() {
    let redis = OwnRedis::start(free_port());
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(redis.url()),
        pool_min: 2,
        pool_max: 10,
        ..embedded(&dir)
    };
    let app = app(state(&settings).await);
    let users: Vec<String> = (0..WORKERS)
        .map(|i| unique(&format!("breaker{i}")))
        .collect();
    for user in &users {
        let body = json!({"user_id": user, "message": "hello"}).to_string();
        let answer = send(
            &app,
            Request::post("/api/v1/chat")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
    }

    let normal = phase(&app, &users, Duration::from_secs(2)).await;
    let (normal_rate, normal_p99) = figures(&normal, Duration::ZERO, Duration::from_secs(2));
    assert_eq!(cache_field(&app, "circuit").await, "closed");

    redis.pause();
    let hung = phase(&app, &users, Duration::from_secs(3)).await;
    let (hung_rate, hung_p99) = figures(&hung, Duration::from_secs(1), Duration::from_secs(3));
    let circuit = cache_field(&app, "circuit").await;
    let skipped = cache_field(&app, "skipped")
        .await
        .as_u64()
        .expect("skipped");
    let exposition = get_text(&app).await;
    println!(
        "normal: {normal_rate:.0} req/s, p99 {normal_p99:?} | Redis SIGSTOPped (after 1 s): \
         {hung_rate:.0} req/s ({:.0} %), p99 {hung_p99:?} | circuit {circuit}, skipped {skipped}",
        hung_rate / normal_rate * 100.0
    );
    assert!(
        circuit == "open" || circuit == "half_open",
        "the circuit is open during the outage: {circuit}"
    );
    assert!(skipped > 0, "skips are counted");
    assert!(
        exposition
            .lines()
            .any(|l| l == "health_agent_cache_circuit_open 1"),
        "the gauge shows the open circuit"
    );
    let exported_skips = exposition
        .lines()
        .find_map(|l| l.strip_prefix("health_agent_cache_skipped_total "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("skips are exported");
    assert!(exported_skips > 0.0, "exported skips: {exported_skips}");
    // Without the breaker every request waits for the 250 ms command timeout (p99 > 500 ms
    // measured with it disabled). The goal is 50 ms on the release server; a debug build on
    // a shared, busy machine is allowed the larger of that and three times its own normal
    // p99, and never half the timeout.
    let allowed = Duration::from_millis(50)
        .max(normal_p99 * 3)
        .min(Duration::from_millis(125));
    assert!(
        hung_p99 <= allowed,
        "p99 after the first second of the outage: {hung_p99:?} (allowed {allowed:?}; \
         normal p99 {normal_p99:?})"
    );
    assert!(
        hung_rate >= normal_rate * 0.5,
        "throughput during the outage: {hung_rate:.0} req/s vs {normal_rate:.0} normally"
    );

    redis.resume();
    let back = Instant::now();
    let hits = cache_field(&app, "hits").await.as_u64().expect("hits");
    loop {
        phase(&app, &users[..1], Duration::from_millis(100)).await;
        let closed = cache_field(&app, "circuit").await == "closed";
        if closed && cache_field(&app, "hits").await.as_u64().expect("hits") > hits {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(8),
            "the circuit closes and hits resume within 8 s of SIGCONT"
        );
    }
    println!(
        "after SIGCONT: circuit closed and hits again within {:?}",
        back.elapsed()
    );
    assert!(
        get_text(&app)
            .await
            .lines()
            .any(|l| l == "health_agent_cache_circuit_open 0")
    );
}

async fn get_text(app: &Router) -> String {
    let (status, _, bytes) = common::send_raw(
        app,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}
