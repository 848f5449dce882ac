//! The real engines around the fleet, each on a free loopback port with its data in the run
//! folder: Prometheus (Debian's `prometheus`), Alertmanager (`prometheus-alertmanager`) and
//! VictoriaMetrics single node (`victoria-metrics`).
//!
//! Prometheus finds the instances through file-based discovery, evaluates
//! `deploy/prometheus/alerts.yml` unchanged, sends alerts to the Alertmanager and
//! remote-writes every sample to VictoriaMetrics. Intervals are short (scrape and evaluation
//! every second), so the run takes minutes, not hours. The Alertmanager routes with the tree
//! of `deploy/alertmanager/alertmanager.yml`; its receivers point at the run's webhook and
//! its grouping waits are shortened, since the file's five-minute group interval would hold
//! a resolved notification back for up to five minutes.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::load::server::{Process, get};

/// Scrape and rule evaluation interval, in seconds.
pub const INTERVAL_SECONDS: u64 = 1;

/// The three engines, stopped when dropped.
pub struct Engines {
    /// Prometheus' HTTP API.
    pub prometheus: SocketAddr,
    /// Alertmanager's HTTP API.
    pub alertmanager: SocketAddr,
    /// VictoriaMetrics' HTTP API (PromQL and the remote-write receiver).
    pub victoria: SocketAddr,
    /// `name version` of each engine, for the report.
    pub versions: Vec<String>,
    processes: Vec<Process>,
}

/// What the engines need to know about the run.
pub struct Setup<'a> {
    /// The run folder.
    pub dir: &'a Path,
    /// The webhook the Alertmanager's receivers post to.
    pub webhook: SocketAddr,
    /// `(instance address, host name)` of every instance.
    pub targets: &'a [(String, String)],
}

impl Engines {
    /// Writes the configurations and starts the three, waiting until each is ready.
    pub async fn start(setup: &Setup<'_>) -> Result<Self> {
        let root = crate::workspace_root();
        let dir = setup.dir;
        let targets_file = dir.join("targets.json");
        write_targets(&targets_file, setup.targets)?;
        let mut taken = Vec::new();
        let mut processes = Vec::new();

        let vm_dir = dir.join("victoria-metrics");
        let (vm, victoria) = launch(
            "VictoriaMetrics",
            |addr| {
                let mut vm = Command::new("victoria-metrics");
                vm.arg(format!("-httpListenAddr={addr}"))
                    .arg(format!("-storageDataPath={}", vm_dir.display()))
                    .args([
                        "-retentionPeriod=1d",
                        // Answer queries up to now: the default hides the last 30 seconds.
                        "-search.latencyOffset=0s",
                        "-search.disableCache",
                        "-loggerLevel=WARN",
                    ]);
                vm
            },
            "/health",
            &dir.join("victoria-metrics.log"),
            &mut taken,
        )
        .await?;
        processes.push(vm);

        let am_config = dir.join("alertmanager.yml");
        std::fs::write(
            &am_config,
            alertmanager_config(
                &root.join("deploy/alertmanager/alertmanager.yml"),
                setup.webhook,
            )?,
        )?;
        let (am, alertmanager) = launch(
            "Alertmanager",
            |addr| {
                let mut am = Command::new("prometheus-alertmanager");
                am.arg(format!("--config.file={}", am_config.display()))
                    .arg(format!(
                        "--storage.path={}",
                        dir.join("alertmanager").display()
                    ))
                    .arg(format!("--web.listen-address={addr}"))
                    // A single Alertmanager: no cluster port.
                    .arg("--cluster.listen-address=")
                    .arg("--log.level=warn");
                am
            },
            "/-/ready",
            &dir.join("alertmanager.log"),
            &mut taken,
        )
        .await?;
        processes.push(am);

        let prom_config = dir.join("prometheus.yml");
        let rules = root.join("deploy/prometheus/alerts.yml");
        std::fs::write(
            &prom_config,
            prometheus_config(&rules, &targets_file, alertmanager, victoria)?,
        )?;
        let (prom, prometheus) = launch(
            "Prometheus",
            |addr| {
                let mut prom = Command::new("prometheus");
                prom.arg(format!("--config.file={}", prom_config.display()))
                    .arg(format!(
                        "--storage.tsdb.path={}",
                        dir.join("prometheus").display()
                    ))
                    .arg(format!("--web.listen-address={addr}"))
                    .args(["--storage.tsdb.retention.time=1d", "--log.level=warn"]);
                prom
            },
            "/-/ready",
            &dir.join("prometheus.log"),
            &mut taken,
        )
        .await?;
        processes.push(prom);

        Ok(Self {
            prometheus,
            alertmanager,
            victoria,
            versions: vec![
                version(&["prometheus", "--version"], "prometheus"),
                version(
                    &["prometheus-alertmanager", "--version"],
                    "prometheus-alertmanager",
                ),
                version(&["victoria-metrics", "-version"], "victoria-metrics"),
            ],
            processes,
        })
    }

