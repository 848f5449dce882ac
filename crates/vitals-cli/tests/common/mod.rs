//! Helpers shared by the CLI's integration tests: an in-process vitals-server on loopback and
//! the real `vitals` binary.
#![allow(dead_code, missing_docs)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use vitals_server::{AppState, Settings};

/// A vitals-server running on its own tokio runtime in a background thread.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The server's Tokio runtime (two workers), for tests that load it.
    pub runtime: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A server whose metrics endpoint needs `Authorization: Bearer <token>`.
    pub fn start_with(token: Option<&str>) -> Self {
        Self::start_settings(Settings {
            metrics_token: token.map(str::to_owned),
            ..Settings::default()
        })
    }

    /// A server with these settings (its data folder, small pool and fast sampling added).
    pub fn start_settings(settings: Settings) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            pool_min: 1,
            pool_max: 3,
            sample_interval_ms: 200,
            ..settings
        };
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let state = AppState::from_settings(&settings)
                    .await
                    .expect("server state");
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                addr_tx
                    .send((
                        listener.local_addr().expect("local address"),
                        tokio::runtime::Handle::current(),
                    ))
                    .expect("report address");
                vitals_server::serve(
                    listener,
                    state,
                    vitals_server::ConnectionLimits::default(),
                    async {
                        let _ = stop_rx.await;
                    },
                )
                .await;
            });
        });
        let (addr, runtime) = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server reports its address");
        Self {
            addr,
            runtime,
            stop: Some(stop_tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A loopback URL where nothing listens.
pub fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// A loopback listener that accepts connections (in the kernel backlog) but never answers.
pub fn silent_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    (listener, url)
}

/// The real `vitals` binary, with a clean environment for stable output.
pub fn vitals() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitals"));
    cmd.env_remove("VITALS_METRICS_TOKEN")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("TZ", "UTC");
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("vitals runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The fixed CSV columns of docs/cli.md, written out independently of the code under test.
pub const CONTRACT_COLUMNS: [&str; 11] = [
    "timestamp",
    "host",
    "status",
    "api_ms",
    "cpu_percent",
    "memory_percent",
    "memory_mb",
    "db_pool_active",
    "db_pool_size",
    "db_pool_utilization_percent",
    "redis_hit_rate",
];

/// The documented extra CSV columns, which `vitals monitor` writes right after the eleven above.
pub const CONTRACT_EXTRA_COLUMNS: [&str; 3] = [
    "cache_hit_rate_recent",
    "process_rss_mb",
    "process_cpu_percent",
];

/// Rows of a CSV as maps from column to cell (naive split: the monitor's cells hold no commas
/// except in the trailing `error` column, which is quoted and not needed here).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("CSV readable");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header line")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Any axum app served on loopback from a single-threaded runtime in a background thread:
/// servers that answer what a real vitals-server never would (a bare document, hostile text),
/// and the leaking server of the drift test.
pub struct AppServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl AppServer {
    pub fn start(app: impl FnOnce() -> axum::Router + Send + 'static) -> Self {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                addr_tx
                    .send(listener.local_addr().expect("local address"))
                    .expect("report address");
                axum::serve(listener, app())
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server reports its address");
        Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// A server whose `/api/v1/metrics` always answers `body`.
    pub fn answering(body: serde_json::Value) -> Self {
        Self::start(move || {
            axum::Router::new().route(
                "/api/v1/metrics",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { axum::Json(body) }
                }),
            )
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A complete snapshot document with every seed field, as a Vitals server sends it.
pub fn full_snapshot() -> serde_json::Value {
    serde_json::json!({
        "timestamp": "2026-01-18T14:23:45.123456Z",
        "system": {"cpu_percent": 12.5, "memory_mb": 1024.5, "memory_percent": 25.0,
                   "memory_available_mb": 3072.0, "disk_read_mb": 1.0, "disk_write_mb": 2.0},
        "database": {"pool_size": 4, "pool_available": 3, "pool_active": 1, "pool_min_size": 1,
                     "pool_max_size": 4, "pool_utilization_percent": 25.0, "backend": "sqlite"},
        "cache": {"enabled": true, "hits": 0, "misses": 0, "sets": 0, "deletes": 0, "errors": 0,
                  "total_reads": 0, "hit_rate_percent": 0.0, "backend": "memory",
                  "hit_rate_recent_percent": 0.0, "total_reads_recent": 0}
    })
}

/// One plain HTTP/1.1 GET on loopback; returns the status code.
pub fn http_get(addr: SocketAddr, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
