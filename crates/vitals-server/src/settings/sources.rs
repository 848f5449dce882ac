//! Where each setting comes from: flags and environment variables (clap, in [`Args`]), the
//! `--config` file (serde), the defaults; merged as flag > environment > file > default.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use vitals_pool::PoolSizing;

use super::check::{SettingsError, invalid};
use super::fields::Settings;
use crate::open_files;

/// What `vitals-server` takes on its command line: every setting, plus `--config` and
/// `--print-config`.
#[derive(Debug, Parser)]
#[command(
    name = "vitals-server",
    version,
    about = "Vitals: the Health Agent API with live performance metrics",
    long_about = "Serves the Health Agent API with GET /api/v1/metrics (JSON snapshot), \
GET /health and GET /health/ready, timing every request.\n\n\
Without --database-url and --redis-url it runs on an embedded SQLite file in --data-dir and \
an in-process cache, so it needs no other service.\n\n\
Each setting is a flag, an environment variable, or a key of the --config TOML file \
(flag > environment > file > default).",
    after_help = "Examples:\n  vitals-server\n  \
DATABASE_URL=postgres://127.0.0.1/test REDIS_URL=redis://127.0.0.1:6379 vitals-server\n  \
vitals-server --config vitals.toml --print-config\n  \
vitals-server --config vitals.toml --print-slo-rules > slo-rules.yml"
)]
struct CommandLine {
    /// TOML file with settings; flags and environment variables override its keys.
    #[arg(long, env = "VITALS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
    /// Print the resolved settings as TOML (token hidden) and exit.
    #[arg(long)]
    print_config: bool,
    /// Print the Prometheus recording rules and multiwindow burn-rate alerts of the
    /// service-level objectives ([[slo]] in --config) as YAML and exit.
    #[arg(long, conflicts_with = "print_config")]
    print_slo_rules: bool,
}

/// The command line as clap read it (flags, environment variables, built-in defaults) and
/// where each value came from; [`Settings::resolve`] puts the `--config` file under it.
#[derive(Debug)]
pub struct Args {
    line: CommandLine,
    matches: ArgMatches,
}

impl Args {
    /// Whether `--print-config` was given.
    pub fn print_config(&self) -> bool {
        self.line.print_config
    }

    /// Whether `--print-slo-rules` was given.
    pub fn print_slo_rules(&self) -> bool {
        self.line.print_slo_rules
    }

    /// The `--config` file, if one was named.
    pub fn config(&self) -> Option<&Path> {
        self.line.config.as_deref()
    }

    /// The settings as clap resolved them, without the file.
    fn into_settings(self) -> Settings {
        self.line.settings
    }

