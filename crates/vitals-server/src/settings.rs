//! Server settings: each one a flag, an environment variable and a key of an optional TOML
//! file, resolved as flag > environment > file > default, then validated.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use vitals_pool::PoolSizing;

/// Command-line arguments of `vitals-server`. Every setting is optional here: what is not
/// given falls through to the config file, then to the default.
#[derive(Debug, Default, Parser)]
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
vitals-server --config vitals.toml --print-config"
)]
pub struct Args {
    /// TOML file with settings; flags and environment variables override its keys.
    #[arg(long, env = "VITALS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8000].
    #[arg(long, env = "VITALS_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// PostgreSQL (postgres://…) or SQLite (sqlite://…) URL; unset: an SQLite file in --data-dir.
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Redis URL (redis://host:port[/db]); unset: an in-process cache.
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,
    /// Folder for the embedded database, created if missing [default: ./data].
    #[arg(long, env = "VITALS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Requests slower than this many milliseconds are logged at WARN [default: 3000].
    #[arg(long, env = "VITALS_SLOW_REQUEST_MS", value_name = "MS")]
    pub slow_request_ms: Option<u64>,
    /// Connections the pool keeps open [default: CPU cores].
    #[arg(long, env = "VITALS_POOL_MIN", value_name = "N")]
    pub pool_min: Option<u32>,
    /// Connections the pool never exceeds [default: 2 × CPU cores + 5].
    #[arg(long, env = "VITALS_POOL_MAX", value_name = "N")]
    pub pool_max: Option<u32>,
    /// Longest wait for a pool connection before the request fails [default: 3000].
    #[arg(long, env = "VITALS_ACQUIRE_TIMEOUT_MS", value_name = "MS")]
    pub acquire_timeout_ms: Option<u64>,
    /// How often the system sampler reads CPU, memory and disk, at least 200 [default: 1000].
    #[arg(long, env = "VITALS_SAMPLE_INTERVAL_MS", value_name = "MS")]
    pub sample_interval_ms: Option<u64>,
    /// Deadline of every request; past it the answer is 504 [default: 10000].
    #[arg(long, env = "VITALS_REQUEST_TIMEOUT_MS", value_name = "MS")]
    pub request_timeout_ms: Option<u64>,
    /// Simulated think time of the built-in agent, to imitate a slow model [default: 0].
    #[arg(long, env = "VITALS_AGENT_LATENCY_MS", value_name = "MS")]
    pub agent_latency_ms: Option<u64>,
    /// Bound of the in-process cache in MiB of keys and values [default: 64].
    #[arg(long, env = "VITALS_CACHE_CAPACITY_MB", value_name = "MIB")]
    pub cache_capacity_mb: Option<u64>,
    /// When set, the metrics endpoints require `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = "VITALS_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// File holding the metrics token (surrounding whitespace ignored); preferred over
    /// --metrics-token, whose value other users can see in the process list.
    #[arg(long, env = "VITALS_METRICS_TOKEN_FILE", value_name = "PATH")]
    pub metrics_token_file: Option<PathBuf>,
    /// Time a client gets to send a request's line and headers (for a new connection, from
    /// its start; on a kept-alive one, from the request's first byte), and a request body
    /// to arrive, before the connection is closed or the request answered 408 [default: 5000].
    #[arg(long, env = "VITALS_HEADER_READ_TIMEOUT_MS", value_name = "MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Time a kept-alive connection may wait silently for its next request [default: 60000].
    #[arg(long, env = "VITALS_IDLE_TIMEOUT_MS", value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Connections served at once; past it a new connection is answered 503 at once
    /// [default: 10000, less where the open-file limit serves fewer].
    #[arg(long, env = "VITALS_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u32>,
    /// On SIGTERM or Ctrl-C, time open connections get to finish before they are closed and
    /// the process exits 0 [default: 10000].
    #[arg(long, env = "VITALS_SHUTDOWN_TIMEOUT_MS", value_name = "MS")]
    pub shutdown_timeout_ms: Option<u64>,
    /// Requests per second the metrics endpoints accept together, past which they answer 429;
    /// 0 turns the limit off [default: 0].
    #[arg(long, env = "VITALS_METRICS_RATE_LIMIT", value_name = "PER_SECOND")]
    pub metrics_rate_limit: Option<u32>,
    /// Prefix of Prometheus metric names [default: health_agent].
    #[arg(long, env = "VITALS_METRICS_NAMESPACE", value_name = "NAME")]
    pub metrics_namespace: Option<String>,
    /// Serve the live dashboard (GET /dashboard) and its history, stream and alerts
    /// endpoints [default: true].
    #[arg(long, env = "VITALS_DASHBOARD", value_name = "BOOL", action = clap::ArgAction::Set)]
    pub dashboard: Option<bool>,
    /// Minutes of history the dashboard keeps, 1 to 1440 [default: 15].
    #[arg(long, env = "VITALS_HISTORY_MINUTES", value_name = "MINUTES")]
    pub history_minutes: Option<u64>,
    /// Dashboard streams (GET /api/v1/metrics/stream) open at once; one more is answered 429
    /// [default: 16].
    #[arg(long, env = "VITALS_MAX_STREAMS", value_name = "N")]
    pub max_streams: Option<u32>,
    /// Log line format [default: text].
    #[arg(long, env = "VITALS_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, as in RUST_LOG (e.g. `info`, `debug`, `vitals_server=debug`) [default: info].
    #[arg(long, env = "VITALS_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    // --- Profiling and export (docs/export.md) ---
    /// Serve CPU profiles at GET /debug/pprof/profile (protected by the metrics token)
    /// [default: false].
    #[arg(long, env = "VITALS_PPROF", value_name = "true|false", action = clap::ArgAction::Set)]
    pub pprof: Option<bool>,
    /// Time between pushes of the OTLP and EMF exporters, at least 100 [default: 10000].
    #[arg(long, env = "VITALS_EXPORT_INTERVAL_MS", value_name = "MS")]
    pub export_interval_ms: Option<u64>,
    /// Write CloudWatch Embedded Metric Format lines to `stdout` or to this file (appended);
    /// unset: no EMF lines.
    #[arg(long, env = "VITALS_EMF_OUTPUT", value_name = "stdout|PATH")]
    pub emf_output: Option<String>,
    /// CloudWatch namespace of the EMF lines [default: HealthAgent].
    #[arg(long, env = "VITALS_EMF_NAMESPACE", value_name = "NAME")]
    pub emf_namespace: Option<String>,
    /// Push every series over OTLP/HTTP (protobuf) to this collector URL, e.g.
    /// http://127.0.0.1:4318/v1/metrics, every --export-interval-ms; unset: no push.
    #[arg(
        long,
        env = "VITALS_OTLP_ENDPOINT",
        value_name = "URL",
        hide_env_values = true
    )]
    pub otlp_endpoint: Option<String>,
    // --- end of profiling and export ---
    /// Print the resolved settings as TOML (token hidden) and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The keys a `--config` TOML file may set (same names as the flags, with underscores).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    redis_url: Option<String>,
    data_dir: Option<PathBuf>,
    slow_request_ms: Option<u64>,
    pool_min: Option<u32>,
    pool_max: Option<u32>,
    acquire_timeout_ms: Option<u64>,
    sample_interval_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    agent_latency_ms: Option<u64>,
    cache_capacity_mb: Option<u64>,
    metrics_token: Option<String>,
    metrics_token_file: Option<PathBuf>,
    header_read_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    max_connections: Option<u32>,
    shutdown_timeout_ms: Option<u64>,
    metrics_rate_limit: Option<u32>,
    metrics_namespace: Option<String>,
    dashboard: Option<bool>,
    history_minutes: Option<u64>,
    max_streams: Option<u32>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    // Profiling and export.
    pprof: Option<bool>,
    export_interval_ms: Option<u64>,
    emf_output: Option<String>,
    emf_namespace: Option<String>,
    otlp_endpoint: Option<String>,
}

