//! The checks of the resolved settings, and the one-line error that names the flag.

use super::fields::Settings;

/// A setting that cannot be used, with the fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {problem}")]
pub struct SettingsError {
    /// The flag naming the setting (`--pool-min`), or the config file.
    pub setting: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

pub(super) fn invalid(setting: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        setting: setting.to_owned(),
        problem: problem.into(),
    }
}

impl Settings {
    /// Every check of the settings, each failure naming its flag and the fix.
    pub(super) fn check(&self) -> Result<(), SettingsError> {
        self.check_dependencies()?;
        self.check_sampling()?;
        self.check_requests()?;
        self.check_token()?;
        self.check_connections()?;
        self.check_outputs()?;
        self.check_slos()?;
        Ok(())
    }

    /// The objectives: each usable, names unique, latency thresholds on an edge of the
    /// request histogram (the default latency buckets and the slow threshold).
    fn check_slos(&self) -> Result<(), SettingsError> {
        let edges =
            vitals_core::slo::default_edges(std::time::Duration::from_millis(self.slow_request_ms));
        vitals_core::slo::check_all(&self.slo, &edges)
            .map_err(|e| invalid("[[slo]] in --config", e.to_string()))
    }

    /// The database and Redis URLs name a backend the server speaks.
    fn check_dependencies(&self) -> Result<(), SettingsError> {
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
        Ok(())
    }

    /// The sampler and the dashboard's history.
    fn check_sampling(&self) -> Result<(), SettingsError> {
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
        Ok(())
    }

    /// What every request relies on: the pool's wait, the deadline, the cache.
    fn check_requests(&self) -> Result<(), SettingsError> {
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
        Ok(())
    }

    /// The metrics token, from the flag or from its file.
    fn check_token(&self) -> Result<(), SettingsError> {
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
        Ok(())
    }

    /// The accept loop's bounds and the dashboard streams.
    fn check_connections(&self) -> Result<(), SettingsError> {
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
        Ok(())
    }

    /// Metric names, exports and logs.
    fn check_outputs(&self) -> Result<(), SettingsError> {
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
        self.check_exports()?;
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

    /// The push exporters' endpoints and CA file: usable URLs, a readable CA.
    fn check_exports(&self) -> Result<(), SettingsError> {
        for (setting, url) in [
            ("--otlp-endpoint", &self.otlp_endpoint),
            ("--remote-write-url", &self.remote_write_url),
        ] {
            if let Some(url) = url
                && let Err(e) = url.parse::<vitals_export::Endpoint>()
            {
                return Err(invalid(setting, e.to_string()));
            }
        }
        if let Some(path) = &self.export_ca_file
            && let Err(e) = vitals_export::tls::CaCertificates::from_pem_file(path)
        {
            return Err(invalid("--export-ca-file", e.to_string()));
        }
        Ok(())
    }
}
