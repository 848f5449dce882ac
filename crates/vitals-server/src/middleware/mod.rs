//! Tower middleware of the server.
//!
//! - [`PerfLayer`]: times every request, sets `X-Response-Time` and `X-Request-ID`, logs slow
//!   requests at WARN and every request at DEBUG.
//! - [`RouteTagLayer`]: copies the matched route template onto the response so the
//!   outer [`PerfLayer`] can name the route without ever using the raw path.
//! - [`TimeoutLayer`]: a deadline per request, answered 504 JSON.

mod perf;
pub(crate) mod request_id;
mod route_tag;
mod timeout;

pub use perf::{Perf, PerfFuture, PerfLayer, UNMATCHED_ROUTE, X_RESPONSE_TIME};
pub use request_id::{RequestId, X_REQUEST_ID, is_valid_request_id};
pub use route_tag::{RouteTag, RouteTagFuture, RouteTagLayer};
pub use timeout::{Timeout, TimeoutFuture, TimeoutLayer};
