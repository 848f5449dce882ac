//! Talking HTTP/1.1 to a server over raw loopback sockets, byte by byte where needed: the
//! in-process server, sending, reading until close, and splitting responses apart.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vitals_server::{AppState, ConnectionLimits, Settings, ShutdownReport};

use crate::common::embedded;

/// A server running `serve` in this process; dropped → shut down.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<ShutdownReport>,
}

impl Running {
    pub async fn start(settings: Settings) -> Self {
        let state = AppState::from_settings(&settings)
            .await
            .expect("state builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let limits = ConnectionLimits::from(&settings);
        let task = tokio::spawn(vitals_server::serve(
            listener,
            state.clone(),
            limits,
            async {
                let _ = rx.await;
            },
        ));
        Self {
            addr,
            state,
            stop: Some(tx),
            task,
        }
    }

    pub async fn stop(mut self) -> ShutdownReport {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("serve returns")
            .expect("serve task")
    }
}

/// One parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "JSON body expected ({e}): {:?} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Splits a byte stream into the responses it holds (Content-Length or chunked bodies).
pub fn parse_responses(mut data: &[u8]) -> Vec<Resp> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let rest = &data[end + 4..];
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        let chunked = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        let (body, rest) = if let Some(len) = len {
            let len = len.min(rest.len());
            (rest[..len].to_vec(), &rest[len..])
        } else if chunked {
            let mut body = Vec::new();
            let mut r = rest;
            while let Some(le) = r.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&r[..le])
                        .split(';')
                        .next()
                        .unwrap_or("0")
                        .trim(),
                    16,
                )
                .unwrap_or(0);
                r = &r[le + 2..];
                if size == 0 {
                    r = r.get(2..).unwrap_or_default();
                    break;
                }
                let take = size.min(r.len());
                body.extend_from_slice(&r[..take]);
                r = r.get(take + 2..).unwrap_or_default();
            }
            (body, r)
        } else {
            (Vec::new(), rest)
        };
        out.push(Resp {
            status,
            headers,
            body,
        });
        data = rest;
    }
    out
}

/// Sends `bytes`, then reads until the server closes or `wait` passes.
pub async fn exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let _ = s.write_all(bytes).await;
    read_until_close(&mut s, wait).await
}

/// Reads until EOF (→ true) or `wait` passes (→ false).
pub async fn read_until_close(s: &mut TcpStream, wait: Duration) -> (Vec<u8>, bool) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (n, v) in headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let (bytes, _) = exchange(
        addr,
        &request(method, path, headers, body),
        Duration::from_secs(15),
    )
    .await;
    parse_responses(&bytes)
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "no response to {method} {path}: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })
}

pub async fn chat(addr: SocketAddr, user: &str, message: &str, key: Option<&str>) -> Resp {
    let body = serde_json::json!({"user_id": user, "message": message}).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    call(addr, "POST", "/api/v1/chat", &headers, &body).await
}

pub fn fast(dir: &tempfile::TempDir) -> Settings {
    Settings {
        header_read_timeout_ms: 400,
        idle_timeout_ms: 1500,
        shutdown_timeout_ms: 1000,
        ..embedded(dir)
    }
}
