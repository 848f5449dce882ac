//! OTLP/HTTP push: every interval, every series `/metrics` shows (the snapshot-fed ones, the
//! request metrics, span timings, the application's own facade metrics) goes to an
//! OpenTelemetry Collector as one protobuf `ExportMetricsServiceRequest`, POSTed with
//! `Content-Type: application/x-protobuf`.
//!
//! - Counters are monotonic cumulative Sums, gauges Gauges, histograms cumulative Histograms
//!   with the same bucket edges as the `le` labels of `/metrics` (OTLP counts per bucket, not
//!   cumulatively, plus the overflow bucket above the last edge). Names are exactly the
//!   Prometheus names, `_total` included; labels become attributes.
//! - Resource attributes: `service.name`, `service.instance.id`, and `service.version` when
//!   set.
//! - A collector that is down, slow or refusing never reaches requests: the exporter runs on a
//!   thread of its own, every POST has a timeout, failures are retried with exponential
//!   backoff within the interval, at most [`OtlpSettings::max_queue`] payloads wait (the
//!   oldest is dropped past that; values are cumulative, so the next one carries the counts),
//!   each failed POST adds 1 to `<ns>_export_errors_total{exporter="otlp"}`, and a WARN is
//!   logged at most once per interval (one INFO when pushes get through again).
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
//! drop(exporter); // stops it
//! # Ok(()) }
//! ```

mod encode;
mod endpoint;
mod transport;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::{Either, select};
use tokio::sync::{Notify, oneshot};
use vitals_engine::Engine;
use vitals_engine::scheduler::Scheduled;

pub use endpoint::{Endpoint, EndpointError};

use encode::Identity;

/// Settings of the OTLP exporter. [`OtlpSettings::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct OtlpSettings {
    /// Where to POST (e.g. `http://127.0.0.1:4318/v1/metrics`).
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
}

impl OtlpSettings {
    /// Defaults for `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            service_name: crate::default_service_name(),
            service_instance_id: default_instance_id(),
            service_version: None,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            max_queue: 8,
        }
    }

    /// The timeout actually used: the setting, capped at nine tenths of the interval.
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.min(self.interval * 9 / 10)
    }
}

/// The default `service.instance.id`: `HOSTNAME:PID`, unique per process on a host and
/// readable in a dashboard. The host name comes from `$HOSTNAME`, else
/// `/proc/sys/kernel/hostname`, else `/etc/hostname`, else `localhost`.
pub fn default_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            ["/proc/sys/kernel/hostname", "/etc/hostname"]
                .iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{}:{}", host.trim(), std::process::id())
}

/// What the exporter has done so far.
#[derive(Debug, Default)]
struct Stats {
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// The running exporter. The engine's scheduler encodes a payload every interval (from the
/// snapshot of that tick, shared with the other periodic work) into a bounded queue; a thread
/// of its own with a small single-threaded runtime sends them, so a hung collector holds up
/// nothing else. Dropping it stops both at once (a POST under way is abandoned).
#[derive(Debug)]
pub struct OtlpExporter {
    scheduled: Option<Scheduled>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl OtlpExporter {
    /// Starts pushing every series of `engine` to `settings.endpoint` over OTLP/HTTP: once
    /// now, then every `settings.interval`. Failures later are counted in
    /// `<ns>_export_errors_total{exporter="otlp"}` and logged at most once per interval; an
    /// error here only means a thread could not start.
    pub fn start(engine: &Engine, settings: OtlpSettings) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let stats = Arc::new(Stats::default());
        let queue = Arc::new(Queue {
            payloads: Mutex::new(VecDeque::new()),
            max: settings.max_queue.max(1),
            ready: Notify::new(),
        });
        let scheduled = {
            let identity = identity(&settings);
            let start_ns = unix_nanos(engine.started());
            let queue = Arc::clone(&queue);
            let stats = Arc::clone(&stats);
            let source = engine.clone();
            engine.every_from_now(settings.interval, move |tick| {
                if let Some(snapshot) = tick.snapshot() {
                    let now_ns = unix_nanos(tick.at);
                    let payload = encode::request(&source, &snapshot, &identity, start_ns, now_ns);
                    queue.push(Bytes::from(payload), &stats);
                }
            })?
        };
        let (stop, stopped) = oneshot::channel();
        let sender = Sender {
            errors: engine.export_errors("otlp"),
            stats: Arc::clone(&stats),
            queue,
            settings,
        };
        let thread = std::thread::Builder::new()
            .name("vitals-otlp".to_owned())
            .spawn(move || runtime.block_on(sender.run(stopped)))?;
        Ok(Self {
            scheduled: Some(scheduled),
            stop: Some(stop),
            thread: Some(thread),
            stats,
        })
    }

    /// Payloads the collector accepted (2xx) so far.
    pub fn sent(&self) -> u64 {
        self.stats.sent.load(Ordering::Relaxed)
    }

