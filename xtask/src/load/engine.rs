//! The load engine: virtual users on keep-alive HTTP/1.1 connections (hyper), a closed model
//! (users with think time) or an open model (constant arrival rate), and a live progress line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::open::Arrivals;
use super::scenario::Scenario;
use super::stats::{Endpoint, Outcome, Stats, Timeline};
use super::zipf::{Rng, Zipf};

/// Longest wait for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How a run is driven.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The server, on loopback.
    pub addr: SocketAddr,
    /// The shape (closed model).
    pub scenario: Scenario,
    /// Most virtual users (connections).
    pub users: u32,
    /// Length of the run.
    pub duration: Duration,
    /// Open model: arrivals per second (`None`: closed model).
    pub rate: Option<f64>,
    /// Closed model: mean pause between a user's requests.
    pub think: Duration,
    /// Distinct user ids the users pick from (Zipf-distributed).
    pub user_ids: u32,
    /// Only GET this path instead of the API mix (engine calibration).
    pub path: Option<String>,
    /// Hard bound on requests sent.
    pub max_requests: u64,
    /// Stop a stress run at the first step that breaks the targets.
    pub stop_on_knee: bool,
}

const MESSAGES: &[&str] = &[
    "I sleep badly lately",
    "How much water should I drink?",
    "I feel stressed at work",
    "Any tips for a short workout?",
    "What should I eat for breakfast?",
    "I have a headache",
    "How do I build better habits?",
];

struct Shared {
    plan: Plan,
    start: Instant,
    timeline: Arc<Timeline>,
    sent: std::sync::atomic::AtomicU64,
    stop: AtomicBool,
    zipf: Zipf,
    arrivals: Option<Arrivals>,
}

impl Shared {
    fn users_now(&self) -> u32 {
        match self.plan.rate {
            Some(_) => self.plan.users,
            None => self.plan.scenario.users_at(
                self.start.elapsed(),
                self.plan.duration,
                self.plan.users,
            ),
        }
    }

    fn over(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.start.elapsed() >= self.plan.duration
    }

    /// Takes one request from the budget; `false` once it is spent.
    fn permit(&self) -> bool {
        self.sent.fetch_add(1, Ordering::Relaxed) < self.plan.max_requests
    }
}

/// Runs the plan to its end and returns what was seen: the merged per-request records and
/// the per-second timeline.
pub async fn run(plan: Plan, progress: bool) -> (Stats, Arc<Timeline>) {
    let start = Instant::now();
    let timeline = Arc::new(Timeline::new(
        usize::try_from(plan.duration.as_secs()).unwrap_or(0) + 2,
    ));
    let arrivals = plan.rate.map(|r| Arrivals::new(start, r, plan.duration));
    let shared = Arc::new(Shared {
        zipf: Zipf::new(plan.user_ids, 1.1),
        plan,
        start,
        timeline: Arc::clone(&timeline),
        sent: std::sync::atomic::AtomicU64::new(0),
        stop: AtomicBool::new(false),
        arrivals,
    });
    let mut workers = Vec::new();
    for index in 0..shared.plan.users {
        let shared = Arc::clone(&shared);
        workers.push(tokio::spawn(async move { user(shared, index).await }));
    }
    let reporter = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move { watch(shared, progress).await })
    };
    let mut stats = Stats::new();
    for w in workers {
        if let Ok(local) = w.await {
            stats.merge(local);
        }
    }
    reporter.abort();
    if progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    (stats, timeline)
}

async fn user(shared: Arc<Shared>, index: u32) -> Stats {
    let mut stats = Stats::new();
    let mut rng = Rng::new(0x5EED ^ (u64::from(index) + 1).wrapping_mul(0x9E37_79B9));
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    while !shared.over() {
        let intended = if let Some(arrivals) = &shared.arrivals {
            let Some(due) = arrivals.take() else { break };
            tokio::time::sleep_until(due.into()).await;
            due
        } else {
            if index >= shared.users_now() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Instant::now()
        };
        if !shared.permit() {
            break;
        }
        let (endpoint, request) = next_request(&shared, &mut rng);
        let outcome = send(&shared.plan.addr, &mut conn, request).await;
        let done = Instant::now();
        let second = usize::try_from(done.duration_since(shared.start).as_secs()).unwrap_or(0);
        let latency = done.duration_since(intended);
        stats.record(endpoint, latency, outcome);
        shared
            .timeline
            .record(second, shared.users_now(), latency, outcome != Outcome::Ok);
        if shared.arrivals.is_none() && !shared.plan.think.is_zero() {
            // Think time with ±50 % jitter, so users do not march in step.
            let jitter = 0.5 + rng.unit();
            tokio::time::sleep(shared.plan.think.mul_f64(jitter)).await;
        }
    }
    stats
}

