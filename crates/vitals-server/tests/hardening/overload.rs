//! Caps that answer: past `--max-connections` a new connection gets 503 at once, the default
//! cap fits the open-file limit, and one dashboard stream over `--max-streams` gets 429.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use vitals_server::Settings;

use crate::common::{Server, server_command};
use crate::status_table::documented;
use crate::wire::{Running, exchange, fast, parse_responses, read_until_close, request};

/// Before: with the cap reached the next client (even for `/health`) hung in the listen
/// backlog with no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_new_connection_is_answered_503_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(Settings {
        max_connections: 20,
        header_read_timeout_ms: 20_000,
        ..fast(&dir)
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // The accept loop has taken them all (it accepts as they come); give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = r#"{"user_id":"over","message":"hi"}"#;
    for bytes in [
        request("GET", "/health", &[], ""),
        request(
            "POST",
            "/api/v1/chat",
            &[("Content-Type", "application/json")],
            body,
        ),
    ] {
        let started = Instant::now();
        let (raw, closed) = exchange(server.addr, &bytes, Duration::from_secs(3)).await;
        let took = started.elapsed();
        let resp = parse_responses(&raw).into_iter().next().unwrap_or_else(|| {
            panic!("no answer in {took:?}: {:?}", String::from_utf8_lossy(&raw))
        });
        assert_eq!(resp.status, 503);
        assert!(took < Duration::from_secs(1), "at once: {took:?}");
        assert!(closed, "and closed");
        assert_eq!(resp.header("retry-after"), Some("1"));
        assert_eq!(resp.header("connection"), Some("close"));
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(resp.json()["error"]["code"], "overloaded");
        documented(503, Some("overloaded"));
    }
    // A client that keeps its connection open still gets the answer and the close.
    let mut open = TcpStream::connect(server.addr).await.expect("connect");
    open.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let (raw, closed) = read_until_close(&mut open, Duration::from_secs(3)).await;
    assert!(closed && String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 503"));
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (raw, _) = exchange(
            server.addr,
            &request("GET", "/health", &[], ""),
            Duration::from_secs(3),
        )
        .await;
        if parse_responses(&raw)
            .first()
            .is_some_and(|r| r.status == 200)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "served again once connections closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// `vitals-server` started through `sh -c 'ulimit -n LIMIT && exec vitals-server …'`, with
/// the same environment clean-up as [`server_command`].
fn with_open_file_limit(limit: u32) -> std::process::Command {
    let server = server_command();
    let mut cmd = std::process::Command::new("sh");
    for (name, value) in server.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    cmd.arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
        .arg(server.get_program());
    cmd
}

/// Before: the default cap was 10,000 whatever the open-file limit, so with 1,024 open files
/// the process ran out of descriptors first, with no warning.
#[test]
fn the_default_cap_fits_the_open_file_limit_and_a_larger_one_warns() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().to_str().expect("utf-8");
    let out = with_open_file_limit(1024)
        .args(["--data-dir", data, "--pool-max", "9", "--print-config"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cap: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("max_connections = "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("max_connections printed: {text}"));
    assert!(
        (500..1024 - 9).contains(&cap),
        "room left for the pool and files: {cap}"
    );
    let mut cmd = with_open_file_limit(1024);
    cmd.args(["--data-dir", data, "--max-connections", "5000"]);
    let mut server = Server::start(cmd);
    let out = server.output().join("\n");
    assert!(
        out.contains("WARN")
            && out.contains("--max-connections is above what the open-file limit serves"),
        "{out}"
    );
    assert!(server.terminate(Duration::from_secs(10)).is_some());
}

/// `--max-streams` reaches the library: one stream over it is answered 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_streams_is_a_setting() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(Settings {
        max_streams: 1,
        ..fast(&dir)
    })
    .await;
    let stream = b"GET /api/v1/metrics/stream HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut first = TcpStream::connect(server.addr).await.expect("connect");
    first.write_all(stream).await.expect("write");
    let (raw, _) = read_until_close(&mut first, Duration::from_millis(500)).await;
    assert!(
        String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    let (raw, _) = exchange(server.addr, stream, Duration::from_secs(2)).await;
    let resp = parse_responses(&raw).into_iter().next().expect("an answer");
    assert_eq!(resp.status, 429, "{}", String::from_utf8_lossy(&raw));
    drop(first);
    server.stop().await;
}
