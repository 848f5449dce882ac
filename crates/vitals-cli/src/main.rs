//! `vitals`: the operator's command line for a Vitals server.
//!
//! This release only describes the commands; they arrive with the CLI issue
//! (snapshot, monitor, analyze, alerts). Until then, `curl -s URL/api/v1/metrics | jq .`
//! gives the same data as `vitals snapshot`.

use clap::{Parser, Subcommand};

/// Snapshot, monitor, analyze and alert on a Vitals server.
///
/// NOTE: this build is a placeholder; the commands below are not implemented yet and exit
/// with status 2. Use `curl -s http://127.0.0.1:8000/api/v1/metrics | jq .` meanwhile.
#[derive(Debug, Parser)]
#[command(name = "vitals", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// (not implemented yet) Print one snapshot of /api/v1/metrics.
    Snapshot,
    /// (not implemented yet) Poll servers and write a console table and a CSV.
    Monitor,
    /// (not implemented yet) Summarise a monitor CSV with charts and targets.
    Analyze,
    /// (not implemented yet) Evaluate the alert rules against live polls.
    Alerts,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => {
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            std::process::ExitCode::SUCCESS
        }
        Some(cmd) => {
            eprintln!(
                "vitals: `{}` is not implemented in this build yet; use curl on /api/v1/metrics meanwhile",
                format!("{cmd:?}").to_lowercase()
            );
            std::process::ExitCode::from(2)
        }
    }
}
