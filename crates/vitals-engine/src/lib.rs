//! The engine of Vitals, with no web framework in it.
//!
//! An [`Engine`] holds what an application's figures need, whatever serves them:
//!
//! - the collectors (machine, pools, caches, runtime: anything implementing
//!   [`Collector`]) and the [`Snapshot`] they fill on demand, never waiting on I/O;
//! - a `metrics` recorder ([`registry`]) where request metrics, acquire waits, span timings
//!   and the application's own `metrics::counter!`s live;
//! - one [`walk`](Engine::walk) over every series, which the Prometheus text
//!   ([`Engine::render_prometheus`]), OpenMetrics with exemplars
//!   ([`Engine::render_openmetrics`]) and every push exporter read;
//! - the request metrics a timing layer records into ([`RequestMetrics`]);
//! - readiness probes, run together under one timeout ([`Engine::readiness`]);
//! - the live side: a history ring and the alert rules evaluated on it ([`Live`]);
//! - one [`scheduler`] thread for all periodic work: collectors that sample, the live ring,
//!   exporters ([`Engine::every`]).
//!
//! Adapters put it on a framework: `vitals-axum` for axum (and any tower stack),
//! `vitals-export` pushes it to OTLP, CloudWatch EMF and Prometheus remote write. See
//! docs/architecture.md in the repository for how the parts fit.
//!
//! ```
//! use vitals_engine::Engine;
//!
//! let engine = Engine::builder().namespace("jobs").build()?;
//! let text = engine.render_prometheus();
//! assert!(text.contains("jobs_http_requests_in_flight 0"));
//! # Ok::<(), vitals_engine::BuildError>(())
//! ```

mod access;
mod builder;
mod engine;
mod history;
mod openmetrics;
mod prometheus;
mod readiness;
pub mod registry;
mod requests;
pub mod scheduler;
mod shutdown;
mod slo;
#[cfg(feature = "spans")]
pub mod spans;
pub mod text;
pub mod walk;

// The README's example compiles with the crate's tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub use access::Denied;
pub use builder::{BuildError, EngineBuilder};
pub use engine::Engine;
pub use history::Live;
pub use openmetrics::{OPENMETRICS_CONTENT_TYPE, accepts_openmetrics};
pub use readiness::{Check, Readiness};
pub use registry::DEFAULT_BUCKETS;
pub use requests::{
    Exemplar, ExemplarId, InFlight, MAX_EDGES, MAX_ID_BYTES, MAX_SERIES, OVERFLOW, OwnRequest,
    Recorded, RequestMetrics, RouteSeries, STEP, UNMATCHED_ROUTE, WINDOW,
};
pub use vitals_core::{Collector, Importance, ReadinessProbe, Snapshot};
