//! Tower middleware.
//!
//! - [`PerfLayer`]: times every request, sets `X-Response-Time`, `Server-Timing` and
//!   `X-Request-ID`, logs slow requests at WARN and every request at DEBUG, and (when made by
//!   [`Vitals::layer`](crate::Vitals::layer)) records the request metrics.
//! - [`TimeoutLayer`]: a deadline per request, answered 504 JSON.
//!
//! Panics are not caught here: put tower-http's `CatchPanicLayer::custom` with
//! [`panic_response`](crate::fallback::panic_response) inside the performance layer (as
//! `vitals-server` does) so a panicking handler still gets timed and answered with JSON.
#![doc = include_str!("../../../../docs/middleware.md")]

mod perf;

mod timeout;
mod trace_context;

pub use perf::{
    Perf, PerfFuture, PerfLayer, SERVER_TIMING, UNMATCHED_ROUTE, X_RESPONSE_TIME, escape_for_log,
};
pub use crate::request_id::{RequestId, X_REQUEST_ID, is_valid_request_id};
pub use timeout::{Timeout, TimeoutFuture, TimeoutLayer};
pub use trace_context::{TRACEPARENT, TraceId};
