//! Time of one JSON snapshot, as `GET /api/v1/metrics` builds it: `Vitals::snapshot()` (the
//! request figures folded together, the collectors' latest figures copied) serialised with
//! `serde_json`, on the registry of the reference server's routes.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::registries::Registry;

/// Prints `json default <series> <iteration> <ns> <bytes>` per timed snapshot.
pub fn run(iters: u64) -> Result<()> {
    let registry = Registry::server()?;
    build(&registry)?;
    for i in 0..iters {
        registry.traffic(i + 1);
        let started = Instant::now();
        let body = build(&registry)?;
        let ns = started.elapsed().as_nanos();
        println!("json default {} {i} {ns} {}", registry.series(), body.len());
    }
    Ok(())
}

/// One JSON snapshot: the body `GET /api/v1/metrics` sends.
pub fn build(registry: &Registry) -> Result<Vec<u8>> {
    serde_json::to_vec(&registry.vitals.snapshot()).context("the snapshot does not serialise")
}
