//! The accept loop: HTTP/1.1 connections with a header-read timeout, a keep-alive idle
//! timeout, a cap on concurrent connections and a graceful-shutdown deadline.
//!
//! `axum::serve` keeps a connection open for as long as the peer does, so a socket that sends
//! half a request line (or nothing) holds a file descriptor forever and keeps the process alive
//! after SIGTERM. This loop drives each connection with hyper directly and bounds every wait:
//!
//! - a new connection must deliver its first request head within the header-read timeout;
//! - between requests, a keep-alive connection may stay silent for the idle timeout; once the
//!   next request's first byte arrives, its head must be complete within the header-read
//!   timeout;
//! - at most `max_connections` are served at once; past that the loop stops accepting (the
//!   kernel's backlog holds the rest) until one closes;
//! - on shutdown the listener closes, each connection finishes its current request and closes,
//!   and whatever is still open at the shutdown deadline is dropped;
//! - after a surge of connections has closed, the memory they used goes back to the system
//!   ([`crate::memory`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::rt::{Sleep, Timer};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::Settings;

/// Bounds of the accept loop; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a request head (request line and headers) may take to arrive, counted from the
    /// connection's start for its first request and from the first byte for later ones.
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may wait silently for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// After shutdown begins, how long open connections get to finish before they are closed.
    pub shutdown_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self::from(&Settings::default())
    }
}

impl From<&Settings> for ConnectionLimits {
    fn from(s: &Settings) -> Self {
        Self {
            header_read_timeout: Duration::from_millis(s.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(s.idle_timeout_ms),
            max_connections: usize::try_from(s.max_connections).unwrap_or(usize::MAX),
            shutdown_timeout: Duration::from_millis(s.shutdown_timeout_ms),
        }
    }
}

/// What happened to the connections when [`serve_connections`] returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections that finished on their own (or after their last request) during shutdown.
    pub drained: usize,
    /// Connections still open at the deadline, closed by force.
    pub forced: usize,
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then drains the
/// open connections for at most `limits.shutdown_timeout`.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> ShutdownReport {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_accept_error: Option<Instant> = None;
    let closed = Arc::new(AtomicUsize::new(0));
    let trimmer = tokio::spawn(crate::memory::trim_after_surges(Arc::clone(&closed)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
            // Reap finished connections as they end: an unjoined task keeps its whole task
            // cell (sized for hyper's connection future) allocated.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: say so at most once a second, back off briefly
                    // instead of spinning, and keep serving the connections already open.
                    if last_accept_error.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(error = %e, "accept error; backing off");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(router.clone());
        let mut stop = stop_rx.clone();
        let closed = Arc::clone(&closed);
        connections.spawn(async move {
            let _permit = permit;
            let _count_close = CountOnDrop(closed);
            let _ = stream.set_nodelay(true);
            let activity = Arc::new(Activity::default());
            let io = TokioIo::new(Tracked {
                inner: stream,
                activity: Arc::clone(&activity),
            });
            let timer = ConnTimer {
                activity,
                header: limits.header_read_timeout,
                idle: limits.idle_timeout,
            };
            let conn = http1::Builder::new()
                .timer(timer)
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true)
                .serve_connection(io, service);
            tokio::pin!(conn);
            let mut draining = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection closed with an error");
                        }
                        break;
                    }
                    changed = stop.changed(), if !draining => {
                        draining = true;
                        if changed.is_ok() {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    trimmer.abort();
    let open = connections.len();
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + limits.shutdown_timeout;
    let mut report = ShutdownReport::default();
    while !connections.is_empty() {
        match tokio::time::timeout_at(deadline, connections.join_next()).await {
            Ok(Some(_)) => report.drained += 1,
            Ok(None) => break,
            Err(_) => {
                report.forced = connections.len();
                connections.abort_all();
                while connections.join_next().await.is_some() {}
                break;
            }
        }
    }
    tracing::info!(
        open_at_shutdown = open,
        drained = report.drained,
        forced = report.forced,
        "connections closed"
    );
    report
}

/// Raises the soft limit on open files to the hard limit, so that the connection cap and not
/// the default of 1024 descriptors bounds how many clients are served. Returns the limit
/// in force afterwards (`None` where the platform has no such limit or it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(e) => {
                tracing::warn!(error = %e, "cannot raise the open-file limit");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Adds one to the count of closed connections when the connection's task ends (however).
struct CountOnDrop(Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Per-connection record the I/O wrapper writes and the timer reads.
#[derive(Default)]
struct Activity {
    /// Set once the first request head has been asked for (the timer was armed once).
    armed_before: AtomicBool,
    /// When the first byte arrived since the timer was last armed.
    first_byte: Mutex<Option<Instant>>,
}

impl Activity {
    fn first_byte(&self) -> Option<Instant> {
        *self.first_byte.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rearm(&self) -> bool {
        *self.first_byte.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.armed_before.swap(true, Ordering::Relaxed)
    }

    fn saw_bytes(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut first = self.first_byte.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(Instant::now());
        }
    }
}

/// hyper's only use of the timer on an HTTP/1 server connection is the header-read timeout,
/// armed each time it waits for a request head. This timer turns that single wait into two:
/// for a keep-alive connection's later requests it waits up to `idle` for the first byte, then
/// up to `header` for the rest of the head; for the first request the head must be complete
/// within `header` of the connection's start.
struct ConnTimer {
    activity: Arc<Activity>,
    header: Duration,
    idle: Duration,
}

impl Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(PlainSleep(Box::pin(tokio::time::sleep(duration))))
    }

    fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let armed = Instant::now();
        let later_request = self.activity.rearm();
        Box::pin(HeadSleep {
            activity: Arc::clone(&self.activity),
            armed,
            header: self.header,
            idle: if later_request {
                self.idle
            } else {
                self.header
            },
            sleep: Box::pin(tokio::time::sleep_until((armed + self.header).into())),
        })
    }
}

struct PlainSleep(Pin<Box<tokio::time::Sleep>>);

impl Future for PlainSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Sleep for PlainSleep {}

struct HeadSleep {
    activity: Arc<Activity>,
    armed: Instant,
    header: Duration,
    idle: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // hyper polls this each time a read leaves the head incomplete, so a byte's arrival is
        // seen here and moves the deadline.
        let deadline = match self.activity.first_byte() {
            Some(first) if self.idle != self.header => first + self.header,
            _ => self.armed + self.idle,
        };
        let deadline = tokio::time::Instant::from(deadline);
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadSleep {}

/// The TCP stream, noting the arrival of bytes for [`ConnTimer`].
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            self.activity.saw_bytes(buf.filled().len() - before);
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
