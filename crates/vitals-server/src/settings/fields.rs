//! The [`Settings`] struct: every setting once, with its flag and environment variable
//! (clap), its key in the `--config` file (serde), its help, type and default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vitals_core::slo::Objective;
use vitals_pool::PoolSizing;

use crate::open_files;
use crate::redact::redact_url;
use crate::telemetry::LogFormat;

/// Every setting of `vitals-server`: a flag, an environment variable and a key of the
/// `--config` file (same name as the flag, with underscores).
#[derive(Clone, Debug, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "VITALS_LISTEN", value_name = "ADDR", default_value_t = SocketAddr::from(([127, 0, 0, 1], 8000)))]
    pub listen: SocketAddr,
    /// PostgreSQL (postgres://…) or SQLite (sqlite://…) URL; unset: an SQLite file in --data-dir.
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Redis URL (redis://host:port[/db]); unset: an in-process cache.
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Folder for the embedded database, created if missing.
    #[arg(
        long,
        env = "VITALS_DATA_DIR",
        value_name = "DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
    /// Requests slower than this many milliseconds are logged at WARN.
    #[arg(
        long,
        env = "VITALS_SLOW_REQUEST_MS",
        value_name = "MS",
        default_value_t = 3000
    )]
    pub slow_request_ms: u64,
    /// Connections the pool keeps open [default: CPU cores].
    #[arg(long, env = "VITALS_POOL_MIN", value_name = "N", default_value_t = PoolSizing::detect().min, hide_default_value = true)]
    pub pool_min: u32,
    /// Connections the pool never exceeds [default: 2 × CPU cores + 5].
    #[arg(long, env = "VITALS_POOL_MAX", value_name = "N", default_value_t = PoolSizing::detect().max, hide_default_value = true)]
    pub pool_max: u32,
    /// Longest wait for a pool connection before the request fails.
    #[arg(
        long,
        env = "VITALS_ACQUIRE_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 3000
    )]
    pub acquire_timeout_ms: u64,
    /// How often the system sampler reads CPU, memory and disk, at least 200.
    #[arg(
        long,
        env = "VITALS_SAMPLE_INTERVAL_MS",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub sample_interval_ms: u64,
    /// Deadline of every request; past it the answer is 504.
    #[arg(
        long,
        env = "VITALS_REQUEST_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub request_timeout_ms: u64,
    /// Simulated think time of the built-in agent, to imitate a slow model.
    #[arg(
        long,
        env = "VITALS_AGENT_LATENCY_MS",
        value_name = "MS",
        default_value_t = 0
    )]
    pub agent_latency_ms: u64,
    /// Bound of the in-process cache in MiB of keys and values.
    #[arg(
        long,
        env = "VITALS_CACHE_CAPACITY_MB",
        value_name = "MIB",
        default_value_t = 64
    )]
    pub cache_capacity_mb: u64,
    /// When set, the metrics endpoints require `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = "VITALS_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,
    /// File holding the metrics token (surrounding whitespace ignored); preferred over
    /// --metrics-token, whose value other users can see in the process list.
    #[arg(long, env = "VITALS_METRICS_TOKEN_FILE", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token_file: Option<PathBuf>,
    /// Time a client gets to send a request's line and headers (for a new connection, from
    /// its start; on a kept-alive one, from the request's first byte), and a request body
    /// to arrive, before the connection is closed or the request answered 408.
    #[arg(
        long,
        env = "VITALS_HEADER_READ_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 5000
    )]
    pub header_read_timeout_ms: u64,
    /// Time a kept-alive connection may wait silently for its next request.
    #[arg(
        long,
        env = "VITALS_IDLE_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 60_000
    )]
    pub idle_timeout_ms: u64,
    /// Connections served at once; past it a new connection is answered 503 at once
    /// [default: 10000, less where the open-file limit serves fewer].
    #[arg(long, env = "VITALS_MAX_CONNECTIONS", value_name = "N", default_value_t = open_files::default_cap(PoolSizing::detect().max), hide_default_value = true)]
    pub max_connections: u32,
    /// On SIGTERM or Ctrl-C, time open connections get to finish before they are closed and
    /// the process exits 0.
    #[arg(
        long,
        env = "VITALS_SHUTDOWN_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub shutdown_timeout_ms: u64,
    /// Requests per second the metrics endpoints accept together, past which they answer 429;
    /// 0 turns the limit off.
    #[arg(
        long,
        env = "VITALS_METRICS_RATE_LIMIT",
        value_name = "PER_SECOND",
        default_value_t = 0
    )]
    pub metrics_rate_limit: u32,
    /// Prefix of Prometheus metric names.
    #[arg(
        long,
        env = "VITALS_METRICS_NAMESPACE",
        value_name = "NAME",
        default_value = "health_agent"
    )]
    pub metrics_namespace: String,
    /// Serve the live dashboard (GET /dashboard) and its history, stream and alerts
    /// endpoints.
    #[arg(long, env = "VITALS_DASHBOARD", value_name = "BOOL", action = clap::ArgAction::Set, default_value_t = true)]
    pub dashboard: bool,
    /// Minutes of history the dashboard keeps, 1 to 1440.
    #[arg(
        long,
        env = "VITALS_HISTORY_MINUTES",
        value_name = "MINUTES",
        default_value_t = 15
    )]
    pub history_minutes: u64,
    /// Dashboard streams (GET /api/v1/metrics/stream) open at once; one more is answered 429.
    #[arg(
        long,
        env = "VITALS_MAX_STREAMS",
        value_name = "N",
        default_value_t = 16
    )]
    pub max_streams: u32,
    /// Log line format.
    #[arg(long, env = "VITALS_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, as in RUST_LOG (e.g. `info`, `debug`, `vitals_server=debug`).
    #[arg(
        long,
        env = "VITALS_LOG",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log: String,
    // --- Profiling and export (docs/export.md) ---
    /// Serve CPU profiles at GET /debug/pprof/profile (protected by the metrics token).
    #[arg(long, env = "VITALS_PPROF", value_name = "true|false", action = clap::ArgAction::Set, default_value_t = false)]
    pub pprof: bool,
    /// Time between pushes of the OTLP, remote-write and EMF exporters, at least 100.
    #[arg(
        long,
        env = "VITALS_EXPORT_INTERVAL_MS",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub export_interval_ms: u64,
    /// Write CloudWatch Embedded Metric Format lines to `stdout` or to this file (appended);
    /// unset: no EMF lines.
    #[arg(long, env = "VITALS_EMF_OUTPUT", value_name = "stdout|PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emf_output: Option<String>,
    /// CloudWatch namespace of the EMF lines.
    #[arg(
        long,
        env = "VITALS_EMF_NAMESPACE",
        value_name = "NAME",
        default_value = "HealthAgent"
    )]
    pub emf_namespace: String,
    /// Push every series over OTLP/HTTP (protobuf) to this collector URL, e.g.
    /// http://127.0.0.1:4318/v1/metrics, every --export-interval-ms; unset: no push.
    #[arg(
        long,
        env = "VITALS_OTLP_ENDPOINT",
        value_name = "URL",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Compress the OTLP bodies with gzip (`Content-Encoding: gzip`).
    #[arg(long, env = "VITALS_OTLP_GZIP", value_name = "true|false", action = clap::ArgAction::Set, default_value_t = true)]
    pub otlp_gzip: bool,
    /// Push every series as Prometheus remote write 1.0 (protobuf + snappy) to this URL, e.g.
    /// http://127.0.0.1:9090/api/v1/write, every --export-interval-ms; unset: no push.
    #[arg(
        long,
        env = "VITALS_REMOTE_WRITE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_write_url: Option<String>,
    /// The `job` label of every remote-written series.
    #[arg(
        long,
        env = "VITALS_REMOTE_WRITE_JOB",
        value_name = "NAME",
        default_value = "health-agent"
    )]
    pub remote_write_job: String,
    /// The `instance` label of every remote-written series [default: HOSTNAME:PID]; give a
    /// stable one (e.g. host:port) to keep the same series across restarts.
    #[arg(long, env = "VITALS_REMOTE_WRITE_INSTANCE", value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_write_instance: Option<String>,
    /// PEM file of the certificate authorities that https:// export endpoints (OTLP, remote
    /// write) must be signed by, instead of the system's store.
    #[arg(long, env = "VITALS_EXPORT_CA_FILE", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_ca_file: Option<PathBuf>,
    // --- end of profiling and export ---
    /// Service-level objectives: `[[slo]]` tables of the --config file (no flag or
    /// environment variable). By default, 99.9 % of chats answered without a server error
    /// and 99 % of history reads within 250 ms; `slo = []` declares none. See docs/slo.md.
    #[arg(skip = default_objectives())]
    pub slo: Vec<Objective>,
}

