//! Carries the matched route template from inside the router out to the response.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use http::{Request, Response};
use tower::{Layer, Service};

/// Hands the request's [`MatchedPath`] to the [`PerfLayer`](super::PerfLayer) around the
/// router.
///
/// axum learns the route only while routing, inside the router, so a layer wrapping the
/// whole router never sees it on the request. Applied with `Router::route_layer`, this layer
/// passes it out through the request's task-local context once the route has answered.
/// Requests without it (404s) matched no route.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteTagLayer;

impl<S> Layer<S> for RouteTagLayer {
    type Service = RouteTag<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteTag { inner }
    }
}

/// The service of [`RouteTagLayer`].
#[derive(Clone, Debug)]
pub struct RouteTag<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for RouteTag<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = RouteTagFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        RouteTagFuture {
            inner: self.inner.call(req),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`RouteTag`].
    pub struct RouteTagFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, RB, E> Future for RouteTagFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            super::request_id::set_route(route);
        }
        Poll::Ready(Ok(response))
    }
}
