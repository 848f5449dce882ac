//! OTLP/HTTP push: every interval, every series `/metrics` shows (the snapshot-fed ones, the
//! request metrics, span timings, the application's own facade metrics) goes to an
//! OpenTelemetry Collector as one protobuf `ExportMetricsServiceRequest`, POSTed with
//! `Content-Type: application/x-protobuf` and, unless [`OtlpSettings::gzip`] is off,
//! `Content-Encoding: gzip`.
//!
//! - Counters are monotonic cumulative Sums, gauges Gauges, histograms cumulative Histograms
//!   with the same bucket edges as the `le` labels of `/metrics` (OTLP counts per bucket, not
//!   cumulatively, plus the overflow bucket above the last edge) and the request histogram's
//!   exemplars. Names are exactly the Prometheus names, `_total` included; labels become
//!   attributes.
//! - Resource attributes: `service.name`, `service.instance.id`, and `service.version` when
//!   set.
//! - A collector that is down, slow or refusing never reaches requests: the exporter runs on a
//!   thread of its own, every POST has a timeout, failures are retried with exponential
//!   backoff within the interval, at most [`OtlpSettings::max_queue`] payloads wait (the
//!   oldest is dropped past that; values are cumulative, so the next one carries the counts),
//!   each failed POST adds 1 to `<ns>_export_errors_total{exporter="otlp"}`, and a WARN is
//!   logged at most once per interval (one INFO when pushes get through again). The remote
//!   write exporter shares this pipeline.
//! - `https://` endpoints with the `tls` feature ([`OtlpSettings::ca`] for a private CA).
//!
//! See docs/export.md for the mapping table and a Collector configuration.
//!
//! ```
//! use std::time::Duration;
//! use vitals_engine::Engine;
//! use vitals_export::otlp::{OtlpExporter, OtlpSettings};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A stand-in collector: it takes one request and answers 200.
//! let collector = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let endpoint = format!("http://{}/v1/metrics", collector.local_addr()?);
//! let seen = std::thread::spawn(move || {
//!     use std::io::{Read, Write};
//!     let (mut socket, _) = collector.accept().unwrap();
//!     let mut head = Vec::new();
//!     let mut byte = [0u8; 1];
//!     while !head.ends_with(b"\r\n\r\n") {
//!         socket.read_exact(&mut byte).unwrap();
//!         head.push(byte[0]);
//!     }
//!     socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
//!     String::from_utf8_lossy(&head).into_owned()
//! });
//!
//! let engine = Engine::builder().build()?;
//! let mut settings = OtlpSettings::new(endpoint.parse()?);
//! settings.service_name = "shop".to_owned();
//! settings.interval = Duration::from_secs(60);
//! let exporter = OtlpExporter::start(&engine, settings)?; // pushes now, then every minute
//! let head = seen.join().unwrap();
//! assert!(head.starts_with("POST /v1/metrics HTTP/1.1"));
//! assert!(head.contains("content-type: application/x-protobuf"));
//! assert!(head.contains("content-encoding: gzip"));
//! drop(exporter); // stops it
//! # Ok(()) }
//! ```

mod encode;
#[cfg(test)]
mod encode_cost;
mod gzip;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, header};
use vitals_engine::Engine;

pub use crate::push::{Endpoint, EndpointError, default_instance_id};
use crate::push::{Payload, Pipeline, Plan, Wire, unix_nanos};

use encode::Identity;

/// The path a URL without one gets.
const DEFAULT_PATH: &str = "/v1/metrics";

/// Settings of the OTLP exporter. [`OtlpSettings::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct OtlpSettings {
    /// Where to POST (e.g. `http://127.0.0.1:4318/v1/metrics`; a URL without a path gets
    /// `/v1/metrics`).
    pub endpoint: Endpoint,
    /// Resource attribute `service.name` (default [`default_service_name`](crate::default_service_name)).
    pub service_name: String,
    /// Resource attribute `service.instance.id` (default `HOSTNAME:PID`, see
    /// [`default_instance_id`]): what tells the instances of one service apart.
    pub service_instance_id: String,
    /// Resource attribute `service.version`; left out when `None` (the default).
    pub service_version: Option<String>,
    /// Time between pushes (default 10 s).
    pub interval: Duration,
    /// Longest wait for one POST, connection included (default 5 s); never more than nine
    /// tenths of the interval.
    pub timeout: Duration,
    /// Most payloads waiting to be sent (default 8, at least 1); past it the oldest is
    /// dropped.
    pub max_queue: usize,
    /// Compress bodies with gzip and say so with `Content-Encoding: gzip` (default `true`:
    /// the OTLP specification allows it and collectors accept it).
    pub gzip: bool,
    /// For an `https://` endpoint: the certificate authorities to trust instead of the
    /// system's store (default `None`: the system's store).
    #[cfg(feature = "tls")]
    pub ca: Option<crate::tls::CaCertificates>,
}

