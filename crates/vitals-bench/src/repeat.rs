//! The same piece of work done `times` times, untimed and silent: what an instruction
//! counter (`cargo xtask instructions`, callgrind) runs twice with two sizes, so that the
//! difference is the cost of `times` pieces and the set-up cancels out.
//!
//! Each piece reads the same, unchanged figures, so every piece costs the same instructions.

use std::hint::black_box;

use anyhow::{Result, bail};
use vitals_core::Snapshot;

use crate::json;
use crate::registries::Registry;

/// What to repeat.
pub const WORK: &str = "render-default, render-thousand or json";

/// Does `work` `times` times.
pub fn run(work: &str, times: u64) -> Result<()> {
    match work {
        "render-default" | "render-thousand" => {
            let registry = if work == "render-default" {
                Registry::server()?
            } else {
                Registry::thousand()?
            };
            let snapshot = Snapshot::default();
            for _ in 0..times {
                black_box(registry.vitals.engine().render_snapshot(&snapshot));
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
