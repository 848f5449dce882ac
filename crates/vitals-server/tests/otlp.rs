//! OTLP/HTTP push (`--otlp-endpoint`) from the real binary to a test-owned receiver on
//! loopback, which decodes every request with the official OpenTelemetry protobuf definitions
//! (the `opentelemetry-proto` crate):
//!
//! - a push taken after the load stopped carries exactly the series and values `/metrics`
//!   shows (counters, gauges, histogram buckets, sums and counts), under the resource
//!   attributes `service.name` and `service.instance.id`;
//! - a receiver that goes away, then one that accepts connections and never answers, slows
//!   no request down; each failed push is counted in
//!   `health_agent_export_errors_total{exporter="otlp"}` and warned about at most once per
//!   interval; once a receiver is back on the same port, pushes resume (one INFO line);
//! - bad endpoints stop the start with exit code 2 before the database is touched, and the
//!   URL's password shows nowhere;
//! - bodies are gzip unless `--otlp-gzip false`.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use common::exposition::{Samples, assert_same_samples, le, parse_exposition};
use common::*;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use prost::Message;

const INTERVAL_MS: u64 = 1000;

/// One request the receiver got.
#[derive(Clone)]
struct Push {
    content_type: String,
    content_encoding: String,
    authorization: String,
    request: ExportMetricsServiceRequest,
}

type Seen = Arc<Mutex<Vec<Push>>>;

async fn collect(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let encoding = text(header::CONTENT_ENCODING);
    let body = match encoding.as_str() {
        "" => body.to_vec(),
        "gzip" => {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut raw)
                .expect("valid gzip");
            raw
        }
        other => panic!("unexpected content-encoding {other}"),
    };
    let request =
        ExportMetricsServiceRequest::decode(body.as_slice()).expect("a valid OTLP request");
    seen.lock().expect("receiver state").push(Push {
        content_type: text(header::CONTENT_TYPE),
        content_encoding: encoding,
        authorization: text(header::AUTHORIZATION),
        request,
    });
    StatusCode::OK
}

/// An OTLP/HTTP receiver on its own thread and runtime; stopping it closes the port.
struct Receiver {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, seen: &Seen) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let app = Router::new()
            .route("/v1/metrics", post(collect))
            .with_state(Arc::clone(seen));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops the listener and every connection.
        });
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let _ = self.thread.take().map(std::thread::JoinHandle::join);
    }
}

/// Accepts connections on `port` and never answers, until dropped.
struct Hung {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Hung {
    fn start(port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((socket, _)) => held.push(socket),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            held.len()
        });
        Self {
            done,
            thread: Some(thread),
        }
    }

    /// Closes the port; gives how many connections it held.
    fn stop(mut self) -> usize {
        self.done.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("hung receiver"))
    }
}

fn string_attrs(list: &[KeyValue]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = list
        .iter()
        .map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => (kv.key.clone(), s.clone()),
                other => panic!("{} is not a string: {other:?}", kv.key),
            },
        )
        .collect();
    pairs.sort();
    pairs
}

/// The push in the exposition's terms: each data point as the samples Prometheus would show
/// (histogram buckets accumulated into `le` buckets).
fn push_samples(request: &ExportMetricsServiceRequest) -> Samples {
    let mut out = Samples::new();
    for metric in &request.resource_metrics[0].scope_metrics[0].metrics {
        let name = metric.name.clone();
        match metric.data.as_ref().expect("data") {
            Data::Sum(sum) => {
                assert!(sum.is_monotonic, "{name}");
                assert_eq!(sum.aggregation_temporality, 2, "{name}: cumulative");
                for p in &sum.data_points {
                    assert!(
                        p.start_time_unix_nano > 0 && p.start_time_unix_nano <= p.time_unix_nano
                    );
                    out.insert((name.clone(), string_attrs(&p.attributes)), number(p.value));
                }
            }
            Data::Gauge(gauge) => {
                for p in &gauge.data_points {
                    out.insert((name.clone(), string_attrs(&p.attributes)), number(p.value));
                }
            }
            Data::Histogram(h) => {
                assert_eq!(h.aggregation_temporality, 2, "{name}: cumulative");
                for p in &h.data_points {
                    let attrs = string_attrs(&p.attributes);
                    assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1, "{name}");
                    assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count, "{name}");
                    let with_le = |le: String| {
                        let mut a = attrs.clone();
                        a.push(("le".to_owned(), le));
                        a.sort();
                        a
                    };
                    let mut running = 0u64;
                    for (edge, n) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
                        running += n;
                        out.insert(
                            (format!("{name}_bucket"), with_le(le(*edge))),
                            running as f64,
                        );
                    }
                    out.insert(
                        (format!("{name}_bucket"), with_le("+Inf".to_owned())),
                        p.count as f64,
                    );
                    out.insert((format!("{name}_sum"), attrs.clone()), p.sum.expect("sum"));
                    out.insert((format!("{name}_count"), attrs.clone()), p.count as f64);
                }
            }
            other => panic!("{name}: unexpected kind {other:?}"),
        }
    }
    out
}

