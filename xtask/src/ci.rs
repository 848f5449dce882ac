//! `cargo xtask ci`: every check CI runs, in the order that fails fastest.

use anyhow::Result;

use crate::cargo;

/// Runs the checks; `--no-setup` skips `.ci/setup` (packages, PostgreSQL, Redis),
/// `--no-lint` fmt, clippy and doc, `--no-instructions` the instruction counts, `--no-load`
/// the smoke load tests, `--no-fleet` the fleet run.
pub fn run(args: &[String]) -> Result<()> {
    let setup = !args.iter().any(|a| a == "--no-setup");
    let instructions = !args.iter().any(|a| a == "--no-instructions");
    let lint = !args.iter().any(|a| a == "--no-lint");
    let load = !args.iter().any(|a| a == "--no-load");
    let fleet = !args.iter().any(|a| a == "--no-fleet");
    if setup {
        // The same set-up CI does: install promtool, amtool, PostgreSQL and Redis when
        // missing and start the services, so this one command passes on a fresh machine.
        let script = crate::workspace_root().join(".ci/setup");
        eprintln!("$ bash {}", script.display());
        let status = std::process::Command::new("bash")
            .arg(&script)
            .current_dir(crate::workspace_root())
            .status()?;
        anyhow::ensure!(
            status.success(),
            "{} failed ({status}); see its output above",
            script.display()
        );
    }
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
            // Every feature, as docs.rs builds each library crate.
            &["doc", "--workspace", "--no-deps", "--all-features"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )?;
    }
    if instructions {
        // The request path, /metrics and the JSON snapshot against the committed counts.
        crate::instructions::run(&[])?;
    }
    // Snapshot tests must match what is committed: never write new snapshots in CI.
    cargo(&["test", "--workspace"], &[("INSTA_UPDATE", "no")])?;
    if fleet {
        // Four servers on real Prometheus, Alertmanager and VictoriaMetrics: fleet-wide sums,
        // one fault per instance alerting for that instance only, every dashboard query
        // answered (docs/fleet.md). About two and a half minutes; fails on any failed check.
        let started = std::time::Instant::now();
        eprintln!("$ cargo xtask fleet");
        crate::fleet::run(&[])?;
        eprintln!(
            "xtask ci: fleet run took {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    if load {
        // The smoke load test on both backends: it fails when the server's request count
        // differs from what the run sent (targets are reported, not enforced, on a CI box).
        let smoke = ["smoke", "--no-fail", "--duration", "15s"].map(String::from);
        eprintln!("$ cargo xtask load smoke (embedded SQLite + in-process cache)");
        crate::load::run(&smoke)?;
        let mut external = smoke.to_vec();
        external.extend(
            [
                "--database-url",
                "postgres://postgres@127.0.0.1:5432/test",
                "--redis-url",
                "redis://127.0.0.1:6379",
            ]
            .map(String::from),
        );
        eprintln!("$ cargo xtask load smoke (PostgreSQL + Redis)");
        crate::load::run(&external)?;
    }
    eprintln!("xtask ci: all checks passed");
    Ok(())
}
