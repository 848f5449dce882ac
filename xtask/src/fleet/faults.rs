//! One fault per instance, all at once, while the others carry on; each must page for its
//! own instance only, through the real Prometheus → Alertmanager → webhook path, with the
//! rules of `deploy/prometheus/alerts.yml` as they are (their `for` durations included):
//!
//! - instance 2 is stopped (SIGTERM): InstanceDown after its minute; started again on the
//!   same address, the resolved notification follows;
//! - instance 3 loses its Redis (killed): CacheErrors;
//! - instance 4's database turns slow: a session takes an exclusive lock on the tables the
//!   service reads and writes, so every query waits; chat requests take every connection of
//!   the pool and keep them: after its minute, DatabasePoolExhausted; the lock is released
//!   and the alert resolves;
//! - instance 1 (and any beyond the fourth) is the control: no notification may name it,
//!   except the machine-wide CPU and memory alerts, which every instance on this one machine
//!   shares.
//!
//! Instance 4's requests wait as long as the fault lasts ([`extra_args`]), so the requests
//! that hold its connections are not cut off half-way (a request given up on mid-query closes
//! its connection, and PostgreSQL keeps the closed session waiting on the lock until it is
//! released). A stalled network between the pool and the database, tried first through the
//! instance's gate, does not exhaust a pool: the waiting acquires ping their connections,
//! give up and close them, the pool drains to none and its utilization reads 0 %; the
//! readiness probe (503) and `acquire_timeouts_total` are the signals of that case
//! (docs/fleet.md).

use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::instance;
use super::promql;
use super::traffic::Traffic;
use super::webhook::{Alert, Notification};
use super::{Check, Fleet};

/// Load per running instance during the faults, requests per second.
const RATE: f64 = 10.0;
/// Longest wait for the three alerts (the two rules with a `for: 1m` need a little more).
const FIRE_LIMIT: Duration = Duration::from_secs(120);
/// How long the faults stay on once everything fired: the alerts must keep firing (no
/// flapping), and the charts show them firing, not only pending.
const FIRING_HOLD: Duration = Duration::from_secs(8);

/// Longest wait for a resolved notification.
const RESOLVE_LIMIT: Duration = Duration::from_secs(30);

/// The fault of each victim, by index in the fleet, and the receiver its severity routes to
/// in `deploy/alertmanager/alertmanager.yml` (critical: pager, warning: chat).
const FAULTS: [(usize, &str, &str, &str); 3] = [
    (1, "InstanceDown", "stopped with SIGTERM", "pager"),
    (2, "CacheErrors", "its Redis killed", "chat"),
    (3, "DatabasePoolExhausted", "its tables locked", "pager"),
];

/// The settings of instance `index` (0-based): the pool victim waits for connections longer
/// than the fault lasts; the others run with the server's defaults.
pub fn extra_args(index: usize) -> &'static [&'static str] {
    if index == POOL_VICTIM {
        &[
            "--acquire-timeout-ms",
            "150000",
            "--request-timeout-ms",
            "150000",
        ]
    } else {
        &[]
    }
}

/// The index of the instance whose database stalls.
const POOL_VICTIM: usize = 3;

/// Alerts about the machine, which every instance here reports alike.
const MACHINE_WIDE: [&str; 4] = [
    "HighCPUUsage",
    "CriticalCPUUsage",
    "HighMemoryUsage",
    "CriticalMemoryUsage",
];

/// The tables of vitals-server's migrations (crates/vitals-server/migrations/postgres).
const TABLES: &str = "messages, history_versions, chat_idempotency, cache_namespace";

/// A `psql` session holding an exclusive lock on [`TABLES`] of one database until released.
struct TableLock {
    child: std::process::Child,
}

impl TableLock {
    /// Takes the lock and returns once PostgreSQL granted it.
    fn take(database_url: &str) -> Result<Self> {
        use std::io::{BufRead, Write};
        let mut child = std::process::Command::new("psql")
            .args(["-qAt", "-v", "ON_ERROR_STOP=1", "-d", database_url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| anyhow::anyhow!("psql stdin"))?;
        writeln!(
            stdin,
            "BEGIN; LOCK TABLE {TABLES} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
        )?;
        child.stdin = Some(stdin);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("psql stdout"))?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        anyhow::ensure!(
            line.trim() == "locked",
            "psql did not take the lock: {line:?}"
        );
        Ok(Self { child })
    }

    /// Commits, which releases the lock, and waits for psql to end.
    fn release(mut self) {
        use std::io::Write;
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = writeln!(stdin, "COMMIT;");
        }
        let _ = self.child.wait();
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        // Released already, or the run failed: ending the session rolls the lock back.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chat request that waits for its answer until aborted: it holds a pooled connection while
/// its query waits on the lock.
fn hold(addr: std::net::SocketAddr, k: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let body = format!(r#"{{"user_id":"holder-{k}","message":"are you there?"}}"#);
        let request = format!(
            "POST /api/v1/chat HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await
            && stream.write_all(request.as_bytes()).await.is_ok()
        {
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer).await;
        }
    })
}

