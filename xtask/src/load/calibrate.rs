//! `cargo xtask load-calibrate`: how fast is the load engine next to wrk?
//!
//! Starts the release server (embedded default) on loopback, or uses `--target`, and runs
//! wrk and the engine on `GET /health` with the same connections for the same time, in both
//! orders (wrk then engine, engine then wrk) for each round, so a machine that gets busier
//! or quieter during the measurement does not favour one tool. Beside the rates it gives each
//! tool's CPU time per request (user + system), which depends far less on what else the
//! machine is doing than the rate does.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;

use super::engine::{self, Plan};
use super::scenario::Scenario;
use super::server;

/// Arguments of `cargo xtask load-calibrate`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask load-calibrate",
    about = "Compare the load engine's rate on GET /health with wrk's, both orders"
)]
struct Args {
    /// Connections, for both tools.
    #[arg(long, default_value_t = 50)]
    connections: u32,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds; each runs wrk then the engine, then the engine then wrk.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    wrk_threads: u32,
    /// A running server (loopback) instead of starting one.
    #[arg(long)]
    target: Option<String>,
}

/// One measurement.
struct Measure {
    requests_per_second: f64,
    cpu_seconds: f64,
    requests: f64,
}

impl Measure {
    fn cpu_us_per_request(&self) -> f64 {
        if self.requests > 0.0 {
            self.cpu_seconds / self.requests * 1e6
        } else {
            0.0
        }
    }
}

/// Runs `cargo xtask load-calibrate …`.
pub fn run(args: &[String]) -> Result<()> {
    let argv = std::iter::once("cargo xtask load-calibrate".to_owned()).chain(args.iter().cloned());
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            return Ok(());
        }
        Err(e) => bail!("{e}"),
    };
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed (apt-get install -y wrk)");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(calibrate(args))
}

async fn calibrate(args: Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut process, addr) = match &args.target {
        Some(url) => (None, super::loopback_target(url)?),
        None => {
            let bin = server::build_release()?;
            let (p, addr) = server::start_server(&bin, dir.path(), None, None)?;
            (Some(p), addr)
        }
    };
    server::wait_ready(addr, Duration::from_secs(60)).await?;
    eprintln!(
        "calibration: GET http://{addr}/health, {} connections, {} s per measurement, {} round(s)",
        args.connections, args.seconds, args.rounds
    );
    println!(
        "| round | order | wrk req/s | engine req/s | ratio | wrk CPU µs/req | engine CPU µs/req |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        for wrk_first in [true, false] {
            let (w, e) = if wrk_first {
                let w = wrk(&args, addr)?;
                (w, engine_run(&args, addr).await?)
            } else {
                let e = engine_run(&args, addr).await?;
                (wrk(&args, addr)?, e)
            };
            let ratio = e.requests_per_second / w.requests_per_second.max(1.0);
            ratios.push(ratio);
            println!(
                "| {round} | {} | {:.0} | {:.0} | {ratio:.2} | {:.1} | {:.1} |",
                if wrk_first {
                    "wrk, engine"
                } else {
                    "engine, wrk"
                },
                w.requests_per_second,
                e.requests_per_second,
                w.cpu_us_per_request(),
                e.cpu_us_per_request(),
            );
        }
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "\nengine / wrk: median {median:.2}, lowest {:.2}, highest {:.2}",
        ratios[0],
        ratios[ratios.len() - 1]
    );
    if let Some(p) = process.as_mut() {
        p.signal_and_wait("TERM", Duration::from_secs(15))?;
    }
    Ok(())
}

async fn engine_run(args: &Args, addr: SocketAddr) -> Result<Measure> {
    let plan = Plan {
        addr,
        scenario: Scenario::Smoke,
        users: args.connections,
        duration: Duration::from_secs(args.seconds),
        rate: None,
        think: Duration::ZERO,
        user_ids: 1,
        path: Some("/health".into()),
        max_requests: u64::MAX,
        stop_on_knee: false,
        server_pid: None,
        cancel: None,
    };
    let cpu_before = server::cpu_seconds(std::process::id()).context("own CPU time")?;
    let started = Instant::now();
    let (stats, _) = engine::run(plan, false).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server::cpu_seconds(std::process::id()).context("own CPU time")? - cpu_before;
    if stats.errors() > 0 {
        bail!(
            "the engine saw {} errors; the measurement is void",
            stats.errors()
        );
    }
    let requests = stats.total() as f64;
    Ok(Measure {
        requests_per_second: requests / elapsed,
        cpu_seconds: cpu,
        requests,
    })
}

fn wrk(args: &Args, addr: SocketAddr) -> Result<Measure> {
    // bash's `times` prints the CPU time of its finished children on its last line.
    let script = format!(
        "wrk -t{} -c{} -d{}s http://{addr}/health && times",
        args.wrk_threads, args.connections, args.seconds
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .output()
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&text).with_context(|| format!("unreadable wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<Measure> {
    let rate: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let requests: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let children = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut cpu = 0.0;
    for part in children.split_whitespace() {
        let (m, s) = part.strip_suffix('s')?.split_once('m')?;
        cpu += m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?;
    }
    Some(Measure {
        requests_per_second: rate,
        cpu_seconds: cpu,
        requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_and_times() {
        let text = "Running 10s test @ http://127.0.0.1:8120/health\n  2 threads and 50 connections\n  \
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     2.03ms    3.86ms  66.81ms   91.63%\n  \
            458484 requests in 10.00s, 61.21MB read\nRequests/sec:  45848.34\nTransfer/sec:      6.12MB\n\
            0m0.001s 0m0.002s\n0m3.250s 1m0.750s\n";
        let m = parse_wrk(text).expect("parsed");
        assert!((m.requests_per_second - 45_848.34).abs() < 1e-6);
        assert!((m.requests - 458_484.0).abs() < 1e-6);
        assert!((m.cpu_seconds - 64.0).abs() < 1e-9);
    }
}
