//! A service shaped like a real one, with Vitals added: its own state, a router nested under
//! `/api/v2`, a JSON fallback, tower-http layers inside and outside Vitals' layer, queries
//! that take the pool as `&pool` like any sqlx code, a cache, and a graceful shutdown.
//! Vitals' endpoints (metrics, readiness, dashboard, CPU profiles) are served on an admin
//! listener of their own, so the public port shows none of them.
//!
//! The lines that exist for Vitals end in `// vitals`: 28 of them. Seven serve Vitals'
//! endpoints on the admin port (a service with one port merges `vitals.routes()` instead),
//! two turn on the dashboard and CPU profiles, and the cache picks Redis or an in-process
//! store at run time, so it names both backends.
//!
//! ```sh
//! cargo run -p vitals-axum --example service
//! curl -s -X POST localhost:8000/api/v2/items -d 'tea'
//! curl -s localhost:8000/api/v2/items/1
//! curl -s localhost:9100/api/v1/metrics | jq .http.routes
//! open http://localhost:9100/dashboard
//! ```
//!
//! It listens on `VITALS_LISTEN` (default `127.0.0.1:8000`) and `ADMIN_LISTEN` (default
//! `127.0.0.1:9100`), and uses `DATABASE_URL` and `REDIS_URL` when set (an SQLite file in a
//! temporary folder and an in-process cache otherwise). SIGTERM or Ctrl-C stop it: requests
//! in flight finish, open dashboard streams and a running profile end at once.

use std::path::Path;
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use axum::{Router, body::Bytes};
use serde::Deserialize;
use sqlx::Any;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use vitals_axum::{RuntimeCollector, SystemSampler, Vitals}; // vitals
use vitals_cache::{Backend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig}; // vitals
use vitals_pool::MeteredPool; // vitals

/// The service's own state. The pool is a `MeteredPool` — sqlx's pool, timed and counted —
/// used exactly as a `sqlx::AnyPool` would be.
#[derive(Clone)]
struct AppState {
    pool: MeteredPool<Any>,       // vitals
    cache: MeteredCache<Backend>, // vitals
}

/// An error as this service answers it.
fn error(status: StatusCode, message: &str) -> (StatusCode, Json<serde_json::Value>) {
    (status, Json(serde_json::json!({ "error": message })))
}

/// `POST /api/v2/items`: stores the body in a transaction.
async fn create_item(State(app): State<AppState>, body: Bytes) -> impl IntoResponse {
    let text = String::from_utf8_lossy(&body).into_owned();
    let stored = async {
        let mut tx = app.pool.begin().await?;
        let id: i64 = sqlx::query_scalar("INSERT INTO items (body) VALUES ($1) RETURNING id")
            .bind(&text)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(id)
    };
    match stored.await {
        Ok(id) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))),
        Err(e) => {
            tracing::warn!(error = %e, "item not stored");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not available; retry",
            )
        }
    }
}

