//! Push exporters: figures sent out every interval instead of scraped.
//!
//! - `emf`: CloudWatch Embedded Metric Format lines on stdout or in a file (feature `emf`).
//! - `otlp`: OTLP/HTTP protobuf pushes of every series to an OpenTelemetry Collector
//!   (feature `otlp`).
//!
//! Failures are counted in `<ns>_export_errors_total{exporter}` and never reach requests.
//! See docs/export.md, which follows here (and whose snippets run as doctests) when both
//! features are on.
#![cfg_attr(
    all(feature = "emf", feature = "otlp"),
    doc = "",
    doc = include_str!("../../../../docs/export.md")
)]

#[cfg(feature = "emf")]
pub mod emf;
#[cfg(feature = "otlp")]
pub mod otlp;

#[cfg(any(feature = "emf", feature = "otlp"))]
use std::sync::Arc;
#[cfg(any(feature = "emf", feature = "otlp"))]
use std::sync::atomic::AtomicU64;

#[cfg(any(feature = "emf", feature = "otlp"))]
use vitals_core::catalogue::EXPORT_ERRORS;

#[cfg(any(feature = "emf", feature = "otlp"))]
use crate::Vitals;

#[cfg(any(feature = "emf", feature = "otlp"))]
impl Vitals {
    /// The failure counter of `exporter` (`otlp`, `emf`), registered on first use.
    pub(crate) fn export_errors(&self, exporter: &'static str) -> Arc<AtomicU64> {
        let registry = &self.inner.registry;
        registry.own_counter(&registry.key(&EXPORT_ERRORS, &[("exporter", exporter.to_owned())]))
    }
}
