//! Tower middleware of the server.
//!
//! - [`PerfLayer`]: times every request, sets `X-Response-Time` and `X-Request-ID`, logs slow
//!   requests at WARN and every request at DEBUG.
//! - [`TimeoutLayer`]: a deadline per request, answered 504 JSON.

mod perf;
pub(crate) mod request_id;
mod timeout;

pub use perf::{Perf, PerfFuture, PerfLayer, UNMATCHED_ROUTE, X_RESPONSE_TIME};
pub use request_id::{RequestId, X_REQUEST_ID, is_valid_request_id};
pub use timeout::{Timeout, TimeoutFuture, TimeoutLayer};
