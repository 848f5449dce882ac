//! `cargo xtask instructions [--update]`: deterministic instruction counts of the request
//! path, the `/metrics` render and the JSON snapshot, checked against the committed baseline
//! (`xtask/baseline/instructions.json`); `cargo xtask ci` runs it.
//!
//! valgrind's callgrind counts the instructions the release `vitals-bench` executes (see
//! [`callgrind`] for why only its main thread, and [`measure`] for how fixed costs cancel).
//! Instruction counts do not depend on the machine's load, so this is not a timed test: the
//! same code and toolchain give the same counts, to a few hundredths of a percent.

pub mod baseline;
mod callgrind;
mod measure;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

pub use callgrind::require_valgrind;
pub use measure::PerUnit;
use measure::{Job, run_all};

use crate::cargo;
use baseline::{Figures, thousands};

/// The stacks counted per request by the check: the floor, axum's own per-route layering,
/// and ours.
const CHECKED_MODES: [&str; 3] = ["bare", "noop", "vitals"];

/// Every count of one run.
pub struct Counts {
    /// Per `/hello` request, per stack, `bare` first.
    pub requests: Vec<(String, PerUnit)>,
    /// One `/metrics` render of the reference server's registry (not counted by the check).
    pub render_default: Option<PerUnit>,
    /// One `/metrics` render with 1,000 HTTP series.
    pub render_thousand: PerUnit,
    /// One JSON snapshot.
    pub json: PerUnit,
}

impl Counts {
    /// Counts `modes` per request (`bare` must be among them), the renders and the JSON
    /// snapshot, with the release `vitals-bench` at `bench`.
    pub fn measure(bench: &Path, modes: &[&str], render_default: bool) -> Result<Self> {
        if !modes.contains(&"bare") {
            bail!("the counts per request need the bare stack to subtract");
        }
        let mut jobs: Vec<Job> = modes.iter().map(|m| Job::request(m)).collect();
        jobs.push(Job::repeat("render-thousand"));
        jobs.push(Job::repeat("json"));
        if render_default {
            jobs.push(Job::repeat("render-default"));
        }
        eprintln!(
            "instructions: {} callgrind runs of {} ({} at a time)",
            2 * jobs.len(),
            bench.display(),
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        let mut figures = run_all(bench, &jobs)?.into_iter();
        let mut next = || figures.next().unwrap_or_default();
        let mut requests: Vec<(String, PerUnit)> =
            modes.iter().map(|m| ((*m).to_owned(), next())).collect();
        requests.sort_by_key(|(m, _)| m != "bare");
        Ok(Self {
            requests,
            render_thousand: next(),
            json: next(),
            render_default: render_default.then(&mut next),
        })
    }

    /// Per request of `mode`.
    pub fn request(&self, mode: &str) -> Option<PerUnit> {
        self.requests
            .iter()
            .find(|(m, _)| m == mode)
            .map(|(_, c)| *c)
    }

    /// Instructions per request of `mode` over bare's.
    pub fn over_bare(&self, mode: &str) -> Option<f64> {
        Some(self.request(mode)?.instructions - self.request("bare")?.instructions)
    }

    /// The three checked counts, rounded to whole instructions.
    pub fn checked(&self) -> Figures {
        let values = [
            self.over_bare("vitals").unwrap_or(f64::NAN),
            self.render_thousand.instructions,
            self.json.instructions,
        ];
        Figures(
            baseline::CHECKED
                .iter()
                .zip(values)
                .map(|(&(key, what), v)| (key, what, v.round().max(0.0) as u64))
                .collect(),
        )
    }
}

/// What the counts were made with: rustc's and valgrind's versions.
pub fn toolchain() -> String {
    format!(
        "{}, {}",
        crate::command_output("rustc", &["-V"]),
        crate::command_output("valgrind", &["--version"])
    )
}

/// Builds the release `vitals-bench` (as `cargo xtask bench` does) and returns its path.
pub fn build_bench() -> Result<PathBuf> {
    cargo(&["build", "--release", "--package", "vitals-bench"], &[])?;
    Ok(crate::target_dir().join("release/vitals-bench"))
}

/// `cargo xtask instructions [--update]`.
pub fn run(args: &[String]) -> Result<()> {
    let mut update = false;
    for arg in args {
        match arg.as_str() {
            "--update" => update = true,
            other => bail!(
                "unknown option {other:?}: `cargo xtask instructions` checks the counts, \
                 `--update` rewrites the baseline"
            ),
        }
    }
    let started = std::time::Instant::now();
    require_valgrind()?;
    let bench = build_bench()?;
    let counts = Counts::measure(&bench, &CHECKED_MODES, false)?;
    print!("{}", per_request_lines(&counts));
    let file = baseline::path();
    let now = counts.checked();
    if update {
        baseline::write(&file, &now, &toolchain())?;
        for (_, what, count) in &now.0 {
            println!("  {what}: {}", thousands(*count));
        }
        println!(
            "instructions: wrote {} ({:.0} s); commit it",
            file.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let verdicts = baseline::compare(&baseline::read(&file)?, &now);
    println!("against {}:", file.display());
    for v in &verdicts {
        println!("{}", v.line());
    }
    let failed: Vec<_> = verdicts.iter().filter(|v| v.failed()).collect();
    if failed.is_empty() {
        println!(
            "instructions: every count within {:.0} % of the baseline ({:.0} s)",
            baseline::TOLERANCE * 100.0,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let counted_with = baseline::toolchain(&file).unwrap_or_else(|| "unknown".to_owned());
    bail!(
        "{} instruction count(s) grew more than {:.0} % over {}: {}. Find the cause \
         (e.g. `valgrind --tool=callgrind {} oneshot --only vitals --iters 20000` and \
         callgrind_annotate), or, if the growth is intended, run `cargo xtask instructions \
         --update` and commit the file. Baseline counted with {counted_with}; this run with {}.",
        failed.len(),
        baseline::TOLERANCE * 100.0,
        file.display(),
        failed
            .iter()
            .map(|v| format!(
                "{} {} → {}",
                v.what,
                thousands(v.baseline),
                thousands(v.now)
            ))
            .collect::<Vec<_>>()
            .join("; "),
        bench.display(),
        toolchain()
    )
}

/// The per-request counts of bare, noop and vitals, so a reader sees which part of the
/// layer's cost is axum's own per-route layering.
fn per_request_lines(counts: &Counts) -> String {
    let mut s = String::from("instructions per /hello request (callgrind, main thread):\n");
    for (mode, c) in &counts.requests {
        let over = counts.over_bare(mode).unwrap_or_default();
        let note = match mode.as_str() {
            "bare" => String::new(),
            "noop" => format!(
                "  {over:+.0} over bare: axum's per-route layering (Router::layer with a layer doing nothing)"
            ),
            _ => format!("  {over:+.0} over bare"),
        };
        s.push_str(&format!(
            "  {mode:<16} {:>8} instructions, {:>5.1} allocations{note}\n",
            thousands(c.instructions.round() as u64),
            c.allocations
        ));
    }
    s.push_str(&format!(
        "  /metrics render, 1,000 series: {} instructions; one JSON snapshot: {}\n",
        thousands(counts.render_thousand.instructions.round() as u64),
        thousands(counts.json.instructions.round() as u64)
    ));
    s
}