/// Settings after merging and validation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// External database; `None` for the embedded SQLite file.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "redact_password"
    )]
    pub database_url: Option<String>,
    /// External Redis; `None` for the in-process cache.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "redact_password"
    )]
    pub redis_url: Option<String>,
    /// Folder of the embedded database.
    pub data_dir: PathBuf,
    /// Slow-request threshold in milliseconds.
    pub slow_request_ms: u64,
    /// Pool minimum.
    pub pool_min: u32,
    /// Pool maximum.
    pub pool_max: u32,
    /// Pool acquire timeout in milliseconds.
    pub acquire_timeout_ms: u64,
    /// System sampling interval in milliseconds.
    pub sample_interval_ms: u64,
    /// Request deadline in milliseconds.
    pub request_timeout_ms: u64,
    /// Think time of the built-in agent in milliseconds.
    pub agent_latency_ms: u64,
    /// In-process cache bound in MiB.
    pub cache_capacity_mb: u64,
    /// Bearer token for the metrics endpoints.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "redact")]
    pub metrics_token: Option<String>,
    /// File the token was read from, when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token_file: Option<PathBuf>,
    /// Header-read (and request-body) timeout in milliseconds.
    pub header_read_timeout_ms: u64,
    /// Keep-alive idle timeout in milliseconds.
    pub idle_timeout_ms: u64,
    /// Connections served at once.
    pub max_connections: u32,
    /// Graceful-shutdown deadline in milliseconds.
    pub shutdown_timeout_ms: u64,
    /// Requests per second allowed on the metrics endpoints (0: no limit).
    pub metrics_rate_limit: u32,
    /// Prometheus metric name prefix.
    pub metrics_namespace: String,
    /// Whether the dashboard and its live endpoints are served.
    pub dashboard: bool,
    /// Minutes of dashboard history.
    pub history_minutes: u64,
    /// Dashboard streams open at once.
    pub max_streams: u32,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log: String,
    // Profiling and export.
    /// Whether GET /debug/pprof/profile is served.
    pub pprof: bool,
    /// Time between OTLP / EMF pushes in milliseconds.
    pub export_interval_ms: u64,
    /// Where EMF lines go (`stdout` or a file); `None`: no EMF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emf_output: Option<String>,
    /// CloudWatch namespace of EMF lines.
    pub emf_namespace: String,
    /// OTLP/HTTP collector URL; `None`: no OTLP push. Shown with its password hidden.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "redact_password"
    )]
    pub otlp_endpoint: Option<String>,
}

