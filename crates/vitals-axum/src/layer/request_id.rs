//! [`RequestIdLayer`]: an id for every request, for handlers, error bodies and the response.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use crate::request_id::{self, CURRENT, Id, RequestId, X_REQUEST_ID};

/// Gives every request an id: the caller's `X-Request-ID` when it is 1–64 characters of
/// `A-Za-z0-9._-`, otherwise the next number of a counter starting at 1 that all clones of
/// this layer share. Handlers read it with [`RequestId::current`], error bodies quote it, and
/// the response carries it in `X-Request-ID`. An invalid inbound id is dropped, never logged.
///
/// Part of [`Vitals::layer`](crate::Vitals::layer); use it alone to tag requests without
/// measuring them.
#[derive(Clone, Debug, Default)]
pub struct RequestIdLayer {
    next: Arc<AtomicU64>,
}

impl RequestIdLayer {
    /// A layer with its own counter, starting at 1.
    pub fn new() -> Self {
        Self {
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService {
            inner,
            next: Arc::clone(&self.next),
        }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
    next: Arc<AtomicU64>,
}

impl<S, B, RB> Service<Request<B>> for RequestIdService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let id = match request_id::given(req.headers()) {
            Some(given) => Id::Given(given),
            None => Id::Number(self.next.fetch_add(1, Ordering::Relaxed)),
        };
        let context = request_id::Context {
            id: RequestId::new(id),
            own: Cell::new(false),
            metrics: Cell::new(None),
        };
        RequestIdFuture {
            inner: CURRENT.scope(context, self.inner.call(req)),
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`RequestIdService`].
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: TaskLocalFuture<request_id::Context, F>,
    }
}

impl<F, RB, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = std::task::ready!(this.inner.as_mut().poll(cx))?;
        if let Some(context) = this.inner.take_value() {
            let value = match context.id.id() {
                Id::Given(given) => given.clone(),
                Id::Number(n) => HeaderValue::from(*n),
            };
            response.headers_mut().insert(X_REQUEST_ID.clone(), value);
        }
        Poll::Ready(Ok(response))
    }
}