    /// The two PromQL APIs, named.
    pub fn apis(&self) -> [(&'static str, SocketAddr); 2] {
        [
            ("Prometheus", self.prometheus),
            ("VictoriaMetrics", self.victoria),
        ]
    }

    /// Whether every engine still runs; the name of the first that does not.
    pub fn dead(&mut self) -> Option<&'static str> {
        let names = ["VictoriaMetrics", "Alertmanager", "Prometheus"];
        self.processes
            .iter_mut()
            .zip(names)
            .find_map(|(p, name)| p.exited().then_some(name))
    }
}

fn spawn(mut cmd: Command, name: &'static str, log: &Path) -> Result<Process> {
    let file = std::fs::File::create(log)?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {name} ({:?}); .ci/setup installs it \
                 (apt-get install prometheus prometheus-alertmanager victoria-metrics)",
                cmd.get_program()
            )
        })?;
    Ok(Process::adopt(child, name))
}

/// The first line of `program --version`, whichever stream it goes to; the Debian package's
/// version when the binary prints none (Debian's VictoriaMetrics build does not).
fn version(argv: &[&str], package: &str) -> String {
    let printed = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .ok()
        .and_then(|o| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
        });
    printed.unwrap_or_else(|| {
        let packaged = Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", package])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|v| !v.is_empty());
        match packaged {
            Some(v) => format!("{} {v} (Debian package {package})", argv[0]),
            None => format!("{} (version unknown)", argv[0]),
        }
    })
}

/// Starts `name` on a free loopback port (`command` gets the address) and waits until `ready`
/// answers 200. Another process can take a free port between the pick and the bind: an engine
/// that exits before it is ready is started again on another port, three times at most.
async fn launch(
    name: &'static str,
    command: impl Fn(SocketAddr) -> Command,
    ready: &str,
    log: &Path,
    taken: &mut Vec<u16>,
) -> Result<(Process, SocketAddr)> {
    for attempt in 1..=3 {
        let port = loop {
            let port = vitals_testkit::free_port();
            if !taken.contains(&port) {
                taken.push(port);
                break port;
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut process = spawn(command(addr), name, log)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = get(addr, ready).await {
                return Ok((process, addr));
            }
            if process.exited() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} on {addr} was not ready within 30 s; see {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "fleet: {name} exited before it was ready on {addr} (attempt {attempt} of 3); see {}",
            log.display()
        );
    }
    bail!("{name} did not start; see {}", log.display())
}

/// The file_sd target list: one group per instance, labelled with its host name.
pub fn write_targets(file: &Path, targets: &[(String, String)]) -> Result<()> {
    let groups: Vec<_> = targets
        .iter()
        .map(|(addr, host)| json!({"targets": [addr], "labels": {"host": host}}))
        .collect();
    // Written whole, then renamed: Prometheus never reads half a file.
    let partial = file.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_string_pretty(&groups)?)?;
    std::fs::rename(&partial, file)?;
    Ok(())
}

