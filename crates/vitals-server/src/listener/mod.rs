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
//! - at most `max_connections` are served at once; past that a new connection is answered
//!   503 `overloaded` at once and closed (src/listener/overload.rs), so no client waits in
//!   the backlog;
//! - a client that shuts down its sending side after its request still gets the answer;
//! - hyper's own answers to requests it cannot parse get the JSON error shape
//!   (src/listener/shape.rs);
//! - on shutdown the listener closes, each connection finishes its current request and closes,
//!   and whatever is still open at the shutdown deadline is dropped;
//! - after a surge of connections has closed, the memory they used goes back to the system
//!   ([`crate::memory`]).

mod overload;
mod shape;
mod timer;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::settings::Settings;
use timer::{Activity, ConnTimer, Tracked};

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
    let overload = overload::Overload::new(limits.max_connections.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_accept_error: Option<Instant> = None;
    let closed = Arc::new(AtomicUsize::new(0));
    let trimmer = tokio::spawn(crate::memory::trim_after_surges(Arc::clone(&closed)));
    tokio::pin!(shutdown);
    loop {
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
            // Reap finished connections as they end: an unjoined task keeps its whole task
            // cell (sized for hyper's connection future) allocated.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        while connections.try_join_next().is_some() {}
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            overload.refuse(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = stop_rx.clone();
        let closed = Arc::clone(&closed);
        connections.spawn(async move {
            let _permit = permit;
            let _count_close = CountOnDrop(closed);
            serve_one(stream, service, limits, stop).await;
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

/// Serves one connection with hyper until it ends, or until `stop` asks it to finish its
/// current request and close.
async fn serve_one(
    stream: TcpStream,
    service: TowerToHyperService<Router>,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(shape::Shaped::new(Tracked {
        inner: stream,
        activity: Arc::clone(&activity),
    }));
    let timer = ConnTimer {
        activity,
        header: limits.header_read_timeout,
        idle: limits.idle_timeout,
    };
    let conn = http1::Builder::new()
        .timer(timer)
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        // A client that shuts down its sending side after the request still gets the
        // answer (RFC 9112 §9.6 lets it).
        .half_close(true)
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
}

/// Adds one to the count of closed connections when the connection's task ends (however).
struct CountOnDrop(Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}
