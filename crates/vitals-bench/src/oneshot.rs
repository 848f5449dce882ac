//! Per-request cost of each stack, without sockets: `router.clone().oneshot(request)` and
//! the whole response body collected, in a tight loop on a current-thread runtime.
//!
//! Every mode gets the same warm-up, then the modes take turns run after run (bare, vitals,
//! axum-prometheus, bare, …) so that a burst of load on a shared machine hits all of them
//! alike. Histogram storage is drained between runs, outside the timed part.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use axum::Router;
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::apps::{self, App, Mode};

/// How much to measure.
pub struct Plan {
    /// Requests per mode before any timing.
    pub warmup: u64,
    /// Requests per timed run.
    pub iters: u64,
    /// Timed runs per mode.
    pub runs: u64,
    /// Measure only these modes (all when empty), e.g. to profile one under callgrind.
    pub only: Vec<Mode>,
}

/// Prints `oneshot <mode> <run> <ns-per-request>` for every run of every mode, then
/// `recorded <mode> <count> <sent>` for each stack that records metrics; fails when a stack's
/// count differs from the requests it was sent.
pub fn run(plan: &Plan) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a Tokio runtime")?;
    rt.block_on(async {
        let apps: Vec<(Mode, App)> = Mode::ALL
            .into_iter()
            .filter(|m| plan.only.is_empty() || plan.only.contains(m))
            .map(|m| (m, apps::build(m)))
            .collect();
        for (_, app) in &apps {
            batch(&app.router, plan.warmup).await?;
            (app.upkeep)();
        }
        for run in 0..plan.runs {
            for (mode, app) in &apps {
                let took = batch(&app.router, plan.iters).await?;
                (app.upkeep)();
                let ns = took.as_nanos() as f64 / plan.iters.max(1) as f64;
                println!("oneshot {} {run} {ns:.1}", mode.name());
            }
        }
        let sent = plan.warmup + plan.runs * plan.iters;
        for (mode, app) in &apps {
            let Some(recorded) = &app.recorded else {
                continue;
            };
            let count = recorded().with_context(|| format!("reading {}'s figures", mode.name()))?;
            println!("recorded {} {count} {sent}", mode.name());
            ensure!(
                count == sent,
                "{} counted {count} /hello requests of the {sent} it answered: \
                 its figures are not what was measured",
                mode.name()
            );
        }
        Ok(())
    })
}

/// Sends `n` requests for `/hello` one after the other; the time they took.
async fn batch(router: &Router, n: u64) -> Result<Duration> {
    let started = Instant::now();
    for _ in 0..n {
        let request = Request::get("/hello")
            .body(Body::empty())
            .context("request")?;
        let response = router.clone().oneshot(request).await?;
        debug_assert!(response.status().is_success());
        let body = response.into_body().collect().await.context("body")?;
        black_box(body);
    }
    Ok(started.elapsed())
}
