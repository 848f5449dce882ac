//! `cargo xtask bench`: every performance comparison in one run, written to
//! `docs/performance.md`.
//!
//! The measuring code that links axum lives in the `vitals-bench` crate (its binary is built
//! in release mode and driven from here); this module orchestrates, loads with wrk, reads
//! /proc and writes the report.

mod client;
mod counts;
mod flood;
pub(crate) mod machine;
mod metrics_endpoint;
mod oneshot;
mod process;
mod render;
mod report;
mod spans;
mod stats;
mod throughput;
mod wrk;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::{cargo, target_dir, workspace_root};

/// What `cargo xtask bench` was asked.
struct Options {
    quick: bool,
    out: PathBuf,
    command: String,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut quick = false;
        let mut out = PathBuf::from("docs/performance.md");
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--out" => {
                    out = it
                        .next()
                        .context("--out needs a file, e.g. --out docs/performance.md")?
                        .into();
                }
                other => bail!("unknown bench option {other:?}: use --quick and --out FILE"),
            }
        }
        let command = std::iter::once("cargo xtask bench".to_owned())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Self {
            quick,
            out,
            command,
        })
    }
}

/// The sizes of every phase.
struct Plan {
    oneshot: oneshot::Plan,
    hello_warmup: wrk::Load,
    hello_load: wrk::Load,
    hello_rounds: u32,
    endpoints: metrics_endpoint::Plan,
    renders: u64,
    snapshots: u64,
    spans: spans::Plan,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let load = |connections, seconds| wrk::Load {
            threads: 2,
            connections,
            seconds,
        };
        if quick {
            Self {
                oneshot: oneshot::Plan {
                    warmup: 20_000,
                    iters: 20_000,
                    runs: 3,
                },
                hello_warmup: load(50, 1),
                hello_load: load(50, 2),
                hello_rounds: 2,
                endpoints: metrics_endpoint::Plan {
                    warmup: 50,
                    sequential: 200,
                    load: load(100, 2),
                    rounds: 1,
                    flood: flood::Plan {
                        connections: 1_000,
                        follow: std::time::Duration::from_secs(15),
                    },
                },
                renders: 30,
                snapshots: 100,
                spans: spans::Plan {
                    warmup: 20_000,
                    iters: 100_000,
                    runs: 3,
                },
            }
        } else {
            Self {
                oneshot: oneshot::Plan {
                    warmup: 50_000,
                    iters: 200_000,
                    runs: 9,
                },
                hello_warmup: load(50, 2),
                hello_load: load(50, 5),
                hello_rounds: 5,
                endpoints: metrics_endpoint::Plan {
                    warmup: 200,
                    sequential: 1_000,
                    load: load(100, 5),
                    rounds: 3,
                    flood: flood::Plan {
                        connections: 5_000,
                        follow: std::time::Duration::from_secs(60),
                    },
                },
                renders: 300,
                snapshots: 1_000,
                spans: spans::Plan {
                    warmup: 100_000,
                    iters: 1_000_000,
                    runs: 9,
                },
            }
        }
    }
}

/// Everything one run measured.
pub struct Results {
    command: String,
    quick: bool,
    date: String,
    machine: machine::Machine,
    load_before: String,
    load_after: String,
    oneshot: oneshot::Costs,
    hello_load: wrk::Load,
    hello: Vec<throughput::Mode>,
    endpoints_plan: metrics_endpoint::Plan,
    endpoints: metrics_endpoint::Endpoints,
    render: Vec<render::Case>,
    json: render::Case,
    spans: spans::Costs,
    instructions: crate::instructions::Counts,
    /// The committed baseline `cargo xtask ci` checks, if it could be read.
    baseline: Option<crate::instructions::baseline::Figures>,
}

/// Runs the task.
pub fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    let plan = Plan::new(options.quick);
    let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
    let wrk = wrk::Wrk::new(scratch.path())?;
    crate::instructions::require_valgrind()?;

    // Built one after the other: the server binary exactly as users build it, and the
    // harness (whose axum-prometheus dependency turns on more axum features).
    cargo(&["build", "--release", "--package", "vitals-server"], &[])?;
    cargo(&["build", "--release", "--package", "vitals-bench"], &[])?;
    let release = target_dir().join("release");
    let bench = release.join("vitals-bench");
    let server = release.join("vitals-server");

    let load_before = machine::load_average();
    eprintln!("bench: load average before: {load_before}");
    let oneshot = oneshot::run(&bench, plan.oneshot)?;
    let hello = throughput::run(
        &bench,
        &wrk,
        plan.hello_warmup,
        plan.hello_load,
        plan.hello_rounds,
    )?;
    let endpoints = metrics_endpoint::run(&server, &wrk, plan.endpoints)?;
    let render = render::run(&bench, plan.renders)?;
    let json = render::json(&bench, plan.snapshots)?;
    let spans = spans::run(&bench, plan.spans)?;
    let load_after = machine::load_average();
    // Last, after the timed phases: counts do not depend on load, timings do.
    let modes: Vec<&str> = throughput::MODES.to_vec();
    let instructions = crate::instructions::Counts::measure(&bench, &modes, true)?;
    let baseline = crate::instructions::baseline::read(&crate::instructions::baseline::path()).ok();

    let results = Results {
        command: options.command,
        quick: options.quick,
        date: machine::now_utc(),
        machine: machine::Machine::probe(),
        load_before,
        load_after,
        oneshot,
        hello_load: plan.hello_load,
        hello,
        endpoints_plan: plan.endpoints,
        endpoints,
        render,
        json,
        spans,
        instructions,
        baseline,
    };
    let mut text = report::markdown(&results);
    let out = if options.out.is_absolute() {
        options.out
    } else {
        workspace_root().join(options.out)
    };
    // Sections written by other runs (the load-test figures) survive a new bench run.
    if let Ok(previous) = std::fs::read_to_string(&out)
        && let Some(at) = previous.find(KEPT_MARKER)
    {
        text.push('\n');
        text.push_str(&previous[at..]);
    }
    std::fs::write(&out, &text).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("bench: wrote {}", out.display());
    print!("{}", report::summary(&results));
    Ok(())
}

/// Everything from this line on in `docs/performance.md` is kept when the bench rewrites it.
const KEPT_MARKER: &str =
    "<!-- kept by cargo xtask bench: sections below are written by hand or by other runs -->";
