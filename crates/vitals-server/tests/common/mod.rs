//! Helpers shared by the server's integration tests.
#![allow(dead_code, missing_docs, unused_imports)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use vitals_server::{AppState, Settings};

pub mod exposition;
mod refusal;

pub use exposition::{Samples, parse_exposition};
pub use refusal::refused_before_the_database;
pub use vitals_testkit::{OwnRedis, Proxy, free_port, redis_url, unique};

/// The PostgreSQL database these tests use: one of this test process's own (the server
/// migrates it), never the shared `test` database.
pub fn postgres_url() -> String {
    vitals_testkit::process_database_url()
}

/// Settings for an embedded server in `dir`, with a small pool.
pub fn embedded(dir: &tempfile::TempDir) -> Settings {
    Settings {
        data_dir: dir.path().to_path_buf(),
        pool_min: 1,
        pool_max: 3,
        sample_interval_ms: 200,
        ..Settings::default()
    }
}

pub async fn state(settings: &Settings) -> AppState {
    AppState::from_settings(settings)
        .await
        .expect("state builds")
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name} missing: {:?}", self.headers))
    }
}

/// Sends one request through the router, as a server would: status, headers, body bytes.
pub async fn send_raw(
    app: &Router,
    request: Request<Body>,
) -> (StatusCode, HeaderMap, bytes::Bytes) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, bytes)
}

/// Sends one request through the router and reads the body as JSON.
/// `POST /api/v1/chat` with `user` and `message`.
pub async fn chat(app: &Router, user: &str, message: &str) -> Answer {
    let body = serde_json::json!({"user_id": user, "message": message}).to_string();
    send(
        app,
        Request::post("/api/v1/chat")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request"),
    )
    .await
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let (status, headers, bytes) = send_raw(app, request).await;
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "JSON body expected ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Answer {
        status,
        headers,
        json,
    }
}

pub async fn get(app: &Router, uri: &str) -> Answer {
    send(app, Request::get(uri).body(Body::empty()).expect("request")).await
}

/// Log lines written while the guard lives on this thread.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Captures every level on the current thread (tests run on a current-thread runtime).
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The real `vitals-server` binary, started on a free loopback port.
pub struct Server {
    pub addr: SocketAddr,
    pub child: Child,
    pub output: Arc<Mutex<Vec<String>>>,
    /// Set once the reader has seen the end of stdout (every line is in `output`).
    read_all: Arc<std::sync::atomic::AtomicBool>,
}

pub fn server_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitals-server"));
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "VITALS_CONFIG",
        "VITALS_LISTEN",
        "VITALS_METRICS_TOKEN",
        "VITALS_LOG",
        "VITALS_LOG_FORMAT",
        "NO_COLOR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

impl Server {
    pub fn start(mut cmd: Command) -> Self {
        cmd.args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("vitals-server starts");
        let stdout = child.stdout.take().expect("stdout");
        let output = Arc::new(Mutex::new(Vec::new()));
        let read_all = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let output = Arc::clone(&output);
            let read_all = Arc::clone(&read_all);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        // Text logs end the address at a space, JSON logs at a quote.
                        let addr: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || "[]:.".contains(*c))
                            .collect();
                        let _ = tx.send(addr);
                    }
                    output.lock().expect("output").push(line);
                }
                read_all.store(true, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)).map(|a| a.parse()) {
            Ok(Ok(addr)) => addr,
            _ => {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "vitals-server did not report its address: {err} {:?}",
                    output.lock().map(|o| o.clone())
                );
            }
        };
        Self {
            addr,
            child,
            output,
            read_all,
        }
    }

    /// One HTTP/1.1 request over a fresh loopback connection.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> RawAnswer {
        http_request(self.addr, method, path, headers)
    }

    pub fn output(&self) -> Vec<String> {
        self.output.lock().expect("output").clone()
    }

    /// Sends SIGTERM and waits for the exit, up to `limit`; then (at most 2 s more) for the
    /// reader to have every line the process wrote.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let read_by = Instant::now() + Duration::from_secs(2);
                while !self.read_all.load(std::sync::atomic::Ordering::SeqCst)
                    && Instant::now() < read_by
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("JSON ({e}): {}", self.body))
    }
}

/// A minimal HTTP/1.1 client: enough for tests, with `Connection: close`.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> RawAnswer {
    http_request_with_body(addr, method, path, headers, "")
}

/// [`http_request`] with a body (sent with its `Content-Length`).
pub fn http_request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawAnswer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawAnswer {
        status,
        headers,
        body: body.to_owned(),
    }
}
