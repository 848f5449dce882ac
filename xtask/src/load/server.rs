//! The processes a load run drives: the server under test and the `vitals monitor`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::target_dir;

/// Builds the release binaries a run needs.
pub fn build_release() -> Result<PathBuf> {
    crate::cargo(
        &[
            "build",
            "--release",
            "--quiet",
            "-p",
            "vitals-server",
            "-p",
            "vitals-cli",
        ],
        &[],
    )?;
    Ok(target_dir().join("release"))
}

/// A process stopped with SIGTERM (then killed) when dropped.
pub struct Process {
    child: Child,
    name: &'static str,
}

impl Process {
    /// Takes a started child: stopped with SIGTERM (then killed) when dropped.
    pub fn adopt(child: Child, name: &'static str) -> Self {
        Self { child, name }
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The OS process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `INT`, `TERM`) and waits up to `limit` for the exit.
    pub fn signal_and_wait(&mut self, signal: &str, limit: Duration) -> Result<()> {
        let _ = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!(
            "{} did not stop within {limit:?} of SIG{signal}; killed it",
            self.name
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM".to_owned(), self.child.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(300));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `vitals-server` on a free loopback port, logging to `dir/server.log`, and returns
/// it with its address once it reports listening.
pub fn start_server(
    bin: &Path,
    dir: &Path,
    database_url: Option<&str>,
    redis_url: Option<&str>,
) -> Result<(Process, SocketAddr)> {
    let mut cmd = Command::new(bin.join("vitals-server"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join("data"));
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    if let Some(url) = redis_url {
        cmd.args(["--redis-url", url]);
    }
    spawn_server(cmd, &dir.join("server.log"))
}

/// Starts a `vitals-server` command (its own settings already given) with text logs into
/// `log_path` and no settings from this environment, and returns it with its address once it
/// reports listening.
pub fn spawn_server(mut cmd: Command, log_path: &Path) -> Result<(Process, SocketAddr)> {
    let log = std::fs::File::create(log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    cmd.args(["--log-format", "text"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("VITALS_METRICS_TOKEN")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(log);
    let mut child = cmd.spawn().context("cannot start vitals-server")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let log_path_shown = log_path.to_path_buf();
    let log_path = log_path.to_path_buf();
    std::thread::spawn(move || {
        let mut out = std::fs::OpenOptions::new().append(true).open(log_path).ok();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = crate::listening_address(&line) {
                let _ = tx.send(addr);
            }
            if let Some(f) = out.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
        }
    });
    let process = Process {
        child,
        name: "vitals-server",
    };
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .with_context(|| {
            format!(
                "vitals-server did not report its address; see {}",
                log_path_shown.display()
            )
        })?
        .parse()
        .context("vitals-server reported an unreadable address")?;
    Ok((process, addr))
}

/// Starts `vitals monitor` polling `url` every second into `csv`.
pub fn start_monitor(bin: &Path, url: &str, csv: &Path, log: &Path) -> Result<Process> {
    let log = std::fs::File::create(log).context("cannot create monitor.log")?;
    let child = Command::new(bin.join("vitals"))
        .args(["monitor", "--host", url, "--interval", "1", "--output"])
        .arg(csv)
        .env("NO_COLOR", "1")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start vitals monitor")?;
    Ok(Process {
        child,
        name: "vitals monitor",
    })
}

/// One GET over a fresh connection; the status and body.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = http::Request::get(path)
        .header("host", "127.0.0.1")
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Waits until `/health/ready` answers 200; returns how many requests that took.
pub async fn wait_ready(addr: SocketAddr, limit: Duration) -> Result<u64> {
    let deadline = Instant::now() + limit;
    let mut probes = 0;
    loop {
        probes += 1;
        if let Ok((200, _)) = get(addr, "/health/ready").await {
            return Ok(probes);
        }
        if Instant::now() > deadline {
            bail!("the server at {addr} was not ready within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sum of `<namespace>_http_requests_total` over all its series in a scrape.
pub fn requests_seen(scrape: &str) -> u64 {
    scrape
        .lines()
        .filter(|l| l.starts_with("health_agent_http_requests_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Resident memory of a process in MB, from /proc.
pub fn rss_mb(pid: u32) -> Option<f64> {
    crate::proc_status_kib(pid, "VmRSS")
        .ok()
        .map(|kb| kb as f64 / 1024.0)
}

/// CPU time (user + system) a process has used, in seconds, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_seconds_of(&stat)
}

/// Clock ticks per second of /proc's CPU times: USER_HZ, 100 on every Linux architecture
/// Rust supports.
const USER_HZ: f64 = 100.0;

fn cpu_seconds_of(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses; fields after its closing
    // parenthesis start at field 3, so utime (14) and stime (15) are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_cpu_time_from_stat() {
        let stat = "4242 (vitals (x) srv) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 99 1000 200";
        assert_eq!(super::cpu_seconds_of(stat), Some(3.0));
        assert!(super::cpu_seconds(std::process::id()).is_some());
    }

    use super::*;

    #[test]
    fn sums_request_series() {
        let scrape = "# TYPE health_agent_http_requests_total counter\n\
            health_agent_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 7\n\
            health_agent_http_requests_total{method=\"POST\",route=\"/api/v1/chat\",status=\"503\"} 3\n\
            health_agent_http_requests_in_flight 1\n";
        assert_eq!(requests_seen(scrape), 10);
    }
}
