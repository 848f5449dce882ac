//! A gRPC service, served by tonic, measured by the same Vitals layer an axum service uses:
//! nothing in it goes through axum's router. Each gRPC method is a route
//! (`route="/inventory.Inventory/Get"`), every call gets `x-request-id`, `x-response-time` and
//! `server-timing` in its response headers (gRPC metadata), and Vitals' `/metrics`,
//! `/api/v1/metrics` and probes are served by axum on a side listener.
//!
//! ```sh
//! cargo run -p vitals-axum --example grpc
//! curl -s localhost:9100/metrics | grep -E '^(http_requests_total|grpc_server_handled_total)'
//! ```
//!
//! It listens for gRPC (HTTP/2 without TLS) on `GRPC_LISTEN` (default `127.0.0.1:50051`) and
//! for Vitals on `ADMIN_LISTEN` (default `127.0.0.1:9100`); SIGTERM or Ctrl-C stop both, calls
//! in flight first. The service is written by hand, the way tonic's generated code is, so no
//! `protoc` and no build script are needed; it is what this file would generate:
//!
//! ```proto
//! syntax = "proto3";
//! package inventory;
//! service Inventory {
//!   rpc Get(GetRequest) returns (Item);  // NOT_FOUND for a name never put
//!   rpc Put(Item) returns (Item);        // INVALID_ARGUMENT for an empty name
//! }
//! message GetRequest { string name = 1; }
//! message Item { string name = 1; uint32 count = 2; }
//! ```
//!
//! With that file, `grpcurl -plaintext -proto inventory.proto -d '{"name": "tea", "count": 3}'
//! 127.0.0.1:50051 inventory.Inventory/Put` calls it.
//!
//! # What the request figures say about gRPC errors
//!
//! gRPC answers HTTP 200 whatever the outcome: the call's status travels in the `grpc-status`
//! header or trailer (<https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md>). Vitals'
//! layer counts HTTP statuses, so a failed call is `status="200"` in
//! `http_requests_total`, and the `client_errors_total`, `server_errors_total` and
//! `error_percent` figures (and alert rules built on them) stay at zero for gRPC errors. The
//! layer cannot name the gRPC status instead: it records when the response head is ready, and
//! a successful call's `grpc-status` comes later, in the trailers after the message.
//!
//! So this example counts outcomes itself, with [`GrpcCodeLayer`]: it reads `grpc-status` from
//! the head (a call that failed before any message) or from the trailers, and records
//! `grpc_server_handled_total{grpc_service,grpc_method,grpc_code}` through the `metrics`
//! facade into the same Vitals (`install_global_recorder`), so it is on the same `/metrics`.
//! The code names are grpc-go's (`OK`, `NotFound`, …), as its Prometheus interceptors use; a
//! path the service does not serve is counted as method `unknown`.
//!
//! Durations: for a unary call tonic answers the head once the handler has returned, so the
//! histogram holds the handler's time. For a streaming call it would hold the time to the
//! first response head only.
//!
//! Routes come from the path (`RouteFrom::Path`): a call to a method the service does not have
//! is answered `UNIMPLEMENTED` and still gets a route label of its own, up to the series cap
//! (`.max_series(..)`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use tokio::net::TcpListener;
use tonic::server::Grpc;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::{Layer, Service};
use vitals_axum::Vitals;
use vitals_axum::layer::RouteFrom;

/// The path of `Inventory.Get`.
pub const GET: &str = "/inventory.Inventory/Get";
/// The path of `Inventory.Put`.
pub const PUT: &str = "/inventory.Inventory/Put";
/// Every method the service has.
pub const METHODS: &[&str] = &[GET, PUT];

/// `inventory.GetRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetRequest {
    /// The item's name.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `inventory.Item`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Item {
    /// The item's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// How many are in stock.
    #[prost(uint32, tag = "2")]
    pub count: u32,
}

/// The `inventory.Inventory` service: item counts by name, in memory.
#[derive(Clone, Default)]
pub struct Inventory {
    items: Arc<Mutex<HashMap<String, u32>>>,
}

impl Inventory {
    fn get(&self, request: GetRequest) -> Result<Item, Status> {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        match items.get(&request.name) {
            Some(&count) => Ok(Item {
                name: request.name,
                count,
            }),
            None => Err(Status::not_found(format!(
                "no item named {:?}: Put it first",
                request.name
            ))),
        }
    }

    fn put(&self, item: Item) -> Result<Item, Status> {
        if item.name.is_empty() {
            return Err(Status::invalid_argument("an item needs a name"));
        }
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.insert(item.name.clone(), item.count);
        Ok(item)
    }
}

type Answer =
    Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, Infallible>> + Send>>;

