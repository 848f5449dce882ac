//! `cargo xtask fleet [--instances N]`: a fleet of vitals-server instances on real engines,
//! the checks that it is seen right, and a report.
//!
//! 1. N instances (default 4), each on a PostgreSQL database and a redis-server of its own,
//!    each in a network namespace of its own when this machine allows it ([`net`]), on
//!    loopback ports otherwise.
//! 2. A real Prometheus, Alertmanager and VictoriaMetrics around them ([`engines`]), and the
//!    webhook the Alertmanager notifies ([`webhook`]).
//! 3. The checks: fleet-wide sums on both engines against the instances' JSON ([`sums`]); one
//!    fault per instance paging for that instance only ([`faults`]); every query of the
//!    Grafana dashboard answered ([`dashboard`]).
//! 4. Per-instance figures ([`measure`]), the report and its charts ([`report`]).
//!
//! Everything is stopped and deleted at the end, on failure too; the run is bounded (10
//! minutes at most) and talks to loopback and its own namespaces only. It exits non-zero
//! when a check fails.

mod dashboard;
mod engines;
mod faults;
mod instance;
mod measure;
mod net;
mod promql;
mod report;
mod sums;
pub mod topology;
mod traffic;
mod webhook;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;

use engines::{Engines, Setup};
use instance::Instance;
use net::Network;
use webhook::Webhook;

/// The longest a run may take before it gives up (and cleans up).
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Arguments of `cargo xtask fleet`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask fleet",
    about = "A fleet of vitals-server instances on real Prometheus, Alertmanager and \
             VictoriaMetrics, with checks and a report"
)]
struct FleetArgs {
    /// Instances (at least 4: three take a fault each, one stays healthy).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(4..=32))]
    instances: u16,
    /// Run the instances on loopback ports even where network namespaces would work.
    #[arg(long)]
    loopback: bool,
    /// Folder for the report, charts, configs and logs [default: target/fleet/fleet-UNIXTIME].
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One check of the run.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

/// The running fleet.
pub struct Fleet {
    /// The instances, in order (`vitals-1` first).
    pub instances: Vec<Instance>,
    /// Prometheus, Alertmanager, VictoriaMetrics.
    pub engines: Engines,
    /// The Alertmanager's receiver.
    pub webhook: Webhook,
}

/// Runs `cargo xtask fleet …`.
pub fn run(args: &[String]) -> Result<()> {
    let argv = std::iter::once("cargo xtask fleet".to_owned()).chain(args.iter().cloned());
    let args = match FleetArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            return Ok(());
        }
        Err(e) => bail!("{e}"),
    };
    let bin = crate::load::server::build_release()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            tokio::select! {
                result = tokio::time::timeout(RUN_LIMIT, run_async(args, bin)) => {
                    result.unwrap_or_else(|_| bail!("the fleet run took longer than {RUN_LIMIT:?}; stopped it"))
                }
                _ = tokio::signal::ctrl_c() => bail!("interrupted; the fleet was stopped"),
            }
        })
}

async fn run_async(args: FleetArgs, bin: PathBuf) -> Result<()> {
    let began = Instant::now();
    let start_unix = sums::unix_now();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let out = args.out.clone().unwrap_or_else(|| {
        crate::workspace_root()
            .join("target/fleet")
            .join(format!("fleet-{stamp}"))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let n = usize::from(args.instances);

    // Dropped last: the namespaces go after everything that ran in them.
    let network = Network::build(n, args.loopback)?;
    eprintln!("fleet: {n} instances on {}", network.mode);
    let webhook = Webhook::start().await?;
    let mut instances = Vec::new();
    for (k, host) in network.hosts.clone().into_iter().enumerate() {
        let instance = Instance::start(host, &bin, &out, faults::extra_args(k)).await?;
        crate::load::server::wait_ready(instance.addr, Duration::from_secs(60)).await?;
        instances.push(instance);
    }
    let targets: Vec<(String, String)> = instances
        .iter()
        .map(|i| (i.target(), i.host.name.clone()))
        .collect();
    let engines = Engines::start(&Setup {
        dir: &out,
        webhook: webhook.addr,
        targets: &targets,
    })
    .await?;
    let mut fleet = Fleet {
        instances,
        engines,
        webhook,
    };
    wait_all_up(&fleet, n).await?;
    let members: Vec<String> = fleet
        .instances
        .iter()
        .map(|i| format!("{} at {}", i.host.name, i.addr))
        .collect();
    eprintln!(
        "fleet: every instance scraped: {}; Prometheus on {}, Alertmanager on {}, \
         VictoriaMetrics on {}",
        members.join(", "),
        fleet.engines.prometheus,
        fleet.engines.alertmanager,
        fleet.engines.victoria
    );

    let result = sums::check(&fleet).await;
    let mut checks = fleet.explain(result, &out)?;
    let result = measure::take(
        fleet.instances[0].addr,
        n,
        fleet.engines.prometheus,
        fleet.engines.victoria,
        &out,
    )
    .await;
    let figures = fleet.explain(result, &out)?;
    let result = faults::check(&mut fleet).await;
    checks.extend(fleet.explain(result, &out)?);
    let result = wait_all_up(&fleet, n).await;
    fleet.explain(result, &out)?;
    let (_, snapshot) =
        crate::load::server::get(fleet.instances[0].addr, "/api/v1/metrics").await?;
    let snapshot: serde_json::Value =
        serde_json::from_str(&snapshot).context("the snapshot of vitals-1 is not JSON")?;
    let (dashboard_checks, queries) =
        dashboard::check(fleet.engines.prometheus, &snapshot["system"]["container"]).await?;
    checks.extend(dashboard_checks);
    if let Some(dead) = fleet.engines.dead() {
        checks.push(Check {
            name: "engines ran throughout".into(),
            passed: false,
            detail: format!(
                "{dead} exited during the run; see its log in {}",
                out.display()
            ),
        });
    }
    let charts = report::charts(
        fleet.engines.prometheus,
        fleet.engines.victoria,
        start_unix,
        sums::unix_now(),
        &out,
    )
    .await?;
    for c in &checks {
        eprintln!(
            "{} {}: {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    for (what, value, _) in &figures.rows {
        eprintln!("figure: {what}: {value}");
    }
    let path = report::write(
        &report::Summary {
            instances: n,
            mode: &network.mode,
            members,
            versions: &fleet.engines.versions,
            checks: &checks,
            figures: Some(&figures),
            queries: &queries,
            seconds: began.elapsed().as_secs_f64(),
            charts: &charts,
        },
        &out,
    )?;
    eprintln!("report: {}", path.display());
    drop(fleet);
    drop(network);
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} fleet checks failed: {}",
            failed.len(),
            failed.join("; ")
        );
    }
    eprintln!(
        "fleet: {} checks passed in {:.0} s",
        checks.len(),
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

impl Fleet {
    /// A failed phase, with the reason when an engine died under it (a full disk stops
    /// Prometheus, for one).
    fn explain<T>(&mut self, result: Result<T>, out: &std::path::Path) -> Result<T> {
        result.map_err(|e| match self.engines.dead() {
            Some(dead) => e.context(format!(
                "{dead} exited during the run; see its log in {}",
                out.display()
            )),
            None => e,
        })
    }
}

/// Waits until Prometheus has scraped every instance successfully.
async fn wait_all_up(fleet: &Fleet, n: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = promql::scalar(fleet.engines.prometheus, "sum(up{job=\"vitals\"})", None)
            .await
            .ok()
            .flatten()
            .unwrap_or(0.0);
        if up as usize == n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("Prometheus scrapes {up} of {n} instances after 30 s; see prometheus.log");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
