//! The load engine: virtual users on keep-alive HTTP/1.1 connections (hyper), a closed model
//! (users with think time) or an open model (constant arrival rate), and a live progress line.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::open::Arrivals;
use super::scenario::Scenario;
use super::stats::{Endpoint, Outcome, Stats};
use super::timeline::{Local, Timeline};
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
    /// The server's process id, when the run started it (sampled for memory and CPU).
    pub server_pid: Option<u32>,
    /// Set from outside to end the run early (the fleet run stops its load this way).
    pub cancel: Option<Arc<AtomicBool>>,
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

/// Requests a worker takes from the shared budget at a time, so the budget costs one shared
/// atomic operation per this many requests instead of one per request.
const BUDGET_CHUNK: u64 = 64;

struct Shared {
    plan: Plan,
    start: Instant,
    end: Instant,
    timeline: Arc<Timeline>,
    sent: AtomicU64,
    stop: AtomicBool,
    zipf: Zipf,
    arrivals: Option<Arrivals>,
    /// One bit per user id: has a history read of it succeeded in this run yet?
    read_before: Box<[AtomicU64]>,
    /// `--path` parsed once.
    fixed_uri: Option<Uri>,
}

impl Shared {
    fn users_at(&self, now: Instant) -> u32 {
        match self.plan.rate {
            Some(_) => self.plan.users,
            None => self.plan.scenario.users_at(
                now.saturating_duration_since(self.start),
                self.plan.duration,
                self.plan.users,
            ),
        }
    }

    fn over_at(&self, now: Instant) -> bool {
        now >= self.end
            || self.stop.load(Ordering::Relaxed)
            || self
                .plan
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    fn second_of(&self, now: Instant) -> usize {
        usize::try_from(now.saturating_duration_since(self.start).as_secs()).unwrap_or(usize::MAX)
    }

    /// Marks `user` as read; `true` if this is the run's first successful read of it.
    fn first_read(&self, user: u32) -> bool {
        let (word, bit) = ((user / 64) as usize, 1u64 << (user % 64));
        self.read_before
            .get(word)
            .is_some_and(|w| w.fetch_or(bit, Ordering::Relaxed) & bit == 0)
    }
}

/// A worker's share of the request budget.
struct Budget {
    left: u64,
}

impl Budget {
    /// Takes one request; `false` once the run's budget is spent.
    fn take(&mut self, shared: &Shared) -> bool {
        if self.left == 0 {
            let before = shared.sent.fetch_add(BUDGET_CHUNK, Ordering::Relaxed);
            self.left = shared
                .plan
                .max_requests
                .saturating_sub(before)
                .min(BUDGET_CHUNK);
            if self.left == 0 {
                return false;
            }
        }
        self.left -= 1;
        true
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
    let fixed_uri = plan.path.as_deref().and_then(|p| p.parse::<Uri>().ok());
    let shared = Arc::new(Shared {
        zipf: Zipf::new(plan.user_ids, 1.1),
        read_before: (0..plan.user_ids.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect(),
        end: start + plan.duration,
        plan,
        start,
        timeline: Arc::clone(&timeline),
        sent: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        arrivals,
        fixed_uri,
    });
    let reporter = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move { watch(shared, progress).await })
    };
    // One single-threaded runtime per core, each driving its share of the connections (as wrk
    // runs one event loop per thread): no work stealing, no cross-thread wake-ups per request.
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(usize::try_from(shared.plan.users).unwrap_or(1))
        .max(1);
    let mut loops = Vec::new();
    for thread in 0..threads {
        let shared = Arc::clone(&shared);
        loops.push(std::thread::spawn(move || {
            event_loop(&shared, thread, threads)
        }));
    }
    let joined = tokio::task::spawn_blocking(move || {
        let mut stats = Stats::new();
        for l in loops {
            if let Ok(local) = l.join() {
                stats.merge(local);
            }
        }
        stats
    })
    .await;
    let stats = joined.unwrap_or_default();
    reporter.abort();
    if progress {
        let all = timeline.span(0, usize::MAX);
        let seconds = start.elapsed().as_secs_f64().max(1e-3);
        eprintln!(
            "{}done in {seconds:.1} s: {} requests, {:.0} rps, p95 {:.1} ms, {} errors",
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                "\n"
            } else {
                ""
            },
            all.counts.total(),
            all.counts.total() as f64 / seconds,
            all.counts.latency.quantile_ms(0.95),
            all.counts.total_errors(),
        );
    }
    (stats, timeline)
}

