//! Load on the fleet: the load engine of `cargo xtask load` (open model, the Health Agent API
//! mix: chat, history, metrics), one run per instance, all at once, until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::load::Scenario;
use crate::load::engine::{self, Plan};
use crate::load::stats::Stats;

/// Load running on some instances.
pub struct Traffic {
    cancel: Arc<AtomicBool>,
    runs: Vec<tokio::task::JoinHandle<Stats>>,
}

impl Traffic {
    /// `rate` requests per second on each of `targets`, for at most `limit`.
    pub fn start(targets: &[SocketAddr], rate: f64, limit: Duration) -> Self {
        let cancel = Arc::new(AtomicBool::new(false));
        let runs = targets
            .iter()
            .map(|&addr| {
                let plan = Plan {
                    addr,
                    scenario: Scenario::Steady,
                    // Enough connections for requests held up by a slow database.
                    users: 32,
                    duration: limit,
                    rate: Some(rate),
                    think: Duration::ZERO,
                    user_ids: 200,
                    path: None,
                    max_requests: (rate * limit.as_secs_f64()).ceil() as u64 + 1,
                    stop_on_knee: false,
                    server_pid: None,
                    cancel: Some(Arc::clone(&cancel)),
                };
                tokio::spawn(async move { engine::run(plan, false).await.0 })
            })
            .collect();
        Self { cancel, runs }
    }

    /// Stops the load and waits for the requests in flight; how many were answered and how
    /// many failed, over all instances.
    pub async fn stop(self) -> (u64, u64) {
        self.cancel.store(true, Ordering::Relaxed);
        let mut answered = 0;
        let mut errors = 0;
        for run in self.runs {
            if let Ok(stats) = run.await {
                answered += stats.count(|_, o| o.answered());
                errors += stats.errors();
            }
        }
        (answered, errors)
    }
}
