//! The `grpc` example served over loopback and called with tonic's client, some calls
//! failing: each gRPC method is a route in Vitals' request series, every answer (failed or
//! not) carries the timing headers, the durations recorded are the ones the headers show,
//! each outcome is counted by its gRPC code, and the side listener's exposition passes
//! `promtool check metrics`. Alone in its binary: the example installs the global recorder.

#[path = "../examples/grpc.rs"]
mod grpc;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::{Layer, ServiceExt};
use vitals_axum::Vitals;
use vitals_testkit::assert_promtool_clean;

use grpc::{GET, GetRequest, GrpcCodeLayer, HANDLED, Item, METHODS, PUT};

/// One unary call over `channel`; the answer's metadata (its HTTP response headers) whether
/// it succeeded or not.
async fn call<Req, Res>(
    channel: &Channel,
    path: &'static str,
    request: tonic::Request<Req>,
) -> (Result<Res, Status>, MetadataMap)
where
    Req: prost::Message + Send + 'static,
    Res: prost::Message + Default + Send + 'static,
{
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.expect("the channel is ready");
    let answer = client
        .unary(
            request,
            PathAndQuery::from_static(path),
            ProstCodec::<Req, Res>::default(),
        )
        .await;
    match answer {
        Ok(response) => {
            let metadata = response.metadata().clone();
            (Ok(response.into_inner()), metadata)
        }
        Err(status) => {
            let metadata = status.metadata().clone();
            (Err(status), metadata)
        }
    }
}

/// The `x-response-time` of an answer, in seconds, after checking the three Vitals headers
/// are there; `x-request-id` must be `id` when given.
fn timed(metadata: &MetadataMap, id: Option<&str>) -> f64 {
    let text = |name: &str| {
        metadata
            .get(name)
            .unwrap_or_else(|| panic!("{name} in {metadata:?}"))
            .to_str()
            .expect("ASCII")
            .to_owned()
    };
    let request_id = text("x-request-id");
    match id {
        Some(id) => assert_eq!(request_id, id),
        None => assert!(request_id.parse::<u64>().is_ok(), "{request_id}"),
    }
    let response_time = text("x-response-time");
    let millis: f64 = response_time
        .strip_suffix("ms")
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("x-response-time: {response_time}"));
    assert_eq!(text("server-timing"), format!("app;dur={millis:.2}"));
    millis / 1000.0
}

/// `GET path` on the side listener over HTTP/1.1: status and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// The counter of calls to `inventory.Inventory/{method}` answered with `code`.
fn handled(method: &str, code: &str) -> String {
    let service = match method {
        "unknown" => "unknown",
        _ => "inventory.Inventory",
    };
    format!("{HANDLED}{{grpc_service=\"{service}\",grpc_method=\"{method}\",grpc_code=\"{code}\"}}")
}

/// The value of the series written exactly as `series` (name and labels).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_methods_are_routes_timed_and_counted_by_code() {
    let grpc_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let admin_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (at, side) = (
        grpc_listener.local_addr().expect("addr"),
        admin_listener.local_addr().expect("addr"),
    );
    let vitals = grpc::vitals().expect("the first recorder in this process");
    let figures = vitals.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(grpc::run(vitals, grpc_listener, admin_listener, async {
        let _ = stopped.await;
    }));
    let checks = tokio::time::timeout(Duration::from_secs(60), calls_and_figures(at, side));
    checks
        .await
        .expect("the calls and checks end within a minute");
    codes_from_trailers_and_drops(&figures).await;

    stop.send(()).expect("the server waits for its stop");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("both listeners stop")
        .expect("no panic")
        .expect("served without error");
}

