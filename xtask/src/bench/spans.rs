//! Cost of one instrumented call with the span-timing layer on and off:
//! `vitals-bench spans`, read back.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};

use super::stats::median;

/// The sizes of the spans phase: the same shape as the oneshot phase's.
pub use super::oneshot::Plan;

/// ns per call of each run, per mode (`none`, `off`, `on`).
pub struct Costs {
    /// The plan measured.
    pub plan: Plan,
    /// `(mode, ns per call of each run)`.
    pub modes: Vec<(String, Vec<f64>)>,
}

/// Runs the phase with the `vitals-bench` binary at `bench`.
pub fn run(bench: &Path, plan: Plan) -> Result<Costs> {
    eprintln!(
        "bench: spans, {} runs of {} calls per mode",
        plan.runs, plan.iters
    );
    let stdout = super::oneshot::run_phase(bench, "spans", plan)?;
    let modes = super::oneshot::per_mode(&stdout, "spans")?;
    if !["none", "off", "on"]
        .iter()
        .all(|m| modes.iter().any(|(n, _)| n == m))
    {
        bail!("vitals-bench spans did not print every mode");
    }
    Ok(Costs { plan, modes })
}

impl Costs {
    fn median_of(&self, mode: &str) -> f64 {
        self.modes
            .iter()
            .find(|(m, _)| m == mode)
            .map_or(0.0, |(_, runs)| median(runs))
    }

    /// Median extra ns per call of the layer (`on` − `off`).
    pub fn layer_ns(&self) -> f64 {
        self.median_of("on") - self.median_of("off")
    }

    /// The report section.
    pub fn markdown(&self, s: &mut String) {
        let p = self.plan;
        let _ = writeln!(
            s,
            "## 6. Span timings: cost per instrumented call\n\n\
             A synchronous `#[tracing::instrument]` function called in a loop \
             (`vitals-bench spans`): {} warm-up and {} timed calls per run, {} runs per mode, \
             interleaved.\n\n\
             - **none**: the span's level is filtered out; nothing listens.\n\
             - **off**: the reference server's subscriber without span timings (a `fmt` \
             layer at INFO: the registry still makes each span).\n\
             - **on**: the same plus `SpanTimings::layer()` recording into a `Vitals` \
             (goal: at most 300 ns over **off**).\n\n\
             | mode | median ns per call | runs |\n|---|---|---|",
            p.warmup, p.iters, p.runs
        );
        for (mode, runs) in &self.modes {
            let _ = writeln!(s, "| {mode} | {:.0} | {} |", median(runs), runs.len());
        }
        let _ = writeln!(
            s,
            "\nLayer cost (on − off): **{:.0} ns** per call.\n",
            self.layer_ns()
        );
    }
}
