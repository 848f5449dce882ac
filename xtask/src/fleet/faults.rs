//! One fault per instance, all at once, while the others carry on; each must page for its
//! own instance only, through the real Prometheus → Alertmanager → webhook path, with the
//! rules of `deploy/prometheus/alerts.yml` as they are (their `for` durations included):
//!
//! - instance 2 is stopped (SIGTERM): InstanceDown after its minute; started again on the
//!   same address, the resolved notification follows;
//! - instance 3 loses its Redis (killed): CacheErrors;
//! - instance 4's database gate stalls, so every pooled connection hangs in a query:
//!   DatabasePoolExhausted after its minute;
//! - instance 1 (and any beyond the fourth) is the control: no notification may name it.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::traffic::Traffic;
use super::webhook::{Alert, Notification};
use super::{Check, Fleet};

/// Load per running instance during the faults, requests per second.
const RATE: f64 = 10.0;
/// Longest wait for the three alerts (the two rules with a `for: 1m` need a little more).
const FIRE_LIMIT: Duration = Duration::from_secs(120);
/// Longest wait for a resolved notification.
const RESOLVE_LIMIT: Duration = Duration::from_secs(30);

/// The fault of each victim, by index in the fleet, and the receiver its severity routes to
/// in `deploy/alertmanager/alertmanager.yml` (critical: pager, warning: chat).
const FAULTS: [(usize, &str, &str, &str); 3] = [
    (1, "InstanceDown", "stopped with SIGTERM", "pager"),
    (2, "CacheErrors", "its Redis killed", "chat"),
    (
        3,
        "DatabasePoolExhausted",
        "its database gate stalled",
        "pager",
    ),
];

/// Every alert of every notification, with when and where it arrived.
fn alerts(notes: &[Notification]) -> Vec<(Instant, &str, &Alert)> {
    notes
        .iter()
        .flat_map(|n| n.alerts.iter().map(move |a| (n.at, n.receiver.as_str(), a)))
        .collect()
}

/// When the webhook first got `name` in `status` for `target`, and through which receiver.
fn first(fleet: &Fleet, name: &str, status: &str, target: &str) -> Option<(Instant, String)> {
    let notes = fleet.webhook.notifications();
    alerts(&notes)
        .into_iter()
        .find(|(_, _, a)| {
            a.label("alertname") == name && a.status == status && a.label("instance") == target
        })
        .map(|(at, receiver, _)| (at, receiver.to_owned()))
}

