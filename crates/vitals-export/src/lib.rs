//! Push exporters for Vitals: figures sent out every interval instead of scraped.
//!
//! - [`emf`]: CloudWatch Embedded Metric Format lines on stdout or in a file (feature `emf`).
//! - [`otlp`]: OTLP/HTTP protobuf pushes of every series to an OpenTelemetry Collector
//!   (feature `otlp`), gzip-compressed by default.
//! - [`remote_write`]: Prometheus remote write 1.0 (protobuf + snappy) of every series to
//!   Prometheus, VictoriaMetrics, Mimir or Thanos (feature `remote-write`).
//! - [`tls`]: `https://` endpoints for both (feature `tls`: rustls with the ring provider).
//!
//! Each takes a [`vitals_engine::Engine`], runs on its scheduler (so the pushes of one moment
//! read the same snapshot as the dashboard's ring), walks the same series `/metrics` shows,
//! counts its failures in `<ns>_export_errors_total{exporter}` and never reaches requests.
//! The two network exporters are two encoders in front of one push pipeline (a bounded
//! queue, a sender thread, an HTTP/1.1 client). Dropping an exporter stops it.

#[cfg(feature = "emf")]
pub mod emf;

// The README's example compiles with the crate's tests.
#[cfg(all(doctest, feature = "otlp"))]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "push")]
mod push;
#[cfg(feature = "remote-write")]
pub mod remote_write;

#[cfg(feature = "tls")]
pub use push::tls;
#[cfg(feature = "push")]
pub use push::{Endpoint, EndpointError, default_instance_id};

/// The service name an exporter reports unless told otherwise: `$OTEL_SERVICE_NAME` when set
/// (the OpenTelemetry convention), else `unknown_service:` and the executable's name, as the
/// OpenTelemetry SDKs do.
pub fn default_service_name() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| {
            let exe = std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "process".to_owned());
            format!("unknown_service:{exe}")
        })
}