fn redact_password<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => s.serialize_str(&crate::db::redact_url(url)),
        None => s.serialize_none(),
    }
}

fn redact<S: serde::Serializer>(token: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match token {
        Some(_) => s.serialize_str("<hidden>"),
        None => s.serialize_none(),
    }
}

/// A setting that cannot be used, with the fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {problem}")]
pub struct SettingsError {
    /// The flag naming the setting (`--pool-min`), or the config file.
    pub setting: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

fn invalid(setting: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        setting: setting.to_owned(),
        problem: problem.into(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        let sizing = PoolSizing::detect();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database_url: None,
            redis_url: None,
            data_dir: PathBuf::from("./data"),
            slow_request_ms: 3000,
            pool_min: sizing.min,
            pool_max: sizing.max,
            acquire_timeout_ms: 3000,
            sample_interval_ms: 1000,
            request_timeout_ms: 10_000,
            agent_latency_ms: 0,
            cache_capacity_mb: 64,
            metrics_token: None,
            metrics_token_file: None,
            header_read_timeout_ms: 5000,
            idle_timeout_ms: 60_000,
            max_connections: crate::open_files::connections_for(
                crate::open_files::reachable_limit(),
                sizing.max,
            ),
            shutdown_timeout_ms: 10_000,
            metrics_rate_limit: 0,
            metrics_namespace: "health_agent".to_owned(),
            dashboard: true,
            history_minutes: 15,
            max_streams: 16,
            log_format: LogFormat::Text,
            log: "info".to_owned(),
            pprof: false,
            export_interval_ms: 10_000,
            emf_output: None,
            emf_namespace: "HealthAgent".to_owned(),
            otlp_endpoint: None,
        }
    }
}

