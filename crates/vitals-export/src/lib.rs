//! Push exporters for Vitals: figures sent out every interval instead of scraped.
//!
//! - [`emf`]: CloudWatch Embedded Metric Format lines on stdout or in a file (feature `emf`).
//! - [`otlp`]: OTLP/HTTP protobuf pushes of every series to an OpenTelemetry Collector
//!   (feature `otlp`).
//!
//! Each takes a [`vitals_engine::Engine`], runs on its scheduler (so the pushes of one moment
//! read the same snapshot as the dashboard's ring), walks the same series `/metrics` shows,
//! counts its failures in `<ns>_export_errors_total{exporter}` and never reaches requests.
//! Dropping an exporter stops it.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "emf")]
pub mod emf;
#[cfg(feature = "otlp")]
pub mod otlp;
