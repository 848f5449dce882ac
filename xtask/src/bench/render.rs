//! `/metrics` render time: `vitals-bench render`, read back.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// One registry's render timings.
pub struct Case {
    /// `default` (the server's routes) or `thousand` (1,000 HTTP label sets).
    pub name: String,
    /// HTTP `(method, route, status)` label sets registered.
    pub series: u64,
    /// ns of each timed render.
    pub ns: Vec<f64>,
    /// Size of the exposition, bytes (last render).
    pub bytes: u64,
}

/// Runs the phase with `iters` renders per case.
pub fn run(bench: &Path, iters: u64) -> Result<Vec<Case>> {
    eprintln!("bench: render, {iters} renders per registry");
    let output = Command::new(bench)
        .args(["render", "--iters", &iters.to_string()])
        .output()
        .with_context(|| format!("cannot run {}", bench.display()))?;
    if !output.status.success() {
        bail!(
            "vitals-bench render failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut cases: Vec<Case> = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let ["render", name, series, _i, ns, bytes] = fields[..] else {
            continue;
        };
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
    if cases.len() != 2 {
        bail!(
            "vitals-bench render printed {} cases, expected 2",
            cases.len()
        );
    }
    Ok(cases)
}
