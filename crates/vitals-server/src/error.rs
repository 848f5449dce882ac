//! Why the server could not start.

use vitals_export::EndpointError;
use vitals_export::tls::TlsError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// An exporter could not start.
    #[error("cannot start the exporter of {setting}: {source}; check the setting")]
    Export {
        /// The setting naming the exporter.
        setting: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The OTLP endpoint is not a usable URL (the message never repeats it: it may hold a
    /// password).
    #[error("invalid setting --otlp-endpoint: {0}")]
    OtlpEndpoint(#[from] EndpointError),
    /// The remote-write URL is not usable (the message never repeats it).
    #[error("invalid setting --remote-write-url: {0}")]
    RemoteWriteUrl(EndpointError),
    /// The CA file of the export endpoints cannot be read.
    #[error("invalid setting --export-ca-file: {0}")]
    CaFile(#[from] TlsError),
    /// The database could not be opened.
    #[error(
        "cannot open the database at {target}: {source}; check --database-url and that the database is up"
    )]
    Database {
        /// Where (password hidden).
        target: String,
        /// What sqlx said.
        source: sqlx::Error,
    },
    /// The data folder could not be created.
    #[error("cannot create the data folder {path}: {source}; choose another --data-dir")]
    DataDir {
        /// The folder.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the database schema: {0}; check the database user may create tables")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The system sampler could not start.
    #[error("cannot start the system sampler: {0}")]
    Sampler(#[from] vitals_system::SamplerError),
    /// The Tokio runtime collector could not start.
    #[error("cannot start the runtime collector: {0}")]
    Runtime(#[from] vitals_runtime::RuntimeError),
    /// The cache could not be configured.
    #[error("cannot set up the cache: {0}; check --redis-url")]
    Cache(#[from] vitals_cache::CacheError),
    /// Vitals refused its settings.
    #[error("{0}")]
    Vitals(#[from] vitals_axum::BuildError),
    /// The listen address is unusable.
    #[error("cannot listen on {addr}: {source}; choose another --listen")]
    Listen {
        /// The address.
        addr: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl StartupError {
    pub(crate) fn database(target: &str, source: sqlx::Error) -> Self {
        Self::Database {
            target: target.to_owned(),
            source,
        }
    }
}
