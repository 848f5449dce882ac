//! The sending side of a pipeline, on the exporter's own thread: the queue oldest first,
//! each POST under a timeout, failures retried with backoff within the interval, counted,
//! and logged at most once per interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use tokio::sync::oneshot;

use super::transport::{self, Answer, PostError};
use super::{Plan, Queue, Stats};

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

pub(crate) struct Sender {
    pub(crate) errors: Arc<AtomicU64>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) queue: Arc<Queue>,
    pub(crate) plan: Plan,
}

/// What the sender remembers between rounds, for its log lines.
#[derive(Default)]
struct Streak {
    /// Failed POSTs since the last success.
    failing: u64,
    /// Payloads dropped before this streak of failures began.
    dropped_at_start: u64,
}

impl Sender {
    pub(crate) async fn run(self, mut stop: oneshot::Receiver<()>) {
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

    /// The timeout of one POST: the setting, capped at nine tenths of the interval.
    fn timeout(&self) -> Duration {
        self.plan.timeout.min(self.plan.interval * 9 / 10)
    }

    /// Sends what is queued, retrying with backoff for at most one interval; `false` once
    /// asked to stop.
    async fn round(&self, stop: &mut oneshot::Receiver<()>, streak: &mut Streak) -> bool {
        let interval = self.plan.interval.max(Duration::from_millis(1));
        let timeout = self.timeout();
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
                transport::post(&self.plan.wire, payload),
            );
            let outcome = match select(std::pin::pin!(attempt), &mut *stop).await {
                Either::Left((result, _)) => self.classify(result, timeout),
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
                    exporter = self.plan.exporter,
                    endpoint = %self.plan.wire.endpoint,
                    error = %problem,
                    queued = self.queue.len(),
                    dropped_payloads = self.dropped_since(streak),
                    "{} export failed; retrying with backoff, values are cumulative so nothing is lost once it gets through",
                    self.plan.title
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
                exporter = self.plan.exporter,
                endpoint = %self.plan.wire.endpoint,
                failed_pushes = streak.failing,
                dropped_payloads = self.dropped_since(streak),
                "{} export recovered",
                self.plan.title
            );
        }
        streak.failing = 0;
        streak.dropped_at_start = self.stats.dropped.load(Ordering::Relaxed);
    }

    fn classify(
        &self,
        result: Result<Result<Answer, PostError>, tokio::time::error::Elapsed>,
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
            if let Some(read) = self.plan.on_accepted {
                read(&answer.body);
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
