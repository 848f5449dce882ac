//! wrk, the load generator: runs it against loopback and reads its figures back through a
//! small Lua `done` hook (exact percentiles instead of its rounded summary).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Prints one machine-readable line after wrk's own summary.
const SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f errors=%d non2xx=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"#;

/// How hard and how long to load.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// wrk threads (`-t`).
    pub threads: u32,
    /// Open connections (`-c`).
    pub connections: u32,
    /// Seconds (`-d`).
    pub seconds: u32,
}

impl Load {
    /// The wrk flags, for the report.
    pub fn flags(&self) -> String {
        format!(
            "-t{} -c{} -d{}s --timeout 5s",
            self.threads, self.connections, self.seconds
        )
    }
}

/// One wrk run's figures (latencies in milliseconds).
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Completed requests.
    pub requests: u64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Latency percentiles and maximum, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Slowest request, ms.
    pub max: f64,
    /// Socket errors and timeouts.
    pub errors: u64,
    /// Responses with status ≥ 400.
    pub non2xx: u64,
}

/// The wrk program plus its script.
pub struct Wrk {
    script: PathBuf,
}

impl Wrk {
    /// Checks wrk is installed and writes its script into `dir`.
    pub fn new(dir: &Path) -> Result<Self> {
        match Command::new("wrk").arg("--version").output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("wrk not found: install it (apt-get install -y wrk) and run again")
            }
            Err(e) => bail!("cannot run wrk: {e}"),
            Ok(_) => {}
        }
        let script = dir.join("report.lua");
        std::fs::write(&script, SCRIPT).context("cannot write the wrk script")?;
        Ok(Self { script })
    }

    /// Loads `url` (loopback only) as `load` says; wrk stops by itself after the duration.
    pub fn run(&self, url: &str, load: Load) -> Result<Run> {
        if !url.starts_with("http://127.0.0.1:") {
            bail!("refusing to load {url}: benchmarks target 127.0.0.1 only");
        }
        let output = Command::new("wrk")
            .args([
                format!("-t{}", load.threads),
                format!("-c{}", load.connections),
                format!("-d{}s", load.seconds),
                "--timeout".to_owned(),
                "5s".to_owned(),
                "-s".to_owned(),
            ])
            .arg(&self.script)
            .arg(url)
            .output()
            .context("cannot run wrk")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk failed ({}): {stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        parse(&stdout).with_context(|| format!("unexpected wrk output:\n{stdout}"))
    }
}

/// Reads the `WRK key=value …` line.
fn parse(stdout: &str) -> Option<Run> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("WRK "))?;
    let field = |name: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    let ms = |name: &str| field(name).map(|us| us / 1000.0);
    let requests = field("requests")?;
    let seconds = field("duration_us")? / 1e6;
    Some(Run {
        requests: requests as u64,
        rps: if seconds > 0.0 {
            requests / seconds
        } else {
            0.0
        },
        p50: ms("p50_us")?,
        p90: ms("p90_us")?,
        p99: ms("p99_us")?,
        max: ms("max_us")?,
        errors: field("errors")? as u64,
        non2xx: field("non2xx")? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_script_line() {
        let out = "Running 1s test\n  2 threads\nWRK requests=1000 duration_us=500000 p50_us=120 \
                   p90_us=300 p99_us=900 max_us=4000 mean_us=150.0 errors=1 non2xx=2\n";
        let run = parse(out).expect("parsed");
        assert_eq!(run.requests, 1000);
        assert_eq!(run.rps, 2000.0);
        assert_eq!(run.p50, 0.12);
        assert_eq!(run.p99, 0.9);
        assert_eq!(run.max, 4.0);
        assert_eq!((run.errors, run.non2xx), (1, 2));
        assert!(parse("no summary").is_none());
    }
}
