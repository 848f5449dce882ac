//! One instance of the fleet: `vitals-server` on a PostgreSQL database of its own (reached
//! through a gate the run can stall) and a `redis-server` of its own (which the run can kill),
//! placed on its [`Host`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use vitals_testkit::{Gate, OwnDatabase, OwnRedis};

use super::net::Host;
use crate::load::server::{Process, spawn_server};

/// The pool of every instance: small, so a slow database exhausts it at once.
pub const POOL_MAX: u32 = 4;

/// The port instances listen on inside their own namespace.
const NAMESPACE_PORT: u16 = 8000;

/// A running (or stopped) instance and what it owns.
pub struct Instance {
    /// Where it runs.
    pub host: Host,
    /// Where it answers.
    pub addr: SocketAddr,
    /// The gate in front of PostgreSQL: stall it to exhaust the pool.
    pub gate: Gate,
    redis: Option<OwnRedis>,
    redis_port: u16,
    db: OwnDatabase,
    server: Option<Process>,
    dir: PathBuf,
    bin: PathBuf,
    extra: Vec<String>,
    starts: u32,
}

impl Instance {
    /// Creates its database, Redis and gate, and starts the server with `extra` settings.
    pub async fn start(host: Host, bin: &Path, run_dir: &Path, extra: &[&str]) -> Result<Self> {
        let dir = run_dir.join(&host.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let db = OwnDatabase::create();
        let postgres = postgres_address()?;
        let gate = Gate::start_on(host.gateway, postgres).await;
        let redis_port = vitals_testkit::free_port();
        let redis = Some(start_redis(redis_port, host.gateway));
        let addr = SocketAddr::new(
            host.ip,
            if host.netns.is_some() {
                NAMESPACE_PORT
            } else {
                vitals_testkit::free_port()
            },
        );
        let mut instance = Self {
            host,
            addr,
            gate,
            redis,
            redis_port,
            db,
            server: None,
            dir,
            bin: bin.to_path_buf(),
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            starts: 0,
        };
        // On loopback another process can take the free port before the server binds it:
        // start again on another one, three times at most.
        let mut attempt = 1;
        loop {
            match instance.start_server() {
                Ok(()) => return Ok(instance),
                Err(e) if instance.host.netns.is_some() || attempt == 3 => return Err(e),
                Err(e) => {
                    eprintln!(
                        "fleet: {} did not start on {} ({e:#}); another port",
                        instance.host.name, instance.addr
                    );
                    instance.addr.set_port(vitals_testkit::free_port());
                    attempt += 1;
                }
            }
        }
    }

    /// Starts its server (again, after [`Instance::stop_server`]) on the same address.
    pub fn start_server(&mut self) -> Result<()> {
        self.starts += 1;
        let gateway = self.host.gateway;
        let mut cmd = self.host.command(&self.bin.join("vitals-server"));
        cmd.args(["--listen", &self.addr.to_string()])
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args([
                "--database-url",
                &format!("postgres://postgres@{}/{}", self.gate.addr, self.db.name),
            ])
            .args([
                "--redis-url",
                &format!("redis://{}", SocketAddr::new(gateway, self.redis_port)),
            ])
            .args(["--pool-min", "1", "--pool-max", &POOL_MAX.to_string()])
            .args(&self.extra);
        let log = self.dir.join(format!("server-{}.log", self.starts));
        let (process, addr) = spawn_server(cmd, &log)?;
        anyhow::ensure!(
            addr == self.addr,
            "{} listens on {addr}, not on {}",
            self.host.name,
            self.addr
        );
        self.server = Some(process);
        Ok(())
    }

    /// Stops its server with SIGTERM, as an operator would.
    pub fn stop_server(&mut self) -> Result<()> {
        if let Some(mut process) = self.server.take() {
            process.signal_and_wait("TERM", Duration::from_secs(15))?;
        }
        Ok(())
    }

    /// Kills its Redis: every cache call fails from now on.
    pub fn cut_redis(&mut self) {
        if let Some(redis) = self.redis.take() {
            redis.stop();
        }
    }

    /// Starts its Redis again on the same port (empty).
    pub fn restore_redis(&mut self) {
        if self.redis.is_none() {
            self.redis = Some(start_redis(self.redis_port, self.host.gateway));
        }
    }

    /// Its database's URL on the machine's PostgreSQL, past the gate.
    pub fn database_url(&self) -> String {
        self.db.url()
    }

    /// `host:port` as Prometheus labels it (`instance`).
    pub fn target(&self) -> String {
        self.addr.to_string()
    }
}

/// A Redis of its own; in a namespace run it also listens on the host's gateway address,
/// which its instance reaches from another network namespace: Redis' protected mode would
/// refuse that client (no password), so it is off, on an address only this run routes.
fn start_redis(port: u16, gateway: IpAddr) -> OwnRedis {
    if gateway.is_loopback() {
        OwnRedis::start(port)
    } else {
        OwnRedis::start_with(
            port,
            &[
                "--bind",
                "127.0.0.1",
                &gateway.to_string(),
                "--protected-mode",
                "no",
            ],
        )
    }
}

/// `host:port` of the machine's PostgreSQL, from the tests' URL.
fn postgres_address() -> Result<SocketAddr> {
    let url = vitals_testkit::postgres_url();
    let authority = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .with_context(|| format!("cannot find host:port in {url}"))?;
    let authority = authority.replace("localhost", "127.0.0.1");
    authority
        .parse()
        .with_context(|| format!("{authority} (from {url}) is not an IP address and port"))
}
