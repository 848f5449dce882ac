//! The builder's promises, against the real PostgreSQL and Redis: named pools and caches,
//! readiness from collectors and from the application's own checks, routes under any state
//! type, a private recorder by default.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vitals_axum::{BuildError, Importance, Vitals};
use vitals_cache::{MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_pool::MeteredPool;
use vitals_testkit::{OwnDatabase, assert_promtool_clean, free_port};

async fn call(app: &Router, uri: &str) -> (u16, String) {
    let request = Request::get(uri).body(Body::empty()).expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn json(app: &Router, uri: &str) -> (u16, Value) {
    let (status, body) = call(app, uri).await;
    (status, serde_json::from_str(&body).expect("JSON body"))
}

fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

#[tokio::test]
async fn two_named_pools_show_in_json_and_as_labelled_series() {
    let primary_db = OwnDatabase::create();
    let replica_db = OwnDatabase::create();
    let primary = MeteredPool::new(
        sqlx::PgPool::connect(&primary_db.url())
            .await
            .expect("primary"),
    );
    let replica = MeteredPool::new(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&replica_db.url())
            .await
            .expect("replica"),
    )
    .named("replica");
    let vitals = Vitals::builder()
        .collector(primary.clone())
        .collector(replica.clone())
        .build()
        .expect("builds");
    // Hold two replica connections and one primary connection while looking.
    let held = (
        replica.acquire().await.expect("replica 1"),
        replica.acquire().await.expect("replica 2"),
        primary.acquire().await.expect("primary 1"),
    );
    let app: Router = vitals.routes();
    let (_, doc) = json(&app, "/api/v1/metrics").await;
    assert_eq!(doc["database"]["backend"], "postgresql");
    assert_eq!(doc["database"]["pool_active"], 1, "{doc}");
    assert_eq!(doc["database"]["acquires_total"], 1);
    let named = &doc["databases"]["replica"];
    assert_eq!(named["pool_active"], 2, "{doc}");
    assert_eq!(named["pool_max_size"], 4);
    assert_eq!(named["acquires_total"], 2);

    let (_, text) = call(&app, "/metrics").await;
    assert_eq!(series(&text, "db_pool_active"), 1.0);
    assert_eq!(series(&text, "db_pool_active{pool=\"replica\"}"), 2.0);
    assert_eq!(series(&text, "db_pool_max_size{pool=\"replica\"}"), 4.0);
    assert_eq!(
        series(
            &text,
            "db_pool_acquire_duration_seconds_count{pool=\"replica\"}"
        ),
        2.0
    );
    assert_eq!(series(&text, "db_pool_acquire_duration_seconds_count"), 1.0);
    drop(held);

    let (status, ready) = json(&app, "/health/ready").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "ok");
    assert_eq!(ready["checks"]["database:replica"]["status"], "ok");
}

#[tokio::test]
async fn two_unnamed_pools_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
    let err = Vitals::builder()
        .collector(MeteredPool::new(pool.clone()))
        .collector(MeteredPool::new(pool))
        .build()
        .expect_err("refused");
    assert!(matches!(err, BuildError::DuplicateCollector(_)), "{err}");
    assert!(err.to_string().contains("give all but one a name"), "{err}");
}

#[tokio::test]
async fn caches_readiness_and_custom_checks() {
    // A named cache on a Redis nobody listens on: degraded, never unready.
    let down = RedisBackend::connect(&RedisConfig::new(format!(
        "redis://127.0.0.1:{}",
        free_port()
    )))
    .expect("config");
    let sessions = MeteredCache::new(down).named("sessions");
    let main = MeteredCache::new(MemoryBackend::new(1 << 20));
    main.set("k", "v", Duration::from_secs(60)).await;
    main.get("k").await;
    let vitals = Vitals::builder()
        .collector(main)
        .collector(sessions.clone())
        .check("ledger", Importance::Required, || async {
            Err("ledger offline".to_owned())
        })
        .check("mailer", Importance::Optional, || async { Ok(()) })
        .check_timeout(Duration::from_millis(300))
        .build()
        .expect("builds");
    sessions.get("x").await; // fails fast: counted as an error of the named cache
    let app: Router = vitals.routes();
    let (_, doc) = json(&app, "/api/v1/metrics").await;
    assert_eq!(doc["cache"]["hits"], 1);
    assert_eq!(doc["caches"]["sessions"]["backend"], "redis");
    assert_eq!(doc["caches"]["sessions"]["errors"], 1, "{doc}");
    let (_, text) = call(&app, "/metrics").await;
    assert_eq!(series(&text, "cache_errors_total{cache=\"sessions\"}"), 1.0);
    assert_eq!(series(&text, "cache_hits_total"), 1.0);

    let (status, ready) = json(&app, "/health/ready").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["cache"]["status"], "ok");
    assert_eq!(ready["checks"]["cache:sessions"]["status"], "degraded");
    assert_eq!(ready["checks"]["ledger"]["status"], "down");
    assert_eq!(ready["checks"]["mailer"]["status"], "ok");
    assert_eq!(
        ready["reasons"],
        serde_json::json!(["ledger: ledger offline"])
    );
}