fn number(value: Option<number_data_point::Value>) -> f64 {
    match value.expect("a value") {
        number_data_point::Value::AsDouble(v) => v,
        number_data_point::Value::AsInt(n) => n as f64,
    }
}

fn otlp_errors(server: &Server) -> u64 {
    server
        .request("GET", "/metrics", &[])
        .body
        .lines()
        .find_map(|l| l.strip_prefix("health_agent_export_errors_total{exporter=\"otlp\"} "))
        .map_or(0, |v| v.parse().expect("a count"))
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `/health` round trips while the receiver misbehaves: each stays well below the export
/// timeout (nine tenths of the interval), which a request waiting on a push would reach. The
/// bound leaves room for a loaded CI machine; a typical round trip is a millisecond.
fn health_stays_fast(server: &Server, for_how_long: Duration) -> usize {
    let until = Instant::now() + for_how_long;
    let mut n = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let answer = server.request("GET", "/health", &[]);
        let took = started.elapsed();
        assert_eq!(answer.status, 200);
        assert!(
            took < Duration::from_millis(INTERVAL_MS * 9 / 10 / 2),
            "/health took {took:?} while the collector was unreachable"
        );
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    n
}

#[test]
fn pushes_match_metrics_and_survive_a_receiver_that_goes_away() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen: Seen = Arc::default();
    let receiver = Receiver::start(0, &seen);
    let port = receiver.addr.port();
    let endpoint = format!("http://otel:s3cret@127.0.0.1:{port}/v1/metrics");
    let mut cmd = server_command();
    cmd.args(["--data-dir", dir.path().to_str().expect("utf-8")])
        .args(["--export-interval-ms", &INTERVAL_MS.to_string()])
        // One system and runtime reading for the whole test, so those gauges hold still.
        .args(["--sample-interval-ms", "600000"])
        .env("VITALS_OTLP_ENDPOINT", &endpoint)
        .env("VITALS_LOG", "info");
    let server = Server::start(cmd);
    let pid = server.child.id();

    // Load: several routes, statuses and methods.
    for path in [
        "/health",
        "/health/ready",
        "/api/v1/metrics",
        "/api/v1/users/u1/history",
        "/no/such/page",
    ] {
        for _ in 0..3 {
            server.request("GET", path, &[]);
        }
    }
    server.request(
        "POST",
        "/api/v1/chat",
        &[("content-type", "application/json")],
    );

    // Load stopped: wait for two pushes encoded after it, then read /metrics.
    let count = || seen.lock().expect("receiver state").len();
    let after_load = count();
    wait_until("two pushes after the load", Duration::from_secs(10), || {
        count() >= after_load + 2
    });
    let pushed = seen
        .lock()
        .expect("receiver state")
        .last()
        .cloned()
        .expect("a push");
    let exposition = parse_exposition(&server.request("GET", "/metrics", &[]).body);

    assert_eq!(pushed.content_type, "application/x-protobuf");
    assert_eq!(pushed.content_encoding, "gzip", "gzip by default");
    // base64("otel:s3cret"): the URL's credentials as Basic authorization.
    assert_eq!(pushed.authorization, "Basic b3RlbDpzM2NyZXQ=");
    let resource = string_attrs(
        &pushed.request.resource_metrics[0]
            .resource
            .as_ref()
            .expect("resource")
            .attributes,
    );
    let attr = |k: &str| {
        resource
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing: {resource:?}"))
    };
    assert_eq!(attr("service.name"), "health-agent");
    assert!(
        attr("service.instance.id").ends_with(&format!(":{pid}")),
        "{resource:?}"
    );

    let samples = push_samples(&pushed.request);
    let compared = assert_same_samples(&samples, &exposition, "the receiver");
    assert!(compared > 100, "only {compared} samples compared");
    let requests_key = |route: &str, status: &str| {
        (
            "health_agent_http_requests_total".to_owned(),
            vec![
                ("method".to_owned(), "GET".to_owned()),
                ("route".to_owned(), route.to_owned()),
                ("status".to_owned(), status.to_owned()),
            ],
        )
    };
    assert_eq!(
        samples[&requests_key("/api/v1/users/{user_id}/history", "200")],
        3.0
    );
    assert_eq!(samples[&requests_key("unmatched", "404")], 3.0);
    assert!(
        !samples.contains_key(&requests_key("/health", "200")),
        "Vitals' own endpoints are not the application's traffic"
    );
    assert!(
        samples
            .keys()
            .any(|(n, _)| n == "health_agent_http_request_duration_seconds_bucket")
    );

    // The receiver goes away: nothing slows down, failures are counted.
    let errors_before = otlp_errors(&server);
    assert_eq!(errors_before, 0);
    let pushes_before_outage = count();
    receiver.stop();
    let outage = Instant::now();
    health_stays_fast(&server, Duration::from_millis(2500));
    let refused = otlp_errors(&server);
    assert!(refused >= 2, "failed pushes counted: {refused}");

    // A receiver that takes the connection and never answers: pushes time out, requests
    // stay fast.
    let hung = Hung::start(port);
    health_stays_fast(&server, Duration::from_millis(2500));
    let timed_out = otlp_errors(&server);
    assert!(
        timed_out > refused,
        "timeouts counted: {refused} then {timed_out}"
    );
    assert!(hung.stop() >= 1, "the exporter reached the silent receiver");
    let intervals = outage.elapsed().as_millis() as usize / INTERVAL_MS as usize + 1;

    // Back on the same port: pushes resume, the errors stop rising.
    let receiver = Receiver::start(port, &seen);
    wait_until("pushes to resume", Duration::from_secs(10), || {
        count() >= pushes_before_outage + 2
    });
    let settled = otlp_errors(&server);
    std::thread::sleep(Duration::from_millis(2 * INTERVAL_MS));
    assert_eq!(
        otlp_errors(&server),
        settled,
        "no failures once the receiver is back"
    );
    receiver.stop();

    let output = server.output();
    let warnings = output
        .iter()
        .filter(|l| l.contains("OTLP export failed"))
        .count();
    assert!(
        (1..=intervals + 1).contains(&warnings),
        "{warnings} warnings over {intervals} intervals"
    );
    assert_eq!(
        output
            .iter()
            .filter(|l| l.contains("OTLP export recovered"))
            .count(),
        1,
        "{output:#?}"
    );
    assert!(
        output
            .iter()
            .any(|l| l.contains("pushing metrics over OTLP/HTTP")
                && l.contains("otel:***@127.0.0.1")),
        "{output:#?}"
    );
    assert!(
        !output.iter().any(|l| l.contains("s3cret")),
        "the password shows in the log: {output:#?}"
    );
}

#[test]
fn bad_endpoints_stop_the_start_before_the_database_and_hide_the_password() {
    for (url, needle) in [
        ("ftp://otel:s3cret@collector:4318/v1/metrics", "http://"),
        ("collector:4318", "http://"),
        ("http://otel:s3cret@/v1/metrics", "host"),
    ] {
        refused_before_the_database("--otlp-endpoint", url, needle, "s3cret");
    }
    let output = server_command()
        .args([
            "--otlp-endpoint",
            "http://otel:s3cret@127.0.0.1:4318/v1/metrics",
        ])
        .arg("--print-config")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        text.contains("otlp_endpoint = \"http://otel:***@127.0.0.1:4318/v1/metrics\""),
        "{text}"
    );
    assert!(!text.contains("s3cret"));
}
