#![doc = include_str!("../../../docs/embedding.md")]

mod builder;
mod error;
pub mod fallback;
pub mod handlers;
pub mod layer;
#[cfg(feature = "pprof")]
pub mod pprof;
mod request_id;
mod routes;
mod vitals;

/// The `metrics` facade Vitals records from: record your own metrics through this one
/// (`vitals_axum::metrics::counter!`), or depend on the same version of `metrics`, so your
/// series reach Vitals' recorder.
pub use metrics;

pub use builder::VitalsBuilder;
pub use error::ApiError;
pub use vitals::Vitals;
pub use vitals_core::slo::{Objective, SloKind};
pub use vitals_core::{Collector, Importance, Snapshot};
#[cfg(feature = "spans")]
pub use vitals_engine::spans;
pub use vitals_engine::{BuildError, Check, Engine, Readiness};
#[cfg(feature = "runtime")]
pub use vitals_runtime::RuntimeCollector;
#[cfg(feature = "system")]
pub use vitals_system::SystemSampler;

/// The code of docs/slo.md, compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/slo.md")]
pub struct SloDocs;