async fn calls_and_figures(at: SocketAddr, side: SocketAddr) {
    let channel = Endpoint::from_shared(format!("http://{at}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connects");
    let (mut get_seconds, mut put_seconds) = (0.0, 0.0);

    // Puts: three stored, two refused (no name).
    for (name, count) in [("tea", 3), ("coffee", 5), ("mate", 0), ("", 1), ("", 2)] {
        let item = Item {
            name: name.into(),
            count,
        };
        let (answer, metadata) = call::<_, Item>(&channel, PUT, tonic::Request::new(item)).await;
        match answer {
            Ok(stored) => assert_eq!((stored.name.as_str(), stored.count), (name, count)),
            Err(status) => assert_eq!(
                (name, status.code()),
                ("", Code::InvalidArgument),
                "{status}"
            ),
        }
        put_seconds += timed(&metadata, None);
    }
    // Gets: four found, three not; one of them with the caller's own request id.
    for name in ["tea", "coffee", "tea", "mate", "milk", "sugar", "milk"] {
        let request = GetRequest { name: name.into() };
        let (answer, metadata) = call::<_, Item>(&channel, GET, tonic::Request::new(request)).await;
        match answer {
            Ok(item) => assert_eq!(item.name, name),
            Err(status) => assert_eq!((name, status.code()), (name, Code::NotFound), "{status}"),
        }
        get_seconds += timed(&metadata, None);
    }
    let mut request = tonic::Request::new(GetRequest { name: "tea".into() });
    request
        .metadata_mut()
        .insert("x-request-id", "order-7".parse().expect("ASCII"));
    let (answer, metadata) = call::<_, Item>(&channel, GET, request).await;
    assert_eq!(answer.expect("tea is stocked").count, 3);
    get_seconds += timed(&metadata, Some("order-7"));
    // A method the service does not have.
    let (answer, metadata) = call::<_, Item>(
        &channel,
        "/inventory.Inventory/Delete",
        tonic::Request::new(GetRequest { name: "tea".into() }),
    )
    .await;
    assert_eq!(answer.expect_err("no Delete").code(), Code::Unimplemented);
    timed(&metadata, None);
    let (gets, puts) = (8.0, 5.0);

    let (status, text) = get(side, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let requests = |route: &str, status: u16| {
        format!("http_requests_total{{method=\"POST\",route=\"{route}\",status=\"{status}\"}}")
    };
    // Every call is HTTP 200, failed or not: gRPC carries its status elsewhere.
    assert_eq!(value(&text, &requests(GET, 200)), gets);
    assert_eq!(value(&text, &requests(PUT, 200)), puts);
    assert_eq!(
        value(&text, &requests("/inventory.Inventory/Delete", 200)),
        1.0
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("http_requests_total") && !l.contains("status=\"200\"")),
        "no other HTTP status:\n{text}"
    );
    assert!(
        !text.contains("route=\"/metrics\""),
        "scrapes are not counted"
    );
    // The histogram holds what the headers said: each header is the same figure rounded to
    // a hundredth of a millisecond.
    for (route, calls, seconds) in [(GET, gets, get_seconds), (PUT, puts, put_seconds)] {
        let histogram =
            format!("http_request_duration_seconds_count{{method=\"POST\",route=\"{route}\"}}");
        assert_eq!(value(&text, &histogram), calls);
        let sum = value(&text, &histogram.replace("_count{", "_sum{"));
        assert!(sum > 0.0, "{route}: {sum}");
        assert!(
            (sum - seconds).abs() <= calls * 0.005e-3 + 1e-9,
            "{route}: recorded {sum} s, headers said {seconds} s"
        );
    }
    // The outcomes, by gRPC code.
    assert_eq!(value(&text, &handled("Put", "OK")), 3.0);
    assert_eq!(value(&text, &handled("Put", "InvalidArgument")), 2.0);
    assert_eq!(value(&text, &handled("Get", "OK")), 5.0);
    assert_eq!(value(&text, &handled("Get", "NotFound")), 3.0);
    assert_eq!(value(&text, &handled("unknown", "Unimplemented")), 1.0);
    assert_promtool_clean(&text);

    // The JSON says the same, and shows no error: the blind spot the example's docs describe.
    let (status, body) = get(side, "/api/v1/metrics").await;
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["http"]["requests_total"], 14);
    assert_eq!(doc["http"]["client_errors_total"], 0);
    assert_eq!(doc["http"]["server_errors_total"], 0);
}

/// Answers tonic's unary handlers do not give, through the code counter alone: a status in
/// the trailers after a message (what a stream that fails midway sends), and an answer whose
/// body is dropped before its trailers (the client went away).
async fn codes_from_trailers_and_drops(vitals: &Vitals) {
    let answer = |code: &'static str| {
        tower::service_fn(move |_: http::Request<()>| async move {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static(code));
            let body = Full::new(Bytes::from_static(b"\0\0\0\0\0"))
                .with_trailers(async move { Some(Ok::<_, Infallible>(trailers)) });
            Ok::<_, Infallible>(http::Response::new(body))
        })
    };
    let request = |path: &str| http::Request::post(path).body(()).expect("request");
    let layer = GrpcCodeLayer::new(METHODS);
    for _ in 0..2 {
        let response = layer
            .layer(answer("14"))
            .oneshot(request(GET))
            .await
            .expect("answered");
        let whole = response.into_body().collect().await.expect("the body");
        assert_eq!(
            whole.trailers().map(|t| t["grpc-status"].clone()),
            Some("14".parse().expect("value"))
        );
    }
    let response = layer
        .layer(answer("0"))
        .oneshot(request(PUT))
        .await
        .expect("answered");
    drop(response);

    let text = vitals.render_prometheus();
    assert_eq!(value(&text, &handled("Get", "Unavailable")), 2.0);
    assert_eq!(value(&text, &handled("Put", "Canceled")), 1.0);
    assert_eq!(
        value(&text, &handled("Put", "OK")),
        3.0,
        "no more than before"
    );
}