/// Prometheus' configuration (JSON is YAML): the fleet job from file_sd, the rules of
/// `deploy/`, the Alertmanager, remote write to VictoriaMetrics.
fn prometheus_config(
    rules: &Path,
    targets: &Path,
    alertmanager: SocketAddr,
    victoria: SocketAddr,
) -> Result<String> {
    let interval = format!("{INTERVAL_SECONDS}s");
    let config = json!({
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
            "external_labels": {"monitor": "vitals-fleet"},
        },
        "rule_files": [rules],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.to_string()]}]}]},
        "remote_write": [{
            "url": format!("http://{victoria}/api/v1/write"),
            "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms", "max_backoff": "1s"},
        }],
        "scrape_configs": [{
            "job_name": "vitals",
            "metrics_path": "/metrics",
            "file_sd_configs": [{"files": [targets], "refresh_interval": "1s"}],
        }],
    });
    Ok(serde_json::to_string_pretty(&config)?)
}

/// `deploy/alertmanager/alertmanager.yml` with its routing tree, receivers and inhibitions as
/// they are, every webhook URL pointed at `webhook` (`/hook/<receiver>`), and short grouping
/// waits.
pub fn alertmanager_config(deployed: &Path, webhook: SocketAddr) -> Result<String> {
    use serde_yaml::Value;
    let text = std::fs::read_to_string(deployed)
        .with_context(|| format!("cannot read {}", deployed.display()))?;
    let mut config: Value = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not YAML", deployed.display()))?;
    fn shorten(route: &mut Value) {
        for (key, value) in [
            ("group_wait", "1s"),
            ("group_interval", "1s"),
            ("repeat_interval", "1h"),
        ] {
            if let Some(map) = route.as_mapping_mut()
                && (map.contains_key(key) || key != "repeat_interval")
            {
                map.insert(Value::from(key), Value::from(value));
            }
        }
        if let Some(routes) = route.get_mut("routes").and_then(Value::as_sequence_mut) {
            routes.iter_mut().for_each(shorten);
        }
    }
    shorten(config.get_mut("route").context("the file has no `route`")?);
    let receivers = config
        .get_mut("receivers")
        .and_then(Value::as_sequence_mut)
        .context("the file has no `receivers` list")?;
    let mut hooks = 0;
    for receiver in receivers.iter_mut() {
        let name = receiver
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("unnamed")
            .to_owned();
        if let Some(configs) = receiver
            .get_mut("webhook_configs")
            .and_then(Value::as_sequence_mut)
        {
            for config in configs.iter_mut() {
                if let Some(map) = config.as_mapping_mut() {
                    map.insert(
                        Value::from("url"),
                        Value::from(format!("http://{webhook}/hook/{name}")),
                    );
                    hooks += 1;
                }
            }
        }
    }
    anyhow::ensure!(
        hooks > 0,
        "{} has no webhook receiver to point at the run",
        deployed.display()
    );
    Ok(serde_yaml::to_string(&config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routing of deploy/alertmanager survives; only the URLs and the waits change, and
    /// the result passes `amtool check-config` (Debian's `prometheus-alertmanager`).
    #[test]
    fn alertmanager_config_keeps_the_routing_and_points_at_the_run() {
        let deployed = crate::workspace_root().join("deploy/alertmanager/alertmanager.yml");
        let hook: SocketAddr = "127.0.0.1:9".parse().expect("address");
        let text = alertmanager_config(&deployed, hook).expect("config");
        let config: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        let route = &config["route"];
        assert_eq!(route["group_interval"], "1s");
        assert_eq!(route["receiver"], "chat");
        let routes = route["routes"].as_sequence().expect("sub-routes");
        assert_eq!(routes.len(), 3);
        assert!(routes.iter().all(|r| r["group_wait"] == "1s"));
        assert_eq!(config["inhibit_rules"].as_sequence().map(Vec::len), Some(3));
        for receiver in ["pager", "chat"] {
            assert!(
                text.contains(&format!("http://127.0.0.1:9/hook/{receiver}")),
                "{text}"
            );
        }
        assert!(!text.contains("example.invalid"));

        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, &text).expect("write");
        let out = Command::new("amtool")
            .arg("check-config")
            .arg(&file)
            .output()
            .expect("amtool is installed (.ci/setup: apt-get install prometheus-alertmanager)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