/// Runs users `thread`, `thread + threads`, … on a current-thread runtime; their records merged.
fn event_loop(shared: &Arc<Shared>, thread: usize, threads: usize) -> Stats {
    let mut stats = Stats::new();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return stats;
    };
    runtime.block_on(async {
        let mut users = Vec::new();
        for index in (0..shared.plan.users).skip(thread).step_by(threads) {
            let shared = Arc::clone(shared);
            users.push(tokio::spawn(user(shared, index)));
        }
        for u in users {
            if let Ok(local) = u.await {
                stats.merge(local);
            }
        }
    });
    stats
}

/// One keep-alive connection: hyper's request sender and the connection future, which the
/// worker drives itself while a request is out (no second task, no cross-task wake-ups).
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
    closed: bool,
}

async fn user(shared: Arc<Shared>, index: u32) -> Stats {
    let mut stats = Stats::new();
    let mut local = Local::new();
    let mut budget = Budget { left: 0 };
    let mut rng = Rng::new(0x5EED ^ (u64::from(index) + 1).wrapping_mul(0x9E37_79B9));
    let mut conn: Option<Conn> = None;
    let mut now = Instant::now();
    while !shared.over_at(now) {
        let intended = if let Some(arrivals) = &shared.arrivals {
            let Some(due) = arrivals.take() else { break };
            tokio::time::sleep_until(due.into()).await;
            due
        } else {
            if index >= shared.users_at(now) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                now = Instant::now();
                continue;
            }
            now
        };
        if !budget.take(&shared) {
            break;
        }
        let (endpoint, user_id, request) = next_request(&shared, &mut rng);
        let outcome = send(&shared.plan.addr, &mut conn, request).await;
        now = Instant::now();
        let latency = now.saturating_duration_since(intended);
        stats.record(endpoint, latency, outcome);
        let cold =
            endpoint == Endpoint::History && outcome == Outcome::Ok && shared.first_read(user_id);
        local.record(
            &shared.timeline,
            shared.second_of(now),
            endpoint,
            latency,
            outcome != Outcome::Ok,
            cold,
        );
        if shared.arrivals.is_none() && !shared.plan.think.is_zero() {
            // Think time with ±50 % jitter, so users do not march in step.
            let jitter = 0.5 + rng.unit();
            tokio::time::sleep(shared.plan.think.mul_f64(jitter)).await;
            now = Instant::now();
        }
    }
    local.flush(&shared.timeline);
    stats
}

fn bare(uri: Uri, body: Bytes) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.uri_mut() = uri;
    request
        .headers_mut()
        .insert(HOST, HeaderValue::from_static("127.0.0.1"));
    request
}

fn next_request(shared: &Shared, rng: &mut Rng) -> (Endpoint, u32, Request<Full<Bytes>>) {
    if let Some(uri) = &shared.fixed_uri {
        return (Endpoint::Path, 0, bare(uri.clone(), Bytes::new()));
    }
    let get = |path: String| {
        let uri = Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/"));
        bare(uri, Bytes::new())
    };
    let roll = rng.unit();
    let user = shared.zipf.pick(rng);
    if roll < 0.20 {
        let message =
            MESSAGES[usize::try_from(rng.next_u64() % MESSAGES.len() as u64).unwrap_or(0)];
        let body =
            serde_json::json!({"user_id": format!("user-{user}"), "message": message}).to_string();
        let mut request = bare(Uri::from_static("/api/v1/chat"), Bytes::from(body));
        *request.method_mut() = Method::POST;
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        (Endpoint::Chat, user, request)
    } else if roll < 0.95 {
        (
            Endpoint::History,
            user,
            get(format!("/api/v1/users/user-{user}/history?limit=20")),
        )
    } else {
        (
            Endpoint::Metrics,
            user,
            bare(Uri::from_static("/api/v1/metrics"), Bytes::new()),
        )
    }
}

