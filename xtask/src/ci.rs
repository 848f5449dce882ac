//! `cargo xtask ci`: every check CI runs, in the order that fails fastest.

use anyhow::Result;

use crate::cargo;

/// Runs the checks; `--no-lint` skips fmt, clippy and doc (for a quick test-only run).
pub fn run(args: &[String]) -> Result<()> {
    let lint = !args.iter().any(|a| a == "--no-lint");
    if lint {
        cargo(&["fmt", "--all", "--", "--check"], &[])?;
        cargo(
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )?;
        cargo(
            &["doc", "--workspace", "--no-deps"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )?;
    }
    // Snapshot tests must match what is committed: never write new snapshots in CI.
    cargo(&["test", "--workspace"], &[("INSTA_UPDATE", "no")])?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}
