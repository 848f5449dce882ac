//! `cargo xtask screenshot`: docs/images/dashboard.png from a real run (the release server,
//! some traffic, headless Chromium). `cargo xtask dashboard-budget`: the dashboard's budgets
//! (page weight, history server time, RSS with a dashboard open, throughput beside a stream).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::{cargo, listening_address, proc_status_kib, workspace_root};

/// The release `vitals-server`, started on a free loopback port with `args`.
struct Server {
    child: Child,
    addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Server {
    fn start(args: &[&str]) -> Result<Self> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_root().join("target"), std::path::PathBuf::from);
        let data = tempfile::tempdir().context("temporary data folder")?;
        let mut cmd = Command::new(target.join("release").join("vitals-server"));
        for var in [
            "DATABASE_URL",
            "REDIS_URL",
            "VITALS_CONFIG",
            "VITALS_LISTEN",
            "VITALS_METRICS_TOKEN",
            "VITALS_METRICS_RATE_LIMIT",
            "VITALS_DASHBOARD",
            "VITALS_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("cannot start vitals-server")?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = listening_address(&line) {
                    let _ = tx.send(a);
                }
            }
        });
        let Some(Ok(addr)) = rx
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .map(|a| a.parse::<SocketAddr>())
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("vitals-server did not report its address within 30 s");
        };
        Ok(Self {
            child,
            addr,
            _data: data,
        })
    }

    fn rss_kib(&self) -> Result<u64> {
        proc_status_kib(self.child.id(), "VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a fresh connection: status, headers (lowercase names) and body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String, String)> {
    request_with(addr, method, path, body, "")
}

/// [`request`] with more header lines (`extra` ends each with `\r\n`).
fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    extra: &str,
) -> Result<(u16, String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").context("incomplete answer")?;
    let status = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .context("status")?;
    Ok((status, head.to_ascii_lowercase(), body.to_owned()))
}

/// Background requests of every kind the dashboard charts (reads, writes, errors).
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for i in 0..20_000u32 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let user = format!("user-{}", i % 7);
                let _ = match i % 5 {
                    // Chats come traced (W3C traceparent): their trace ids are the exemplars.
                    0 => request_with(
                        addr,
                        "POST",
                        "/api/v1/chat",
                        &format!("{{\"user_id\":\"{user}\",\"message\":\"hello {i}\"}}"),
                        &format!(
                            "traceparent: 00-{:032x}-00f067aa0ba902b7-01\r\n",
                            (0x4bf9_2f35_77b3_4da6_u128 << 64) | (u128::from(i) * 0x9e37_79b9)
                        ),
                    ),
                    1 | 2 => request(addr, "GET", &format!("/api/v1/users/{user}/history"), ""),
                    3 => request(addr, "GET", "/no/such/page", ""),
                    _ => request(addr, "GET", "/health", ""),
                };
                std::thread::sleep(Duration::from_millis(15 + u64::from(i % 4) * 10));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `cargo xtask screenshot`.
pub fn screenshot() -> Result<()> {
    let (chromium, driver) = vitals_testkit::browser::installed()
        .context("needs chromium and chromedriver: apt-get install -y chromium chromium-driver")?;
    cargo(&["build", "--release", "--package", "vitals-server"], &[])?;
    let server = Server::start(&[])?;
    let traffic = Traffic::start(server.addr);
    eprintln!("screenshot: 40 s of traffic on {} …", server.addr);
    std::thread::sleep(Duration::from_secs(40));
    let browser = vitals_testkit::browser::Browser::start(&chromium, &driver, 1280, 2900)
        .map_err(anyhow::Error::msg)?;
    browser
        .goto(&format!("http://{}/dashboard", server.addr))
        .map_err(anyhow::Error::msg)?;
    browser
        .wait_for(
            "charts drawn",
            "return [...document.querySelectorAll('section.card')].every(c => Number(c.querySelector('canvas').dataset.points) > 0);",
            Duration::from_secs(20),
        )
        .map_err(anyhow::Error::msg)?;
    // Let a few live samples arrive after the history.
    std::thread::sleep(Duration::from_secs(3));
    let png = browser.screenshot().map_err(anyhow::Error::msg)?;
    drop(traffic);
    let out = workspace_root().join("docs/images/dashboard.png");
    std::fs::create_dir_all(out.parent().context("parent")?)?;
    std::fs::write(&out, &png).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("screenshot: wrote {} ({} bytes)", out.display(), png.len());
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn wrk(url: &str) -> Result<f64> {
    let out = Command::new("wrk")
        .args(["-t1", "-c8", "-d5s", url])
        .output()
        .context("needs wrk: apt-get install -y wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {text}"))
}

