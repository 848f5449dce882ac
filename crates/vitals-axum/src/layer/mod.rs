//! Tower middleware, one concern each, and the three of them in one pass.
//!
//! - [`RequestIdLayer`]: an id per request (`X-Request-ID`, [`RequestId::current`]).
//! - [`TimingLayer`]: `X-Response-Time` and `Server-Timing` on every response.
//! - [`MetricsLayer`]: request counts, durations, in-flight and slow requests into a
//!   `Vitals`, with the slow-request log line.
//! - [`VitalsLayer`]: the three in one service ([`Vitals::layer`](crate::Vitals::layer)): one
//!   pair of clock reads and one allocation for the three header values.
//! - [`TimeoutLayer`]: a deadline per request, answered 504 JSON.
//!
//! Panics are not caught here: put tower-http's `CatchPanicLayer::custom` with
//! [`panic_response`](crate::fallback::panic_response) inside `vitals.layer()` (as
//! `vitals-server` does) so a panicking handler still gets timed and answered with JSON.
#![doc = include_str!("../../docs/middleware.md")]

mod metrics;
mod parts;
mod request_id;
mod timeout;
mod timing;
mod trace_context;
mod vitals;

pub use crate::request_id::{RequestId, X_REQUEST_ID};
pub use metrics::{MetricsFuture, MetricsLayer, MetricsService};
pub use parts::RouteFrom;
pub use request_id::{RequestIdFuture, RequestIdLayer, RequestIdService};
pub use timeout::{Timeout, TimeoutFuture, TimeoutLayer};
pub use timing::{SERVER_TIMING, TimingFuture, TimingLayer, TimingService, X_RESPONSE_TIME};
pub use trace_context::{TRACEPARENT, TraceId};
pub use vitals::{VitalsFuture, VitalsLayer, VitalsService};
