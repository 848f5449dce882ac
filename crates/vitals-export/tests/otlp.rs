//! `OtlpExporter::start` in an embedding application: what reaches a collector (a test-owned receiver
//! on loopback, every request decoded with the official OpenTelemetry protobuf definitions)
//! holds the application's own facade metrics beside Vitals' series; bodies are gzip unless
//! turned off; refusals and server errors are counted, 4xx dropped, 5xx retried. A real
//! collector (`rotel-agent`, from the PyPI package `rotel`) decodes the pushes both ways.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data, number_data_point};
use prost::Message;
use tower::ServiceExt;
use vitals_axum::Vitals;
use vitals_export::otlp::{OtlpExporter, OtlpSettings};

#[derive(Clone, Default)]
struct Receiver {
    /// Each request: its headers and decoded body.
    seen: Arc<Mutex<Vec<(HeaderMap, ExportMetricsServiceRequest)>>>,
    /// The status to answer with.
    status: Arc<Mutex<StatusCode>>,
}

async fn collect(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let body = match headers.get("content-encoding").map(|v| v.as_bytes()) {
        None => body.to_vec(),
        Some(b"gzip") => {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut raw)
                .expect("valid gzip");
            raw
        }
        Some(other) => panic!("unexpected content-encoding {other:?}"),
    };
    let request =
        ExportMetricsServiceRequest::decode(body.as_slice()).expect("a valid OTLP request");
    r.seen
        .lock()
        .expect("receiver state")
        .push((headers, request));
    *r.status.lock().expect("receiver state")
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Receiver {
            status: Arc::new(Mutex::new(StatusCode::OK)),
            ..Receiver::default()
        };
        let app = Router::new()
            .route("/v1/metrics", post(collect))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/v1/metrics",
            listener.local_addr().expect("address")
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn count(&self) -> usize {
        self.seen.lock().expect("receiver state").len()
    }

    fn last(&self) -> (HeaderMap, ExportMetricsServiceRequest) {
        self.seen
            .lock()
            .expect("receiver state")
            .last()
            .cloned()
            .expect("a request")
    }

    async fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.count() < n {
            assert!(Instant::now() < deadline, "only {} requests", self.count());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn metrics(request: &ExportMetricsServiceRequest) -> &[Metric] {
    &request.resource_metrics[0].scope_metrics[0].metrics
}

fn find<'a>(request: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    metrics(request)
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the payload"))
}

