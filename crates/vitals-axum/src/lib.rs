#![doc = include_str!("../../../docs/embedding.md")]

mod builder;
mod error;
pub mod export;
pub mod fallback;
mod http;
pub mod layer;
mod live;
#[cfg(feature = "pprof")]
pub mod pprof;
mod readiness;
mod registry;
mod routes;
#[cfg(feature = "spans")]
pub mod spans;
mod vitals;

pub use builder::{BuildError, VitalsBuilder};
pub use error::ApiError;
pub use http::{HttpMetrics, MAX_SERIES, OVERFLOW, duration_buckets};
pub use readiness::{Check, Readiness};
pub use registry::DEFAULT_BUCKETS;
pub use vitals::Vitals;
pub use vitals_core::{self as core, Collector, Importance, ReadinessProbe, Snapshot};
#[cfg(feature = "runtime")]
pub use vitals_runtime::RuntimeCollector;
#[cfg(feature = "system")]
pub use vitals_system::SystemSampler;