fn next_request(shared: &Shared, rng: &mut Rng) -> (Endpoint, Request<Full<Bytes>>) {
    let get = |path: String| {
        Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    };
    if let Some(path) = &shared.plan.path {
        return (Endpoint::Path, get(path.clone()));
    }
    let roll = rng.unit();
    let user = shared.zipf.pick(rng);
    if roll < 0.20 {
        let message =
            MESSAGES[usize::try_from(rng.next_u64() % MESSAGES.len() as u64).unwrap_or(0)];
        let body =
            serde_json::json!({"user_id": format!("user-{user}"), "message": message}).to_string();
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/chat")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("a valid request");
        (Endpoint::Chat, request)
    } else if roll < 0.95 {
        (
            Endpoint::History,
            get(format!("/api/v1/users/user-{user}/history?limit=20")),
        )
    } else {
        (Endpoint::Metrics, get("/api/v1/metrics".into()))
    }
}

async fn send(
    addr: &SocketAddr,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    request: Request<Full<Bytes>>,
) -> Outcome {
    if conn.as_ref().is_none_or(SendRequest::is_closed) {
        match connect(addr).await {
            Ok(c) => *conn = Some(c),
            Err(o) => return o,
        }
    }
    let Some(sender) = conn.as_mut() else {
        return Outcome::Connect;
    };
    let exchange = async {
        sender.ready().await.map_err(|_| Outcome::Io)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|_| Outcome::Io)?;
        let status = response.status().as_u16();
        response
            .into_body()
            .collect()
            .await
            .map_err(|_| Outcome::Io)?;
        Ok::<u16, Outcome>(status)
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(Ok(status)) if status < 400 => Outcome::Ok,
        Ok(Ok(status)) if status < 500 => Outcome::Client(status),
        Ok(Ok(status)) => Outcome::Server(status),
        Ok(Err(o)) => {
            *conn = None;
            o
        }
        Err(_) => {
            *conn = None;
            Outcome::Timeout
        }
    }
}

async fn connect(addr: &SocketAddr) -> Result<SendRequest<Full<Bytes>>, Outcome> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| Outcome::Connect)?
        .map_err(|_| Outcome::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Outcome::Connect)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Once a second: prints the progress line (when asked) and stops a stress run at its knee.
async fn watch(shared: Arc<Shared>, print: bool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let total = shared.plan.duration.as_secs().max(1);
    loop {
        tick.tick().await;
        let elapsed = shared.start.elapsed().as_secs().min(total);
        let line = {
            let last = usize::try_from(elapsed.saturating_sub(1)).unwrap_or(0);
            let (_, rps, errors, p95) = shared.timeline.second(last).unwrap_or_default();
            let (_, _, total_errors, _) = shared.timeline.span(0, shared.timeline.len());
            let width = 30usize;
            let filled = usize::try_from(elapsed * width as u64 / total).unwrap_or(width);
            format!(
                "[{}{}] {elapsed:>4}/{total}s users {:>4}  {rps:>6} rps  p95 {p95:>8.1} ms  errors {errors:>4} (total {total_errors})",
                "#".repeat(filled),
                " ".repeat(width - filled.min(width)),
                shared.users_now(),
            )
        };
        if print {
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprint!("\r{line}");
            } else if elapsed.is_multiple_of(5) || elapsed == total {
                // Logs get a line every five seconds instead of a redrawn bar.
                eprintln!("{line}");
            }
        }
        if shared.plan.stop_on_knee && knee_reached(&shared) {
            shared.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Latency a stress step may reach before it counts as the knee: the targets' P95 of 3 s.
pub const KNEE_P95_MS: f64 = 3_000.0;
/// Error share a stress step may reach before it counts as the knee.
pub const KNEE_ERROR_RATE: f64 = 0.01;

/// Whether the last five whole seconds together broke the targets.
fn knee_reached(shared: &Shared) -> bool {
    let now = usize::try_from(shared.start.elapsed().as_secs()).unwrap_or(0);
    let (_, requests, errors, p95) = shared.timeline.span(now.saturating_sub(5), now);
    requests > 0 && (p95 > KNEE_P95_MS || errors as f64 / requests as f64 > KNEE_ERROR_RATE)
}
