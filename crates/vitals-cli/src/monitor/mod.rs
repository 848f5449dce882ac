//! `vitals monitor`: poll one or more servers on a fixed schedule, print the console table and
//! append every poll to the CSV (columns in docs/cli.md).

pub mod schedule;
mod sink;
mod table;

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::http::{Client, DEFAULT_HOST, Host, Poll};
use crate::record::Row;
use crate::signal::Stop;
use crate::style::Style;

pub use sink::CsvSink;
use table::Table;

/// Poll servers on a steady schedule; print a table and write a CSV.
///
/// Every host is polled at the same instants (start + n × interval), concurrently; a slow or
/// unreachable host gives a row with status 0 (or its HTTP status) and the run goes on. The CSV
/// is flushed after every row. Ctrl-C stops cleanly and prints a one-line summary on stderr.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
vitals monitor --interval 5 --output metrics.csv\n  \
vitals monitor --host http://10.0.0.5:8000 --host http://10.0.0.6:8000 --interval 2 --duration 10m --output run.csv\n  \
vitals monitor --count 3\n\n\
CSV columns: timestamp,host,status,api_ms,cpu_percent,memory_percent,memory_mb,db_pool_active,\n\
db_pool_size,db_pool_utilization_percent,redis_hit_rate, then cache_hit_rate_recent,\n\
process_rss_mb,process_cpu_percent,memory_available_mb,cache_hits,cache_misses,cache_errors,\n\
http_slow_requests_total,server_timestamp,error.\n\n\
Exit status: 0 when the run ends (--count, --duration or Ctrl-C), 1 when the CSV cannot be written,\n\
2 bad arguments.")]
pub struct Args {
    /// Server base URL; repeat to poll several servers side by side.
    #[arg(long = "host", value_name = "URL", default_value = DEFAULT_HOST)]
    hosts: Vec<String>,
    /// Time between polls (seconds, or e.g. 500ms, 1m).
    #[arg(long, default_value = "5", value_parser = crate::duration::parse, value_name = "SECS")]
    interval: Duration,
    /// Write every poll to this CSV file (created or truncated).
    #[arg(long, short, value_name = "FILE.csv")]
    output: Option<std::path::PathBuf>,
    /// Stop after this many polls of each host (at least 1).
    #[arg(long, value_name = "N", conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop after this long (e.g. 90s, 10m, 1h).
    #[arg(long, value_parser = crate::duration::parse, value_name = "DURATION")]
    duration: Option<Duration>,
    /// Per-request timeout [default: 80% of the interval, at most 10s].
    #[arg(long, value_parser = crate::duration::parse, value_name = "SECS")]
    timeout: Option<Duration>,
}

/// Counts for the closing line.
#[derive(Debug, Default)]
struct Totals {
    ticks: u64,
    answered: u64,
    failed: u64,
    skipped: u64,
}

/// Runs the command.
pub fn run(args: &Args, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let hosts = args
        .hosts
        .iter()
        .map(|h| Host::parse(h))
        .collect::<Result<Vec<_>, _>>()?;
    let timeout = args
        .timeout
        .unwrap_or_else(|| args.interval.mul_f64(0.8).min(Duration::from_secs(10)));
    let mut sink = match &args.output {
        Some(path) => Some(CsvSink::create(path)?),
        None => None,
    };
    let stop = Stop::install()?;
    let client = Client::new(timeout, token);
    let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    let table = Table::new(&names, Style::stdout());
    println!("{}", table.header());

    let start = Instant::now();
    let mut totals = Totals::default();
    let mut tick = 0u64;
    loop {
        if args.count.is_some_and(|n| totals.ticks >= n) {
            break;
        }
        let due = schedule::offset(tick, args.interval);
        if args.duration.is_some_and(|d| due >= d) {
            break;
        }
        if !stop.sleep_until(start + due) {
            break;
        }
        let polls = poll_all(&client, &hosts, &stop);
        for (host, poll) in hosts.iter().zip(polls) {
            let Some(poll) = poll else { continue };
            let row = Row::from_poll(host, &poll);
            if row.error.is_some() {
                totals.failed += 1;
            } else {
                totals.answered += 1;
            }
            println!("{}", table.row(&row));
            if let Some(sink) = sink.as_mut() {
                sink.write(&row)?;
            }
        }
        totals.ticks += 1;
        if stop.requested() {
            break;
        }
        let next = schedule::next_tick(tick, start.elapsed(), args.interval);
        totals.skipped += next - tick - 1;
        tick = next;
    }
    if let Some(sink) = sink.as_mut() {
        sink.flush()?;
    }
    eprintln!(
        "{}",
        closing_line(
            &totals,
            hosts.len(),
            start.elapsed(),
            args,
            stop.requested()
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// Polls every host at once; waits for all of them unless a stop is requested (late answers
/// are then dropped). Results come back in host order.
fn poll_all(client: &Client, hosts: &[Host], stop: &Stop) -> Vec<Option<Poll>> {
    let (tx, rx) = mpsc::channel();
    for (i, host) in hosts.iter().enumerate() {
        let tx = tx.clone();
        let client = client.clone();
        let host = host.clone();
        std::thread::spawn(move || {
            let _ = tx.send((i, client.poll(&host)));
        });
    }
    drop(tx);
    let mut polls: Vec<Option<Poll>> = vec![None; hosts.len()];
    let mut pending = hosts.len();
    while pending > 0 {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok((i, poll)) => {
                polls[i] = Some(poll);
                pending -= 1;
            }
            Err(mpsc::RecvTimeoutError::Timeout) if stop.requested() => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    polls
}

fn closing_line(
    t: &Totals,
    hosts: usize,
    elapsed: Duration,
    args: &Args,
    interrupted: bool,
) -> String {
    let how = if interrupted { "stopped" } else { "done" };
    let skipped = if t.skipped > 0 {
        format!(", {} late ticks skipped", t.skipped)
    } else {
        String::new()
    };
    let csv = args
        .output
        .as_ref()
        .map(|p| format!("; CSV: {}", p.display()))
        .unwrap_or_default();
    format!(
        "vitals monitor {how}: {} polls of {hosts} host(s) in {:.1}s, {} answered, {} failed{skipped}{csv}",
        t.ticks,
        elapsed.as_secs_f64(),
        t.answered,
        t.failed
    )
}