fn errors(vitals: &Vitals) -> u64 {
    vitals
        .render_prometheus()
        .lines()
        .find_map(|l| l.strip_prefix("export_errors_total{exporter=\"otlp\"} "))
        .map_or(0, |v| v.parse().expect("a count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedding_apps_facade_metrics_reach_the_collector() {
    let vitals = Vitals::builder()
        .install_global_recorder()
        .build()
        .expect("vitals builds");
    let app: Router = Router::new()
        .route(
            "/orders",
            post(|| async {
                metrics::counter!("orders_created_total", "channel" => "web").increment(1);
                metrics::histogram!("order_value").record(0.2);
                StatusCode::CREATED
            }),
        )
        .merge(vitals.routes())
        .layer(vitals.layer());
    for _ in 0..3 {
        let answer = app
            .clone()
            .oneshot(
                Request::post("/orders")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(answer.status(), StatusCode::CREATED);
    }

    let (receiver, url) = Receiver::start().await;
    let mut settings = OtlpSettings::new(url.parse().expect("endpoint"));
    settings.service_name = "shop".to_owned();
    settings.service_version = Some("1.2.3".to_owned());
    settings.interval = Duration::from_millis(200);
    let exporter = OtlpExporter::start(vitals.engine(), settings).expect("exporter starts");
    receiver.wait_for(2).await;
    assert!(exporter.sent() >= 2);

    let (headers, request) = receiver.last();
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["content-encoding"], "gzip", "gzip by default");
    let resource: Vec<(String, String)> = request.resource_metrics[0]
        .resource
        .as_ref()
        .expect("resource")
        .attributes
        .iter()
        .map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => (kv.key.clone(), s.clone()),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(resource[0], ("service.name".to_owned(), "shop".to_owned()));
    assert_eq!(resource[1].0, "service.instance.id");
    assert!(
        resource[1].1.ends_with(&format!(":{}", std::process::id())),
        "host:pid by default: {resource:?}"
    );
    assert_eq!(
        resource[2],
        ("service.version".to_owned(), "1.2.3".to_owned())
    );

    // The application's counter and histogram, unprefixed, as /metrics names them.
    let Some(Data::Sum(orders)) = &find(&request, "orders_created_total").data else {
        panic!("a Sum")
    };
    assert!(orders.is_monotonic);
    assert_eq!(orders.data_points.len(), 1);
    assert_eq!(
        orders.data_points[0].value,
        Some(number_data_point::Value::AsInt(3))
    );
    assert_eq!(orders.data_points[0].attributes[0].key, "channel");
    let Some(Data::Histogram(value)) = &find(&request, "order_value").data else {
        panic!("a Histogram")
    };
    let point = &value.data_points[0];
    assert_eq!(point.count, 3);
    assert_eq!(point.explicit_bounds, vitals_engine::DEFAULT_BUCKETS);
    assert_eq!(
        point.bucket_counts.len(),
        vitals_engine::DEFAULT_BUCKETS.len() + 1
    );
    // 0.2 falls in the bucket ending at 0.25.
    let at = vitals_engine::DEFAULT_BUCKETS
        .iter()
        .position(|&e| e == 0.25)
        .expect("an edge at 0.25");
    assert_eq!(point.bucket_counts[at], 3);
    assert!((point.sum.expect("sum") - 0.6).abs() < 1e-9);
    // Vitals' own request counter, for the route the app served.
    let Some(Data::Sum(requests)) = &find(&request, "http_requests_total").data else {
        panic!("a Sum")
    };
    assert!(requests.data_points.iter().any(|p| {
        p.attributes
            .iter()
            .any(|kv| kv.key == "route" && format!("{:?}", kv.value).contains("/orders"))
    }));

    // Every family /metrics shows is in the payload.
    let text = vitals.render_prometheus();
    for family in text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
    {
        find(&request, family);
    }
    drop(exporter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_dropped_and_server_errors_retried_all_counted() {
    let vitals = Vitals::builder().build().expect("vitals builds");
    let (receiver, url) = Receiver::start().await;
    *receiver.status.lock().expect("receiver state") = StatusCode::BAD_REQUEST;
    let mut settings = OtlpSettings::new(url.parse().expect("endpoint"));
    settings.interval = Duration::from_millis(400);
    let exporter = OtlpExporter::start(vitals.engine(), settings).expect("exporter starts");

    // A 400 is not retried: the payload is dropped, and counted.
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        receiver.count(),
        1,
        "a 400 is not sent again within the interval"
    );
    assert_eq!(exporter.dropped(), 1);
    assert_eq!(errors(&vitals), 1);

    // A 503 is retried with backoff within the interval.
    *receiver.status.lock().expect("receiver state") = StatusCode::SERVICE_UNAVAILABLE;
    receiver.wait_for(3).await;
    let retried = receiver.count();
    assert!(errors(&vitals) >= 2);

    // Once the receiver takes them, the queued payloads go through and errors stop rising.
    *receiver.status.lock().expect("receiver state") = StatusCode::OK;
    let deadline = Instant::now() + Duration::from_secs(10);
    while exporter.sent() < 2 {
        assert!(Instant::now() < deadline, "pushes did not resume");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let settled = errors(&vitals);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        errors(&vitals),
        settled,
        "no failures while the receiver answers 200"
    );
    assert!(receiver.count() > retried);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_can_be_turned_off() {
    let vitals = Vitals::builder().build().expect("vitals builds");
    let (receiver, url) = Receiver::start().await;
    let mut settings = OtlpSettings::new(url.parse().expect("endpoint"));
    settings.interval = Duration::from_millis(200);
    settings.gzip = false;
    let exporter = OtlpExporter::start(vitals.engine(), settings).expect("exporter starts");
    receiver.wait_for(1).await;
    let (headers, request) = receiver.last();
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    find(&request, "http_requests_in_flight");
    drop(exporter);
}

/// `rotel-agent`, the OpenTelemetry collector the PyPI package `rotel` bundles (installed by
/// `.ci/setup`), run with its OTLP/HTTP receiver on a port of its own and its debug exporter
/// printing every metric it decoded. Killed when dropped.
struct Rotel {
    child: std::process::Child,
    output: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Rotel {
    fn start() -> (Self, String) {
        let found = std::process::Command::new("python3")
            .args([
                "-c",
                "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
            ])
            .output()
            .expect("python3 runs");
        assert!(
            found.status.success(),
            "the PyPI package rotel is missing (run .ci/setup): {}",
            String::from_utf8_lossy(&found.stderr)
        );
        let agent = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port()
        };
        let (http, grpc) = (port(), port());
        let dir = tempfile::tempdir().expect("temp dir");
        let output = dir.path().join("rotel.out");
        let log = std::fs::File::create(&output).expect("output file");
        let child = std::process::Command::new(agent)
            .arg("start")
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--exporter", "blackhole"])
            .args([
                "--debug-log",
                "metrics",
                "--debug-log-verbosity",
                "detailed",
            ])
            .arg("--pid-file")
            .arg(dir.path().join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.path().join("rotel.log"))
            .env("NO_COLOR", "1")
            .stdout(log.try_clone().expect("output file"))
            .stderr(log)
            .spawn()
            .expect("rotel-agent starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
            assert!(Instant::now() < deadline, "rotel-agent did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let rotel = Self {
            child,
            output,
            _dir: dir,
        };
        (rotel, format!("http://127.0.0.1:{http}/v1/metrics"))
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_collector_decodes_pushes_with_and_without_gzip() {
    let vitals = Vitals::builder().build().expect("vitals builds");
    let (rotel, url) = Rotel::start();
    let mut exporters = Vec::new();
    for gzip in [true, false] {
        let mut settings = OtlpSettings::new(url.parse().expect("endpoint"));
        settings.service_name = format!("gzip-{gzip}");
        settings.interval = Duration::from_millis(300);
        settings.gzip = gzip;
        exporters.push(OtlpExporter::start(vitals.engine(), settings).expect("starts"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while exporters.iter().any(|e| e.sent() < 2) {
        assert!(
            Instant::now() < deadline,
            "rotel-agent did not take both kinds of push: {}",
            rotel.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(exporters.iter().all(|e| e.dropped() == 0));
    assert_eq!(errors(&vitals), 0, "{}", rotel.output());
    drop(exporters);
    // Its debug exporter printed what it decoded from each.
    let output = rotel.output();
    for needle in ["gzip-true", "gzip-false", "http_requests_in_flight"] {
        assert!(output.contains(needle), "{needle} not in:\n{output}");
    }
}
