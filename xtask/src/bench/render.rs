//! `/metrics` render time (`vitals-bench render`) and JSON snapshot time (`vitals-bench
//! json`), read back.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// One registry's timings.
pub struct Case {
    /// `default` (the server's routes) or `thousand` (1,000 HTTP label sets).
    pub name: String,
    /// HTTP `(method, route, status)` label sets registered.
    pub series: u64,
    /// ns of each timed render (snapshot).
    pub ns: Vec<f64>,
    /// Size of the body, bytes (last one).
    pub bytes: u64,
}

/// Runs `vitals-bench render` with `iters` renders per registry (2 registries).
pub fn run(bench: &Path, iters: u64) -> Result<Vec<Case>> {
    eprintln!("bench: render, {iters} renders per registry");
    cases(bench, "render", iters, 2)
}

/// Runs `vitals-bench json` with `iters` snapshots (1 registry).
pub fn json(bench: &Path, iters: u64) -> Result<Case> {
    eprintln!("bench: JSON snapshot, {iters} snapshots");
    let mut cases = cases(bench, "json", iters, 1)?;
    cases.pop().context("no JSON case")
}

/// Runs `vitals-bench <phase>` and reads its `<phase> <case> <series> <i> <ns> <bytes>`
/// lines; fails unless there are `expected` cases.
fn cases(bench: &Path, phase: &str, iters: u64, expected: usize) -> Result<Vec<Case>> {
    let output = Command::new(bench)
        .args([phase, "--iters", &iters.to_string()])
        .output()
        .with_context(|| format!("cannot run {}", bench.display()))?;
    if !output.status.success() {
        bail!(
            "vitals-bench {phase} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut cases: Vec<Case> = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [first, name, series, _i, ns, bytes] = fields[..] else {
            continue;
        };
        if first != phase {
            continue;
        }
        let bad = || format!("bad line {line:?}");
        let ns: f64 = ns.parse().with_context(bad)?;
        let bytes: u64 = bytes.parse().with_context(bad)?;
        let series: u64 = series.parse().with_context(bad)?;
        match cases.iter_mut().find(|c| c.name == name) {
            Some(c) => {
                c.ns.push(ns);
                c.bytes = bytes;
            }
            None => cases.push(Case {
                name: name.to_owned(),
                series,
                ns: vec![ns],
                bytes,
            }),
        }
    }
    if cases.len() != expected {
        bail!(
            "vitals-bench {phase} printed {} cases, expected {expected}",
            cases.len()
        );
    }
    Ok(cases)
}
