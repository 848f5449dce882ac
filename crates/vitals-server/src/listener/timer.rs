//! Header-read and keep-alive idle timing for one connection: hyper's header-read timer,
//! split into an idle wait for a request's first byte and a header wait for the rest.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Per-connection record the I/O wrapper writes and the timer reads.
#[derive(Default)]
pub(super) struct Activity {
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
pub(super) struct ConnTimer {
    pub(super) activity: Arc<Activity>,
    pub(super) header: Duration,
    pub(super) idle: Duration,
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
pub(super) struct Tracked {
    pub(super) inner: TcpStream,
    pub(super) activity: Arc<Activity>,
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
