//! stub
use std::process::ExitCode;
/// Alerts.
#[derive(Debug, clap::Args)]
pub struct Args {}
pub fn run(_args: &Args, _t: Option<&str>) -> anyhow::Result<ExitCode> { Ok(ExitCode::SUCCESS) }
