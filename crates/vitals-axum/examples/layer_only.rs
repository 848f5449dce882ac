//! The smallest use: the timing layer and the JSON snapshot of request figures, no database,
//! no cache, no system sampler.
//!
//! ```sh
//! cargo run --release -p vitals-axum --example layer_only --no-default-features
//! curl -si localhost:8000/hello            # X-Response-Time, Server-Timing, X-Request-ID
//! curl -s localhost:8000/api/v1/metrics | jq .http
//! ```
//!
//! Built with `--no-default-features`, this pulls neither sqlx, fred, moka nor sysinfo.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use vitals_axum::Vitals;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vitals = Vitals::builder()
        .slow_threshold(Duration::from_millis(250))
        .build()?;
    let app = Router::new()
        .route("/hello", get(|| async { "Hello, World!" }))
        .merge(vitals.routes())
        .layer(vitals.layer());
    let listen = std::env::var("VITALS_LISTEN").unwrap_or_else(|_| "127.0.0.1:8000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "layer_only example listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
