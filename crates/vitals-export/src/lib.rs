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
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "emf")]
pub mod emf;
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
