//! [`TimingLayer`]: how long the service took, on the response.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::HeaderName;
use http::{Request, Response};
use tower::{Layer, Service};

use super::parts::header_values;

/// `X-Response-Time`.
pub static X_RESPONSE_TIME: HeaderName = HeaderName::from_static("x-response-time");

/// `Server-Timing`, which browsers' developer tools show beside each request.
pub static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// Sets `X-Response-Time: 12.34ms` and `Server-Timing: app;dur=12.34` (the same figure: the
/// time from the request entering the layer to the response leaving it, in milliseconds with
/// two decimals) on every response, whatever its status.
///
/// Part of [`Vitals::layer`](crate::Vitals::layer); use it alone for the headers without
/// measuring anything else.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum::{Router, routing::get, body::Body};
/// use tower::ServiceExt;
/// use vitals_axum::layer::TimingLayer;
///
/// let app = Router::new().route("/", get(|| async { "hi" })).layer(TimingLayer);
/// let res = app.oneshot(http::Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
/// assert!(res.headers()["x-response-time"].to_str().unwrap().ends_with("ms"));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TimingLayer;

impl<S> Layer<S> for TimingLayer {
    type Service = TimingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TimingService { inner }
    }
}

/// The service of [`TimingLayer`].
#[derive(Clone, Debug)]
pub struct TimingService<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for TimingService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = TimingFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        TimingFuture {
            started: Instant::now(),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`TimingService`].
    pub struct TimingFuture<F> {
        started: Instant,
        #[pin]
        inner: F,
    }
}

impl<F, RB, E> Future for TimingFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        let (_, response_time, server_timing) = header_values(None, this.started.elapsed());
        let headers = response.headers_mut();
        headers.insert(X_RESPONSE_TIME.clone(), response_time);
        headers.insert(SERVER_TIMING.clone(), server_timing);
        Poll::Ready(Ok(response))
    }
}
