//! Time of `Vitals::render_snapshot` (the whole `/metrics` body), for the registry a running
//! server has, and for one with 1,000 HTTP label sets: 1,000 `(method, route, status)`
//! request counters, 1,000 duration histograms and 1,000 slow counters.

use std::time::Instant;

use anyhow::Result;
use vitals_core::Snapshot;

use crate::registries::Registry;

/// Prints `render <case> <series> <iteration> <ns> <bytes>` per timed render.
pub fn run(iters: u64) -> Result<()> {
    for registry in [Registry::server()?, Registry::thousand()?] {
        time(&registry, iters);
    }
    Ok(())
}

/// One untimed render, then `iters` timed ones, each after a round of fresh traffic.
fn time(registry: &Registry, iters: u64) {
    let snapshot = Snapshot::default();
    let engine = registry.vitals.engine();
    engine.render_snapshot(&snapshot);
    for i in 0..iters {
        registry.traffic(i + 1);
        let started = Instant::now();
        let body = engine.render_snapshot(&snapshot);
        let ns = started.elapsed().as_nanos();
        println!(
            "render {} {} {i} {ns} {}",
            registry.name,
            registry.series(),
            body.len()
        );
    }
}