/// The routing tonic's generated server does: one arm per method path.
impl<B> Service<http::Request<B>> for Inventory
where
    B: Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Answer {
        let inventory = self.clone();
        match request.uri().path() {
            GET => Box::pin(async move {
                let get = tower::service_fn(move |r: tonic::Request<GetRequest>| {
                    let answer = inventory.get(r.into_inner()).map(tonic::Response::new);
                    std::future::ready(answer)
                });
                Ok(Grpc::new(ProstCodec::default()).unary(get, request).await)
            }),
            PUT => Box::pin(async move {
                let put = tower::service_fn(move |r: tonic::Request<Item>| {
                    let answer = inventory.put(r.into_inner()).map(tonic::Response::new);
                    std::future::ready(answer)
                });
                Ok(Grpc::new(ProstCodec::default()).unary(put, request).await)
            }),
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// grpc-go's names of the status codes, by number
/// (<https://github.com/grpc/grpc/blob/master/doc/statuscodes.md>).
const CODE_NAMES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// The series [`GrpcCodeLayer`] counts into.
pub const HANDLED: &str = "grpc_server_handled_total";

/// Counts every call into [`HANDLED`] by service, method and gRPC status code, through the
/// `metrics` facade (so into whichever recorder is installed). Calls to a path that is not one
/// of `methods` are counted as `grpc_service="unknown",grpc_method="unknown"`, so a client
/// cannot add series by inventing paths.
#[derive(Clone, Copy, Debug)]
pub struct GrpcCodeLayer {
    methods: &'static [&'static str],
}

impl GrpcCodeLayer {
    /// The layer for a server with these method paths (`/package.Service/Method`); gives the
    /// series its help text.
    pub fn new(methods: &'static [&'static str]) -> Self {
        metrics::describe_counter!(HANDLED, "gRPC calls answered, by status code.");
        Self { methods }
    }
}

impl<S> Layer<S> for GrpcCodeLayer {
    type Service = GrpcCode<S>;

    fn layer(&self, inner: S) -> GrpcCode<S> {
        GrpcCode {
            inner,
            methods: self.methods,
        }
    }
}

/// The service of [`GrpcCodeLayer`].
#[derive(Clone, Debug)]
pub struct GrpcCode<S> {
    inner: S,
    methods: &'static [&'static str],
}

type Counted<RB, E> = Pin<Box<dyn Future<Output = Result<http::Response<CodeBody<RB>>, E>> + Send>>;

impl<S, B, RB> Service<http::Request<B>> for GrpcCode<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<CodeBody<RB>>;
    type Error = S::Error;
    type Future = Counted<RB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut tally = Tally::of(request.uri().path(), self.methods);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let (head, body) = answer.await?.into_parts();
            // A call that fails before any message is answered with the status in the head
            // ("Trailers-Only"); otherwise it comes in the trailers.
            if let Some(code) = code_in(&head.headers) {
                tally.count(code);
            }
            Ok(http::Response::from_parts(
                head,
                CodeBody { inner: body, tally },
            ))
        })
    }
}

/// The `grpc-status` of a header map, as a number.
fn code_in(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// One call, counted once: by its status, or as `Canceled` when the answer is dropped
/// before its status was seen (the client went away).
struct Tally {
    /// Service and method; `None` once counted.
    labels: Option<(&'static str, &'static str)>,
}

impl Tally {
    fn of(path: &str, methods: &'static [&'static str]) -> Self {
        let known = methods.iter().find(|m| **m == path);
        let labels = known
            .and_then(|m| m.trim_start_matches('/').split_once('/'))
            .unwrap_or(("unknown", "unknown"));
        Self {
            labels: Some(labels),
        }
    }

    fn count(&mut self, code: i32) {
        let Some((service, method)) = self.labels.take() else {
            return;
        };
        let name = usize::try_from(code)
            .ok()
            .and_then(|i| CODE_NAMES.get(i))
            .unwrap_or(&"Unknown");
        let labels = [
            ("grpc_service", service),
            ("grpc_method", method),
            ("grpc_code", *name),
        ];
        metrics::counter!(HANDLED, &labels).increment(1);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.count(Code::Cancelled as i32);
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts its call when the trailers (with `grpc-status`) go by.
    pub struct CodeBody<B> {
        #[pin]
        inner: B,
        tally: Tally,
    }
}

impl<B: Body> Body for CodeBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.tally
                        .count(code_in(trailers).unwrap_or(Code::Unknown as i32));
                }
            }
            // tonic's answer body fails only when the client cancelled the call
            // (tonic's src/codec/encode.rs).
            Some(Err(_)) => this.tally.count(Code::Cancelled as i32),
            // Ended without a status: the client reports that as UNKNOWN or INTERNAL.
            None => this.tally.count(Code::Unknown as i32),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves the inventory on `grpc` and Vitals' endpoints on `admin` until `stop` completes,
/// then lets calls in flight finish.
pub async fn run(
    vitals: Vitals,
    grpc: TcpListener,
    admin: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let service = Server::builder()
        .layer(vitals.layer().route_from(RouteFrom::Path)) // vitals
        .layer(GrpcCodeLayer::new(METHODS))
        .serve_with_incoming_shutdown(
            Inventory::default(),
            TcpIncoming::from(grpc),
            vitals.graceful_shutdown(stop), // vitals
        );
    let side = axum::serve(admin, vitals.routes()) // vitals
        .with_graceful_shutdown(vitals.shutdown_begun());
    let (service, side) = tokio::join!(service, side);
    service?;
    side?;
    Ok(())
}

/// The `Vitals` of this service: its own counter goes to the same `/metrics`.
pub fn vitals() -> Result<Vitals, vitals_axum::BuildError> {
    Vitals::builder().install_global_recorder().build() // vitals
}

#[tokio::main]
#[allow(dead_code)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let grpc = TcpListener::bind(env("GRPC_LISTEN", "127.0.0.1:50051")).await?;
    let admin = TcpListener::bind(env("ADMIN_LISTEN", "127.0.0.1:9100")).await?;
    let (at, side): (SocketAddr, SocketAddr) = (grpc.local_addr()?, admin.local_addr()?);
    tracing::info!("gRPC listening on http://{at}, Vitals on http://{side}/metrics");
    run(vitals()?, grpc, admin, vitals_axum::shutdown_signal()).await
}
