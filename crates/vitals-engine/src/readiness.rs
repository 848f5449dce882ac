//! Readiness: every registered probe, run at once under one timeout.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use vitals_core::{Importance, ReadinessProbe};

/// Readiness document.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ready` or `unready`.
    pub status: &'static str,
    /// Why the service is unready (empty when ready).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Each probe's result, by name (`database`, `cache`, `database:replica`, your own).
    pub checks: BTreeMap<String, Check>,
}

/// One probe's result.
#[derive(Debug, Serialize)]
pub struct Check {
    /// `ok`; `down` for a required dependency that failed; `degraded` for an optional one.
    pub status: &'static str,
    /// Backend name.
    pub backend: String,
    /// How long the probe took, in milliseconds.
    pub latency_ms: f64,
    /// What failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Readiness {
    /// Whether every required dependency answered.
    pub fn is_ready(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Runs every probe concurrently, each bounded by `timeout`: ready while every required one
/// answers, unready with reasons otherwise. An optional dependency that fails (a cache) is
/// reported `degraded` and leaves the service ready, so its outage never takes every
/// instance out of a load balancer at once.
pub(crate) async fn run(probes: &[ReadinessProbe], timeout: Duration) -> Readiness {
    let results = futures_join_all(probes.iter().map(|p| async move {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(timeout, (p.probe)()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
        };
        (p, outcome, started.elapsed())
    }))
    .await;
    let mut reasons = Vec::new();
    let mut checks = BTreeMap::new();
    for (probe, error, took) in results {
        let status = match (&error, probe.importance) {
            (None, _) => "ok",
            (Some(_), Importance::Optional) => "degraded",
            (Some(e), Importance::Required) => {
                tracing::warn!(check = %probe.name, error = %e, "readiness: dependency unavailable");
                reasons.push(format!("{}: {e}", probe.name));
                "down"
            }
        };
        checks.insert(
            probe.name.clone(),
            Check {
                status,
                backend: probe.backend.clone(),
                latency_ms: vitals_core::math::round_to(took.as_secs_f64() * 1000.0, 2),
                error,
            },
        );
    }
    Readiness {
        status: if reasons.is_empty() {
            "ready"
        } else {
            "unready"
        },
        reasons,
        checks,
    }
}

/// Polls every future to completion concurrently (a small join-all; no extra dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in set.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *output = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