impl Settings {
    /// Merges `args` over the config file they name (if any) over the defaults, and
    /// validates the result.
    pub fn resolve(args: Args) -> Result<Self, SettingsError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let d = Self::default();
        let sizing = PoolSizing::detect()
            .with_overrides(
                args.pool_min.or(file.pool_min),
                args.pool_max.or(file.pool_max),
            )
            .map_err(|e| {
                let setting = match e {
                    vitals_pool::SizingError::ZeroMax => "--pool-max",
                    vitals_pool::SizingError::MinAboveMax { .. } => "--pool-min",
                };
                invalid(setting, e.to_string())
            })?;
        // flag > environment (both in `args`, merged by clap) > file > default.
        macro_rules! pick {
            ($field:ident) => {
                args.$field.or(file.$field).unwrap_or(d.$field)
            };
        }
        let settings = Self {
            listen: pick!(listen),
            database_url: args
                .database_url
                .or(file.database_url)
                .filter(|u| !u.is_empty()),
            redis_url: args.redis_url.or(file.redis_url).filter(|u| !u.is_empty()),
            data_dir: pick!(data_dir),
            slow_request_ms: pick!(slow_request_ms),
            pool_min: sizing.min,
            pool_max: sizing.max,
            acquire_timeout_ms: pick!(acquire_timeout_ms),
            sample_interval_ms: pick!(sample_interval_ms),
            request_timeout_ms: pick!(request_timeout_ms),
            agent_latency_ms: pick!(agent_latency_ms),
            cache_capacity_mb: pick!(cache_capacity_mb),
            metrics_token: None,
            metrics_token_file: args.metrics_token_file.or(file.metrics_token_file),
            header_read_timeout_ms: pick!(header_read_timeout_ms),
            idle_timeout_ms: pick!(idle_timeout_ms),
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .unwrap_or_else(|| {
                    crate::open_files::connections_for(
                        crate::open_files::reachable_limit(),
                        sizing.max,
                    )
                }),
            shutdown_timeout_ms: pick!(shutdown_timeout_ms),
            metrics_rate_limit: pick!(metrics_rate_limit),
            metrics_namespace: pick!(metrics_namespace),
            dashboard: pick!(dashboard),
            history_minutes: pick!(history_minutes),
            max_streams: pick!(max_streams),
            log_format: pick!(log_format),
            log: pick!(log),
            pprof: pick!(pprof),
            export_interval_ms: pick!(export_interval_ms),
            emf_output: args
                .emf_output
                .or(file.emf_output)
                .filter(|o| !o.is_empty()),
            emf_namespace: pick!(emf_namespace),
            otlp_endpoint: args
                .otlp_endpoint
                .or(file.otlp_endpoint)
                .filter(|u| !u.trim().is_empty()),
        };
        let mut settings = settings;
        let inline = args.metrics_token.or(file.metrics_token);
        settings.metrics_token = match (&settings.metrics_token_file, inline) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "--metrics-token-file",
                    "both a token and a token file are set; keep one (the file is safer)",
                ));
            }
            (Some(path), None) => Some(read_token_file(path)?),
            (None, inline) => inline,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if let Some(url) = &self.database_url {
            let scheme = url.split_once("://").map(|(s, _)| s);
            if !matches!(scheme, Some("postgres" | "postgresql" | "sqlite")) {
                return Err(invalid(
                    "--database-url",
                    "expected a postgres://… or sqlite://… URL, or leave it unset for the embedded database",
                ));
            }
        }
        if let Some(url) = &self.redis_url {
            let scheme = url.split_once("://").map(|(s, _)| s);
            if !matches!(scheme, Some("redis" | "rediss")) {
                return Err(invalid(
                    "--redis-url",
                    "expected a redis://host:port URL, or leave it unset for the in-process cache",
                ));
            }
        }
        let min_sample = u64::try_from(vitals_system::MIN_INTERVAL.as_millis()).unwrap_or(200);
        if self.sample_interval_ms < min_sample {
            return Err(invalid(
                "--sample-interval-ms",
                format!(
                    "{} is too short: CPU use needs at least {min_sample} ms between readings; use {min_sample} or more",
                    self.sample_interval_ms
                ),
            ));
        }
        if !(1..=1440).contains(&self.history_minutes) {
            return Err(invalid(
                "--history-minutes",
                format!(
                    "{} is out of range; use 1 to 1440 minutes (or --dashboard false to keep no history)",
                    self.history_minutes
                ),
            ));
        }
        if self.acquire_timeout_ms == 0 {
            return Err(invalid(
                "--acquire-timeout-ms",
                "0 would fail every request; use a positive number of milliseconds (e.g. 3000)",
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err(invalid(
                "--request-timeout-ms",
                "0 would fail every request; use a positive number of milliseconds (e.g. 10000)",
            ));
        }
        if self.cache_capacity_mb == 0 {
            return Err(invalid(
                "--cache-capacity-mb",
                "0 would cache nothing; use at least 1",
            ));
        }
        let token_setting = if self.metrics_token_file.is_some() {
            "--metrics-token-file"
        } else {
            "--metrics-token"
        };
        if self
            .metrics_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(invalid(
                token_setting,
                "an empty token protects nothing; unset it or give a long random string",
            ));
        }
        if self
            .metrics_token
            .as_deref()
            .is_some_and(|t| t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(invalid(
                token_setting,
                "the token contains spaces or control characters, which an Authorization header cannot carry intact; use letters, digits and punctuation only",
            ));
        }
        for (setting, value, example) in [
            (
                "--header-read-timeout-ms",
                self.header_read_timeout_ms,
                5000,
            ),
            ("--idle-timeout-ms", self.idle_timeout_ms, 60_000),
            ("--shutdown-timeout-ms", self.shutdown_timeout_ms, 10_000),
        ] {
            if value == 0 {
                return Err(invalid(
                    setting,
                    format!(
                        "0 would close every connection at once; use a positive number of milliseconds (e.g. {example})"
                    ),
                ));
            }
        }
        if self.max_streams == 0 {
            return Err(invalid(
                "--max-streams",
                "0 would refuse every dashboard stream; use at least 1 (e.g. 16), or --dashboard false",
            ));
        }
        if self.max_connections == 0 {
            return Err(invalid(
                "--max-connections",
                "0 would refuse every client; use at least 1 (e.g. 10000)",
            ));
        }
        if !vitals_core::catalogue::is_valid_namespace(&self.metrics_namespace) {
            return Err(invalid(
                "--metrics-namespace",
                format!(
                    "{:?} is not a Prometheus name prefix; use letters, digits and underscores, not starting with a digit",
                    self.metrics_namespace
                ),
            ));
        }
        if self.export_interval_ms < 100 {
            return Err(invalid(
                "--export-interval-ms",
                format!(
                    "{} ms would flood the receiver; use 100 or more (e.g. 10000)",
                    self.export_interval_ms
                ),
            ));
        }
        if self.emf_namespace.trim().is_empty() || self.emf_namespace.len() > 1024 {
            return Err(invalid(
                "--emf-namespace",
                "a CloudWatch namespace is 1 to 1024 characters; e.g. HealthAgent",
            ));
        }
        if let Some(url) = &self.otlp_endpoint
            && let Err(e) = url.parse::<vitals_axum::export::otlp::Endpoint>()
        {
            return Err(invalid("--otlp-endpoint", e.to_string()));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(invalid(
                "--log",
                format!(
                    "{:?} is not a log filter ({e}); try info or debug",
                    self.log
                ),
            ));
        }
        Ok(())
    }

    /// The deadline of every request.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// How long the database may spend on one statement, or wait inside an open transaction,
    /// before it gives up and rolls the transaction back: half the request deadline, so that
    /// it gives up before the caller is told anything.
    pub fn database_timeout(&self) -> Duration {
        (self.request_timeout() / 2).max(Duration::from_millis(1))
    }

    /// The settings Vitals itself takes (namespace, slow threshold, token, rate limit,
    /// readiness timeout) as a builder; the caller adds the collectors. The rest of the
    /// settings belong to the demo service (agent, storage, cache size).
    pub fn vitals_builder(&self) -> vitals_axum::VitalsBuilder {
        let builder = vitals_axum::Vitals::builder()
            .namespace(self.metrics_namespace.clone())
            .slow_threshold(Duration::from_millis(self.slow_request_ms))
            .metrics_rate_limit(self.metrics_rate_limit)
            .dashboard(self.dashboard)
            .history(Duration::from_secs(self.history_minutes * 60))
            .max_streams(usize::try_from(self.max_streams).unwrap_or(usize::MAX))
            .sample_interval(Duration::from_millis(self.sample_interval_ms))
            .pprof(self.pprof)
            .check_timeout(
                Duration::from_millis(self.acquire_timeout_ms).min(Duration::from_secs(2)),
            );
        match &self.metrics_token {
            Some(token) => builder.metrics_token(token.clone()),
            None => builder,
        }
    }

    /// The resolved settings as TOML, with the token hidden.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}

