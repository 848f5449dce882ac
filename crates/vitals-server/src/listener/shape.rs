//! hyper answers a request it cannot parse (a malformed request line or header, a request
//! target or head too long) by itself, before any service runs: 400, 414 or 431 with an empty
//! body. This wrapper around a connection's stream replaces such an answer by the same
//! status with the JSON error shape every other error has.
//!
//! hyper's own answers are told apart by what they lack: every answer of the app carries
//! `x-request-id` (set by the request layer on every response), hyper's never do. They are
//! recognised when a write starts with one, which is how hyper sends them (on its own, as the
//! last thing before closing); see docs/health-agent.md for what still goes unanswered.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream whose hyper-made error answers are rewritten; see the module documentation.
pub(super) struct Shaped<IO> {
    inner: IO,
    /// The rewritten answer, owed to the peer, and how much of it is written.
    pending: Vec<u8>,
    written: usize,
}

impl<IO> Shaped<IO> {
    pub(super) fn new(inner: IO) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<IO: AsyncWrite + Unpin> Shaped<IO> {
    /// Writes what is owed, if anything.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Takes `bytes` (reporting all of them written) as the rewritten answer.
    fn owe(
        &mut self,
        reshaped: Vec<u8>,
        taken: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        self.pending = reshaped;
        self.written = 0;
        // Start now; flush and shutdown finish it.
        if let Poll::Ready(Err(e)) = self.poll_pending(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Shaped<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Shaped<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(reshaped) = reshape(buf) {
            return self.owe(reshaped, buf.len(), cx);
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let starts_error = bufs
            .iter()
            .find(|b| !b.is_empty())
            .is_some_and(|b| b.starts_with(b"HTTP/1.1 4"));
        if starts_error {
            let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(reshaped) = reshape(&joined) {
                return self.owe(reshaped, joined.len(), cx);
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The JSON-shaped replacement of `bytes` when they are exactly one of hyper's own error
/// answers (a 4xx head without `x-request-id` and without a body).
fn reshape(bytes: &[u8]) -> Option<Vec<u8>> {
    let head = bytes.strip_prefix(b"HTTP/1.1 ")?;
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != head.len() {
        return None;
    }
    let head = std::str::from_utf8(&head[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.get(..3)?.parse().ok()?;
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("x-request-id") {
            return None;
        }
        if name.eq_ignore_ascii_case("date") {
            date = Some(value.trim());
        }
    }
    let (code, message) = match status {
        414 => (
            "uri_too_long",
            "the request target (path and query) is longer than the server reads; shorten it",
        ),
        431 => (
            "headers_too_large",
            "the request line and headers are larger than the server reads; send fewer or shorter headers",
        ),
        400..=499 => (
            "bad_request",
            "the request line or a header is malformed (for example a space or a control character in the path or a header value, or a Content-Length that is not a number); fix the request",
        ),
        _ => return None,
    };
    let body = serde_json::json!({
        "error": {"code": code, "message": message, "request_id": null}
    })
    .to_string();
    let mut out = format!(
        "HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(date) = date {
        out.push_str(&format!("date: {date}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::reshape;

    #[test]
    fn only_hypers_own_error_answers_are_reshaped() {
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Sun, 18 Jan 2026 14:23:45 GMT\r\n\r\n";
        let text = String::from_utf8(reshape(own).expect("reshaped")).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(
            text.contains("content-type: application/json\r\n"),
            "{text}"
        );
        assert!(
            text.contains("date: Sun, 18 Jan 2026 14:23:45 GMT\r\n"),
            "{text}"
        );
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error"]["code"], "bad_request");
        let long = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        assert!(String::from_utf8_lossy(&reshape(long).expect("414")).contains("uri_too_long"));
        for app in [
            &b"HTTP/1.1 404 Not Found\r\nx-request-id: 7\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Req",
        ] {
            assert!(reshape(app).is_none(), "{}", String::from_utf8_lossy(app));
        }
    }
}
