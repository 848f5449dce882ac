//! `vitals profile`: fetches a CPU profile from `GET /debug/pprof/profile` into a file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::http::{Client, DEFAULT_HOST, Fetched, Host, UsageError};

/// Fetch a CPU profile of the server (GET /debug/pprof/profile) and write it to a file.
///
/// The server samples itself for --seconds, then answers with a flame graph (svg, open it in a
/// browser) or a pprof protobuf (pb, for `go tool pprof` or speedscope). The server must run
/// with --pprof true; it takes one profile at a time.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
vitals profile --seconds 10 -o cpu.svg\n  \
vitals profile --host http://10.0.0.5:8000 --seconds 30 --format pb -o cpu.pb\n\n\
Exit status: 0 written, 1 server unreachable, refused (profiling off, another profile running,\n\
bad token) or file not writable, 2 bad arguments (a bad --host included).")]
pub struct Args {
    /// Server base URL.
    #[arg(long, default_value = DEFAULT_HOST, value_name = "URL")]
    host: String,
    /// How long the server samples itself, 1 to 60.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60), value_name = "N")]
    seconds: u64,
    /// File to write the profile to (replaced if it exists).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// What the server sends: a flame graph or a pprof protobuf.
    #[arg(long, value_enum, default_value = "svg", value_name = "FORMAT")]
    format: Format,
}

/// What the profile is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A flame graph SVG.
    Svg,
    /// A pprof protobuf.
    Pb,
}

/// Runs the command.
pub fn run(args: &Args, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let host = Host::parse(&args.host)?;
    if args.output.as_os_str().is_empty() {
        return Err(
            UsageError("-o/--output is empty; name a file such as cpu.svg".to_owned()).into(),
        );
    }
    let format = match args.format {
        Format::Svg => "svg",
        Format::Pb => "pb",
    };
    // The server answers after sampling, then symbolising: allow for both.
    let client = Client::new(Duration::from_secs(args.seconds + 30), token);
    let path = format!(
        "/debug/pprof/profile?seconds={}&format={format}",
        args.seconds
    );
    eprintln!("profiling {host} for {} s…", args.seconds);
    let body = match client.get_bytes(&host, &path) {
        Fetched::Ok(body) => body,
        Fetched::Http {
            status: 404,
            message,
        } => {
            bail!("{message}: profiling is off on this server (start it with --pprof true)")
        }
        Fetched::Http { message, .. } => bail!("{message}"),
        Fetched::Unreachable(message) => bail!("cannot reach {host}: {message}"),
    };
    std::fs::write(&args.output, &body)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "wrote {} ({} bytes, {format})",
        args.output.display(),
        body.len()
    );
    Ok(ExitCode::SUCCESS)
}