async fn wait_for(
    fleet: &Fleet,
    wanted: &[(&str, &str, String)],
    limit: Duration,
) -> Vec<Option<(Instant, String)>> {
    let deadline = Instant::now() + limit;
    loop {
        let seen: Vec<_> = wanted
            .iter()
            .map(|(name, status, target)| first(fleet, name, status, target))
            .collect();
        if seen.iter().all(Option::is_some) || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs the faults and returns the checks.
pub async fn check(fleet: &mut Fleet) -> Result<Vec<Check>> {
    anyhow::ensure!(
        fleet.instances.len() >= 4,
        "the fault checks need at least 4 instances (--instances 4)"
    );
    let targets: Vec<String> = fleet.instances.iter().map(|i| i.target()).collect();
    let hosts: Vec<String> = fleet
        .instances
        .iter()
        .map(|i| i.host.name.clone())
        .collect();
    let running: Vec<_> = fleet
        .instances
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != 1)
        .map(|(_, i)| i.addr)
        .collect();
    let traffic = Traffic::start(&running, RATE, FIRE_LIMIT + RESOLVE_LIMIT);
    // A few seconds of normal traffic first, so the cache and pool are in use.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let t0 = Instant::now();
    fleet.instances[1].stop_server()?;
    fleet.instances[2].cut_redis();
    fleet.instances[3].gate.stall();
    eprintln!(
        "fleet: faults on: {} stopped, {} without Redis, {} with its database stalled",
        hosts[1], hosts[2], hosts[3]
    );
    let wanted: Vec<(&str, &str, String)> = FAULTS
        .iter()
        .map(|&(k, name, _, _)| (name, "firing", targets[k].clone()))
        .collect();
    let fired = wait_for(fleet, &wanted, FIRE_LIMIT).await;

    // Recovery: the stopped instance comes back on the same address.
    fleet.instances[1].start_server()?;
    fleet.instances[3].gate.open().await;
    fleet.instances[2].restore_redis();
    let back = Instant::now();
    let resolved_wanted = [
        ("InstanceDown", "resolved", targets[1].clone()),
        ("DatabasePoolExhausted", "resolved", targets[3].clone()),
    ];
    let resolved = wait_for(fleet, &resolved_wanted, RESOLVE_LIMIT).await;
    let (answered, errors) = traffic.stop().await;
    eprintln!("fleet: load during the faults: {answered} answered, {errors} failed");

    let mut checks = Vec::new();
    let notes = fleet.webhook.notifications();
    let all = alerts(&notes);
    for ((k, name, fault, route), seen) in FAULTS.iter().zip(&fired) {
        let wrong: Vec<String> = all
            .iter()
            .filter(|(_, _, a)| a.label("alertname") == *name && a.label("instance") != targets[*k])
            .map(|(_, _, a)| a.label("instance").to_owned())
            .collect();
        let labels = all
            .iter()
            .find(|(_, _, a)| a.label("alertname") == *name && a.label("instance") == targets[*k])
            .map(|(_, _, a)| a.labels.clone())
            .unwrap_or_default();
        let host_ok = labels.get("host").is_some_and(|h| *h == hosts[*k]);
        checks.push(Check {
            name: format!("{name} for {} only", hosts[*k]),
            passed: seen.as_ref().is_some_and(|(_, r)| r == route) && wrong.is_empty() && host_ok,
            detail: match seen {
                Some((at, receiver)) => format!(
                    "{} {fault}: `{name}` reached the webhook's `{receiver}` receiver {:.1} s \
                     later with labels {labels:?}{}",
                    hosts[*k],
                    at.duration_since(t0).as_secs_f64(),
                    if wrong.is_empty() {
                        String::new()
                    } else {
                        format!("; it also named {wrong:?}")
                    }
                ),
                None => format!(
                    "{} {fault}: no `{name}` notification for {} within {FIRE_LIMIT:?}",
                    hosts[*k], targets[*k]
                ),
            },
        });
    }
    for ((name, _, target), seen) in resolved_wanted.iter().zip(&resolved) {
        let host = targets
            .iter()
            .position(|t| t == target)
            .map_or("?", |k| hosts[k].as_str());
        checks.push(Check {
            name: format!("{name} resolved for {host}"),
            passed: seen.is_some(),
            detail: match seen {
                Some((at, receiver)) => format!(
                    "back at {:.1} s: the resolved `{name}` reached `{receiver}` {:.1} s later",
                    back.duration_since(t0).as_secs_f64(),
                    at.duration_since(back).as_secs_f64()
                ),
                None => format!("no resolved `{name}` for {target} within {RESOLVE_LIMIT:?}"),
            },
        });
    }
    let controls: Vec<usize> = (0..targets.len())
        .filter(|k| !(1..=3).contains(k))
        .collect();
    let about_controls: Vec<String> = all
        .iter()
        .filter(|(_, _, a)| controls.iter().any(|&k| a.label("instance") == targets[k]))
        .map(|(_, _, a)| format!("{} {}", a.label("alertname"), a.label("instance")))
        .collect();
    checks.push(Check {
        name: "no notification about the healthy instances".into(),
        passed: about_controls.is_empty(),
        detail: if about_controls.is_empty() {
            format!(
                "{} notifications in all, none naming {}",
                notes.len(),
                controls
                    .iter()
                    .map(|&k| hosts[k].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!("unexpected: {about_controls:?}")
        },
    });
    Ok(checks)
}