fn read_token_file(path: &Path) -> Result<String, SettingsError> {
    let setting = "--metrics-token-file";
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(
            setting,
            format!(
                "cannot read {} ({e}); check the path and its permissions",
                path.display()
            ),
        )
    })?;
    Ok(text.trim().to_owned())
}

fn read_file(path: &Path) -> Result<FileSettings, SettingsError> {
    let setting = format!("--config {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(
            &setting,
            format!("cannot read the file ({e}); check the path"),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        let message = e.message().to_owned();
        let line = e
            .span()
            .map(|s| text[..s.start].matches('\n').count() + 1)
            .map_or(String::new(), |l| format!(" at line {l}"));
        invalid(
            &setting,
            format!("{message}{line}; fix the file or remove the key"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("vitals-server").chain(list.iter().copied()))
            .expect("arguments parse")
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = Settings::resolve(Args::default()).expect("defaults are valid");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(s.slow_request_ms, 3000);
        assert_eq!(s.sample_interval_ms, 1000);
        assert_eq!(s.metrics_namespace, "health_agent");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        let sizing = PoolSizing::detect();
        assert_eq!((s.pool_min, s.pool_max), (sizing.min, sizing.max));
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vitals.toml");
        std::fs::write(
            &path,
            "slow_request_ms = 10\npool_max = 4\nlog_format = \"json\"\n",
        )
        .expect("write config");
        let s = Settings::resolve(args(&[
            "--config",
            path.to_str().expect("utf-8 path"),
            "--slow-request-ms",
            "20",
        ]))
        .expect("valid");
        assert_eq!(s.slow_request_ms, 20, "flag wins over file");
        assert_eq!(s.pool_max, 4, "file wins over default");
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn unknown_file_keys_are_refused_with_their_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vitals.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nslow_ms = 5\n").expect("write config");
        let e = Settings::resolve(args(&["--config", path.to_str().expect("utf-8")]))
            .expect_err("unknown key");
        let text = e.to_string();
        assert!(
            text.contains("slow_ms") && text.contains("line 2"),
            "{text}"
        );
    }

    #[test]
    fn invalid_values_name_the_setting_and_the_fix() {
        for (list, setting) in [
            (vec!["--pool-min", "9", "--pool-max", "3"], "--pool-min"),
            (vec!["--pool-max", "0"], "--pool-max"),
            (vec!["--sample-interval-ms", "50"], "--sample-interval-ms"),
            (vec!["--database-url", "mysql://x"], "--database-url"),
            (vec!["--redis-url", "http://x"], "--redis-url"),
            (vec!["--metrics-namespace", "9bad"], "--metrics-namespace"),
            (vec!["--metrics-token", " "], "--metrics-token"),
            (vec!["--acquire-timeout-ms", "0"], "--acquire-timeout-ms"),
            (vec!["--log", "==="], "--log"),
            (vec!["--history-minutes", "0"], "--history-minutes"),
            (vec!["--history-minutes", "1441"], "--history-minutes"),
            (vec!["--max-streams", "0"], "--max-streams"),
            (vec!["--otlp-endpoint", "collector:4318"], "--otlp-endpoint"),
            (
                vec!["--otlp-endpoint", "https://collector:4318/v1/metrics"],
                "--otlp-endpoint",
            ),
            (
                vec!["--otlp-endpoint", "http:///v1/metrics"],
                "--otlp-endpoint",
            ),
        ] {
            let e = Settings::resolve(args(&list)).expect_err("invalid");
            assert_eq!(e.setting, setting, "{e}");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn dashboard_settings_take_a_value_and_default_on() {
        let d = Settings::resolve(args(&[])).expect("valid");
        assert!(d.dashboard);
        assert_eq!(d.history_minutes, 15);
        let off = Settings::resolve(args(&["--dashboard", "false", "--history-minutes", "5"]))
            .expect("valid");
        assert!(!off.dashboard);
        assert_eq!(off.history_minutes, 5);
        assert!(Args::try_parse_from(["vitals-server", "--dashboard", "maybe"]).is_err());
    }

    #[test]
    fn max_streams_defaults_to_16_and_reaches_the_builder() {
        assert_eq!(Settings::resolve(args(&[])).expect("valid").max_streams, 16);
        let s = Settings::resolve(args(&["--max-streams", "3"])).expect("valid");
        assert_eq!(s.max_streams, 3);
        assert!(s.to_toml().contains("max_streams = 3"));
    }

    #[test]
    fn pprof_takes_a_value_and_is_off_by_default() {
        assert!(!Settings::resolve(Args::default()).expect("valid").pprof);
        assert!(
            Settings::resolve(args(&["--pprof", "true"]))
                .expect("valid")
                .pprof
        );
        assert!(
            !Settings::resolve(args(&["--pprof", "false"]))
                .expect("valid")
                .pprof
        );
        assert!(Args::try_parse_from(["vitals-server", "--pprof", "maybe"]).is_err());
    }

    #[test]
    fn otlp_endpoint_resolves_and_its_password_never_prints() {
        assert_eq!(
            Settings::resolve(Args::default())
                .expect("valid")
                .otlp_endpoint,
            None
        );
        let s = Settings::resolve(args(&[
            "--otlp-endpoint",
            "http://otel:s3cret@127.0.0.1:4318/v1/metrics",
        ]))
        .expect("valid");
        assert_eq!(
            s.otlp_endpoint.as_deref(),
            Some("http://otel:s3cret@127.0.0.1:4318/v1/metrics")
        );
        let text = s.to_toml();
        assert!(
            text.contains("otlp_endpoint = \"http://otel:***@127.0.0.1:4318/v1/metrics\""),
            "{text}"
        );
        assert!(!text.contains("s3cret"));
        let e = Settings::resolve(args(&[
            "--otlp-endpoint",
            "https://otel:s3cret@collector:4318/v1/metrics",
        ]))
        .expect_err("https");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("https"), "{e}");
    }

    #[test]
    fn printed_config_hides_the_token() {
        let s = Settings::resolve(args(&["--metrics-token", "s3cret"])).expect("valid");
        let text = s.to_toml();
        assert!(text.contains("metrics_token = \"<hidden>\""), "{text}");
        assert!(!text.contains("s3cret"));
    }
}