#[derive(Clone)]
struct MyState {
    greeting: &'static str,
}

#[tokio::test]
async fn routes_work_under_the_applications_own_state() {
    let vitals = Vitals::builder().namespace("mine").build().expect("builds");
    let app = Router::new()
        .route(
            "/hi",
            get(|State(s): State<MyState>| async move { s.greeting }),
        )
        .merge(vitals.routes())
        .layer(vitals.layer())
        .with_state(MyState { greeting: "hello" });
    assert_eq!(call(&app, "/hi").await, (200, "hello".to_owned()));
    let (_, doc) = json(&app, "/api/v1/metrics").await;
    assert_eq!(doc["http"]["requests_total"], 1);
    assert!(
        doc.get("app").is_none(),
        "no app section without the global recorder"
    );
    for absent in ["cache", "database", "system", "databases", "caches"] {
        assert!(doc.get(absent).is_none(), "{absent}: nothing registered it");
    }
    let (_, text) = call(&app, "/metrics").await;
    assert_eq!(
        series(
            &text,
            "mine_http_requests_total{method=\"GET\",route=\"/hi\",status=\"200\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn a_private_recorder_serves_what_is_recorded_into_it() {
    let vitals = Vitals::builder().build().expect("builds");
    let recorder = vitals.engine().recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("jobs_done_total", "Jobs finished");
        metrics::counter!("jobs_done_total", "queue" => "fast").increment(3);
        metrics::gauge!("queue_depth").set(4.5);
    });
    let text = vitals.render_prometheus();
    assert!(
        text.contains("# HELP jobs_done_total Jobs finished\n# TYPE jobs_done_total counter\n")
    );
    assert_eq!(series(&text, "jobs_done_total{queue=\"fast\"}"), 3.0);
    assert_eq!(series(&text, "queue_depth"), 4.5);
}

#[tokio::test]
async fn without_a_namespace_no_name_is_listed_twice() {
    // With no namespace, Vitals' own process series would share their names with the
    // standard unprefixed ones; each name must still appear once, and so must an
    // application metric that takes one of them.
    let vitals = Vitals::builder()
        .collector(vitals_axum::SystemSampler::new(Duration::from_millis(200)).expect("sampler"))
        .collector(
            vitals_axum::RuntimeCollector::current(Duration::from_millis(100)).expect("runtime"),
        )
        .build()
        .expect("builds");
    let recorder = vitals.engine().recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!("process_resident_memory_bytes").set(1.0);
        metrics::counter!("jobs_done_total").increment(1);
    });
    // The sampler's first reading lands within a second or so.
    let mut text = vitals.render_prometheus();
    for _ in 0..100 {
        if text.contains("\nprocess_resident_memory_bytes ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = vitals.render_prometheus();
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = name.split(' ').next().expect("a name");
        assert!(seen.insert(name.to_owned()), "{name} listed twice:\n{text}");
    }
    assert!(
        series(&text, "process_resident_memory_bytes") > 1.0,
        "Vitals' own reading, not the application's: {text}"
    );
    assert!(seen.contains("jobs_done_total"), "{text}");
    assert_promtool_clean(&text);
}

#[tokio::test]
async fn histogram_figures_stay_within_what_was_recorded() {
    let vitals = Vitals::builder().build().expect("builds");
    let recorder = vitals.engine().recorder();
    // Added in this order, these make 242.50000000000003 in f64.
    let prices = [0.99, 0.1, 0.2, 120.0, 120.0, 1.21];
    assert_ne!(prices.iter().fold(0.0, |a, b| a + b), 242.5);
    metrics::with_local_recorder(&recorder, || {
        for p in prices {
            metrics::histogram!("item_price").record(p);
        }
    });
    let (_, json) = {
        let app = Router::new().merge(vitals.routes());
        json(&app, "/api/v1/metrics").await
    };
    let h = &json["app"]["histograms"][0];
    assert_eq!(h["name"], "item_price");
    assert_eq!(h["count"], 6);
    assert_eq!(h["sum"].as_f64(), Some(242.5), "{h}");
    assert_eq!(h["min"].as_f64(), Some(0.1), "{h}");
    assert_eq!(h["max"].as_f64(), Some(120.0), "{h}");
    for q in ["p50", "p95", "p99"] {
        let v = h[q].as_f64().expect("a number");
        assert!(
            (0.1..=120.0).contains(&v),
            "{q} = {v} outside what was recorded: {h}"
        );
    }
    let text = vitals.render_prometheus();
    assert_eq!(series(&text, "item_price_sum"), 242.5, "{text}");
    assert_eq!(series(&text, "item_price_count"), 6.0, "{text}");
}