async fn send(
    addr: &SocketAddr,
    slot: &mut Option<Conn>,
    request: Request<Full<Bytes>>,
) -> Outcome {
    if slot
        .as_ref()
        .is_none_or(|c| c.closed || c.sender.is_closed())
    {
        match connect(addr).await {
            Ok(c) => *slot = Some(c),
            Err(o) => {
                *slot = None;
                return o;
            }
        }
    }
    let Some(conn) = slot.as_mut() else {
        return Outcome::Connect;
    };
    let Conn {
        sender,
        driver,
        closed,
    } = conn;
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
    let driven = async {
        tokio::pin!(exchange);
        loop {
            tokio::select! {
                biased;
                result = &mut exchange => break result,
                // The connection ended (closed or broken): the exchange fails on its next poll.
                _ = driver.as_mut(), if !*closed => *closed = true,
            }
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, driven).await {
        Ok(Ok(status)) if status < 400 => Outcome::Ok,
        Ok(Ok(status)) if status < 500 => Outcome::Client(status),
        Ok(Ok(status)) => Outcome::Server(status),
        Ok(Err(o)) => {
            *slot = None;
            o
        }
        Err(_) => {
            *slot = None;
            Outcome::Timeout
        }
    }
}

async fn connect(addr: &SocketAddr) -> Result<Conn, Outcome> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| Outcome::Connect)?
        .map_err(|_| Outcome::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Outcome::Connect)?;
    Ok(Conn {
        sender,
        driver: Box::pin(connection),
        closed: false,
    })
}

/// Samples the run ten times a second (active users) and once a second (the server's memory
/// and CPU), prints the progress line when asked, and stops a stress run at its knee.
async fn watch(shared: Arc<Shared>, print: bool) {
    let mut tick = tokio::time::interval_at(
        (shared.start + Duration::from_millis(100)).into(),
        Duration::from_millis(100),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let total = shared.plan.duration.as_secs().max(1);
    let mut cpu = shared.plan.server_pid.map(CpuMeter::new);
    let mut last_second = None;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let second = shared.second_of(now);
        shared.timeline.users(second, shared.users_at(now));
        // Once a second, half-way through it: workers have handed over the previous one.
        let half = now.saturating_duration_since(shared.start).subsec_millis() >= 500;
        if !half || last_second == Some(second) {
            continue;
        }
        last_second = Some(second);
        if let Some(pid) = shared.plan.server_pid {
            let rss = super::server::rss_mb(pid);
            let cpu_percent = cpu.as_mut().and_then(CpuMeter::sample);
            shared.timeline.process(second, rss, cpu_percent);
        }
        let elapsed = (second as u64).min(total);
        if print && elapsed > 0 {
            let last = shared.timeline.second(second - 1).unwrap_or_default();
            let all = shared.timeline.span(0, second);
            let width = 30usize;
            let filled = usize::try_from(elapsed * width as u64 / total).unwrap_or(width);
            let line = format!(
                "[{}{}] {elapsed:>4}/{total}s users {:>4}  {:>6} rps  p95 {:>8.1} ms  errors {:>4} (total {})",
                "#".repeat(filled),
                " ".repeat(width - filled.min(width)),
                shared.users_at(now),
                last.counts.total(),
                last.counts.latency.quantile_ms(0.95),
                last.counts.total_errors(),
                all.counts.total_errors(),
            );
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprint!("\r{line}");
            } else if elapsed.is_multiple_of(5) || elapsed == total {
                // Logs get a line every five seconds instead of a redrawn bar.
                eprintln!("{line}");
            }
        }
        if shared.plan.stop_on_knee && knee_reached(&shared, second) {
            shared.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// CPU time of a process between samples, as a share of the whole machine.
struct CpuMeter {
    pid: u32,
    cores: f64,
    last: Option<(Instant, f64)>,
}

impl CpuMeter {
    fn new(pid: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mut meter = Self {
            pid,
            cores: cores as f64,
            last: None,
        };
        let _ = meter.sample();
        meter
    }

    /// Percent of all cores used since the last sample (`None` on the first).
    fn sample(&mut self) -> Option<f64> {
        let now = Instant::now();
        let seconds = super::server::cpu_seconds(self.pid)?;
        let previous = self.last.replace((now, seconds));
        let (then, before) = previous?;
        let wall = now.saturating_duration_since(then).as_secs_f64();
        (wall > 0.0).then(|| ((seconds - before) / wall / self.cores * 100.0).clamp(0.0, 100.0))
    }
}

/// Latency a stress step may reach before it counts as the knee: the targets' P95 of 3 s.
pub const KNEE_P95_MS: f64 = 3_000.0;
/// Error share a stress step may reach before it counts as the knee.
pub const KNEE_ERROR_RATE: f64 = 0.01;

/// Whether the five whole seconds before `now` together broke the targets.
fn knee_reached(shared: &Shared, now: usize) -> bool {
    let span = shared.timeline.span(now.saturating_sub(5), now);
    let (requests, errors) = (span.counts.total(), span.counts.total_errors());
    requests > 0
        && (span.counts.latency.quantile_ms(0.95) > KNEE_P95_MS
            || errors as f64 / requests as f64 > KNEE_ERROR_RATE)
}
