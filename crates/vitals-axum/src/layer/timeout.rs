//! A deadline for every request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use tokio::time::Sleep;
use tower::{Layer, Service};

use crate::error::ApiError;

/// Answers 504 JSON when the inner service has not answered within the deadline, and drops
/// its work (the request future) at that moment, so no request hangs forever.
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    limit: Duration,
    longer: Option<(&'static str, Duration)>,
}

impl TimeoutLayer {
    /// A deadline of `limit` per request.
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            longer: None,
        }
    }

    /// Requests whose path starts with `prefix` get `limit` instead (when it is longer):
    /// for routes that take long by design, such as `/debug/pprof/` (a profile of up to 60 s).
    pub fn longer_for(mut self, prefix: &'static str, limit: Duration) -> Self {
        self.longer = Some((prefix, limit.max(self.limit)));
        self
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            limit: self.limit,
            longer: self.longer,
        }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
    longer: Option<(&'static str, Duration)>,
}

impl<S, B> Service<Request<B>> for Timeout<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let limit = match self.longer {
            Some((prefix, longer)) if req.uri().path().starts_with(prefix) => longer,
            _ => self.limit,
        };
        TimeoutFuture {
            inner: self.inner.call(req),
            sleep: tokio::time::sleep(limit),
            limit,
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`Timeout`].
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        limit: Duration,
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        if this.sleep.poll(cx).is_ready() {
            tracing::warn!(limit_ms = this.limit.as_millis(), "request timed out");
            let error = ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "the request took longer than {} ms and was abandoned; retry shortly",
                    this.limit.as_millis()
                ),
            );
            return Poll::Ready(Ok(error.into_response()));
        }
        Poll::Pending
    }
}
