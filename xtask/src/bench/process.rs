//! Server processes under test: started on a free loopback port, watched through /proc,
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A running server we started.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    name: String,
}

impl Server {
    /// Starts `cmd` (which must listen on 127.0.0.1:0 and print `listening on http://ADDR`
    /// on stdout) and waits up to 30 s for its address.
    pub fn start(mut cmd: Command, name: &str) -> Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}: {cmd:?}"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keeps reading after the address so the pipe never fills up.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = crate::listening_address(&line) {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).ok();
        let Some(Ok(addr)) = addr.map(|a| a.parse::<SocketAddr>()) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{name} did not print `listening on http://ADDR` within 30 s; run {cmd:?} by hand to see why"
            );
        };
        Ok(Self {
            child,
            addr,
            name: name.to_owned(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Resident set size now, in KiB (VmRSS).
    pub fn rss_kib(&self) -> Result<u64> {
        crate::proc_status_kib(self.pid(), "VmRSS").with_context(|| format!("RSS of {}", self.name))
    }

    /// Peak resident set size since start, in KiB (VmHWM).
    pub fn hwm_kib(&self) -> Result<u64> {
        crate::proc_status_kib(self.pid(), "VmHWM")
            .with_context(|| format!("peak RSS of {}", self.name))
    }

    /// Runs `work` while sampling this server's VmRSS every 50 ms; the result and the
    /// largest sample.
    pub fn peak_rss_during<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<(T, u64)> {
        let pid = self.pid();
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let sampler = s.spawn(|| {
                let mut peak = 0;
                while !done.load(Ordering::Relaxed) {
                    peak = peak.max(crate::proc_status_kib(pid, "VmRSS").unwrap_or(0));
                    std::thread::sleep(Duration::from_millis(50));
                }
                peak
            });
            let result = work();
            done.store(true, Ordering::Relaxed);
            let peak = sampler.join().unwrap_or(0);
            Ok((result?, peak.max(self.rss_kib()?)))
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
