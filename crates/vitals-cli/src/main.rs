//! `vitals`: the operator's command line for a Vitals server.
//!
//! Six commands; the five that talk to a server share one HTTP client and one CSV model:
//! `snapshot` (one fetch of `/api/v1/metrics`), `monitor` (steady polling into a console table
//! and a CSV), `analyze` (summary, performance targets and PNG charts from that CSV),
//! `alerts` (the alert rules of `vitals_core::alerts`, with monitoring-plugin exit codes) and
//! `profile` (a CPU profile from `/debug/pprof/profile` into a file) and `slo rules` (the
//! Prometheus rules of the service-level objectives of a server's config file).

mod alerts;
mod analyze;
mod duration;
mod http;
mod json_path;
mod monitor;
mod profile_cmd;
mod record;
mod routes_table;
mod signal;
mod slo_cmd;
mod snapshot_cmd;
mod style;
mod text;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Snapshot, monitor, analyze and alert on a Vitals server.
///
/// Every command that talks to a server reads GET /api/v1/metrics on its --host. When the server
/// requires a token, pass it with --token or the VITALS_METRICS_TOKEN environment variable;
/// it is sent as `Authorization: Bearer <token>`.
#[derive(Debug, Parser)]
#[command(
    name = "vitals",
    version,
    propagate_version = true,
    after_help = "Examples:\n  \
vitals snapshot\n  \
vitals monitor --host http://127.0.0.1:8000 --interval 5 --output metrics.csv\n  \
vitals analyze metrics.csv --out charts/\n  \
vitals alerts --host http://127.0.0.1:8000\n  \
vitals profile --host http://127.0.0.1:8000 --seconds 10 -o cpu.svg\n  \
vitals slo rules --config vitals.toml > slo-rules.yml\n\n\
Colours are used only on a terminal, and never when NO_COLOR is set."
)]
struct Cli {
    /// Bearer token for the metrics endpoint.
    #[arg(
        long,
        global = true,
        env = "VITALS_METRICS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    Snapshot(snapshot_cmd::Args),
    Monitor(monitor::Args),
    Analyze(analyze::Args),
    Alerts(alerts::Args),
    Profile(profile_cmd::Args),
    Slo(slo_cmd::Args),
}

/// The first word that is not an option (or an option's value): the subcommand, if any.
fn subcommand_word() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--token" {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not failures. A usage error is 2, except for `alerts`,
            // where 2 means CRITICAL: there, as for any monitoring plugin, it is UNKNOWN (3).
            let code = if !e.use_stderr() {
                0
            } else if subcommand_word().as_deref() == Some("alerts") {
                3
            } else {
                2
            };
            return ExitCode::from(code);
        }
    };
    let token = cli.token.filter(|t| !t.is_empty());
    let is_alerts = matches!(cli.command, Cmd::Alerts(_));
    let result = match cli.command {
        Cmd::Snapshot(args) => snapshot_cmd::run(&args, token.as_deref()),
        Cmd::Monitor(args) => monitor::run(&args, token.as_deref()),
        Cmd::Analyze(args) => analyze::run(&args),
        Cmd::Alerts(args) => alerts::run(&args, token.as_deref()),
        Cmd::Profile(args) => profile_cmd::run(&args, token.as_deref()),
        Cmd::Slo(args) => slo_cmd::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{} {e:#}", style::Style::stderr().error("error:"));
            // `alerts` answers like a monitoring plugin: anything that keeps it from judging
            // the rules (bad arguments included) is UNKNOWN. Elsewhere a bad argument is 2.
            if is_alerts {
                ExitCode::from(3)
            } else if e.downcast_ref::<http::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
