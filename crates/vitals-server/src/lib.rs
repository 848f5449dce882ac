//! The Vitals server as a library: build its router with [`app`] and serve it yourself, or
//! take single pieces (the [`middleware::PerfLayer`], the metrics routes) into your own axum
//! service.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use vitals_server::{AppState, Settings, app};
//!
//! let settings = Settings::default(); // embedded SQLite in ./data, in-process cache
//! let state = AppState::from_settings(&settings).await?;
//! let listener = tokio::net::TcpListener::bind(settings.listen).await?;
//! axum::serve(listener, app(state)).await?;
//! # Ok(()) }
//! ```

pub mod agent;
pub mod db;
mod error;
pub mod exporter;
pub mod middleware;
pub mod routes;
pub mod settings;
mod state;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;
pub use settings::{Args, LogFormat, Settings, SettingsError};
pub use state::{AppState, StartupError};

use middleware::{PerfLayer, TimeoutLayer};

/// The whole HTTP surface of the server, with the performance layer on every response
/// (404s, 405s, timeouts and panics included).
pub fn app(state: AppState) -> Router {
    let perf = PerfLayer::with_metrics(Arc::clone(state.http_metrics()));
    let timeout = TimeoutLayer::new(state.request_timeout());
    Router::new()
        .route(
            "/api/v1/chat",
            post(agent::chat).layer(DefaultBodyLimit::max(agent::MAX_BODY_BYTES)),
        )
        .route("/api/v1/users/{user_id}/history", get(agent::history))
        .route("/api/v1/metrics", get(routes::metrics::snapshot))
        .route("/metrics", get(routes::metrics::prometheus))
        .route("/health", get(routes::health::live))
        .route("/health/ready", get(routes::health::ready))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(timeout)
        .layer(CatchPanicLayer::custom(routes::panic_response))
        .layer(perf)
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets in-flight
/// requests finish and closes the database pool.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let db = state.db().clone();
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    db.close().await;
    result
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received; finishing in-flight requests"),
        () = terminate => tracing::info!("SIGTERM received; finishing in-flight requests"),
    }
}