/// The reference service's objectives when its file declares none.
pub fn default_objectives() -> Vec<Objective> {
    vec![
        Objective::availability("chat-availability", "/api/v1/chat", 99.9).method("POST"),
        Objective::latency(
            "history-latency",
            "/api/v1/users/{user_id}/history",
            99.0,
            Duration::from_millis(250),
        )
        .method("GET"),
    ]
}

impl Settings {
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
    /// readiness timeout, objectives) as a builder; the caller adds the collectors. The rest of the
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
        let builder = self
            .slo
            .iter()
            .fold(builder, |b, objective| b.slo(objective.clone()));
        match &self.metrics_token {
            Some(token) => builder.metrics_token(token.clone()),
            None => builder,
        }
    }

    /// The Prometheus recording and burn-rate alert rules of the objectives, as YAML
    /// (`--print-slo-rules`).
    pub fn slo_rules(&self) -> String {
        vitals_core::slo::rules_yaml(&self.metrics_namespace, &self.slo)
    }

    /// The resolved settings as TOML, with the token hidden and the credentials of every URL
    /// masked ([`redact_url`]).
    pub fn to_toml(&self) -> String {
        let shown = Self {
            database_url: self.database_url.as_deref().map(redact_url),
            redis_url: self.redis_url.as_deref().map(redact_url),
            otlp_endpoint: self.otlp_endpoint.as_deref().map(redact_url),
            remote_write_url: self.remote_write_url.as_deref().map(redact_url),
            metrics_token: self.metrics_token.as_ref().map(|_| "<hidden>".to_owned()),
            ..self.clone()
        };
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}
