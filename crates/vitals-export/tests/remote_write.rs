//! `RemoteWriteExporter::start` in an embedding application, against a test-owned receiver
//! on loopback that checks the remote-write 1.0 headers and decodes each body (snappy, then
//! the `WriteRequest` messages of Prometheus' prompb, declared below from remote.proto and
//! types.proto). The real receivers (Prometheus, VictoriaMetrics) are in vitals-server's
//! tests/remote_write.rs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use prost::Message;
use vitals_axum::Vitals;
use vitals_export::remote_write::{RemoteWriteExporter, RemoteWriteSettings};

#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

type Seen = Arc<Mutex<Vec<(HeaderMap, WriteRequest)>>>;

async fn write(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("snappy block format");
    let request = WriteRequest::decode(raw.as_slice()).expect("a WriteRequest");
    seen.lock()
        .expect("receiver state")
        .push((headers, request));
    StatusCode::NO_CONTENT
}

fn labels(series: &TimeSeries) -> Vec<(&str, &str)> {
    series
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_arrives_with_job_and_instance_under_the_protocol_headers() {
    let vitals = Vitals::builder()
        .install_global_recorder()
        .build()
        .expect("vitals builds");
    metrics::counter!("orders_created_total", "channel" => "web").increment(3);

    let seen = Seen::default();
    let app = Router::new()
        .route("/api/v1/write", post(write))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    // No path in the URL: the exporter uses /api/v1/write.
    let mut settings = RemoteWriteSettings::new(url.parse().expect("endpoint"));
    settings.job = "shop".to_owned();
    settings.instance = "shop-1:8080".to_owned();
    settings.interval = Duration::from_millis(200);
    let exporter = RemoteWriteExporter::start(vitals.engine(), settings).expect("starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("receiver state").len() < 2 {
        assert!(Instant::now() < deadline, "no pushes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(exporter.sent() >= 2);
    drop(exporter);

    let (headers, request) = seen
        .lock()
        .expect("receiver state")
        .last()
        .cloned()
        .expect("a push");
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["content-encoding"], "snappy");
    assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
    assert!(
        headers["user-agent"]
            .to_str()
            .expect("text")
            .starts_with("vitals-remote-write/")
    );
    // One series per sample line of /metrics, all with the target labels.
    let text = vitals.render_prometheus();
    let lines = text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(request.timeseries.len(), lines);
    for series in &request.timeseries {
        let l = labels(series);
        assert!(l.contains(&("job", "shop")) && l.contains(&("instance", "shop-1:8080")));
    }
    let orders = request
        .timeseries
        .iter()
        .find(|s| labels(s).contains(&("__name__", "orders_created_total")))
        .expect("the application's counter");
    assert_eq!(
        labels(orders),
        vec![
            ("__name__", "orders_created_total"),
            ("channel", "web"),
            ("instance", "shop-1:8080"),
            ("job", "shop"),
        ]
    );
    assert_eq!(orders.samples[0].value, 3.0);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    assert!((now_ms - orders.samples[0].timestamp).abs() < 10_000);
}
