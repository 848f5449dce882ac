//! `vitals analyze`: read a monitor CSV, summarise it per host, check the performance targets
//! and draw PNG charts.

mod charts;
pub mod csv;
mod report;
mod stats;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::style::Style;

/// Summarise a monitor CSV: averages, peaks, latency percentiles, memory drift, targets, charts.
///
/// Reports duration, CPU and memory (average / max), DB pool (average / peak active, average
/// utilization), cache hit rate, server process RSS and CPU, poll latency p50 / p95 / max
/// (nearest rank) and unreachable polls, per host, then checks the performance targets: API P95
/// < 3 s, DB pool utilization < 80%, cache hit rate > 70% (steady state), CPU < 70%, memory
/// < 80%. The steady-state hit rate is hits / reads over the second half of the run, from the
/// deltas of the cache_hits / cache_misses counters. Memory drift is the least-squares slope of
/// process_rss_mb over the second half: above 1 MB/min (with a fitted rise of at least 0.5 MB)
/// it says "drift".
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
vitals analyze metrics.csv\n  \
vitals analyze metrics.csv --out charts/\n  \
vitals analyze metrics.csv --format markdown > report.md\n  \
vitals analyze metrics.csv --format json | jq '.hosts[0].targets'\n\n\
Charts (with --out): cpu.png, memory.png, db_pool_utilization.png, cache_hit_rate.png\n\
(per poll interval, from the counter deltas), api_latency.png, process_rss.png; 1200×600 pixels.\n\n\
Exit status: 0 report printed, 1 unreadable or malformed CSV, non-finite or out-of-range numbers\n\
included (the message names line and column), 2 bad arguments.")]
pub struct Args {
    /// The CSV written by `vitals monitor --output`.
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
    /// Draw the PNG charts into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// How to print the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Aligned text.
    Text,
    /// One JSON document.
    Json,
    /// Markdown tables.
    Markdown,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}; check the path", args.file.display()))?;
    let name = args.file.display().to_string();
    let rows = csv::parse(&bytes).with_context(|| format!("{name} is not a monitor CSV"))?;
    let hosts = stats::summarise(&rows);
    let text = match args.format {
        Format::Text => report::text(&name, &hosts, Style::stdout()),
        Format::Json => report::json(&name, &hosts)?,
        Format::Markdown => report::markdown(&name, &hosts),
    };
    print!("{text}");
    if let Some(dir) = &args.out {
        for path in charts::draw_all(&rows, dir)? {
            eprintln!("chart: {}", path.display());
        }
    } else if args.format == Format::Text && std::io::stderr().is_terminal() {
        eprintln!("(add --out DIR to draw PNG charts)");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{csv, stats};

    const HEADER: &str = "timestamp,host,status,api_ms,cpu_percent,memory_percent,memory_mb,db_pool_active,db_pool_size,db_pool_utilization_percent,redis_hit_rate\n";

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            any::<f64>().prop_map(|v| v.to_string()),
            (0u32..1000).prop_map(|v| v.to_string()),
            "[a-z\" ,\n-]{0,6}",
            Just("NaN".to_owned()),
            Just("inf".to_owned()),
            Just("1e308".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(rows) = csv::parse(&bytes) {
                let summaries = stats::summarise(&rows);
                let _ = super::report::text("f", &summaries, crate::style::Style::plain());
            }
        }

        #[test]
        fn arbitrary_rows_never_panic(rows in proptest::collection::vec(proptest::collection::vec(cell(), 0..13), 0..8)) {
            let mut text = HEADER.to_owned();
            for r in rows {
                text.push_str(&r.join(","));
                text.push('\n');
            }
            if let Ok(rows) = csv::parse(text.as_bytes()) {
                let summaries = stats::summarise(&rows);
                prop_assert!(!summaries.is_empty());
                let _ = super::report::json("f", &summaries);
                let _ = super::report::text("f", &summaries, crate::style::Style::plain());
                let _ = super::report::markdown("f", &summaries);
            }
        }
    }
}