    /// The settings a flag or an environment variable gave (by key, e.g. `pool_max`).
    fn given(&self) -> BTreeSet<String> {
        self.matches
            .ids()
            .map(|id| id.as_str())
            .filter(|id| {
                matches!(
                    self.matches.value_source(id),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
            .map(str::to_owned)
            .collect()
    }
}

impl Default for Args {
    /// Nothing given: no flag, and no environment variable read.
    fn default() -> Self {
        let command = CommandLine::command().mut_args(|arg| arg.env(None::<&'static str>));
        command
            .try_get_matches_from(["vitals-server"])
            .and_then(|matches| Self::from_arg_matches(&matches))
            .unwrap_or_else(|e| panic!("the built-in defaults of the settings do not parse: {e}"))
    }
}

impl Default for Settings {
    /// The built-in defaults (no flag, no environment variable, no file).
    fn default() -> Self {
        Args::default().into_settings()
    }
}

impl CommandFactory for Args {
    fn command() -> clap::Command {
        CommandLine::command()
    }

    fn command_for_update() -> clap::Command {
        CommandLine::command_for_update()
    }
}

impl FromArgMatches for Args {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            line: CommandLine::from_arg_matches(matches)?,
            matches: matches.clone(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.line.update_from_arg_matches(matches)?;
        self.matches = matches.clone();
        Ok(())
    }
}

impl Parser for Args {}

impl Settings {
    /// Merges `args` (flags, environment variables) over the config file they name (if any)
    /// over the defaults, completes what depends on other settings (pool bounds, connection
    /// cap, token file) and checks the result.
    pub fn resolve(args: Args) -> Result<Self, SettingsError> {
        let file = match args.config() {
            Some(path) => read_file(path)?,
            None => toml::Table::new(),
        };
        let mut given = args.given();
        let mut merged =
            toml::Table::try_from(&args.line.settings).map_err(|_| too_large(&args, &given))?;
        for (key, value) in file {
            if !given.contains(&key) {
                merged.insert(key.clone(), value);
            }
            given.insert(key);
        }
        let settings: Self = merged.try_into().map_err(|e: toml::de::Error| {
            invalid("--config", format!("{}; fix the file", e.message()))
        })?;
        let settings = settings.complete(&given)?;
        settings.check()?;
        Ok(settings)
    }

    /// Fills in what depends on other settings; `given` names the settings a flag, an
    /// environment variable or the file set.
    fn complete(mut self, given: &BTreeSet<String>) -> Result<Self, SettingsError> {
        let explicit = |key: &str, value: u32| given.contains(key).then_some(value);
        let sizing = PoolSizing::detect()
            .with_overrides(
                explicit("pool_min", self.pool_min),
                explicit("pool_max", self.pool_max),
            )
            .map_err(|e| {
                let setting = match e {
                    vitals_pool::SizingError::ZeroMax => "--pool-max",
                    vitals_pool::SizingError::MinAboveMax { .. } => "--pool-min",
                };
                invalid(setting, e.to_string())
            })?;
        (self.pool_min, self.pool_max) = (sizing.min, sizing.max);
        if !given.contains("max_connections") {
            self.max_connections = open_files::default_cap(sizing.max);
        }
        // An empty value unsets.
        self.database_url = self.database_url.filter(|u| !u.is_empty());
        self.redis_url = self.redis_url.filter(|u| !u.is_empty());
        self.emf_output = self.emf_output.filter(|o| !o.is_empty());
        self.otlp_endpoint = self.otlp_endpoint.filter(|u| !u.trim().is_empty());
        self.remote_write_url = self.remote_write_url.filter(|u| !u.trim().is_empty());
        self.remote_write_instance = self.remote_write_instance.filter(|i| !i.is_empty());
        self.export_ca_file = self.export_ca_file.filter(|p| !p.as_os_str().is_empty());
        self.metrics_token = match (&self.metrics_token_file, self.metrics_token.take()) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "--metrics-token-file",
                    "both a token and a token file are set; keep one (the file is safer)",
                ));
            }
            (Some(path), None) => Some(read_token_file(path)?),
            (None, inline) => inline,
        };
        Ok(self)
    }
}

/// A number TOML cannot hold (above `i64::MAX`) given on the command line: the error names it.
fn too_large(args: &Args, given: &BTreeSet<String>) -> SettingsError {
    let flag = given
        .iter()
        .find(|id| {
            args.matches
                .get_raw(id)
                .into_iter()
                .flatten()
                .any(|v| v.to_str().and_then(|v| v.parse::<u64>().ok()) > Some(i64::MAX as u64))
        })
        .map_or_else(
            || "a setting".to_owned(),
            |id| format!("--{}", id.replace('_', "-")),
        );
    invalid(
        &flag,
        format!("the number is too large; use at most {}", i64::MAX),
    )
}

fn read_token_file(path: &Path) -> Result<String, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(
            "--metrics-token-file",
            format!(
                "cannot read {} ({e}); check the path and its permissions",
                path.display()
            ),
        )
    })?;
    Ok(text.trim().to_owned())
}

/// The keys of the `--config` file, checked against [`Settings`] (unknown keys, wrong types:
/// refused with their line).
fn read_file(path: &Path) -> Result<toml::Table, SettingsError> {
    let setting = format!("--config {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(
            &setting,
            format!("cannot read the file ({e}); check the path"),
        )
    })?;
    let at_line = |e: toml::de::Error| {
        let message = e.message().to_owned();
        let line = e
            .span()
            .map(|s| text[..s.start].matches('\n').count() + 1)
            .map_or(String::new(), |l| format!(" at line {l}"));
        invalid(
            &setting,
            format!("{message}{line}; fix the file or remove the key"),
        )
    };
    toml::from_str::<Settings>(&text).map_err(at_line)?;
    toml::from_str(&text).map_err(at_line)
}