impl OtlpSettings {
    /// Defaults for `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint: endpoint.or_path(DEFAULT_PATH),
            service_name: crate::default_service_name(),
            service_instance_id: default_instance_id(),
            service_version: None,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            max_queue: 8,
            gzip: true,
            #[cfg(feature = "tls")]
            ca: None,
        }
    }

    /// The timeout actually used: the setting, capped at nine tenths of the interval.
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.min(self.interval * 9 / 10)
    }
}

/// The running exporter. The engine's scheduler encodes a payload every interval (from the
/// snapshot of that tick, shared with the other periodic work) into a bounded queue; a thread
/// of its own with a small single-threaded runtime sends them, so a hung collector holds up
/// nothing else. Dropping it stops both at once (a POST under way is abandoned).
#[derive(Debug)]
pub struct OtlpExporter {
    pipeline: Pipeline,
}

impl OtlpExporter {
    /// Starts pushing every series of `engine` to `settings.endpoint` over OTLP/HTTP: once
    /// now, then every `settings.interval`. Failures later are counted in
    /// `<ns>_export_errors_total{exporter="otlp"}` and logged at most once per interval; an
    /// error here only means a thread could not start.
    pub fn start(engine: &Engine, settings: OtlpSettings) -> std::io::Result<Self> {
        let identity = identity(&settings);
        let start_ns = unix_nanos(engine.started());
        let gzip = settings.gzip;
        let mut headers = vec![
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            ),
            (
                header::USER_AGENT,
                HeaderValue::from_static(concat!("vitals-otlp/", env!("CARGO_PKG_VERSION"))),
            ),
        ];
        if gzip {
            headers.push((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
        }
        let wire = Wire::new(settings.endpoint.clone().or_path(DEFAULT_PATH), headers);
        #[cfg(feature = "tls")]
        let wire = wire.with_tls(settings.ca.as_ref())?;
        let plan = Plan {
            exporter: "otlp",
            title: "OTLP",
            wire,
            interval: settings.interval,
            timeout: settings.timeout,
            max_queue: settings.max_queue,
            on_accepted: Some(warn_partial_success),
        };
        let source = engine.clone();
        let pipeline = Pipeline::start(engine, plan, move |snapshot, at| {
            let body = encode::request(&source, snapshot, &identity, start_ns, unix_nanos(at));
            Payload {
                uncompressed: body.len(),
                body: Bytes::from(if gzip { gzip::compress(&body) } else { body }),
            }
        })?;
        Ok(Self { pipeline })
    }

    /// Payloads the collector accepted (2xx) so far.
    pub fn sent(&self) -> u64 {
        self.pipeline.sent()
    }

    /// Payloads given up so far: pushed out of a full queue, or refused with a 4xx other than
    /// 429.
    pub fn dropped(&self) -> u64 {
        self.pipeline.dropped()
    }
}

/// A 2xx answer may still report rejected points (`partial_success`): a WARN says so.
fn warn_partial_success(body: &[u8]) {
    if let Some((rejected, message)) = encode::partial_success(body) {
        tracing::warn!(
            rejected_data_points = rejected,
            message = %message,
            "the OTLP receiver accepted the push but rejected some points"
        );
    }
}

/// The resource and scope every payload carries.
fn identity(settings: &OtlpSettings) -> Identity {
    let mut resource = vec![
        ("service.name", settings.service_name.clone()),
        ("service.instance.id", settings.service_instance_id.clone()),
    ];
    if let Some(version) = &settings.service_version {
        resource.push(("service.version", version.clone()));
    }
    Identity {
        resource,
        scope: ("vitals", env!("CARGO_PKG_VERSION")),
    }
}
