//! `cargo xtask load <scenario>`: a load test that tells the truth, in one command.
//!
//! Without `--target` it builds and starts `vitals-server` itself (embedded default, or
//! PostgreSQL + Redis with `--database-url`/`--redis-url`), records the server with
//! `vitals monitor` into the run folder, drives virtual users against the Health Agent API,
//! checks that the server counted exactly the requests that were sent, and ends with a
//! report (markdown + JSON), the monitor's charts and a verdict on the targets.

mod calibrate;
pub(crate) mod charts;
mod drift;
pub(crate) mod engine;
mod open;
mod report;
mod scenario;
pub(crate) mod server;
pub(crate) mod stats;
mod timeline;
mod zipf;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;

pub use calibrate::run as calibrate;
use engine::Plan;
pub use scenario::Scenario;

/// Arguments of `cargo xtask load`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask load",
    about = "Run a load test against a Vitals server on loopback"
)]
pub struct LoadArgs {
    /// smoke (seconds, for CI), steady, spike, stress or soak.
    pub scenario: Scenario,
    /// A running server (loopback only), e.g. http://127.0.0.1:8000; unset: start one.
    #[arg(long)]
    pub target: Option<String>,
    /// Virtual users (connections) at the peak [default: per scenario].
    #[arg(long)]
    pub users: Option<u32>,
    /// Length, e.g. 30s, 10m [default: per scenario].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Open model: constant arrivals per second instead of users with think time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed model: mean think time between a user's requests, in ms.
    #[arg(long, default_value_t = 500)]
    pub think_ms: u64,
    /// Distinct user ids the virtual users pick from (Zipf-distributed).
    #[arg(long, default_value_t = 1_000)]
    pub user_ids: u32,
    /// Only GET this path (to calibrate the engine against wrk), instead of the API mix.
    #[arg(long)]
    pub path: Option<String>,
    /// Hard bound on requests sent [default: 2,000 per second of run].
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Folder for the report, CSV and charts [default: target/load/SCENARIO-UNIXTIME].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Server started by the run: PostgreSQL URL (default: embedded SQLite).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Server started by the run: Redis URL (default: in-process cache).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Report the targets without failing the run when they are missed.
    #[arg(long)]
    pub no_fail: bool,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; use e.g. 30s, 10m, 1h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit {unit:?}; use ms, s, m or h")),
    };
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!("{s:?} must be above 0 and at most a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a loopback target URL to its address, refusing anything else.
fn loopback_target(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .context("--target must be an http:// URL")?;
    let host_port = rest.split('/').next().unwrap_or(rest);
    let host_port = host_port.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = host_port.parse().with_context(|| {
        format!("--target {url}: give an IP and port, e.g. http://127.0.0.1:8000")
    })?;
    if !addr.ip().is_loopback() {
        bail!("--target {url} is not a loopback address; load tests only run against this machine");
    }
    Ok(addr)
}

/// Runs `cargo xtask load …`.
pub fn run(args: &[String]) -> Result<()> {
    let argv = std::iter::once("cargo xtask load".to_owned()).chain(args.iter().cloned());
    let args = match LoadArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            return Ok(());
        }
        Err(e) => bail!("{e}"),
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args))
}

async fn run_async(args: LoadArgs) -> Result<()> {
    let scenario = args.scenario;
    let users = args.users.unwrap_or(scenario.default_users()).max(1);
    let duration = args.duration.unwrap_or(scenario.default_duration());
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let out = args.out.clone().unwrap_or_else(|| {
        crate::workspace_root()
            .join("target/load")
            .join(format!("{}-{stamp}", scenario.name()))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let bin = server::build_release()?;

    let (mut server, addr) = match &args.target {
        Some(url) => (None, loopback_target(url)?),
        None => {
            let (process, addr) = server::start_server(
                &bin,
                &out,
                args.database_url.as_deref(),
                args.redis_url.as_deref(),
            )?;
            (Some(process), addr)
        }
    };
    let url = format!("http://{addr}");
    let probes = server::wait_ready(addr, Duration::from_secs(60)).await?;
    let rss_start = server.as_ref().and_then(|s| server::rss_mb(s.id()));
    let csv = out.join("metrics.csv");
    let mut monitor = server::start_monitor(&bin, &url, &csv, &out.join("monitor.log"))?;
    eprintln!(
        "load {}: {users} users, {}, {:?} against {url} (run folder {})",
        scenario.name(),
        args.rate.map_or_else(
            || format!("think {} ms", args.think_ms),
            |r| format!("{r} req/s open model")
        ),
        duration,
        out.display()
    );

    let plan = Plan {
        addr,
        scenario,
        users,
        duration,
        rate: args.rate,
        think: Duration::from_millis(args.think_ms),
        user_ids: args.user_ids.max(1),
        path: args.path.clone(),
        max_requests: args
            .max_requests
            .unwrap_or_else(|| 2_000 * duration.as_secs().max(1)),
        stop_on_knee: scenario == Scenario::Stress,
        server_pid: server.as_ref().map(server::Process::id),
        cancel: None,
    };
    let (stats, timeline) = engine::run(plan.clone(), !args.quiet).await;

    // Let the monitor take one more poll after the load, then stop it (it flushes on SIGINT).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    monitor.signal_and_wait("INT", Duration::from_secs(10))?;
    let rss_end = server.as_ref().and_then(|s| server::rss_mb(s.id()));
    let monitor_polls = report::answered_polls(&csv)?;

    let consistency = if server.is_some() {
        let (status, scrape) = server::get(addr, "/metrics").await?;
        if status != 200 {
            bail!("GET /metrics answered {status}; cannot check the counts");
        }
        Some(report::Consistency::new(
            &stats,
            probes,
            monitor_polls,
            server::requests_seen(&scrape),
        ))
    } else {
        None
    };
    let analysis = report::analyze(&bin, &csv, &out)?;
    if let Some(s) = server.as_mut() {
        s.signal_and_wait("TERM", Duration::from_secs(15))?;
    }

    let summary = report::Summary {
        scenario,
        plan: &plan,
        url: &url,
        stats: &stats,
        timeline: &timeline,
        consistency: consistency.as_ref(),
        analysis: &analysis,
        rss_start,
        rss_end,
    };
    let verdict = report::write(&summary, &out)?;
    eprintln!("{}", verdict.lines.join("\n"));
    eprintln!("report: {}", out.join("report.md").display());
    if let Some(c) = consistency.as_ref().filter(|c| !c.ok()) {
        bail!(
            "the server counted {} requests, the run accounts for {}",
            c.server_counted,
            c.expected()
        );
    }
    if !verdict.targets_pass && !args.no_fail {
        bail!("performance targets missed (see the report); pass --no-fail to only report");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn only_loopback_targets() {
        assert!(loopback_target("http://127.0.0.1:8000").is_ok());
        assert!(loopback_target("http://localhost:8000/").is_ok());
        assert!(loopback_target("http://[::1]:8000").is_ok());
        assert!(loopback_target("http://10.0.0.5:8000").is_err());
        assert!(loopback_target("https://127.0.0.1:8000").is_err());
    }
}