    /// Payloads given up so far: pushed out of a full queue, or refused with a 4xx other than
    /// 429.
    pub fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        drop(self.scheduled.take());
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Payloads waiting to be sent, oldest first; past `max` the oldest is dropped (values are
/// cumulative, so the next payload carries its counts).
struct Queue {
    payloads: Mutex<VecDeque<Bytes>>,
    max: usize,
    ready: Notify,
}

impl Queue {
    fn push(&self, payload: Bytes, stats: &Stats) {
        {
            let mut payloads = self.payloads.lock().unwrap_or_else(PoisonError::into_inner);
            if payloads.len() >= self.max {
                payloads.pop_front();
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            payloads.push_back(payload);
        }
        self.ready.notify_one();
    }

    fn front(&self) -> Option<Bytes> {
        let payloads = self.payloads.lock().unwrap_or_else(PoisonError::into_inner);
        payloads.front().cloned()
    }

    fn pop(&self) {
        self.payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
    }

    fn len(&self) -> usize {
        self.payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// How one POST went.
enum Outcome {
    Accepted,
    /// Not worth sending again (4xx other than 429): the payload is dropped.
    Refused(String),
    /// Worth another try (no connection, timeout, 5xx, 429).
    Retry(String),
}

/// Most POSTs that fail in one interval before the rest wait for the next payload.
const MAX_ATTEMPTS: u32 = 4;

/// The sending side, on the exporter's own thread.
struct Sender {
    errors: Arc<AtomicU64>,
    stats: Arc<Stats>,
    queue: Arc<Queue>,
    settings: OtlpSettings,
}

/// What the sender remembers between rounds, for its log lines.
#[derive(Default)]
struct Streak {
    /// Failed POSTs since the last success.
    failing: u64,
    /// Payloads dropped since the last success.
    dropped_at_start: u64,
}

impl Sender {
    async fn run(self, mut stop: oneshot::Receiver<()>) {
        let mut streak = Streak::default();
        loop {
            let ready = self.queue.ready.notified();
            if let Either::Right(_) = select(std::pin::pin!(ready), &mut stop).await {
                return;
            }
            if !self.round(&mut stop, &mut streak).await {
                return;
            }
        }
    }

    /// Sends what is queued, retrying with backoff for at most one interval; `false` once
    /// asked to stop.
    async fn round(&self, stop: &mut oneshot::Receiver<()>, streak: &mut Streak) -> bool {
        let interval = self.settings.interval.max(Duration::from_millis(1));
        let timeout = self.settings.effective_timeout();
        let deadline = Instant::now() + interval;
        let mut backoff = (interval / 8).clamp(Duration::from_millis(10), Duration::from_secs(2));
        let mut warned = false;
        let mut attempts = 0;
        while let Some(payload) = self.queue.front() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            let attempt = tokio::time::timeout(
                timeout.min(remaining),
                transport::post(&self.settings.endpoint, payload),
            );
            let outcome = match select(std::pin::pin!(attempt), &mut *stop).await {
                Either::Left((result, _)) => classify(result, timeout),
                Either::Right(_) => return false,
            };
            let problem = match outcome {
                Outcome::Accepted => {
                    self.queue.pop();
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    self.recovered(streak);
                    continue;
                }
                Outcome::Refused(problem) => {
                    self.queue.pop();
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    problem
                }
                Outcome::Retry(problem) => problem,
            };
            self.errors.fetch_add(1, Ordering::Relaxed);
            streak.failing += 1;
            attempts += 1;
            if !warned {
                warned = true;
                tracing::warn!(
                    endpoint = %self.settings.endpoint,
                    error = %problem,
                    queued = self.queue.len(),
                    dropped_payloads = self.dropped_since(streak),
                    "OTLP export failed; retrying with backoff, values are cumulative so nothing is lost once it gets through"
                );
            }
            if attempts >= MAX_ATTEMPTS {
                break;
            }
            let pause = backoff.min(deadline.saturating_duration_since(Instant::now()));
            backoff = backoff.saturating_mul(2);
            let sleep = tokio::time::sleep(pause);
            if let Either::Right(_) = select(std::pin::pin!(sleep), &mut *stop).await {
                return false;
            }
        }
        true
    }

    fn dropped_since(&self, streak: &Streak) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed) - streak.dropped_at_start
    }

    fn recovered(&self, streak: &mut Streak) {
        if streak.failing > 0 {
            tracing::info!(
                endpoint = %self.settings.endpoint,
                failed_pushes = streak.failing,
                dropped_payloads = self.dropped_since(streak),
                "OTLP export recovered"
            );
        }
        streak.failing = 0;
        streak.dropped_at_start = self.stats.dropped.load(Ordering::Relaxed);
    }
}

fn classify(
    result: Result<Result<transport::Answer, transport::PostError>, tokio::time::error::Elapsed>,
    timeout: Duration,
) -> Outcome {
    let answer = match result {
        Err(_) => {
            return Outcome::Retry(format!("no answer within {} ms", timeout.as_millis()));
        }
        Ok(Err(e)) => return Outcome::Retry(e.to_string()),
        Ok(Ok(answer)) => answer,
    };
    let status = answer.status;
    if status.is_success() {
        if let Some((rejected, message)) = encode::partial_success(&answer.body) {
            tracing::warn!(
                rejected_data_points = rejected,
                message = %message,
                "the OTLP receiver accepted the push but rejected some points"
            );
        }
        return Outcome::Accepted;
    }
    let problem = format!("the receiver answered {status}{}", body_hint(&answer.body));
    if status.is_client_error() && status != http::StatusCode::TOO_MANY_REQUESTS {
        Outcome::Refused(problem)
    } else {
        Outcome::Retry(problem)
    }
}

/// The start of a plain-text error body, when there is one.
fn body_hint(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text)
            if !text.trim().is_empty() && text.chars().all(|c| !c.is_control() || c == '\n') =>
        {
            let text: String = text.trim().chars().take(200).collect();
            format!(": {}", text.replace('\n', " "))
        }
        _ => String::new(),
    }
}
