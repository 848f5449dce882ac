//! Prometheus remote write 1.0: every interval, every series `/metrics` shows goes to a
//! remote-write receiver (Prometheus with `--web.enable-remote-write-receiver`,
//! VictoriaMetrics, Mimir, Thanos Receive, …) as one protobuf `WriteRequest`, snappy-compressed,
//! POSTed with `Content-Encoding: snappy`, `Content-Type: application/x-protobuf` and
//! `X-Prometheus-Remote-Write-Version: 0.1.0`.
//!
//! - One time series per sample line of `/metrics`, with the same name, labels and value:
//!   histograms are the classic `_bucket{le}` (cumulative, up to `+Inf`), `_sum` and `_count`
//!   series. One sample each, stamped with the time of the snapshot.
//! - Every series also carries `job` ([`RemoteWriteSettings::job`], default `health-agent`)
//!   and `instance` ([`RemoteWriteSettings::instance`], default `HOSTNAME:PID`), the labels a
//!   scrape would add, so the instances of a fleet stay apart.
//! - The same failure handling as the OTLP exporter (they share one pipeline): a thread of
//!   its own, a timeout per POST, backoff, a bounded queue, failures counted in
//!   `<ns>_export_errors_total{exporter="remote_write"}`, one WARN per interval at most, one
//!   INFO on recovery. A `4xx` other than `429` (Prometheus answers `400` for samples it
//!   will not take, such as out-of-order ones) drops the payload; anything else is retried.
//! - `https://` endpoints with the `tls` feature ([`RemoteWriteSettings::ca`] for a private
//!   CA).
//!
//! See docs/export.md for receiver configurations.
//!
//! ```no_run
//! use std::time::Duration;
//! use vitals_engine::Engine;
//! use vitals_export::remote_write::{RemoteWriteExporter, RemoteWriteSettings};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::builder().build()?;
//! let mut settings = RemoteWriteSettings::new("http://127.0.0.1:9090/api/v1/write".parse()?);
//! settings.job = "shop".to_owned();
//! settings.instance = "shop-1.internal:8080".to_owned();
//! settings.interval = Duration::from_secs(15);
//! let exporter = RemoteWriteExporter::start(&engine, settings)?; // pushes now, then every 15 s
//! drop(exporter); // stops it
//! # Ok(()) }
//! ```

mod encode;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};
use vitals_engine::Engine;

use crate::push::{Endpoint, Payload, Pipeline, Plan, Wire, default_instance_id, unix_nanos};

/// The path a URL without one gets (Prometheus' and VictoriaMetrics' receiver).
const DEFAULT_PATH: &str = "/api/v1/write";

/// Settings of the remote-write exporter. [`RemoteWriteSettings::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct RemoteWriteSettings {
    /// Where to POST (e.g. `http://127.0.0.1:9090/api/v1/write`; a URL without a path gets
    /// `/api/v1/write`).
    pub endpoint: Endpoint,
    /// The `job` label of every series (default `health-agent`); empty: none.
    pub job: String,
    /// The `instance` label of every series (default `HOSTNAME:PID`, see
    /// [`default_instance_id`]); empty: none. Set it to something stable (`host:port`) to keep
    /// the same series across restarts.
    pub instance: String,
    /// Time between pushes (default 10 s).
    pub interval: Duration,
    /// Longest wait for one POST, connection included (default 5 s); never more than nine
    /// tenths of the interval.
    pub timeout: Duration,
    /// Most payloads waiting to be sent (default 8, at least 1); past it the oldest is
    /// dropped (every value is cumulative, so the next one carries the counts).
    pub max_queue: usize,
    /// For an `https://` endpoint: the certificate authorities to trust instead of the
    /// system's store (default `None`: the system's store).
    #[cfg(feature = "tls")]
    pub ca: Option<crate::tls::CaCertificates>,
}

impl RemoteWriteSettings {
    /// Defaults for `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint: endpoint.or_path(DEFAULT_PATH),
            job: "health-agent".to_owned(),
            instance: default_instance_id(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            max_queue: 8,
            #[cfg(feature = "tls")]
            ca: None,
        }
    }
}

/// The running exporter; dropping it stops it (a POST under way is abandoned).
#[derive(Debug)]
pub struct RemoteWriteExporter {
    pipeline: Pipeline,
}

impl RemoteWriteExporter {
    /// Starts pushing every series of `engine` to `settings.endpoint`: once now, then every
    /// `settings.interval`. Failures later are counted in
    /// `<ns>_export_errors_total{exporter="remote_write"}` and logged at most once per
    /// interval; an error here only means a thread could not start.
    pub fn start(engine: &Engine, settings: RemoteWriteSettings) -> std::io::Result<Self> {
        let target = encode::Target {
            job: settings.job.clone(),
            instance: settings.instance.clone(),
        };
        let headers = vec![
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            ),
            (header::CONTENT_ENCODING, HeaderValue::from_static("snappy")),
            (
                HeaderName::from_static("x-prometheus-remote-write-version"),
                HeaderValue::from_static("0.1.0"),
            ),
            (
                header::USER_AGENT,
                HeaderValue::from_static(concat!(
                    "vitals-remote-write/",
                    env!("CARGO_PKG_VERSION")
                )),
            ),
        ];
        let wire = Wire::new(settings.endpoint.clone().or_path(DEFAULT_PATH), headers);
        #[cfg(feature = "tls")]
        let wire = wire.with_tls(settings.ca.as_ref())?;
        let plan = Plan {
            exporter: "remote_write",
            title: "remote write",
            wire,
            interval: settings.interval,
            timeout: settings.timeout,
            max_queue: settings.max_queue,
            on_accepted: None,
        };
        let source = engine.clone();
        let pipeline = Pipeline::start(engine, plan, move |snapshot, at| {
            let millis = i64::try_from(unix_nanos(at) / 1_000_000).unwrap_or(i64::MAX);
            let request = encode::request(&source, snapshot, &target, millis);
            let (body, uncompressed) = encode::body(&request);
            Payload {
                body: Bytes::from(body),
                uncompressed,
            }
        })?;
        Ok(Self { pipeline })
    }

    /// Payloads the receiver accepted (2xx) so far.
    pub fn sent(&self) -> u64 {
        self.pipeline.sent()
    }

    /// Payloads given up so far: pushed out of a full queue, or refused with a 4xx other
    /// than 429.
    pub fn dropped(&self) -> u64 {
        self.pipeline.dropped()
    }
}
