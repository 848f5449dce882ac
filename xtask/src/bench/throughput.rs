//! End-to-end `/hello` throughput under wrk: one `vitals-bench serve` process per mode,
//! loaded in turns, round after round, with each process's memory read from /proc.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};

use super::client::Connection;
use super::process::Server;
use super::wrk::{Load, Run, Wrk};

/// The modes, the baseline first.
pub const MODES: [&str; 4] = ["bare", "vitals", "axum-prometheus", "opentelemetry"];

/// One mode's figures.
pub struct Mode {
    /// `bare`, `vitals`, `axum-prometheus` or `opentelemetry`.
    pub name: String,
    /// One wrk run per round.
    pub runs: Vec<Run>,
    /// VmRSS after start, before any request, KiB.
    pub idle_kib: u64,
    /// Largest VmRSS sampled while loaded, KiB.
    pub loaded_kib: u64,
    /// VmHWM at the end, KiB.
    pub hwm_kib: u64,
    /// Whether `/metrics` counted the `/hello` requests afterwards (None: bare).
    pub recorded: Option<bool>,
}

/// Runs the phase: `rounds` rounds of `load` per mode after a `warmup` load each.
pub fn run(bench: &Path, wrk: &Wrk, warmup: Load, load: Load, rounds: u32) -> Result<Vec<Mode>> {
    eprintln!(
        "bench: /hello under wrk {}, {rounds} round(s) per mode",
        load.flags()
    );
    let mut servers = Vec::new();
    for name in MODES {
        let mut cmd = Command::new(bench);
        cmd.args(["serve", "--mode", name, "--listen", "127.0.0.1:0"]);
        servers.push((
            name,
            Server::start(cmd, &format!("vitals-bench serve --mode {name}"))?,
        ));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut modes = Vec::new();
    for (name, server) in &servers {
        modes.push(Mode {
            name: (*name).to_owned(),
            runs: Vec::new(),
            idle_kib: server.rss_kib()?,
            loaded_kib: 0,
            hwm_kib: 0,
            recorded: None,
        });
    }
    for (_, server) in &servers {
        wrk.run(&server.url("/hello"), warmup)?;
    }
    for _ in 0..rounds {
        for ((_, server), mode) in servers.iter().zip(&mut modes) {
            let (run, peak) = server.peak_rss_during(|| wrk.run(&server.url("/hello"), load))?;
            ensure!(
                run.errors == 0 && run.non2xx == 0,
                "{}: wrk saw {} socket errors and {} error responses",
                mode.name,
                run.errors,
                run.non2xx
            );
            mode.runs.push(run);
            mode.loaded_kib = mode.loaded_kib.max(peak);
        }
    }
    for ((name, server), mode) in servers.iter().zip(&mut modes) {
        mode.hwm_kib = server.hwm_kib()?;
        if *name != "bare" {
            let answer = Connection::open(server.addr)?
                .get("/metrics")
                .with_context(|| format!("GET /metrics of {name}"))?;
            let text = String::from_utf8_lossy(&answer.body);
            mode.recorded = Some(answer.status == 200 && text.contains("/hello"));
        }
    }
    Ok(modes)
}