/// `GET /api/v2/items/{id}`: the cache first, then the database.
async fn get_item(State(app): State<AppState>, UrlPath(id): UrlPath<i64>) -> impl IntoResponse {
    let key = format!("item:{id}");
    if let Some(body) = app.cache.get(&key).await {
        let text = String::from_utf8_lossy(&body).into_owned();
        return (
            StatusCode::OK,
            Json(serde_json::json!({ "id": id, "body": text })),
        );
    }
    let row: Result<Option<String>, _> = sqlx::query_scalar("SELECT body FROM items WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.pool)
        .await;
    match row {
        Ok(Some(text)) => {
            app.cache
                .set(&key, text.clone(), Duration::from_secs(60))
                .await;
            (
                StatusCode::OK,
                Json(serde_json::json!({ "id": id, "body": text })),
            )
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such item"),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is not available; retry",
        ),
    }
}

#[derive(Deserialize)]
struct Work {
    ms: u64,
}

/// `GET /api/v2/report?ms=N`: a slow request (at most 5 s of work).
async fn report(Query(work): Query<Work>) -> impl IntoResponse {
    tokio::time::sleep(Duration::from_millis(work.ms.min(5_000))).await;
    Json(serde_json::json!({ "took_ms": work.ms.min(5_000) }))
}

async fn not_found() -> impl IntoResponse {
    error(StatusCode::NOT_FOUND, "no such page")
}

/// The service: the public router, the admin router, and the `Vitals` that ties them.
pub struct Service {
    /// Serves the application (the request layer records it).
    pub public: Router,
    /// Serves Vitals' endpoints (metrics, readiness, dashboard, profiles).
    pub admin: Router,
    /// For the graceful shutdown.
    pub vitals: Vitals,
}

/// Builds the service on `database_url` / `redis_url`, or SQLite under `data_dir` and an
/// in-process cache.
pub async fn service(
    database_url: Option<String>,
    redis_url: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<Service> {
    sqlx::any::install_default_drivers();
    let url = database_url
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("items.db").display()));
    let pool = sqlx::AnyPool::connect(&url).await?;
    let schema = if url.starts_with("postgres") {
        "CREATE TABLE IF NOT EXISTS items (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)"
    } else {
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"
    };
    sqlx::query(schema).execute(&pool).await?;
    let backend = match redis_url {
        Some(url) => {
            let redis = RedisBackend::connect(&RedisConfig::new(url))?; // vitals
            if !redis.wait_connected(Duration::from_secs(2)).await {
                tracing::warn!("Redis is not reachable yet; serving without the cache meanwhile");
            }
            Backend::Redis(redis) // vitals
        }
        None => Backend::Memory(MemoryBackend::new(16 << 20)), // vitals
    };
    let state = AppState {
        pool: MeteredPool::from(pool),     // vitals
        cache: MeteredCache::new(backend), // vitals
    };

    let vitals = Vitals::builder() // vitals
        .collector(SystemSampler::new(Duration::from_secs(1))?) // vitals
        .collector(RuntimeCollector::current(Duration::from_secs(1))?) // vitals
        .collector(state.pool.clone()) // vitals
        .collector(state.cache.clone()) // vitals
        .dashboard(true) // vitals
        .pprof(true) // vitals
        .build()?; // vitals

    let public = Router::new()
        .nest(
            "/api/v2",
            Router::new()
                .route("/items", post(create_item))
                .route("/items/{id}", get(get_item))
                .route("/report", get(report)),
        )
        .fallback(not_found)
        // Inside Vitals' layer: what it times includes compression and the deadline's 408.
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        .layer(vitals.layer()) // vitals
        // Outside: the trace span covers Vitals' layer too.
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    let admin = vitals.routes(); // vitals
    Ok(Service {
        public,
        admin,
        vitals,
    })
}

#[tokio::main]
#[allow(dead_code)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let data = tempfile::tempdir()?;
    let Service {
        public,
        admin,
        vitals,
    } = service(
        std::env::var("DATABASE_URL").ok(),
        std::env::var("REDIS_URL").ok(),
        data.path(),
    )
    .await?;
    let public_listener =
        tokio::net::TcpListener::bind(env("VITALS_LISTEN", "127.0.0.1:8000")).await?;
    let admin_address = env("ADMIN_LISTEN", "127.0.0.1:9100"); // vitals
    let admin_listener = tokio::net::TcpListener::bind(admin_address).await?; // vitals
    tracing::info!(
        "service listening on http://{}",
        public_listener.local_addr()?
    );
    tracing::info!("admin listening on http://{}", admin_listener.local_addr()?); // vitals
    // SIGTERM stops the public server gracefully; Vitals' streams and profiles end at once,
    // and the admin server follows as soon as Vitals' shutdown has begun.
    let public = axum::serve(public_listener, public)
        .with_graceful_shutdown(vitals.graceful_shutdown(vitals_axum::shutdown_signal())); // vitals
    let admin = axum::serve(admin_listener, admin) // vitals
        .with_graceful_shutdown(vitals.shutdown_begun()); // vitals
    let (public, admin) = tokio::join!(public, admin); // vitals
    public?;
    admin?; // vitals
    tracing::info!("stopped");
    Ok(())
}
