//! The instruction counts themselves: each figure is the difference of two callgrind runs of
//! `vitals-bench`, one doing twice the work of the other, divided by the extra work. Start-up,
//! building the stack and the registries, the warm-up and the exit cost the same in both runs
//! and cancel out.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::callgrind::{self, Count};

/// `/hello` requests of the shorter oneshot run; the longer one sends twice as many.
const REQUESTS: u64 = 20_000;
/// Untimed requests before either run's measured ones (the same in both).
const WARMUP: &str = "100";
/// Renders of `/metrics` of the shorter run (each reads the same figures).
const RENDERS: u64 = 10;
/// JSON snapshots of the shorter run.
const SNAPSHOTS: u64 = 1_000;

/// Cost of one unit of work (a request, a render, a snapshot).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PerUnit {
    /// Instructions per unit.
    pub instructions: f64,
    /// Allocator calls per unit.
    pub allocations: f64,
}

/// One figure to measure.
pub struct Job {
    /// What it is called in the output (`vitals`, `render-thousand`, …).
    pub name: String,
    /// `vitals-bench` arguments for `units` units of work.
    args: Box<dyn Fn(u64) -> Vec<String> + Send + Sync>,
    /// Units of work of the shorter run.
    units: u64,
}

impl Job {
    /// One `/hello` request through the stack `mode` (`vitals-bench oneshot --only MODE`).
    pub fn request(mode: &str) -> Self {
        let only = mode.to_owned();
        Self {
            name: mode.to_owned(),
            args: Box::new(move |n| {
                [
                    "oneshot", "--warmup", WARMUP, "--runs", "1", "--only", &only, "--iters",
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .chain([n.to_string()])
                .collect()
            }),
            units: REQUESTS,
        }
    }

    /// One `/metrics` render (`render-default`, `render-thousand`) or one JSON snapshot
    /// (`json`), through `vitals-bench repeat`.
    pub fn repeat(work: &str) -> Self {
        let owned = work.to_owned();
        Self {
            name: work.to_owned(),
            args: Box::new(move |n| {
                ["repeat", "--work", &owned, "--times"]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .chain([n.to_string()])
                    .collect()
            }),
            units: if work == "json" { SNAPSHOTS } else { RENDERS },
        }
    }

    /// The two runs and their difference per unit.
    fn run(&self, bench: &Path, scratch: &Path) -> Result<PerUnit> {
        let short = callgrind::count(bench, &(self.args)(self.units), &scratch.join("short"))?;
        let long = callgrind::count(bench, &(self.args)(2 * self.units), &scratch.join("long"))?;
        per_unit(short, long, self.units).with_context(|| format!("counting {}", self.name))
    }
}

/// (long − short) / units, both counts.
fn per_unit(short: Count, long: Count, units: u64) -> Result<PerUnit> {
    if long.instructions <= short.instructions {
        bail!(
            "the longer run executed {} instructions, the shorter {}: the work was not done",
            long.instructions,
            short.instructions
        );
    }
    let units = units as f64;
    Ok(PerUnit {
        instructions: (long.instructions - short.instructions) as f64 / units,
        allocations: long.allocations.saturating_sub(short.allocations) as f64 / units,
    })
}

/// Runs every job, as many at a time as there are CPUs (counts do not depend on load, so
/// running side by side changes nothing but the wall time); the figures in `jobs`' order.
pub fn run_all(bench: &Path, jobs: &[Job]) -> Result<Vec<PerUnit>> {
    let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<Option<Result<PerUnit>>>> =
        std::sync::Mutex::new(jobs.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.min(jobs.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let figure = job.run(bench, &scratch.path().join(i.to_string()));
                    if let Ok(mut done) = done.lock() {
                        done[i] = Some(figure);
                    }
                }
            });
        }
    });
    let results = done
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a counting thread panicked"))?;
    results
        .into_iter()
        .zip(jobs)
        .map(|(r, job)| r.with_context(|| format!("{} was not counted", job.name))?)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_per_unit_cancels_fixed_costs() {
        let short = Count {
            instructions: 1_000 + 20 * 7,
            allocations: 50 + 20 * 3,
        };
        let long = Count {
            instructions: 1_000 + 40 * 7,
            allocations: 50 + 40 * 3,
        };
        assert_eq!(
            per_unit(short, long, 20).expect("counts"),
            PerUnit {
                instructions: 7.0,
                allocations: 3.0
            }
        );
        assert!(per_unit(long, short, 20).is_err());
    }
}
