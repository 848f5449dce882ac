//! The real `vitals-server` (release build, embedded defaults, a temporary data folder):
//! `/api/v1/metrics` against the static `/health` (and `/metrics`), one request at a time and
//! under wrk, with the server's memory; then a connection flood ([`super::flood`]).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use super::client::Connection;
use super::process::Server;
use super::wrk::{Load, Run, Wrk};

/// The paths compared, the baseline first.
pub const PATHS: [&str; 3] = ["/health", "/api/v1/metrics", "/metrics"];

/// One path's figures.
pub struct PathFigures {
    /// The path.
    pub path: &'static str,
    /// `X-Response-Time` of each sequential request, ms.
    pub server_ms: Vec<f64>,
    /// Client round trip of each sequential request, ms.
    pub round_trip_ms: Vec<f64>,
    /// One wrk run per round.
    pub runs: Vec<Run>,
}

/// The phase's figures.
pub struct Endpoints {
    /// Per path.
    pub paths: Vec<PathFigures>,
    /// VmRSS once started and sampled once, before any load, KiB.
    pub idle_kib: u64,
    /// Largest VmRSS sampled under wrk, KiB.
    pub loaded_kib: u64,
    /// VmHWM after the wrk runs, before the flood, KiB.
    pub hwm_kib: u64,
    /// Memory through the connection flood that ends the phase.
    pub flood: super::flood::Flood,
}

/// The sizes of the phase.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Sequential requests per path before measuring.
    pub warmup: u32,
    /// Sequential requests measured per path.
    pub sequential: u32,
    /// wrk load per path and round.
    pub load: Load,
    /// Rounds (paths take turns).
    pub rounds: u32,
    /// The connection flood at the end.
    pub flood: super::flood::Plan,
}

/// Runs the phase against the `vitals-server` binary at `server`.
pub fn run(server: &Path, wrk: &Wrk, plan: Plan) -> Result<Endpoints> {
    eprintln!(
        "bench: vitals-server, {} sequential requests and wrk {} ×{} per path",
        plan.sequential,
        plan.load.flags(),
        plan.rounds
    );
    let data = tempfile::tempdir().context("cannot create a temporary data folder")?;
    let mut cmd = Command::new(server);
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "VITALS_CONFIG",
        "VITALS_LISTEN",
        "VITALS_DATA_DIR",
        "VITALS_METRICS_TOKEN",
        "VITALS_METRICS_RATE_LIMIT",
        "VITALS_LOG",
        "VITALS_LOG_FORMAT",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path());
    let server = Server::start(cmd, "vitals-server")?;
    // Let the system sampler take its first samples, as a server that has been up a while.
    std::thread::sleep(Duration::from_millis(1500));
    let idle_kib = server.rss_kib()?;

    let mut paths = Vec::new();
    let mut conn = Connection::open(server.addr)?;
    for path in PATHS {
        for _ in 0..plan.warmup {
            conn.get(path)?;
        }
        let mut server_ms = Vec::new();
        let mut round_trip_ms = Vec::new();
        for _ in 0..plan.sequential {
            let answer = conn.get(path)?;
            ensure!(
                answer.status == 200,
                "GET {path} answered {}",
                answer.status
            );
            let header = answer
                .header("x-response-time")
                .with_context(|| format!("GET {path}: no X-Response-Time header"))?;
            server_ms.push(parse_ms(header)?);
            round_trip_ms.push(answer.round_trip.as_secs_f64() * 1000.0);
        }
        paths.push(PathFigures {
            path,
            server_ms,
            round_trip_ms,
            runs: Vec::new(),
        });
    }
    drop(conn);

    let mut loaded_kib = 0;
    for _ in 0..plan.rounds {
        for p in &mut paths {
            let (run, peak) = server.peak_rss_during(|| wrk.run(&server.url(p.path), plan.load))?;
            ensure!(
                run.errors == 0 && run.non2xx == 0,
                "GET {}: wrk saw {} socket errors and {} error responses",
                p.path,
                run.errors,
                run.non2xx
            );
            p.runs.push(run);
            loaded_kib = loaded_kib.max(peak);
        }
    }
    let hwm_kib = server.hwm_kib()?;
    let flood = super::flood::run(&server, plan.flood)?;
    Ok(Endpoints {
        paths,
        idle_kib,
        loaded_kib,
        hwm_kib,
        flood,
    })
}

/// `12.34ms` → 12.34.
fn parse_ms(header: &str) -> Result<f64> {
    match header.strip_suffix("ms").map(str::parse) {
        Some(Ok(ms)) => Ok(ms),
        _ => bail!("X-Response-Time {header:?} is not like 12.34ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn response_time_header() {
        assert_eq!(parse_ms("0.05ms").expect("parses"), 0.05);
        assert!(parse_ms("5").is_err());
    }
}
