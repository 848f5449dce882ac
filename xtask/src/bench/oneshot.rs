//! Per-request cost without sockets: `vitals-bench oneshot`, read back.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The sizes of a phase of interleaved timed runs (oneshot requests, span calls).
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Untimed requests (calls) per mode first.
    pub warmup: u64,
    /// Requests (calls) per timed run.
    pub iters: u64,
    /// Timed runs per mode (interleaved across modes).
    pub runs: u64,
}

/// ns per request of each run, per mode, the baseline (`bare`) first.
pub struct Costs {
    /// The plan measured.
    pub plan: Plan,
    /// `(mode, ns per request of each run)`.
    pub modes: Vec<(String, Vec<f64>)>,
    /// `(mode, /hello requests its own metrics counted, requests it answered)` of each stack
    /// that records (vitals-bench fails the phase when the two differ).
    pub recorded: Vec<(String, u64, u64)>,
}

/// Runs the phase with the `vitals-bench` binary at `bench`.
pub fn run(bench: &Path, plan: Plan) -> Result<Costs> {
    eprintln!(
        "bench: oneshot, {} runs of {} requests per mode",
        plan.runs, plan.iters
    );
    let stdout = run_phase(bench, "oneshot", plan)?;
    let modes = per_mode(&stdout, "oneshot")?;
    if modes.first().map(|(m, _)| m.as_str()) != Some("bare") {
        bail!("vitals-bench oneshot printed no bare runs");
    }
    let mut recorded = Vec::new();
    for line in stdout.lines() {
        if let ["recorded", mode, count, sent] = line.split_whitespace().collect::<Vec<_>>()[..] {
            let bad = || format!("bad line {line:?}");
            recorded.push((
                mode.to_owned(),
                count.parse().with_context(bad)?,
                sent.parse().with_context(bad)?,
            ));
        }
    }
    Ok(Costs {
        plan,
        modes,
        recorded,
    })
}

/// Runs `vitals-bench <phase>` with `plan`; its standard output.
pub fn run_phase(bench: &Path, phase: &str, plan: Plan) -> Result<String> {
    let output = Command::new(bench)
        .args([phase, "--warmup", &plan.warmup.to_string()])
        .args(["--iters", &plan.iters.to_string()])
        .args(["--runs", &plan.runs.to_string()])
        .output()
        .with_context(|| format!("cannot run {}", bench.display()))?;
    if !output.status.success() {
        bail!(
            "vitals-bench {phase} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Reads back `<phase> <mode> <run> <ns>` lines: the ns of each run, per mode, in the order
/// the modes first appear.
pub fn per_mode(stdout: &str, phase: &str) -> Result<Vec<(String, Vec<f64>)>> {
    let mut modes: Vec<(String, Vec<f64>)> = Vec::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [first, mode, _run, ns] = fields[..] else {
            continue;
        };
        if first != phase {
            continue;
        }
        let ns: f64 = ns.parse().with_context(|| format!("bad line {line:?}"))?;
        match modes.iter_mut().find(|(m, _)| m == mode) {
            Some((_, runs)) => runs.push(ns),
            None => modes.push((mode.to_owned(), vec![ns])),
        }
    }
    Ok(modes)
}
