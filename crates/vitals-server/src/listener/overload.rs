//! Past the connection cap: a new connection is answered at once with 503 JSON
//! (`overloaded`), `Retry-After` and `Connection: close`, then closed. Its request is never
//! parsed; what it sends is read and dropped (at most [`DRAIN_BYTES`], for at most
//! [`LINGER`]) only so that closing does not reset the connection before the client has read
//! the answer. A few connections are answered at once ([`AT_ONCE`]); past that they are
//! closed straight away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Connections being answered 503 at once, at most.
pub const AT_ONCE: usize = 64;

/// How long one is given: to take the answer and send its request.
pub const LINGER: Duration = Duration::from_secs(1);

/// The most of a request read (and dropped) before closing.
pub const DRAIN_BYTES: usize = 64 * 1024;

/// How often the cap being reached is logged, at most.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Answers connections past the cap.
pub(super) struct Overload {
    answer: Arc<[u8]>,
    answering: Arc<Semaphore>,
    refused: AtomicU64,
    logged: Mutex<Option<Instant>>,
}

impl Overload {
    pub(super) fn new(cap: usize) -> Self {
        let body = serde_json::json!({
            "error": {
                "code": "overloaded",
                "message": format!(
                    "the server is serving its maximum of {cap} connections; retry after 1 second"
                ),
                "request_id": null,
            }
        })
        .to_string();
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        Self {
            answer: Arc::from(answer.into_bytes()),
            answering: Arc::new(Semaphore::new(AT_ONCE)),
            refused: AtomicU64::new(0),
            logged: Mutex::new(None),
        }
    }

    /// Answers `stream` 503 in a task of its own (or closes it when [`AT_ONCE`] are being
    /// answered already).
    pub(super) fn refuse(&self, stream: TcpStream) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        self.log(refused);
        let Ok(permit) = Arc::clone(&self.answering).try_acquire_owned() else {
            return;
        };
        let answer = Arc::clone(&self.answer);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(LINGER, answer_and_close(stream, &answer)).await;
        });
    }

    fn log(&self, refused: u64) {
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        if logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            *logged = Some(Instant::now());
            tracing::warn!(
                refused_since_start = refused,
                "connection cap reached: new connections are answered 503 overloaded; raise --max-connections (and the open-file limit) or add instances"
            );
        }
    }
}

async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) {
    let _ = stream.set_nodelay(true);
    if stream.write_all(answer).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < DRAIN_BYTES {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
    }
}
