#![doc = include_str!("../docs/guide.md")]

mod builder;
mod error;
pub mod fallback;
pub mod handlers;
pub mod layer;
#[cfg(feature = "pprof")]
pub mod pprof;
mod request_id;
mod routes;
mod signal;
mod vitals;

/// The `metrics` facade Vitals records from: record your own metrics through this one
/// (`vitals_axum::metrics::counter!`), or depend on the same version of `metrics`, so your
/// series reach Vitals' recorder.
pub use metrics;

pub use builder::VitalsBuilder;
pub use error::ApiError;
pub use signal::shutdown_signal;
pub use vitals::Vitals;
/// Caches that count what they do: `MeteredCache` over Redis or an in-process store (the
/// `vitals-cache` crate; features `redis`, `memory`).
#[cfg(any(feature = "redis", feature = "memory"))]
pub use vitals_cache as cache;
pub use vitals_core::slo::{Objective, SloKind};
pub use vitals_core::{Collector, Importance, Snapshot};
#[cfg(feature = "spans")]
pub use vitals_engine::spans;
pub use vitals_engine::{BuildError, Check, Engine, Readiness};
/// sqlx pools that count what they do: `MeteredPool` (the `vitals-pool` crate; features
/// `postgres`, `sqlite`, `any`). `pool::sqlx` is the sqlx it was built with.
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "any"))]
pub use vitals_pool as pool;
#[cfg(feature = "runtime")]
pub use vitals_runtime::RuntimeCollector;
#[cfg(feature = "system")]
pub use vitals_system::SystemSampler;
