//! A tiny server answering `/hello` with one of the stacks, for wrk.
//!
//! For the stacks that record metrics it also answers `GET /bench/recorded` with the number
//! of `/hello` requests the stack counted (plain text), read from the stack's own figures.
//! That route is added after the stack's layer, so it is neither timed nor counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::http::StatusCode;
use axum::routing::get;

use crate::apps::{self, Mode};

/// Serves `mode` on `listen` until killed, or for `max_seconds` at most (so a forgotten
/// process never outlives the benchmark by long).
pub fn run(mode: &str, listen: &str, max_seconds: u64) -> Result<()> {
    let mode = Mode::parse(mode)?;
    let listen: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen takes ADDR:PORT, not {listen:?}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start a Tokio runtime")?;
    rt.block_on(async move {
        let app = apps::build(mode);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("local address")?;
        println!("vitals-bench ({}) listening on http://{addr}", mode.name());
        let router = match app.recorded {
            None => app.router,
            Some(recorded) => {
                let recorded = Arc::new(recorded);
                app.router.route(
                    "/bench/recorded",
                    get(move || {
                        let recorded = Arc::clone(&recorded);
                        async move {
                            match recorded() {
                                Ok(n) => (StatusCode::OK, n.to_string()),
                                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
                            }
                        }
                    }),
                )
            }
        };
        let upkeep = app.upkeep;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                upkeep();
            }
        });
        let stop = tokio::time::sleep(Duration::from_secs(max_seconds));
        axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
            .context("serve")
    })
}
