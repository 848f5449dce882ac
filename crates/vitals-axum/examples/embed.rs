//! An ordinary axum service — its own pool, its own cache, a metric of its own — with Vitals
//! added.
//!
//! The Vitals-specific lines are the ones marked `// vitals`: the `use`, the pool's type, the
//! builder (one statement), `merge(vitals.routes())`, `layer(vitals.layer())` and the
//! graceful shutdown. `MeteredPool` is sqlx's pool, timed and counted, and is queried as
//! `&pool` like any sqlx pool; everything else is what the service would have anyway. The
//! dashboard is on (`/dashboard`), and SIGTERM or Ctrl-C stop the service gracefully: open
//! dashboard streams end at once.
//!
//! ```sh
//! cargo run --release -p vitals-axum --example embed
//! curl -s -X POST localhost:8000/orders -d '{"sku": "tea"}'
//! curl -s localhost:8000/api/v1/metrics | jq .app
//! curl -s localhost:8000/metrics | grep orders_created_total
//! ```
//!
//! It listens on `VITALS_LISTEN` (default `127.0.0.1:8000`) and uses `DATABASE_URL` and
//! `REDIS_URL` when set; otherwise an SQLite file in a temporary folder and an in-process
//! cache.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use sqlx::Any;
use vitals_axum::{SystemSampler, Vitals}; // vitals
use vitals_cache::{Backend, MemoryBackend, MeteredCache, RedisBackend, RedisConfig};
use vitals_pool::MeteredPool;

/// The service's own state: its pool and its cache.
#[derive(Clone)]
pub struct Shop {
    pool: MeteredPool<Any>, // vitals
    cache: MeteredCache<Backend>,
}

/// `POST /orders`: stores the body, caches it, counts it.
async fn create_order(State(shop): State<Shop>, body: Bytes) -> (StatusCode, String) {
    let started = Instant::now();
    let text = String::from_utf8_lossy(&body).into_owned();
    let stored = sqlx::query_scalar::<_, i64>("INSERT INTO orders (body) VALUES ($1) RETURNING id")
        .bind(text)
        .fetch_one(&shop.pool)
        .await;
    let id = match stored {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "order not stored");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "{\"error\":\"retry\"}".into(),
            );
        }
    };
    let key = format!("order:{id}");
    shop.cache.set(&key, body, Duration::from_secs(300)).await;
    shop.cache.get(&key).await;
    metrics::counter!("orders_created_total").increment(1);
    metrics::histogram!("order_seconds").record(started.elapsed().as_secs_f64());
    (StatusCode::CREATED, format!("{{\"id\":{id}}}"))
}

/// The app and its `Vitals`: `database_url` / `redis_url` when given, else SQLite under
/// `data_dir` and an in-process cache.
pub async fn app(
    database_url: Option<String>,
    redis_url: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<(Router, Vitals)> {
    sqlx::any::install_default_drivers();
    let url = database_url
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("shop.db").display()));
    let pool = sqlx::AnyPool::connect(&url).await?;
    let schema = if url.starts_with("postgres") {
        "CREATE TABLE IF NOT EXISTS orders (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)"
    } else {
        "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)"
    };
    sqlx::query(schema).execute(&pool).await?;
    let backend = match redis_url {
        Some(url) => {
            let redis = RedisBackend::connect(&RedisConfig::new(url))?;
            if !redis.wait_connected(Duration::from_secs(2)).await {
                tracing::warn!("Redis not reachable yet; serving without the cache meanwhile");
            }
            Backend::Redis(redis)
        }
        None => Backend::Memory(MemoryBackend::new(16 << 20)),
    };
    let shop = Shop {
        pool: MeteredPool::from(pool), // vitals
        cache: MeteredCache::new(backend),
    };

    let vitals = Vitals::builder() // vitals
        .namespace("shop")
        .collector(SystemSampler::new(Duration::from_secs(1))?)
        .collector(shop.pool.clone())
        .collector(shop.cache.clone())
        .install_global_recorder()
        .dashboard(true)
        .build()?;

    let router = Router::new()
        .route("/orders", post(create_order))
        .merge(vitals.routes()) // vitals
        .layer(vitals.layer()) // vitals
        .with_state(shop);
    Ok((router, vitals))
}

#[tokio::main]
#[allow(dead_code)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let listen = std::env::var("VITALS_LISTEN").unwrap_or_else(|_| "127.0.0.1:8000".into());
    let data = tempfile::tempdir()?;
    let (app, vitals) = app(
        std::env::var("DATABASE_URL").ok(),
        std::env::var("REDIS_URL").ok(),
        data.path(),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(
        "embed example listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(vitals.graceful_shutdown(vitals_axum::shutdown_signal())) // vitals
        .await?;
    Ok(())
}
