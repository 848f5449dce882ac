//! Where the fleet's instances live: each in a network namespace of its own with its own
//! address, as separate hosts would (when this process is root and `ip netns` works), or side
//! by side on loopback ports otherwise.
//!
//! The namespaces are test hosts this run makes for itself: instance `k` gets the namespace
//! `vfleet-<pid>-<k>` and a veth pair whose outer end is `10.213.k.1/30` (in this machine's
//! namespace, where PostgreSQL's gate, its Redis and Prometheus are reached) and inner end
//! `10.213.k.2/30` (the instance). Nothing else is routed there and no traffic leaves the
//! machine. The namespaces (and with them the pairs) are deleted when [`Network`] is
//! dropped, and a run first deletes those of earlier runs whose process is gone.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The private range the namespaces' veth pairs take their addresses from.
pub const RANGE: &str = "10.213.0.0/16";
const SECOND_OCTET: u8 = 213;
const PREFIX: &str = "vfleet-";

/// One instance's place.
#[derive(Clone, Debug)]
pub struct Host {
    /// `vitals-1`, `vitals-2`, …
    pub name: String,
    /// Its network namespace, if it has one.
    pub netns: Option<String>,
    /// The address the instance listens on.
    pub ip: IpAddr,
    /// The address of this machine as the instance sees it: where its database gate and its
    /// Redis listen.
    pub gateway: IpAddr,
}

impl Host {
    /// `ip netns exec NS` before a command that must run inside the host, or nothing.
    pub fn command(&self, program: &std::path::Path) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }
}

/// The hosts of a run, and the namespaces to delete at the end.
pub struct Network {
    /// One per instance.
    pub hosts: Vec<Host>,
    /// `network namespaces (…)` or `loopback (…: why)`, for the report.
    pub mode: String,
    namespaces: Vec<String>,
    /// The outer veth ends: gone with their namespace, unless setting up failed half-way.
    links: Vec<String>,
}

impl Network {
    /// Namespaces when they can be made (unless `loopback_only`), loopback otherwise.
    pub fn build(instances: usize, loopback_only: bool) -> Result<Self> {
        if instances > 250 {
            bail!("at most 250 instances ({RANGE} gives each a /30 of its own)");
        }
        if loopback_only {
            return Ok(Self::loopback(instances, "asked for with --loopback"));
        }
        if let Some(why) = namespaces_unavailable() {
            return Ok(Self::loopback(instances, &why));
        }
        delete_stale_namespaces();
        let mut network = Self {
            hosts: Vec::new(),
            mode: String::new(),
            namespaces: Vec::new(),
            links: Vec::new(),
        };
        for k in 1..=instances {
            // Pushed first, so a half-made host is deleted too.
            let ns = format!("{PREFIX}{}-{k}", std::process::id());
            // Interface names stay under 16 bytes and unique per run.
            let tag = format!("vf{:x}x{k}", std::process::id() & 0xff_ffff);
            network.namespaces.push(ns.clone());
            network.links.push(format!("{tag}h"));
            let host = make_host(k, &ns, &tag).with_context(|| format!("cannot set up {ns}"))?;
            network.hosts.push(host);
        }
        network.mode = format!(
            "network namespaces: one per instance, veth pairs in {RANGE} \
             (instance k at 10.{SECOND_OCTET}.k.2, this machine at 10.{SECOND_OCTET}.k.1)"
        );
        Ok(network)
    }

    fn loopback(instances: usize, why: &str) -> Self {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Self {
            hosts: (1..=instances)
                .map(|k| Host {
                    name: format!("vitals-{k}"),
                    netns: None,
                    ip: lo,
                    gateway: lo,
                })
                .collect(),
            mode: format!("loopback ports on 127.0.0.1 ({why})"),
            namespaces: Vec::new(),
            links: Vec::new(),
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            delete_namespace(ns);
        }
        for link in &self.links {
            if std::path::Path::new(&format!("/sys/class/net/{link}")).exists() {
                quiet(Command::new("ip").args(["link", "delete", link]));
            }
        }
    }
}

/// Why namespaces cannot be used here, or `None` when they can.
fn namespaces_unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root, so no network namespaces".into());
    }
    let probe = format!("{PREFIX}{}-probe", std::process::id());
    if !quiet(Command::new("ip").args(["netns", "add", &probe])) {
        return Some("`ip netns add` failed here".into());
    }
    delete_namespace(&probe);
    // The range must be free: an address or route in it would mean someone else uses it.
    let taken = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("10.{SECOND_OCTET}.")))
            .unwrap_or(true)
    };
    if taken(&["-o", "addr"]) || taken(&["route"]) {
        return Some(format!(
            "{RANGE} is already in use on this machine, so it is left alone"
        ));
    }
    None
}

fn make_host(k: usize, ns: &str, tag: &str) -> Result<Host> {
    let outer = Ipv4Addr::new(10, SECOND_OCTET, k as u8, 1);
    let inner = Ipv4Addr::new(10, SECOND_OCTET, k as u8, 2);
    let (host_end, ns_end) = (format!("{tag}h"), format!("{tag}i"));
    let (outer_net, inner_net) = (format!("{outer}/30"), format!("{inner}/30"));
    ip(&["netns", "add", ns])?;
    ip(&[
        "link", "add", &host_end, "type", "veth", "peer", "name", &ns_end,
    ])?;
    ip(&["link", "set", &ns_end, "netns", ns])?;
    ip(&["addr", "add", &outer_net, "dev", &host_end])?;
    ip(&["link", "set", &host_end, "up"])?;
    ip(&["-n", ns, "addr", "add", &inner_net, "dev", &ns_end])?;
    ip(&["-n", ns, "link", "set", &ns_end, "up"])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    Ok(Host {
        name: format!("vitals-{k}"),
        netns: Some(ns.to_owned()),
        ip: IpAddr::V4(inner),
        gateway: IpAddr::V4(outer),
    })
}

/// Runs `ip ARGS`, failing with its error output.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Deleting a namespace deletes the veth pair with it.
fn delete_namespace(ns: &str) {
    quiet(Command::new("ip").args(["netns", "delete", ns]));
}

/// Namespaces of earlier runs whose process is gone (a run that was killed).
fn delete_stale_namespaces() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            delete_namespace(name);
        }
    }
}
