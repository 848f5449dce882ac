//! The reference server: the Health Agent API on a pool and a cache, with Vitals added
//! through `vitals-axum`'s public builder like in any application. Build its router with
//! [`app`] and serve it yourself, or run the `vitals-server` binary.
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
mod brain;
pub mod db;
mod error;
mod exporters;
pub mod listener;
pub mod memory;
mod message;
pub mod open_files;
pub mod redact;
pub mod settings;
mod state;
pub mod telemetry;
pub mod transfer_coding;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use vitals_axum::fallback;
use vitals_axum::layer::TimeoutLayer;

pub use error::StartupError;
pub use listener::{ConnectionLimits, ShutdownReport};
pub use settings::{Args, Settings, SettingsError};
pub use state::AppState;
pub use telemetry::LogFormat;
pub use vitals_axum::ApiError;

/// The whole HTTP surface of the server: the Health Agent API, Vitals' routes, and the
/// performance layer on every response (404s, 405s, timeouts and panics included).
///
/// It is an ordinary axum app with Vitals added in three lines (`merge`, the panic and
/// timeout layers are the demo's own choices, and `layer`).
pub fn app(state: AppState) -> Router {
    let vitals = state.vitals().clone();
    Router::new()
        .route(
            "/api/v1/chat",
            post(agent::chat).layer(DefaultBodyLimit::max(agent::MAX_BODY_BYTES)),
        )
        .route("/api/v1/users/{user_id}/history", get(agent::history))
        .merge(vitals.routes())
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        // A CPU profile answers after sampling for up to 60 s: its own, longer deadline.
        .layer(TimeoutLayer::new(state.request_timeout()).longer_for(
            "/debug/pprof/",
            std::time::Duration::from_secs(vitals_axum::pprof::MAX_SECONDS + 60),
        ))
        .layer(axum::middleware::from_fn(
            transfer_coding::refuse_unimplemented,
        ))
        .layer(CatchPanicLayer::custom(fallback::panic_response))
        .layer(vitals.layer())
        .with_state(state)
}

/// Serves `app(state)` on `listener` within `limits` (header-read and idle timeouts,
/// connection cap) until `shutdown` completes; then lets open connections finish for at most
/// `limits.shutdown_timeout`, closes the rest and the database pool.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> ShutdownReport {
    let db = state.db().clone();
    // Live streams and a running profile end as soon as shutdown begins; only the
    // application's own requests are waited for.
    let shutdown = state.vitals().graceful_shutdown(shutdown);
    let report = listener::serve_connections(listener, app(state), limits, shutdown).await;
    // In-flight requests are done or dropped; give the pool a bounded moment to close.
    if tokio::time::timeout(std::time::Duration::from_secs(2), db.close())
        .await
        .is_err()
    {
        tracing::warn!("database pool did not close within 2 s; exiting anyway");
    }
    report
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    vitals_axum::shutdown_signal().await;
}