/// Every alert of every notification, with when and where it arrived.
fn alerts(notes: &[Notification]) -> Vec<(Instant, &str, &Alert)> {
    notes
        .iter()
        .flat_map(|n| n.alerts.iter().map(move |a| (n.at, n.receiver.as_str(), a)))
        .collect()
}

/// When the webhook first got `name` in `status` for `target` after `since`, and through
/// which receiver.
fn first(
    fleet: &Fleet,
    since: Instant,
    (name, status, target): &(&str, &str, String),
) -> Option<(Instant, String)> {
    let notes = fleet.webhook.notifications();
    alerts(&notes)
        .into_iter()
        .find(|(at, _, a)| {
            *at >= since
                && a.label("alertname") == *name
                && a.status == *status
                && a.label("instance") == target
        })
        .map(|(at, receiver, _)| (at, receiver.to_owned()))
}

async fn wait_for(
    fleet: &Fleet,
    since: Instant,
    wanted: &[(&str, &str, String)],
    limit: Duration,
) -> Vec<Option<(Instant, String)>> {
    let deadline = Instant::now() + limit;
    loop {
        let seen: Vec<_> = wanted.iter().map(|w| first(fleet, since, w)).collect();
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
    // Load everywhere but on the instance to be stopped and the pool victim, whose connection
    // must be taken by a request that waits (a load request gives up after 10 s and would
    // close it).
    let loaded: Vec<_> = fleet
        .instances
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != 1 && *k != POOL_VICTIM)
        .map(|(_, i)| i.addr)
        .collect();
    let traffic = Traffic::start(&loaded, RATE, FIRE_LIMIT + RESOLVE_LIMIT);
    // A few seconds of normal traffic first, so the cache and pool are in use.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let t0 = Instant::now();
    fleet.instances[1].stop_server()?;
    fleet.instances[2].cut_redis();
    let lock = TableLock::take(&fleet.instances[POOL_VICTIM].database_url())?;
    let victim = fleet.instances[POOL_VICTIM].addr;
    let holders: Vec<_> = (0..instance::POOL_MAX as usize + 2)
        .map(|k| hold(victim, k))
        .collect();
    eprintln!(
        "fleet: faults on: {} stopped, {} without Redis, {} with its tables locked",
        hosts[1], hosts[2], hosts[3]
    );
    let wanted: Vec<(&str, &str, String)> = FAULTS
        .iter()
        .map(|&(k, name, _, _)| (name, "firing", targets[k].clone()))
        .collect();
    let fired = wait_for(fleet, t0, &wanted, FIRE_LIMIT).await;
    tokio::time::sleep(FIRING_HOLD).await;
    let still = promql::query(
        fleet.engines.prometheus,
        "ALERTS{alertstate=\"firing\", alertname=~\"InstanceDown|CacheErrors|DatabasePoolExhausted\"}",
        None,
    )
    .await?;

    // Recovery: the stopped instance comes back on the same address.
    fleet.instances[1].start_server()?;
    lock.release();
    holders.iter().for_each(tokio::task::JoinHandle::abort);
    fleet.instances[2].restore_redis();
    let back = Instant::now();
    let resolved_wanted = [
        ("InstanceDown", "resolved", targets[1].clone()),
        ("DatabasePoolExhausted", "resolved", targets[3].clone()),
    ];
    let resolved = wait_for(fleet, back, &resolved_wanted, RESOLVE_LIMIT).await;
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
        // Rules that add up per instance (CacheErrors) keep only `instance`; the others keep
        // every target label, `host` from the discovery file included.
        let host_ok = labels.get("host").is_none_or(|h| *h == hosts[*k]);
        let firing_still = still
            .iter()
            .any(|s| s.label("alertname") == *name && s.label("instance") == targets[*k]);
        checks.push(Check {
            name: format!("{name} for {} only", hosts[*k]),
            passed: seen.as_ref().is_some_and(|(_, r)| r == route)
                && wrong.is_empty()
                && host_ok
                && firing_still,
            detail: match seen {
                Some((at, receiver)) => format!(
                    "{} {fault}: `{name}` reached the webhook's `{receiver}` receiver {:.1} s \
                     later with labels {labels:?}; {} {FIRING_HOLD:?} later{}",
                    hosts[*k],
                    at.duration_since(t0).as_secs_f64(),
                    if firing_still {
                        "still firing"
                    } else {
                        "NOT firing any more"
                    },
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
        .filter(|(_, _, a)| {
            controls.iter().any(|&k| a.label("instance") == targets[k])
                && !MACHINE_WIDE.contains(&a.label("alertname"))
        })
        .map(|(_, _, a)| format!("{} {}", a.label("alertname"), a.label("instance")))
        .collect();
    checks.push(Check {
        name: "no fault alert about the healthy instances".into(),
        passed: about_controls.is_empty(),
        detail: if about_controls.is_empty() {
            format!(
                "{} notifications in all, none naming {} (machine-wide CPU and memory alerts \
                 aside: {} of those)",
                notes.len(),
                controls
                    .iter()
                    .map(|&k| hosts[k].as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                all.iter()
                    .filter(|(_, _, a)| MACHINE_WIDE.contains(&a.label("alertname")))
                    .count()
            )
        } else {
            format!("unexpected: {about_controls:?}")
        },
    });
    Ok(checks)
}
