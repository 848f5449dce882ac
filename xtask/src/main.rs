//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `ci`: formatting, lints, docs and the whole test suite, as CI runs them.
//! - `docs`: regenerate docs written from code (the metrics table).
//! - `load`: load tests with a report and a verdict; `load-calibrate`: the engine beside wrk.
//! - `fleet`: several servers on real Prometheus, Alertmanager and VictoriaMetrics, checked.
//! - `bench`: every performance comparison, written to `docs/performance.md`.
//! - `instructions`: instruction counts of the request path, `/metrics` and the JSON snapshot
//!   against the committed baseline (part of `ci`).
//! - `release`: release archives and their checksums.
//! - `screenshot`: docs/images/dashboard.png from a real run; `dashboard-budget`: the
//!   dashboard's budgets.

use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench;
mod ci;
mod dashboard;
mod docs;
mod fleet;
mod instructions;
mod load;
mod release;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    match task.as_deref() {
        Some("ci") => ci::run(&rest),
        Some("docs") => docs::run(),
        Some("load") => load::run(&rest),
        Some("fleet") => fleet::run(&rest),
        Some("load-calibrate") => load::calibrate(&rest),
        Some("bench") => bench::run(&rest),
        Some("instructions") => instructions::run(&rest),
        Some("release") => release::run(&rest),
        Some("screenshot") => dashboard::screenshot(),
        Some("dashboard-budget") => dashboard::budget(),
        Some("chaos") => chaos(),
        Some("-h" | "--help" | "help") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n\n{HELP}"),
    }
}

const HELP: &str = "\
cargo xtask <task>

Tasks:
  ci      cargo fmt --check, clippy -D warnings, cargo doc (warnings denied), the instruction
          counts, every test, the fleet run and the smoke load test on both backends
          (--no-lint, --no-instructions, --no-fleet, --no-load skip parts; needs PostgreSQL
          on 127.0.0.1:5432 and Redis on 127.0.0.1:6379; .ci/run starts them)
  chaos   the chaos suite alone, with its tables: chat/history load on PostgreSQL + Redis
          while Redis is killed, SIGSTOPped and restarted with its data, PostgreSQL is cut and
          stalled behind a proxy, silent and slow-header sockets pile up and SIGTERM arrives
          mid-load; then the hardening suite (protocol abuse, overload, secrets, shutdown)
          (a few minutes, loopback only; `ci` runs them with every other test)
  docs    regenerate the metrics table of docs/metrics.md from the catalogue and the
          topology picture docs/images/fleet-topology.png
  fleet   [--instances N] [--loopback] [--out DIR]  N vitals-server instances (default 4) on
          PostgreSQL + their own Redis, in network namespaces of their own when root (else
          loopback ports), with a real Prometheus, Alertmanager and VictoriaMetrics: fleet-wide
          sums, InstanceDown / CacheErrors / DatabasePoolExhausted for the right instance only,
          every dashboard query answered; a report with charts (target/fleet/); about 3 minutes
  load    load test: cargo xtask load <smoke|steady|spike|stress|soak> [--target URL]
          [--users N] [--duration D] [--rate R] [--out DIR] [--database-url URL]
          [--redis-url URL] [--no-fail]; `cargo xtask load --help` for all options
  load-calibrate [--connections N] [--seconds S] [--rounds R]  the load engine's rate on
          GET /health beside wrk's, both orders, with CPU time per request (needs wrk)
  bench   [--quick] [--out FILE]  per-request cost, wrk throughput, metrics endpoints and
          /metrics render time, baselines beside ours, written to docs/performance.md
          (needs wrk and valgrind: apt-get install -y wrk valgrind; --quick is a smoke run)
  instructions [--update]  instructions per request of Vitals' layer over bare axum, per
          /metrics render with 1,000 series and per JSON snapshot, counted by callgrind
          (needs valgrind), against xtask/baseline/instructions.json: fails when one grew
          more than 10 %; --update rewrites the baseline (`ci` runs the check)
  release [--allow-dirty] [--out DIR]  release build of vitals-server and vitals, packed as
          vitals-<version>-<target>.tar.gz with README, licences and deploy/, plus SHA256SUMS
          (default DIR: target/dist)
  screenshot  docs/images/dashboard.png from a real run: the release server, 40 s of
          traffic, headless Chromium (needs chromium and chromium-driver)
  dashboard-budget  the dashboard's budgets: page weight, history server time with 900
          rows, RSS with a dashboard open, /health throughput beside a stream (needs wrk)
";

/// `cargo xtask chaos`: the chaos tests and the hardening suite of vitals-server, one after
/// the other, printing what each phase did and what held.
fn chaos() -> Result<()> {
    cargo(
        &[
            "test",
            "-p",
            "vitals-server",
            "--test",
            "chaos_cache",
            "--test",
            "chaos_server",
            "--test",
            "hardening",
            "--",
            "--nocapture",
            "--test-threads",
            "1",
        ],
        &[],
    )
}

/// Runs `cargo` with `args` from the workspace root, failing on a non-zero exit.
pub(crate) fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

pub(crate) fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

/// Where cargo puts build outputs (`CARGO_TARGET_DIR`, relative to the workspace root, else
/// `target/` there).
pub(crate) fn target_dir() -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// The trimmed standard output of `program args…`, or "unknown" when it cannot run.
pub(crate) fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The address in a server's `listening on http://ADDR` line, if this is that line (text
/// logs end the address at a space, JSON logs at a quote).
pub(crate) fn listening_address(line: &str) -> Option<String> {
    let rest = line.split("listening on http://").nth(1)?;
    Some(
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "[]:.".contains(*c))
            .collect(),
    )
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB.
pub(crate) fn proc_status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status (process gone?)"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}
