//! End-to-end `/hello` throughput under wrk: one `vitals-bench serve` process per mode,
//! loaded in turns, round after round, with each process's memory read from /proc.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use super::client::Connection;
use super::process::Server;
use super::wrk::{Load, Run, Wrk};

/// The modes, the baseline first.
pub const MODES: [&str; 6] = [
    "bare",
    "noop",
    "vitals",
    "perf-only",
    "axum-prometheus",
    "opentelemetry",
];

/// What a stack's own metrics counted of the `/hello` requests wrk sent it.
#[derive(Clone, Copy, Debug)]
pub struct Recorded {
    /// `/hello` requests the stack counted (`GET /bench/recorded` after the load).
    pub counted: u64,
    /// Responses wrk read, warm-up included.
    pub answered: u64,
    /// Requests that may have been in flight when a wrk run stopped (its connections, per
    /// run): the server may answer and count them after wrk stopped reading.
    pub in_flight: u64,
}

impl Recorded {
    /// Whether every answered request was counted, and no more than could have been sent.
    pub fn complete(&self) -> bool {
        self.counted >= self.answered && self.counted <= self.answered + self.in_flight
    }
}

/// One mode's figures.
pub struct Mode {
    /// One of [`MODES`].
    pub name: String,
    /// One wrk run per round.
    pub runs: Vec<Run>,
    /// VmRSS after start, before any request, KiB.
    pub idle_kib: u64,
    /// Largest VmRSS sampled while loaded, KiB.
    pub loaded_kib: u64,
    /// VmHWM at the end, KiB.
    pub hwm_kib: u64,
    /// What its metrics counted after the load (None: the stacks that record nothing).
    pub recorded: Option<Recorded>,
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
    let mut answered = Vec::new();
    for (_, server) in &servers {
        answered.push(wrk.run(&server.url("/hello"), warmup)?.requests);
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
    let runs = u64::from(rounds) + 1;
    for (((name, server), mode), warm) in servers.iter().zip(&mut modes).zip(answered) {
        mode.hwm_kib = server.hwm_kib()?;
        let answer = Connection::open(server.addr)?
            .get("/bench/recorded")
            .with_context(|| format!("GET /bench/recorded of {name}"))?;
        let text = String::from_utf8_lossy(&answer.body);
        mode.recorded = match answer.status {
            // The stacks that record nothing have no such route.
            404 => None,
            200 => Some(Recorded {
                counted: text.trim().parse().with_context(|| {
                    format!("{name}: /bench/recorded answered {text:?}, not a count")
                })?,
                answered: warm + mode.runs.iter().map(|r| r.requests).sum::<u64>(),
                in_flight: u64::from(warmup.connections.max(load.connections)) * runs,
            }),
            status => bail!("{name}: /bench/recorded answered {status}: {text}"),
        };
    }
    Ok(modes)
}
