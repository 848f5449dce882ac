//! Cost of one `#[tracing::instrument]`ed call, with Vitals' span layer and without.
//!
//! Modes, each a subscriber on this thread:
//! - `none`: the span's level is filtered out everywhere (instrumented code, nothing listening);
//! - `off`: the reference server's subscriber without span timings (a `fmt` layer at INFO, so
//!   the registry still creates each INFO span);
//! - `on`: the same plus [`SpanTimings`]' layer, recording into a `Vitals`.
//!
//! Prints `spans <mode> <run> <ns-per-call>` per timed run; runs are interleaved across modes.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;
use tracing::Dispatch;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, fmt};
use vitals_axum::Vitals;
use vitals_axum::spans::SpanTimings;

/// The sizes of the phase.
pub struct Plan {
    pub warmup: u64,
    pub iters: u64,
    pub runs: u64,
}

#[tracing::instrument(level = "info", skip_all)]
fn instrumented(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

fn subscriber(mode: &str, timings: &SpanTimings) -> Dispatch {
    let level = if mode == "none" {
        LevelFilter::WARN
    } else {
        LevelFilter::INFO
    };
    let logs = fmt::layer().with_writer(std::io::sink).with_filter(level);
    let registry = tracing_subscriber::registry().with(logs);
    if mode == "on" {
        Dispatch::new(registry.with(timings.layer()))
    } else {
        Dispatch::new(registry)
    }
}

fn time(dispatch: &Dispatch, iters: u64) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let started = Instant::now();
        let mut acc = 0u64;
        for i in 0..iters {
            acc = acc.wrapping_add(instrumented(i));
        }
        black_box(acc);
        started.elapsed().as_nanos() as f64 / iters.max(1) as f64
    })
}

pub fn run(plan: &Plan) -> Result<()> {
    let timings = SpanTimings::builder().build();
    let _vitals = Vitals::builder().span_timings(&timings).build()?;
    let modes = ["none", "off", "on"];
    let dispatches: Vec<Dispatch> = modes.iter().map(|m| subscriber(m, &timings)).collect();
    for d in &dispatches {
        time(d, plan.warmup);
    }
    for run in 0..plan.runs {
        for (mode, d) in modes.iter().zip(&dispatches) {
            println!("spans {mode} {run} {:.1}", time(d, plan.iters));
        }
    }
    Ok(())
}
