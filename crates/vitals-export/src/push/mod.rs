//! The push pipeline the network exporters share (OTLP and remote write are two encoders in
//! front of it): every interval the engine's scheduler encodes a payload from the snapshot of
//! that tick into a bounded queue; a thread of the exporter's own, with a small
//! single-threaded runtime, POSTs the queue oldest first, each POST under a timeout, retried
//! with backoff, its failures counted in `<ns>_export_errors_total{exporter}` and logged at
//! most once per interval (docs/export.md, "When the receiver is down, slow or refusing").

mod endpoint;
mod sender;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};
use vitals_engine::Engine;
use vitals_engine::scheduler::Scheduled;

pub use endpoint::{Endpoint, EndpointError};
pub(crate) use transport::Wire;

/// One encoded push: the body as sent, and its size before compression.
pub(crate) struct Payload {
    pub(crate) body: Bytes,
    pub(crate) uncompressed: usize,
}

/// What one exporter's pipeline is: its name, its receiver and its pace.
pub(crate) struct Plan {
    /// The `exporter` label of its error counter, and its thread's name (`vitals-<name>`).
    pub(crate) exporter: &'static str,
    /// How its log lines name it (`OTLP`, `remote write`).
    pub(crate) title: &'static str,
    pub(crate) wire: Wire,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_queue: usize,
    /// Reads a 2xx answer's body (OTLP's partial success); `None`: nothing to read.
    pub(crate) on_accepted: Option<fn(&[u8])>,
}

/// What an exporter has done so far.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

/// A running pipeline. Dropping it stops the scheduled encoding and the sender thread at
/// once (a POST under way is abandoned).
#[derive(Debug)]
pub(crate) struct Pipeline {
    scheduled: Option<Scheduled>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl Pipeline {
    /// Starts encoding with `encode` (given the tick's snapshot and wall-clock time) once now,
    /// then every `plan.interval`, and sending what it makes. Each payload's size is logged at
    /// DEBUG (target `vitals_export::push`). An error only means a thread could not start.
    pub(crate) fn start(
        engine: &Engine,
        plan: Plan,
        mut encode: impl FnMut(&vitals_core::Snapshot, SystemTime) -> Payload + Send + 'static,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let stats = Arc::new(Stats::default());
        let queue = Arc::new(Queue {
            payloads: Mutex::new(VecDeque::new()),
            max: plan.max_queue.max(1),
            ready: Notify::new(),
        });
        let scheduled = {
            let queue = Arc::clone(&queue);
            let stats = Arc::clone(&stats);
            let exporter = plan.exporter;
            engine.every_from_now(plan.interval, move |tick| {
                if let Some(snapshot) = tick.snapshot() {
                    let payload = encode(&snapshot, tick.at);
                    tracing::debug!(
                        exporter,
                        bytes = payload.body.len(),
                        uncompressed_bytes = payload.uncompressed,
                        "payload encoded"
                    );
                    queue.push(payload.body, &stats);
                }
            })?
        };
        let (stop, stopped) = oneshot::channel();
        let name = format!("vitals-{}", plan.exporter.replace('_', "-"));
        let sender = sender::Sender {
            errors: engine.export_errors(plan.exporter),
            stats: Arc::clone(&stats),
            queue,
            plan,
        };
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || runtime.block_on(sender.run(stopped)))?;
        Ok(Self {
            scheduled: Some(scheduled),
            stop: Some(stop),
            thread: Some(thread),
            stats,
        })
    }

    /// Payloads the receiver accepted (2xx) so far.
    pub(crate) fn sent(&self) -> u64 {
        self.stats.sent.load(Ordering::Relaxed)
    }

    /// Payloads given up so far: pushed out of a full queue, or refused with a 4xx other
    /// than 429.
    pub(crate) fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Pipeline {
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

/// Nanoseconds since the Unix epoch (0 before it, `u64::MAX` past 2554).
pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The default instance name: `HOSTNAME:PID`, unique per process on a host and readable in
/// a dashboard. The host name comes from `$HOSTNAME`, else `/proc/sys/kernel/hostname`, else
/// `/etc/hostname`, else `localhost`.
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

/// Payloads waiting to be sent, oldest first; past `max` the oldest is dropped (values are
/// cumulative, so the next payload carries its counts).
pub(crate) struct Queue {
    payloads: Mutex<VecDeque<Bytes>>,
    max: usize,
    pub(crate) ready: Notify,
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

    pub(crate) fn front(&self) -> Option<Bytes> {
        let payloads = self.payloads.lock().unwrap_or_else(PoisonError::into_inner);
        payloads.front().cloned()
    }

    pub(crate) fn pop(&self) {
        self.payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
    }

    pub(crate) fn len(&self) -> usize {
        self.payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