/// An open live stream (a dashboard's feed) until dropped.
fn open_stream(addr: SocketAddr) -> Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET /api/v1/metrics/stream HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )?;
    let mut buf = [0u8; 512];
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let n = s.read(&mut buf)?;
    ensure!(buf[..n].starts_with(b"HTTP/1.1 200"), "stream refused");
    // Keep reading in the background so the server never blocks on a full socket.
    let mut reader = s.try_clone()?;
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
    });
    Ok(s)
}

/// `cargo xtask dashboard-budget`.
pub fn budget() -> Result<()> {
    cargo(&["build", "--release", "--package", "vitals-server"], &[])?;
    // 900 rows, as 15 minutes at the default 1 s, filled in 3 minutes at 200 ms.
    let on = Server::start(&["--sample-interval-ms", "200", "--history-minutes", "3"])?;
    let off = Server::start(&["--sample-interval-ms", "200", "--dashboard", "false"])?;

    // Page weight: the page is every asset; gzip -9 as a server would send it.
    let (status, _, page) = request(on.addr, "GET", "/dashboard", "")?;
    ensure!(status == 200, "GET /dashboard answered {status}");
    let mut gz = Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("gzip")?;
    gz.stdin
        .take()
        .context("stdin")?
        .write_all(page.as_bytes())?;
    let gz_len = gz.wait_with_output()?.stdout.len();
    println!(
        "page weight: {} bytes, {} bytes gzip -9 (budget 150 KB)",
        page.len(),
        gz_len
    );

    eprintln!("dashboard-budget: filling 900 history rows (3 minutes) …");
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (_, _, body) = request(on.addr, "GET", "/api/v1/metrics/history", "")?;
        let doc: serde_json::Value = serde_json::from_str(&body)?;
        if doc["length"] == doc["capacity"] {
            println!(
                "history: {} rows × {} columns, {} bytes of JSON",
                doc["length"],
                doc["columns"].as_object().map_or(0, serde_json::Map::len),
                body.len()
            );
            break;
        }
        ensure!(Instant::now() < deadline, "the ring did not fill in 240 s");
        std::thread::sleep(Duration::from_secs(5));
    }
    let mut server_ms = Vec::new();
    for _ in 0..200 {
        let (_, head, _) = request(on.addr, "GET", "/api/v1/metrics/history", "")?;
        let ms = head
            .lines()
            .find_map(|l| l.strip_prefix("x-response-time:"))
            .and_then(|v| v.trim().trim_end_matches("ms").parse::<f64>().ok())
            .context("X-Response-Time")?;
        server_ms.push(ms);
    }
    let p99 = {
        let mut v = server_ms.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() * 99 / 100]
    };
    println!(
        "history server time (X-Response-Time, 200 requests, 900 rows): median {:.3} ms, p99 {p99:.3} ms (budget 1 ms)",
        median(server_ms)
    );

    let rss_off = off.rss_kib()?;
    let rss_on_idle = on.rss_kib()?;
    let stream = open_stream(on.addr)?;
    std::thread::sleep(Duration::from_secs(5));
    let rss_on_open = on.rss_kib()?;
    println!(
        "idle RSS: dashboard off {rss_off} KiB; on with a full ring {rss_on_idle} KiB; with one open stream {rss_on_open} KiB (difference to off: {} KiB, budget 5 MB)",
        rss_on_open.saturating_sub(rss_off)
    );
    drop(stream);
    std::thread::sleep(Duration::from_secs(1));

    // Throughput of another route with and without an open stream, alternated.
    let url = format!("http://{}/health", on.addr);
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        without.push(wrk(&url)?);
        let s = open_stream(on.addr)?;
        with.push(wrk(&url)?);
        drop(s);
    }
    println!(
        "GET /health throughput (wrk -t1 -c8 -d5s, median of 3): {:.0} req/s without a stream, {:.0} req/s with one open",
        median(without),
        median(with)
    );
    Ok(())
}
