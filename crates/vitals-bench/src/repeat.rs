//! The same piece of work done `times` times, untimed and silent: what an instruction
//! counter (`cargo xtask instructions`, callgrind) runs twice with two sizes, so that the
//! difference is the cost of `times` pieces and the set-up cancels out.
//!
//! Each piece reads the same, unchanged figures, so every piece costs the same instructions.

use std::hint::black_box;

use anyhow::{Context, Result, bail};
use vitals_core::Snapshot;

use crate::json;
use crate::registries::Registry;

/// What to repeat.
pub const WORK: &str = "render-default, render-thousand or json";

/// Does `work` `times` times; with `out`, writes the last render there (to compare the bytes
/// of two builds).
pub fn run(work: &str, times: u64, out: Option<&str>) -> Result<()> {
    match work {
        "render-default" | "render-thousand" => {
            let registry = if work == "render-default" {
                Registry::server()?
            } else {
                Registry::thousand()?
            };
            let snapshot = Snapshot::default();
            let mut body = String::new();
            for _ in 0..times {
                body = black_box(registry.vitals.engine().render_snapshot(&snapshot));
            }
            if let Some(path) = out {
                std::fs::write(path, body).with_context(|| format!("cannot write {path}"))?;
            }
        }
        "json" => {
            let registry = Registry::server()?;
            for _ in 0..times {
                black_box(json::build(&registry)?);
            }
        }
        other => bail!("unknown work {other:?}: {WORK}"),
    }
    Ok(())
}
