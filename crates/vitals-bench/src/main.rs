//! The measuring half of `cargo xtask bench`: the code that must link axum, the Vitals layer
//! and axum-prometheus, kept out of xtask so xtask stays light.
//!
//! ```text
//! vitals-bench oneshot [--warmup N] [--iters N] [--runs N] [--only MODE,…]
//! vitals-bench render  [--iters N]
//! vitals-bench json    [--iters N]
//! vitals-bench spans   [--warmup N] [--iters N] [--runs N]
//! vitals-bench serve   --mode MODE [--listen ADDR] [--max-seconds S]
//! vitals-bench repeat  --work render-default|render-thousand|json --times N [--out FILE]
//! ```
//!
//! MODE is one of bare, noop, vitals, perf-only, axum-prometheus, opentelemetry.
//!
//! `oneshot`, `render` and `json` print one whitespace-separated line per measurement on
//! stdout (`oneshot <mode> <run> <ns-per-request>`, then `recorded <mode> <count> <sent>`;
//! `render <case> <series> <iteration> <ns> <bytes>`; `json default <series> <iteration> <ns>
//! <bytes>`), which `cargo xtask bench` reads; `serve` prints `listening on http://ADDR` and
//! serves `/hello` until killed or until `--max-seconds` pass; `repeat` does one piece of
//! work N times and prints nothing, for an instruction counter (`--out` writes the last
//! render to FILE).

mod apps;
mod json;
mod oneshot;
mod recorded;
mod registries;
mod render;
mod repeat;
mod serve;
mod spans;

use anyhow::{Context, Result, bail};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vitals-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let flags = Flags::parse(args.collect())?;
    // Production logs at INFO: install the same filter, so the layers' DEBUG lines cost what
    // they cost in a real service (a level check), not what they cost with no subscriber.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
    match command.as_str() {
        "oneshot" => oneshot::run(&oneshot::Plan {
            warmup: flags.number("--warmup", 20_000)?,
            iters: flags.number("--iters", 200_000)?,
            runs: flags.number("--runs", 7)?,
            only: flags
                .get("--only")
                .map(|list| list.split(',').map(apps::Mode::parse).collect())
                .transpose()?
                .unwrap_or_default(),
        }),
        "render" => render::run(flags.number("--iters", 200)?),
        "json" => json::run(flags.number("--iters", 1_000)?),
        "repeat" => repeat::run(
            flags
                .get("--work")
                .with_context(|| format!("repeat needs --work: {}", repeat::WORK))?,
            flags.number("--times", 10)?,
            flags.get("--out"),
        ),
        "spans" => spans::run(&spans::Plan {
            warmup: flags.number("--warmup", 100_000)?,
            iters: flags.number("--iters", 1_000_000)?,
            runs: flags.number("--runs", 7)?,
        }),
        "serve" => serve::run(
            flags
                .get("--mode")
                .context("serve needs --mode, e.g. --mode vitals")?,
            flags.get("--listen").unwrap_or("127.0.0.1:0"),
            flags.number("--max-seconds", 900)?,
        ),
        other => {
            bail!("unknown command {other:?}: use oneshot, render, json, spans, serve or repeat")
        }
    }
}

/// `--name value` pairs.
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: Vec<String>) -> Result<Self> {
        let mut pairs = Vec::new();
        let mut it = args.into_iter();
        while let Some(name) = it.next() {
            if !name.starts_with("--") {
                bail!("unexpected argument {name:?}: flags are --name value");
            }
            let value = it.next().with_context(|| format!("{name} needs a value"))?;
            pairs.push((name, value));
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str, default: u64) -> Result<u64> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .with_context(|| format!("{name} takes a whole number, not {v:?}")),
        }
    }
}
