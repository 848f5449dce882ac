//! SIGTERM with live streams open: the streams end at once with a last event, the chat in
//! flight finishes, and the process exits as soon as it has — not at the shutdown deadline.
//! Before, an open stream held the process for the whole `--shutdown-timeout-ms` and was cut
//! mid-event.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{Server, server_command};

/// Opens `GET /api/v1/metrics/stream` and waits for its first event.
fn open_stream(server: &Server) -> BufReader<TcpStream> {
    let mut socket = TcpStream::connect(server.addr).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    socket
        .write_all(b"GET /api/v1/metrics/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    while !line.starts_with("event: sample") {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "stream closed early"
        );
    }
    reader
}

#[test]
fn sigterm_ends_open_streams_at_once_and_exits_after_the_last_ordinary_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = server_command();
    cmd.args([
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
        "--sample-interval-ms",
        "200",
        "--agent-latency-ms",
        "1500",
    ]);
    let mut server = Server::start(cmd);
    let streams: Vec<_> = (0..2).map(|_| open_stream(&server)).collect();
    let addr = server.addr;
    let chat = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let body = r#"{"user_id":"leaving","message":"still there?"}"#;
        let req = format!(
            "POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        (out, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut reader| {
            std::thread::spawn(move || {
                let mut rest = String::new();
                let _ = reader.read_to_string(&mut rest);
                (rest, Instant::now())
            })
        })
        .collect();
    let status = server.terminate(Duration::from_secs(12)).expect("exits");
    let exited = Instant::now();
    assert!(status.success(), "exit 0: {status:?}");
    let (answer, answered) = chat.join().expect("chat thread");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the chat in flight finished: {answer}"
    );
    for reader in readers {
        let (rest, ended) = reader.join().expect("stream thread");
        let tail: String = rest
            .chars()
            .rev()
            .take(300)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(
            rest.contains("event: shutdown"),
            "a last event before the end; the stream ended with: {tail:?}"
        );
        assert!(
            ended < answered,
            "streams end at once, not after the chat: {:?} vs {:?}",
            ended - signalled,
            answered - signalled
        );
    }
    assert!(
        exited.saturating_duration_since(answered) < Duration::from_secs(1),
        "the process exits within a second of its last ordinary request: {:?} after it, {:?} after SIGTERM",
        exited.saturating_duration_since(answered),
        exited - signalled
    );
}
