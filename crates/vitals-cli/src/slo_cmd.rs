//! `vitals slo rules`: the Prometheus rules of the service-level objectives a server's config
//! file declares, the same text `vitals-server --print-slo-rules` prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use vitals_core::slo::{Objective, check_all, default_edges, rules_yaml};

use crate::http::UsageError;

/// Service-level objectives: write their Prometheus rules.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Rules(RulesArgs),
}

/// Print Prometheus recording rules and multiwindow, multi-burn-rate alerts for the `[[slo]]`
/// tables of a server config file.
///
/// For each objective: one recording rule per window (`slo:sli_error:ratio_rate5m`, 30m, 1h,
/// 6h, 3d: the share of bad answers), and three alerts: SLOFastBurn (14.4× over 1 h and
/// 5 min, page), SLOMediumBurn (6× over 6 h and 30 min, page) and SLOSlowBurn (1× over 3 days
/// and 6 h, ticket). Load the file with `rule_files` in prometheus.yml; check it with
/// `promtool check rules`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
vitals slo rules --config vitals.toml > slo-rules.yml\n  \
vitals slo rules --config vitals.toml --namespace shop -o /etc/prometheus/rules/slo.yml\n\n\
Exit status: 0 written, 1 the file cannot be read or written, 2 bad arguments or objectives.")]
struct RulesArgs {
    /// The server's TOML config file (vitals-server --config), with `[[slo]]` tables.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Prefix of the metric names [default: the file's metrics_namespace, else health_agent].
    #[arg(long, value_name = "NAME")]
    namespace: Option<String>,
    /// Write the rules to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// The namespace of `vitals-server` when its file names none.
const SERVER_NAMESPACE: &str = "health_agent";

/// The slow threshold of `vitals-server` when its file names none (an edge of its histogram).
const SERVER_SLOW_MS: u64 = 3000;

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let Command::Rules(args) = &args.command;
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let (namespace, objectives) = objectives(&args.config, &text, args.namespace.as_deref())?;
    let rules = rules_yaml(&namespace, &objectives);
    match &args.output {
        Some(path) => std::fs::write(path, rules)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{rules}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The namespace and the checked objectives of a config file's text.
fn objectives(
    path: &Path,
    text: &str,
    namespace: Option<&str>,
) -> Result<(String, Vec<Objective>), UsageError> {
    let shown = path.display();
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| UsageError(format!("{shown} is not valid TOML: {}", e.message())))?;
    let namespace = match namespace {
        Some(n) => n.to_owned(),
        None => match table.get("metrics_namespace") {
            Some(toml::Value::String(n)) => n.clone(),
            Some(_) => {
                return Err(UsageError(format!(
                    "{shown}: metrics_namespace is not a string"
                )));
            }
            None => SERVER_NAMESPACE.to_owned(),
        },
    };
    if !vitals_core::catalogue::is_valid_namespace(&namespace) {
        return Err(UsageError(format!(
            "namespace {namespace:?} is not a valid metric name prefix; use letters, digits and underscores"
        )));
    }
    let Some(slo) = table.get("slo") else {
        return Err(UsageError(format!(
            "{shown} declares no [[slo]] tables; add some (docs/slo.md), or print the server's \
             built-in objectives with `vitals-server --print-slo-rules`"
        )));
    };
    let objectives: Vec<Objective> = slo
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| UsageError(format!("{shown}: [[slo]]: {}", e.message())))?;
    let slow = match table.get("slow_request_ms") {
        Some(toml::Value::Integer(ms)) => u64::try_from(*ms).unwrap_or(SERVER_SLOW_MS),
        _ => SERVER_SLOW_MS,
    };
    check_all(&objectives, &default_edges(Duration::from_millis(slow)))
        .map_err(|e| UsageError(format!("{shown}: {e}")))?;
    Ok((namespace, objectives))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, namespace: Option<&str>) -> Result<(String, Vec<Objective>), String> {
        objectives(Path::new("vitals.toml"), text, namespace).map_err(|e| e.0)
    }

    #[test]
    fn objectives_namespace_and_thresholds_come_from_the_file() {
        let text = "metrics_namespace = \"shop\"\nslow_request_ms = 300\n\
                    [[slo]]\nname = \"a\"\nroute = \"/a\"\nkind = \"latency\"\ntarget_percent = 99\nthreshold_ms = 300\n";
        let (ns, list) = read(text, None).expect("valid");
        assert_eq!((ns.as_str(), list.len()), ("shop", 1));
        assert_eq!(read(text, Some("other")).expect("valid").0, "other");
        let without_slow = text.replace("slow_request_ms = 300\n", "");
        let e = read(&without_slow, None).expect_err("300 ms is no default edge");
        assert!(e.contains("not an edge"), "{e}");
        let e = read("listen = \"127.0.0.1:1\"\n", None).expect_err("no tables");
        assert!(e.contains("no [[slo]]"), "{e}");
        let e = read("[[slo]]\nname = \"a\"\n", None).expect_err("incomplete");
        assert!(e.contains("[[slo]]") && e.contains("route"), "{e}");
        assert!(read(text, Some("9x")).is_err());
    }
}
